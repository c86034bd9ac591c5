// The queries the runner needs, over the job store (db.ts): a job is inserted as it
// starts (before its CLI is spawned: a job that cannot be recorded does not run), written
// once more when it has finished, and read back by id or idempotency key. A failed write
// marks the store not writable with the reason; the runner refuses new jobs until a
// reopen succeeds (reopen()). Reads of an unreadable store throw StoreUnavailable: a
// relay must never be told "no such job" about a job the store may hold.
import type { JobSummary, JobView, StoreStatus } from '../../../common/protocol.ts';
import { StoreUnavailable } from '../errors.ts';
import { isLarge, pieces, textOf, wholeView, type HeldView, type JobAnswer } from '../job/answer-text.ts';
import { reasonMessage } from '../job/outcome.ts';
import type Database from 'libsql';
import { dbBytes, errorText, MEMORY_STORE, openJobDb, type Db, type OpenedDb } from './db.ts';
import { LogSync } from './log-sync.ts';

type Statement = Database.Statement<unknown[]>;

/** Durable start counters in the meta table (metrics: restarts survive the restart). */
export type StartCounter = 'supervisor_starts' | 'api_starts';

export interface StoreRetention {
  maxJobs: number;
  maxAgeMs: number;
}

/** Shortest pause between attempts to reopen a store that is not writable. */
const REOPEN_INTERVAL_MS = 5000;

interface Row {
  summary: string;
  text: string | null;
  stderr_tail: string;
  text_pieces: number;
}

const ROW_COLUMNS = 'summary, text, stderr_tail, text_pieces';

/**
 * A job recorded as running that no supervisor runs (this one started after it, or
 * cannot write the store to say so): finished, reason `interrupted`. Pure.
 */
export function asInterrupted<T extends JobSummary>(job: T, nowMs: number): T {
  return {
    ...job,
    state: 'finished',
    reason: 'interrupted',
    endedAt: new Date(nowMs).toISOString(),
    durationMs: Math.max(0, nowMs - Date.parse(job.startedAt)),
    errorMessage: reasonMessage('interrupted', 0),
    rssBytes: 0,
    processCount: 0,
  };
}

function summaryJson(view: JobSummary): string {
  const { text: _text, stderrTail: _tail, ...summary } = view as JobView;
  return JSON.stringify(summary);
}

export class JobStore {
  private db: Db | null = null;
  private writable = false;
  private error: string | null = null;
  private count = 0;
  private lastOpenMs = 0;
  /** Syncs the write-ahead log after a final commit (the connection is synchronous=NORMAL
   *  then: no other commit syncs); null: commits are FULL. */
  private logSync: LogSync | null = null;
  /** Prepared once per connection (libsql's close() leaves them to the GC). */
  private readonly statements = new Map<string, Statement>();

  constructor(
    readonly dataDir: string,
    readonly retention: StoreRetention,
  ) {}

  /** Open the database; what opening found (a corrupt file moved aside, an error). */
  open(nowMs = Date.now()): OpenedDb {
    this.lastOpenMs = nowMs;
    this.close();
    const opened = openJobDb(this.dataDir, nowMs);
    this.db = opened.db;
    this.writable = opened.writable;
    this.error = opened.error;
    if (opened.writable && this.dataDir !== MEMORY_STORE) {
      try {
        this.logSync = new LogSync(`${this.path}-wal`);
        // With the log synced by us where a commit must be durable, no commit syncs on its
        // own: one setting for the connection, not one switch per commit (a pragma is
        // prepared anew each time: 0.3 ms of a job's path in all).
        opened.db!.pragma('synchronous = NORMAL');
      } catch {
        this.logSync?.close();
        this.logSync = null; // no log to sync (not in WAL mode): commits stay FULL
      }
    }
    try {
      this.count = this.db === null ? 0 : Number(this.column('SELECT count(*) FROM jobs'));
    } catch {
      this.count = 0; // an I/O error reading it: the first read or write will say so
    }
    return opened;
  }

