// Resource accounting of a job's tree from the /proc/PID/stat lines the tree scan has
// already read: no second read per process, no per-pid file descriptors, no history
// beyond one small entry per live process.
import { CLOCK_TICKS_PER_SECOND, PAGE_SIZE_BYTES, type ProcStat } from '../proc.ts';

export interface Usage {
  rssBytes: number;
  processCount: number;
  /** CPU time of the tree so far, including processes that already exited. */
  cpuMs: number;
  /** Since the previous sample; 100 = one core. */
  cpuPercent: number;
}

/** Is the tree over its memory ceiling? (pure) */
export function exceedsCeiling(rssBytes: number, memoryLimitBytes: number): boolean {
  return rssBytes > memoryLimitBytes;
}

/** The shortest wait between two samples while the tree grows fast. A sample reads every
 *  /proc/PID/stat on the machine (~2 ms for 200 processes): 50 ms is at most 4% of a core,
 *  and only while the tree is on its way to the ceiling. */
export const MIN_SAMPLE_MS = 50;

/**
 * When to sample next (pure): the configured interval, or sooner when the tree's RSS grows
 * fast enough to reach the ceiling before then: half the projected time to the ceiling,
 * so a tree growing 2 GB/s is caught within ~50-100 ms of crossing it, not a whole interval.
 */
export function nextSampleDelayMs(
  previous: { rssBytes: number; atMs: number },
  current: { rssBytes: number; atMs: number },
  memoryLimitBytes: number,
  intervalMs: number,
): number {
  const elapsed = current.atMs - previous.atMs;
  const growth = current.rssBytes - previous.rssBytes;
  if (elapsed <= 0 || growth <= 0) return intervalMs;
  const msToCeiling = ((memoryLimitBytes - current.rssBytes) * elapsed) / growth;
  return Math.round(Math.min(intervalMs, Math.max(MIN_SAMPLE_MS, msToCeiling / 2)));
}

interface Seen {
  startTime: number;
  ticks: number;
  generation: number;
}

const MS_PER_TICK = 1000 / CLOCK_TICKS_PER_SECOND;

export class UsageMeter {
  private readonly seen = new Map<number, Seen>();
  private retiredTicks = 0;
  private generation = 0;
  private lastTicks = 0;
  private lastAtMs = -1;

  update(procs: readonly ProcStat[], nowMs: number): Usage {
    this.generation += 1;
    let rssPages = 0;
    let liveTicks = 0;
    for (const p of procs) {
      rssPages += p.rssPages;
      liveTicks += p.cpuTicks;
      const entry = this.seen.get(p.pid);
      if (entry === undefined) {
        this.seen.set(p.pid, { startTime: p.startTime, ticks: p.cpuTicks, generation: this.generation });
      } else {
        if (entry.startTime !== p.startTime) {
          this.retiredTicks += entry.ticks; // pid reused: the old process's time is final
          entry.startTime = p.startTime;
        }
        entry.ticks = p.cpuTicks;
        entry.generation = this.generation;
      }
    }
    for (const [pid, entry] of this.seen) {
      if (entry.generation !== this.generation) {
        this.retiredTicks += entry.ticks; // exited: keep its last known CPU time
        this.seen.delete(pid);
      }
    }
    const totalTicks = this.retiredTicks + liveTicks;
    let cpuPercent = 0;
    if (this.lastAtMs >= 0 && nowMs > this.lastAtMs) {
      cpuPercent = Math.max(0, ((totalTicks - this.lastTicks) * MS_PER_TICK * 100) / (nowMs - this.lastAtMs));
    }
    this.lastTicks = totalTicks;
    this.lastAtMs = nowMs;
    return {
      rssBytes: rssPages * PAGE_SIZE_BYTES,
      processCount: procs.length,
      cpuMs: totalTicks * MS_PER_TICK,
      cpuPercent: Math.round(cpuPercent * 10) / 10,
    };
  }
}
