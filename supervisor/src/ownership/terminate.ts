// Ending a process tree: SIGTERM (the CLI first: it cleans up its Bash tool sessions),
// a grace period that ends early when everything is gone, then SIGKILL and rescan until
// nothing is left; or SIGKILL at once (a tree eating the machine's memory gets no grace).
// Every signal is preceded by a start-time check (PID reuse guard). The tree never lists
// the job's reaper: it must outlive the tree, so that nothing orphaned escapes it.
import { setTimeout as sleep } from 'node:timers/promises';
import { liveStartTime, type ProcStat } from '../proc.ts';

export interface Scanner {
  scan(): ProcStat[];
}

export interface TerminateOptions {
  graceMs: number;
  /** SIGKILL straight away, no SIGTERM and no grace (memory ceiling). */
  immediate?: boolean;
  /** Signalled first (the CLI), if still alive. */
  firstPid?: number;
  /** Cuts the grace period short (a second shutdown signal). */
  abort?: AbortSignal;
  /** Extra kill-everything hook for the SIGKILL phase (cgroup v2 `cgroup.kill`). */
  killAll?: () => void;
  pollMs?: number;
}

export interface TerminateOutcome {
  /** Distinct processes that were sent a signal. */
  processesKilled: number;
  /** SIGKILL was needed. */
  forced: boolean;
  /** Still alive after the bounded SIGKILL loop (should be 0; logged when not). */
  remaining: number;
}

const KILL_ROUNDS = 100;
const KILL_ROUND_MS = 20;

/** Signal a process only if the pid still names the process we saw (same start time). */
export function signalProcess(p: Pick<ProcStat, 'pid' | 'startTime'>, signal: NodeJS.Signals): boolean {
  // Between this check and kill() the window is microseconds; Node has no pidfd_send_signal.
  if (liveStartTime(p.pid) !== p.startTime) return false;
  try {
    process.kill(p.pid, signal);
    return true;
  } catch {
    return false;
  }
}

export async function terminateTree(tree: Scanner, options: TerminateOptions): Promise<TerminateOutcome> {
  const pollMs = options.pollMs ?? 50;
  // The grace period starts now, not after the first scan and its signals.
  const deadline = Date.now() + options.graceMs;
  const signalled = new Set<string>();
  let forced = false;
  const term = (p: ProcStat): void => {
    const key = `${p.pid}:${p.startTime}`;
    if (signalled.has(key)) return;
    if (signalProcess(p, 'SIGTERM')) {
      signalled.add(key);
      // A stopped process only acts on SIGTERM once continued.
      if (p.state === 'T' || p.state === 't') signalProcess(p, 'SIGCONT');
    }
  };

  let procs = tree.scan();
  if (!options.immediate) {
    const first = procs.find((p) => p.pid === options.firstPid);
    if (first) term(first);
    for (const p of procs) term(p);
  }

  while (procs.length > 0 && !options.immediate && !options.abort?.aborted) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      await sleep(Math.min(pollMs, left), undefined, { signal: options.abort });
    } catch {
      break; // aborted: straight to SIGKILL
    }
    procs = tree.scan();
    for (const p of procs) term(p); // children forked during the grace period
  }

  for (let round = 0; procs.length > 0 && round < KILL_ROUNDS; round++) {
    if (round === 0) options.killAll?.();
    for (const p of procs) {
      if (signalProcess(p, 'SIGKILL')) {
        forced = true;
        signalled.add(`${p.pid}:${p.startTime}`);
      }
    }
    await sleep(KILL_ROUND_MS);
    procs = tree.scan();
  }
  return { processesKilled: signalled.size, forced, remaining: procs.length };
}

/** Synchronous last resort (the supervisor is about to exit): SIGKILL everything now. */
export function killTreeNow(tree: Scanner): number {
  let n = 0;
  for (const p of tree.scan()) if (signalProcess(p, 'SIGKILL')) n += 1;
  return n;
}