  /**
   * Try again, at most every few seconds, with a store that is not writable. A connection
   * opened for writing is kept (a full disk may have room again: the next write tells);
   * a read-only one, or none, is opened anew.
   */
  reopen(nowMs = Date.now()): boolean {
    if (this.writable) return true;
    if (nowMs - this.lastOpenMs < REOPEN_INTERVAL_MS) return false;
    if (this.db !== null && !this.db.readonly) {
      this.lastOpenMs = nowMs;
      this.writable = true;
      this.error = null;
      return true;
    }
    return this.open(nowMs).writable;
  }

  get isWritable(): boolean {
    return this.writable;
  }

  /** Why the store is not writable (or was not, at the last failure). */
  get lastError(): string | null {
    return this.error;
  }

  get jobCount(): number {
    return this.count;
  }

  get path(): string {
    return this.dataDir === MEMORY_STORE ? MEMORY_STORE : `${this.dataDir}/jobs.db`;
  }

  close(): void {
    this.logSync?.close();
    this.logSync = null;
    this.statements.clear();
    this.db?.close();
    this.db = null;
    this.writable = false;
  }

  /**
   * Record a job that is about to start. Throws StoreUnavailable when it cannot.
   * Committed without an fsync (the request waits on it, and a sync costs 0.9 ms median,
   * 4 ms p90 here): the record survives a crash of this process at once (the log is in
   * the kernel's cache) and a power loss from the job's final commit on, whose sync of the
   * log covers all before it. A power loss ends the job's processes too, and its caller
   * sees its connection drop.
   */
  insertStarted(summary: JobSummary): void {
    this.write(() =>
      this.unsynced(() =>
        this.stmt('INSERT INTO jobs (id, idempotency_key, state, started_at, summary) VALUES (?, ?, ?, ?, ?)').run(
          summary.id,
          summary.idempotencyKey,
          'running',
          Date.parse(summary.startedAt),
          summaryJson(summary),
        ),
      ),
    );
    this.count += 1;
  }

  /**
   * Write a finished job's final record and its events (a JSON array). Throws
   * StoreUnavailable when it cannot. A large text goes in pieces (job_text), in the same
   * transaction. Committed at once, synced to disk off the event loop (log-sync.ts; as
   * durable as a FULL commit): resolves true once it is on disk, false when the sync
   * failed (committed: a crash keeps it, a power loss may not). Never rejects.
   */
  saveFinished(view: HeldView, eventsJson: string | null = null): Promise<boolean> {
    const update = (text: string | null, textPieces: number): unknown =>
      this.stmt("UPDATE jobs SET state = 'finished', ended_at = ?, summary = ?, text = ?, stderr_tail = ?, events = ?, text_pieces = ? WHERE id = ?").run(
        view.endedAt === null ? Date.now() : Date.parse(view.endedAt),
        summaryJson(view),
        text,
        view.stderrTail,
        eventsJson,
        textPieces,
        view.id,
      );
    const { text } = view;
    const write =
      text === null || !isLarge(text)
        ? (): unknown => update(textOf(text), 0)
        : (): unknown =>
            this.db!.transaction(() => {
              this.stmt('DELETE FROM job_text WHERE job_id = ?').run(view.id);
              const insert = this.stmt('INSERT INTO job_text (job_id, seq, piece) VALUES (?, ?, ?)');
              let seq = 0;
              for (const piece of pieces(text)) insert.run(view.id, seq++, piece);
              update(null, seq);
            })();
    const log = this.logSync;
    if (log === null) {
      this.write(write); // FULL: SQLite syncs it
      return Promise.resolve(true);
    }
    this.write(() => this.unsynced(write));
    return log.sync().then(
      () => true,
      (err: unknown) => {
        this.error = `syncing the job store's log: ${errorText(err)}`;
        return false;
      },
    );
  }

