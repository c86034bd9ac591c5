// One job at a time: starts jobs, refuses a second one (busy), answers repeats of an
// idempotency key with the first job, keeps the history, and stops everything on
// shutdown. Waiters are woken only once a job's whole tree is gone.
import type { StartJobRequest } from '../../common/protocol.ts';
import { Busy, JobNotFound, ShuttingDown } from './errors.ts';
import { pruneImages } from './images-retention.ts';
import { Job, type JobDeps } from './job/job.ts';
import { JobHistory } from './history.ts';
import { newJobId } from './ownership/marker.ts';

export class JobRunner {
  private current: Job | null = null;
  private readonly history: JobHistory;
  private readonly byKey = new Map<string, Job>();
  private shuttingDown = false;

  constructor(private readonly deps: JobDeps) {
    this.history = new JobHistory(4 * deps.config.maxOutputBytes);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  get running(): Job | null {
    return this.current;
  }

  recent(): readonly Job[] {
    return this.history.list();
  }

  /** Start a job, or return the job an earlier request with the same key started. */
  start(request: StartJobRequest): { job: Job; created: boolean } {
    const key = request.idempotencyKey;
    const known = key === undefined ? undefined : this.byKey.get(key);
    if (known !== undefined) return { job: known, created: false };
    if (this.shuttingDown) throw new ShuttingDown();
    if (this.current !== null) {
      const err = new Busy(this.current.id);
      Object.assign(err, { jobId: this.current.id });
      throw err;
    }
    const job = new Job(newJobId(), request, this.deps);
    this.deps.log.info({ jobId: job.id, promptChars: request.prompt.length, resume: request.sessionId !== undefined }, 'command received');
    this.current = job;
    if (key !== undefined) this.byKey.set(key, job);
    void job.finished.then(() => this.onFinished(job));
    job.start();
    return { job, created: true };
  }

  get(id: string): Job {
    const job = this.current?.id === id ? this.current : this.history.get(id);
    if (job === undefined) throw new JobNotFound(id);
    return job;
  }

  /** Resolves with the job once it has finished, or after timeoutMs / on abort. */
  async wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Job> {
    const job = this.get(id);
    if (job.isFinished || timeoutMs <= 0) return job;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      job.finished,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    return job;
  }

  /** End a running job with reason `cancelled`; resolves once it has finished. */
  async cancel(id: string): Promise<Job> {
    const job = this.get(id);
    if (!job.isFinished) await job.stop('cancelled');
    return job;
  }

  /** Refuse new jobs, end the running one with reason `shutdown`, wait until it is gone. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.current !== null) await this.current.stop('shutdown');
  }

  /** Second signal: skip the grace period. */
  hurry(): void {
    this.current?.hurry();
  }

  /** Synchronous SIGKILL of the running job's tree (the process is about to exit). */
  killNow(): number {
    return this.current?.killNow() ?? 0;
  }

  private onFinished(job: Job): void {
    if (this.current === job) this.current = null;
    // The job's screenshots are the newest: pruning keeps them and drops the oldest.
    void pruneImages(this.deps.config.imagesDir, this.deps.config.imagesRetention, this.deps.log);
    for (const dropped of this.history.add(job)) {
      const key = dropped.idempotencyKey;
      if (key !== null && this.byKey.get(key) === dropped) this.byKey.delete(key);
    }
  }
}
