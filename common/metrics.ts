// What both services' Prometheus registries share (supervisor/src/metrics.ts,
// api/src/metrics/registry.ts).

/**
 * The event-loop delay monitor of prom-client's default metrics samples this often. Its
 * default, 10 ms, woke each idle service 100 times a second and more than doubled its idle
 * CPU (the supervisor: 6 -> 15 clock ticks in 20 s); at 100 ms a lag worth seeing still shows.
 */
export const EVENT_LOOP_PRECISION_MS = 100;

/**
 * A registry's text as the exposition format spells it: without the empty lines
 * prom-client puts between families (the format ignores them; without them every line is
 * a comment or a sample), and NaN as `NaN` (prom-client 15 writes `Nan`, which
 * Prometheus's parser takes, case-blind, but the format does not name).
 */
export function tidyExposition(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (!line.startsWith('#') && line.endsWith(' Nan') ? `${line.slice(0, -3)}NaN` : line));
}