  /**
   * The running job's events so far (a JSON array), so that a crash keeps them. Best
   * effort: false when the store could not take them (the final write says more).
   */
  saveEvents(id: string, eventsJson: string): boolean {
    try {
      this.write(() => {
        this.stmt("UPDATE jobs SET events = ? WHERE id = ? AND state = 'running'").run(eventsJson, id);
      });
      return true;
    } catch (err) {
      if (err instanceof StoreUnavailable) return false;
      throw err;
    }
  }

  /** A stored job's events as a JSON array; null when none were stored (or no such job). */
  eventsOf(id: string): string | null {
    const row = this.read(() => this.stmt('SELECT events FROM jobs WHERE id = ?').raw().get(id)) as [string | null] | undefined;
    return row?.[0] ?? null;
  }

  /** A stored job with its text whole. */
  byId(id: string): JobView | undefined {
    const answer = this.answerById(id);
    return answer === undefined ? undefined : wholeView(answer);
  }

  /** A stored job as it is sent: a large text read a piece at a time while it goes. */
  answerById(id: string): JobAnswer | undefined {
    return this.answerOf(this.read(() => this.stmt(`SELECT ${ROW_COLUMNS} FROM jobs WHERE id = ?`).get(id)) as Row | undefined);
  }

  /** A stored job with its text whole, by its idempotency key. */
  byKey(key: string): JobView | undefined {
    const answer = this.answerByKey(key);
    return answer === undefined ? undefined : wholeView(answer);
  }

  answerByKey(key: string): JobAnswer | undefined {
    return this.answerOf(this.read(() => this.stmt(`SELECT ${ROW_COLUMNS} FROM jobs WHERE idempotency_key = ?`).get(key)) as Row | undefined);
  }

  /** The newest finished jobs, newest first, without their text. [] when unreadable. */
  recent(limit: number): JobSummary[] {
    if (this.db === null) return [];
    try {
      const rows = this.stmt("SELECT summary FROM jobs WHERE state = 'finished' ORDER BY started_at DESC, rowid DESC LIMIT ?").raw().all(limit) as [string][];
      return rows.map(([s]) => JSON.parse(s) as JobSummary);
    } catch {
      return []; // /status must answer whatever the disk does
    }
  }

  /** When the newest finished job ended (ms), or null (none, or unreadable). */
  lastEndedAtMs(): number | null {
    if (this.db === null) return null;
    try {
      const v = this.column("SELECT max(ended_at) FROM jobs WHERE state = 'finished'");
      return v === null || v === undefined ? null : Number(v);
    } catch {
      return null;
    }
  }

  /**
   * At start: every job still recorded as running belongs to a supervisor that is gone.
   * Each becomes finished with reason `interrupted`; returns them.
   */
  interruptRunning(nowMs: number): JobSummary[] {
    if (this.db === null || !this.writable) return [];
    const rows = this.stmt("SELECT summary, events FROM jobs WHERE state = 'running'").raw().all() as [string, string | null][];
    const done: JobSummary[] = [];
    for (const [raw, events] of rows) {
      const interrupted = asInterrupted(JSON.parse(raw) as JobSummary, nowMs);
      // Its events as last written while it ran (saveEvents) stay its events.
      void this.saveFinished({ ...interrupted, text: null, stderrTail: '' }, events);
      done.push(interrupted);
    }
    return done;
  }

  /**
   * Count one start of `counter` (the supervisor's own, or an API's it was told of) in the
   * meta table, once per `startId`: a repeat of the last id (a retry whose answer was
   * lost) counts nothing. Returns the count; null when the store cannot take the write.
   */
  countStart(counter: StartCounter, startId: string): number | null {
    let count = 0;
    try {
      this.write(() => {
        this.db!.transaction(() => {
          count = this.startCount(counter);
          if (this.column('SELECT value FROM meta WHERE key = ?', `${counter}_last_id`) === startId) return;
          count += 1;
          const upsert = this.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
          upsert.run(counter, String(count));
          upsert.run(`${counter}_last_id`, startId);
        })();
      });
      return count;
    } catch (err) {
      if (err instanceof StoreUnavailable) return null;
      throw err;
    }
  }

