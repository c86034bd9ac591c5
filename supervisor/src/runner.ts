// One job at a time: starts jobs, refuses a second one (busy), answers repeats of an
// idempotency key with the first job, and stops everything on shutdown. The running job
// lives here; every other job lives in the store (store/jobs.ts): a job is recorded
// before its CLI starts and written once more when it has finished, after which nothing
// of it stays in this heap. Waiters are woken only once the whole tree is gone and the
// record is written.
import { stat } from 'node:fs/promises';
import type { BoundedEventLog } from '../../common/event-log.ts';
import { scanImageFiles, type ImageFile } from '../../common/image-files.ts';
import type { JobSummary, JobView, StartJobRequest } from '../../common/protocol.ts';
import { BadRequest, Busy, DeadlineExceeded, JobNotFound, ShuttingDown, StoreUnavailable } from './errors.ts';
import { pruneImages } from './images-retention.ts';
import { answerOf, decoded, wholeView, type HeldView, type JobAnswer } from './job/answer-text.ts';
import { storedLog } from './job/event-log.ts';
import { imagesInWindow, jobWindow } from './job/images.ts';
import { Job, type JobDeps } from './job/job.ts';
import { WarmStart } from './job/launch.ts';
import { jobLimitsOf } from './job/limits.ts';
import { asInterrupted, type JobStore } from './store/jobs.ts';

/** How many finished jobs /status lists. */
export const RECENT_JOBS = 20;
/** Finished jobs whose record could not be written (a full disk) stay in memory, this many at most. */
const MAX_UNSAVED = 50;
/** The running job's events are written this often (when there are new ones): a crash keeps them. */
export const EVENTS_FLUSH_MS = 5000;

export type RunnerDeps = Omit<JobDeps, 'imagesOf' | 'liveImagesOf' | 'imagesFolderMtimeMs'> & {
  store: JobStore;
  /** Told of every job this runner ran once it has finished (the metrics count it). */
  onJobFinished?: (job: JobSummary) => void;
};

interface Unsaved {
  view: HeldView;
  events: string | null;
}

export class JobRunner {
  private current: Job | null = null;
  /** Jobs not yet settled (running, or finished with their record on its way to disk). */
  private readonly settling = new Map<string, Promise<void>>();
  /** Finished jobs the store could not take yet, by id: answered from here, written when it can. */
  private readonly unsaved = new Map<string, Unsaved>();
  private shuttingDown = false;
  private previousEndMs: number | null;
  /** IMAGES_DIR as the running job's end read it, for the prune that follows. */
  private folderAtEnd: ImageFile[] | null = null;
  private readonly jobDeps: JobDeps;
  private readonly store: JobStore;
  private readonly onJobFinished: (job: JobSummary) => void;
  /** The next job's launch, made ahead of its request (job/launch.ts). */
  private readonly launches: WarmStart;
  private prepares = false;

