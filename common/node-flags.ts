// The node flags both services run with, wherever they run: `npm start` (scripts/start.ts),
// the image's s6 run scripts (written out there; test/deploy/static.test.ts checks they
// match) and the bench. Measured in docs/benchmarks.md section 6, side by side:
// - --max-semi-space-size=1 (MiB): V8's young generation grows to 16 MiB per semi-space
//   under allocation bursts and keeps it; capped, a scavenge comes sooner and the heap
//   stays small. The services allocate little per request; no throughput change was
//   measurable in the capture benchmark.
// - --optimize-for-size: V8 favours memory over speed (heap growing, code flushing).
// Both are V8 options of node's command line; NODE_OPTIONS does not take the second.
export const SERVICE_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--optimize-for-size']);