  /** The starts counted so far; 0 when none were, or the store is unreadable. */
  startCount(counter: StartCounter): number {
    if (this.db === null) return 0;
    try {
      const value = Number(this.column('SELECT value FROM meta WHERE key = ?', counter) ?? 0);
      return Number.isSafeInteger(value) && value >= 0 ? value : 0;
    } catch {
      return 0;
    }
  }

  /** Drop finished jobs beyond the retention limits; returns how many went. */
  prune(nowMs = Date.now()): number {
    if (this.db === null || !this.writable) return 0;
    let removed = 0;
    this.write(() => {
      const info = this.stmt(
        `DELETE FROM jobs WHERE state = 'finished' AND (ended_at < ? OR id NOT IN (
           SELECT id FROM jobs WHERE state = 'finished' ORDER BY started_at DESC, rowid DESC LIMIT ?))`,
      ).run(nowMs - this.retention.maxAgeMs, this.retention.maxJobs);
      removed = Number(info.changes);
      if (removed > 0) this.db!.pragma('incremental_vacuum');
    });
    this.count -= removed;
    return removed;
  }

  status(unsaved: number): StoreStatus {
    return {
      path: this.path,
      writable: this.writable,
      error: this.error,
      jobs: this.count,
      bytes: dbBytes(this.dataDir),
      unsaved,
      maxJobs: this.retention.maxJobs,
      maxAgeDays: Math.round(this.retention.maxAgeMs / 86_400_000),
    };
  }

  private answerOf(row: Row | undefined): JobAnswer | undefined {
    if (row === undefined) return undefined;
    const view: JobView = { ...(JSON.parse(row.summary) as JobSummary), text: row.text, stderrTail: row.stderr_tail };
    const count = Number(row.text_pieces);
    return { view, pieces: count > 0 ? this.piecesOf(view.id, count) : null };
  }

  /** A stored text's pieces, each read when it is asked for (one row in memory at a time).
   *  Throws StoreUnavailable when one cannot be read, or is gone (its job pruned meanwhile). */
  private *piecesOf(id: string, count: number): Generator<string> {
    for (let seq = 0; seq < count; seq++) {
      const row = this.read(() => this.stmt('SELECT piece FROM job_text WHERE job_id = ? AND seq = ?').raw().get(id, seq)) as [string] | undefined;
      if (row === undefined) throw new StoreUnavailable(`job ${id}: piece ${seq} of its text is gone`);
      yield row[0];
    }
  }

  /** One commit without SQLite's fsync, for the callers above: as the connection is
   *  already where the log is ours to sync (open()), else synchronous NORMAL for it. */
  private unsynced(fn: () => unknown): void {
    if (this.logSync !== null) {
      fn();
      return;
    }
    const db = this.db!;
    db.pragma('synchronous = NORMAL');
    try {
      fn();
    } finally {
      db.pragma('synchronous = FULL');
    }
  }

  /** The first column of the first row. */
  private column(sql: string, ...params: unknown[]): unknown {
    return (this.stmt(sql).raw().get(...params) as unknown[] | undefined)?.[0];
  }

  /** Statements are prepared once per connection. */
  private stmt(sql: string): Statement {
    let st = this.statements.get(sql);
    if (st === undefined) {
      st = this.db!.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private write(fn: () => void): void {
    if (this.db === null || !this.writable) throw new StoreUnavailable(this.error ?? 'the job store is not open');
    try {
      fn();
    } catch (err) {
      // A broken constraint is a bug of ours, not of the store.
      if (String((err as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT')) throw err;
      // A full disk, a file made read-only, an I/O error: no more jobs until a reopen works.
      this.writable = false;
      this.error = errorText(err);
      throw new StoreUnavailable(this.error);
    }
  }

  private read(fn: () => unknown): unknown {
    if (this.db === null) throw new StoreUnavailable(this.error ?? 'the job store is not open');
    try {
      return fn();
    } catch (err) {
      throw new StoreUnavailable(errorText(err));
    }
  }
}