  constructor(deps: RunnerDeps) {
    const { store, onJobFinished, ...jobDeps } = deps;
    this.store = store;
    this.onJobFinished = onJobFinished ?? (() => undefined);
    this.previousEndMs = store.lastEndedAtMs();
    this.launches = new WarmStart(jobDeps);
    this.jobDeps = {
      ...jobDeps,
      imagesOf: (startedAtMs, endedAtMs) => this.imagesOf(startedAtMs, endedAtMs),
      liveImagesOf: (startedAtMs) => this.liveImagesOf(startedAtMs),
      imagesFolderMtimeMs: () =>
        stat(jobDeps.config.imagesDir).then(
          (st) => st.mtimeMs,
          () => null,
        ),
    };
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** The running job's summary, or null. */
  runningSummary(now = Date.now()): JobSummary | null {
    return this.current?.summary(now) ?? null;
  }

  /** The newest finished jobs, newest first. */
  recent(): JobSummary[] {
    const unsaved = [...this.unsaved.values()].reverse().map(({ view: { text: _t, stderrTail: _s, ...summary } }) => summary);
    return [...unsaved, ...this.store.recent(RECENT_JOBS)].slice(0, RECENT_JOBS);
  }

  get unsavedCount(): number {
    return this.unsaved.size;
  }

  /** Start a job, or return the job an earlier request with the same key started. */
  start(request: StartJobRequest): { answer: JobAnswer; created: boolean } {
    const key = request.idempotencyKey;
    if (key !== undefined) {
      const known = this.byKey(key);
      if (known !== undefined) return { answer: known, created: false };
    }
    const decided = jobLimitsOf(request, this.jobDeps.config);
    if ('error' in decided) throw new BadRequest(decided.error);
    const { limits } = decided;
    if (this.shuttingDown) throw new ShuttingDown();
    if (this.current !== null) {
      const err = new Busy(this.current.id);
      Object.assign(err, { jobId: this.current.id });
      throw err;
    }
    // The caller gave up at its deadline (and answered its own caller that nothing ran).
    if (request.deadlineMs !== undefined && Date.now() > request.deadlineMs) {
      this.jobDeps.log.warn({ lateMs: Date.now() - request.deadlineMs, idempotencyKey: key ?? null }, 'start refused: past its deadline');
      throw new DeadlineExceeded();
    }
    this.store.reopen();
    this.flushUnsaved();
    const launch = this.launches.take();
    const job = new Job(launch.jobId, request, this.jobDeps, limits);
    // Recorded before anything runs: a job the store cannot hold does not start.
    try {
      this.store.insertStarted(job.summary());
    } catch (err) {
      this.launches.putBack(launch);
      throw err;
    }
    this.current = job;
    // Waiters wait for this, not for the job's end: the record is on disk before they are woken.
    const settled = job.finished
      .then(() => this.onFinished(job))
      .catch((err: unknown) => this.jobDeps.log.error({ jobId: job.id, err }, 'error'));
    this.settling.set(job.id, settled);
    void settled.finally(() => this.settling.delete(job.id));
    job.start(launch);
    // Logged once the CLI has its arguments: its exec does not wait for the line.
    this.jobDeps.log.info({ jobId: job.id, promptChars: request.prompt.length, resume: request.sessionId !== undefined }, 'command received');
    this.flushEventsEvery(job);
    return { answer: answerOf(job.heldView()), created: true };
  }

  /** A job with its text whole. */
  get(id: string): JobView {
    return wholeView(this.answer(id));
  }

  /** A job as it is sent (a large text in pieces: answer-text.ts). */
  answer(id: string): JobAnswer {
    if (this.current?.id === id) return answerOf(this.current.heldView());
    const unsaved = this.unsaved.get(id);
    if (unsaved !== undefined) return answerOf(unsaved.view);
    const stored = this.storedAnswer(this.store.answerById(id));
    if (stored === undefined) throw new JobNotFound(id);
    return stored;
  }

  /** A job's events: the running job's live log, or a finished job's, ended, from the store. */
  events(id: string): BoundedEventLog {
    if (this.current?.id === id) return this.current.events.log;
    const unsaved = this.unsaved.get(id);
    if (unsaved !== undefined) return storedLog(unsaved.events, decoded(unsaved.view));
    const view = this.get(id);
    return storedLog(this.store.eventsOf(id), view);
  }

  /** Resolves with the job once it has finished and its record is on disk, or as it is
   *  after timeoutMs / on abort. */
  async wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobAnswer> {
    const job = this.current?.id === id ? this.current : null;
    const settled = this.settling.get(id);
    if (settled === undefined || timeoutMs <= 0) return this.answer(id);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      settled,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    // The job itself where it is still at hand (its text without a read of the store).
    return job !== null ? answerOf(job.heldView()) : this.answer(id);
  }

  /** End a running job with reason `cancelled`; resolves once it has finished. */
  async cancel(id: string): Promise<JobAnswer> {
    const job = this.current?.id === id ? this.current : null;
    if (job === null) return this.answer(id);
    await job.stop('cancelled');
    await this.settling.get(id);
    return answerOf(job.heldView());
  }

  /** Make the next job's launch now, so that its request does not wait for it (main.ts
   *  calls this once the start-up sweep is done; the runner again after each job). */
  prepareNext(): void {
    this.prepares = true;
    if (!this.shuttingDown && this.current === null) this.launches.prepare();
  }

  /** The next job's launch (/status). */
  nextJob(): { prepared: boolean; reaperPid: number | null } {
    return this.launches.status();
  }

  /** Refuse new jobs, end the running one with reason `shutdown`, wait until it is gone. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const closed = this.launches.close();
    if (this.current !== null) await this.current.stop('shutdown');
    await Promise.all([closed, ...this.settling.values()]);
    this.store.reopen(Number.MAX_SAFE_INTEGER);
    this.flushUnsaved();
    if (this.unsaved.size > 0) {
      this.jobDeps.log.error({ jobIds: [...this.unsaved.keys()] }, 'finished jobs lost at exit: the store could not take them');
    }
  }

  /** Second signal: skip the grace period. */
  hurry(): void {
    this.current?.hurry();
  }

  /** Synchronous SIGKILL of the running job's tree (the process is about to exit). */
  killNow(): number {
    return this.current?.killNow() ?? 0;
  }

  /** Background retention: drop old jobs, retry unsaved records. */
  maintain(): void {
    this.store.reopen();
    this.flushUnsaved();
    try {
      const removed = this.store.prune();
      if (removed > 0) this.jobDeps.log.info({ removedCount: removed }, 'pruned old jobs');
    } catch (err) {
      this.jobDeps.log.warn({ err }, 'could not prune old jobs');
    }
  }

  private byKey(key: string): JobAnswer | undefined {
    if (this.current?.idempotencyKey === key) return answerOf(this.current.heldView());
    for (const { view } of this.unsaved.values()) if (view.idempotencyKey === key) return answerOf(view);
    return this.storedAnswer(this.store.answerByKey(key));
  }

  /** A stored job as it is: one recorded as running that is not ours was interrupted (a
   *  store we could not write at start still says running). */
  private stored(view: JobView): JobView {
    return view?.state === 'running' ? asInterrupted(view, Date.now()) : view;
  }

  private storedAnswer(answer: JobAnswer | undefined): JobAnswer | undefined {
    return answer === undefined ? undefined : { ...answer, view: this.stored(answer.view) };
  }

  private async imagesOf(startedAtMs: number, endedAtMs: number): Promise<string[]> {
    const files = await scanImageFiles(this.jobDeps.config.imagesDir);
    this.folderAtEnd = files;
    return files === null ? [] : imagesInWindow(files, jobWindow(startedAtMs, endedAtMs, this.previousEndMs));
  }

  private async liveImagesOf(startedAtMs: number): Promise<ImageFile[] | null> {
    const files = await scanImageFiles(this.jobDeps.config.imagesDir);
    if (files === null) return null;
    const [from, to] = jobWindow(startedAtMs, Date.now(), this.previousEndMs);
    return files.filter((f) => f.mtimeMs >= from && f.mtimeMs <= to);
  }

  private flushEventsEvery(job: Job): void {
    let written = 0;
    const timer = setInterval(() => {
      const last = job.events.log.lastId;
      if (last !== written && this.store.saveEvents(job.id, job.events.toJson())) written = last;
    }, EVENTS_FLUSH_MS);
    timer.unref();
    void job.finished.then(() => clearInterval(timer));
  }

  /** Record the finished job; resolves once the record is on disk (or could not be). */
  private async onFinished(job: Job): Promise<void> {
    const view = job.heldView();
    const synced = this.save({ view, events: job.events.toJson() });
    if (this.current === job) this.current = null;
    this.onJobFinished(view);
    // After the record: a subscriber told `end` finds the job in the store.
    job.events.end(view);
    this.previousEndMs = job.record.endedAtMs;
    // The job's screenshots are the newest: pruning keeps them and drops the oldest. The
    // folder as the job's end read it (its tree is gone: nothing has changed since).
    const { imagesDir, imagesRetention } = this.jobDeps.config;
    void pruneImages(imagesDir, imagesRetention, this.jobDeps.log, this.folderAtEnd ?? undefined);
    this.folderAtEnd = null;
    if (synced !== null && !(await synced)) {
      this.jobDeps.log.error({ jobId: view.id, err: this.store.lastError }, 'the finished job is recorded but not synced to disk: a power loss may lose it');
    }
    // After the waiters have their answer; the next job's launch only where the runner was
    // asked to prepare one (prepareNext) before.
    setImmediate(() => {
      this.maintain();
      if (this.prepares) this.prepareNext();
    });
  }

  /** Write the record: null when the store could not take it (kept in memory), else
   *  whether it reached the disk. */
  private save(entry: Unsaved): Promise<boolean> | null {
    const { view } = entry;
    try {
      const synced = this.store.saveFinished(view, entry.events);
      this.unsaved.delete(view.id);
      return synced;
    } catch (err) {
      if (!(err instanceof StoreUnavailable)) throw err;
      if (!this.unsaved.has(view.id)) {
        this.jobDeps.log.error({ jobId: view.id, err }, 'could not write the finished job; kept in memory until the store takes it');
      }
      this.unsaved.set(view.id, entry);
      if (this.unsaved.size > MAX_UNSAVED) {
        const oldest = this.unsaved.keys().next().value!;
        this.unsaved.delete(oldest);
        this.jobDeps.log.error({ jobId: oldest }, 'dropped an unsaved finished job (too many unsaved)');
      }
      return null;
    }
  }

  private flushUnsaved(): void {
    for (const entry of [...this.unsaved.values()]) if (this.save(entry) === null) return;
  }
}
