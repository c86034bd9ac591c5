// The job store at supervisor start: open it, say what opening found (at error or warn,
// and in /status), and close the books of the previous run: jobs it left recorded as
// running are `interrupted` (their trees were swept just before).
import type { Logger } from '../../../common/logger.ts';
import type { JobSummary } from '../../../common/protocol.ts';
import type { SupervisorConfig } from '../config.ts';
import { MEMORY_STORE } from './db.ts';
import { JobStore } from './jobs.ts';

/** /status's warning while the store cannot record new jobs. */
export function notWritableWarning(error: string | null): string {
  return `the job store is not writable (${error ?? 'unknown'}): new jobs are refused until it is`;
}

/**
 * `warnings`: what /status keeps saying about how the store was found (each also logged
 * here); `interrupted`: the jobs of the previous run closed as interrupted (the metrics count them).
 */
export function openStoreAtStart(
  config: Readonly<SupervisorConfig>,
  log: Logger,
  nowMs = Date.now(),
): { store: JobStore; warnings: string[]; interrupted: JobSummary[] } {
  const store = new JobStore(config.dataDir, config.jobsRetention);
  const opened = store.open(nowMs);
  const warnings: string[] = [];
  const interrupted: JobSummary[] = [];
  if (config.dataDir === MEMORY_STORE) {
    warnings.push('DATA_DIR=:memory: keeps jobs in memory only: results and idempotency keys are lost on every restart');
    log.warn({ path: store.path }, warnings.at(-1)!);
  }
  if (opened.movedAside !== null) {
    log.error({ path: store.path, movedTo: opened.movedAside }, 'the job store was corrupt: moved aside, a new one created');
    warnings.push(`the job store was corrupt and was moved aside to ${opened.movedAside}`);
  }
  if (!opened.writable) {
    const readable = opened.db !== null ? 'finished jobs can still be read' : 'nothing can be read';
    log.error({ path: store.path, err: opened.error }, `the job store is not writable: new jobs are refused (${readable})`);
  } else {
    // A write failing here (a full disk) leaves the store not writable, never the start.
    try {
      for (const job of store.interruptRunning(nowMs)) {
        interrupted.push(job);
        log.warn({ jobId: job.id, startedAt: job.startedAt }, 'job interrupted by a restart');
      }
      const removed = store.prune(nowMs);
      if (removed > 0) log.info({ removedCount: removed }, 'pruned old jobs');
    } catch (err) {
      log.error({ path: store.path, err }, 'the job store is not writable: new jobs are refused');
    }
  }
  log.info({ path: store.path, jobs: store.jobCount, writable: store.isWritable }, 'job store open');
  return { store, warnings, interrupted };
}
