// How both services run, wherever they run: `npm start` (scripts/start.ts), the image's s6
// run scripts (written out there; test/deploy/static.test.ts checks they match) and the
// bench. Measured in docs/benchmarks.md section 6, side by side.
//
// Node flags:
// - --max-semi-space-size=1 (MiB): V8's young generation grows to 16 MiB per semi-space
//   under allocation bursts and keeps it; capped, a scavenge comes sooner and the heap
//   stays small. The services allocate little per request; no throughput change was
//   measurable in the capture benchmark.
// - --optimize-for-size: V8 favours memory over speed (heap growing, code flushing).
// Both are V8 options of node's command line; NODE_OPTIONS does not take the second.
export const SERVICE_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--optimize-for-size']);

// Environment (a value the operator set wins):
// - MALLOC_ARENA_MAX=1: glibc gives each thread that allocates (libuv's pool, V8's
//   compiler and GC helpers) an arena of its own, each keeping its freed pages. One
//   arena for the process: 4-5 MB less for the pair idle, 7 MB after load; command
//   latency, /health and /status throughput and the 64 MiB capture unchanged within
//   noise (4 rounds interleaved). The CLI never inherits it: its environment is an
//   allow-list (supervisor/src/claude/cli-env.ts).
export const SERVICE_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: '1' });

/** A service's environment: ours under the operator's. */
export function withServiceEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...SERVICE_ENV, ...env };
}
