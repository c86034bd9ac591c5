// The job store's database file: SQLite (libsql) in DATA_DIR, write-ahead log, fsync on
// every commit but a job's first (store/jobs.ts insertStarted). The supervisor is its
// only writer: one supervisor per DATA_DIR (the image has one; two `npm start`s need two
// DATA_DIRs, as they need two sockets). Not enforced
// with locking_mode EXCLUSIVE: libsql's close() leaves a connection with live statements
// open, lock and all, so this process could never reopen its own file. Opening decides what a bad file
// means, once, here (docs/supervisor.md, "The job store"):
// - missing: created;
// - not a database or corrupt (open fails, or quick_check does): moved aside as
//   jobs.db.corrupt-<time> (kept for a person to look at) and a fresh one created;
// - read-only, locked, a full disk, a folder we cannot write: opened read-only where that
//   works (old jobs still answer), and reported as not writable (new jobs are refused).
import { mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'libsql';

export type Db = Database.Database;

export const DB_FILE = 'jobs.db';
/** DATA_DIR's value that keeps jobs in memory only (benchmarks, throwaway runs). */
export const MEMORY_STORE = ':memory:';
const SCHEMA_VERSION = 3;

// A large answer in pieces, written in the transaction of its job's final record: SQLite
// takes one 10 MiB value with 40-50 MiB of transient memory, 64 KiB pieces with a few
// (docs/benchmarks.md, 5). They go with their job.
const JOB_TEXT = `
  CREATE TABLE job_text (
    job_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    piece  TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
  ) STRICT;
  CREATE TRIGGER job_text_gone AFTER DELETE ON jobs BEGIN DELETE FROM job_text WHERE job_id = old.id; END;
`;

const SCHEMA = `
  CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('running', 'finished')),
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    -- The JobSummary as JSON (no prompt: only its length); text and stderr apart, so that
    -- listing recent jobs never reads an answer.
    summary         TEXT NOT NULL,
    -- The answer, when it is one piece (job/answer-text.ts TEXT_PIECE); else NULL here and
    -- its text_pieces pieces in job_text.
    text            TEXT,
    stderr_tail     TEXT NOT NULL DEFAULT '',
    -- The job's events (common/events.ts) as one JSON array, written with its final record.
    events          TEXT,
    text_pieces     INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX jobs_started_at ON jobs (started_at);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE INDEX jobs_running ON jobs (state) WHERE state = 'running';
  ${JOB_TEXT}
`;

/** MIGRATIONS[n - 1] takes schema n to n + 1 (SCHEMA is always the newest whole). */
const MIGRATIONS = [
  // 1 -> 2: the job's events (issue 11).
  'ALTER TABLE jobs ADD COLUMN events TEXT;',
  // 2 -> 3: large answers in pieces.
  `ALTER TABLE jobs ADD COLUMN text_pieces INTEGER NOT NULL DEFAULT 0; ${JOB_TEXT}`,
];

export interface OpenedDb {
  /** null when not even a read-only connection could be made. */
  db: Db | null;
  writable: boolean;
  /** Why it is not writable. */
  error: string | null;
  /** Where a corrupt file was moved, when one was. */
  movedAside: string | null;
}

/** A SQLite error's code (`SQLITE_CORRUPT`...), or the message of anything else. */
export function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' && e.code !== '' ? `${e.code}: ` : '';
  return `${code}${typeof e.message === 'string' ? e.message : String(err)}`;
}

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || err instanceof CorruptDatabase;
}

/** The first column of the first row. (libsql ignores better-sqlite3's pluck(); raw() works.) */
function scalar(db: Db, sql: string, ...params: unknown[]): unknown {
  const row = db.prepare(sql).raw().get(...params) as unknown[] | undefined;
  return row?.[0];
}

class CorruptDatabase extends Error {}
class NewerSchema extends Error {}

function openWritable(file: string): Db {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const check = scalar(db, 'PRAGMA quick_check(1)');
    if (check !== 'ok') throw new CorruptDatabase(`quick_check: ${String(check)}`);
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Db): void {
  const version = Number(scalar(db, 'PRAGMA user_version'));
  if (version > SCHEMA_VERSION) throw new NewerSchema(`the database has schema ${version}; this version knows ${SCHEMA_VERSION}`);
  if (version === 0) {
    // Pages freed by pruning go back to the file system (incremental_vacuum after a prune).
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec(`BEGIN IMMEDIATE; ${SCHEMA} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT`);
  } else if (version < SCHEMA_VERSION) {
    db.exec(`BEGIN IMMEDIATE; ${MIGRATIONS.slice(version - 1).join(' ')} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT`);
  }
  // A real write, now rather than at the first job: SQLite silently opens a file it cannot
  // write (read-only file or file system) read-only, and says so only at a write.
  db.prepare("INSERT INTO meta (key, value) VALUES ('opened_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(
    new Date().toISOString(),
  );
}

function openReadOnly(file: string): Db | null {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    scalar(db, 'SELECT count(*) FROM jobs');
    return db;
  } catch {
    return null;
  }
}

function moveAside(file: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  const target = `${file}.corrupt-${stamp}`;
  renameSync(file, target);
  for (const suffix of ['-wal', '-shm']) {
    try {
      renameSync(`${file}${suffix}`, `${target}${suffix}`);
    } catch {
      // not there
    }
  }
  return target;
}

/** Open (creating if needed) DATA_DIR/jobs.db; never throws. */
export function openJobDb(dataDir: string, nowMs = Date.now()): OpenedDb {
  if (dataDir === MEMORY_STORE) {
    const db = new Database(MEMORY_STORE);
    migrate(db);
    return { db, writable: true, error: null, movedAside: null };
  }
  const file = path.join(dataDir, DB_FILE);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    return { db: null, writable: false, error: `cannot create ${dataDir}: ${errorText(err)}`, movedAside: null };
  }
  let movedAside: string | null = null;
  for (;;) {
    try {
      return { db: openWritable(file), writable: true, error: null, movedAside };
    } catch (err) {
      if (isCorruption(err) && movedAside === null) {
        try {
          movedAside = moveAside(file, nowMs);
          continue;
        } catch (moveErr) {
          return { db: null, writable: false, error: `${file} is corrupt and cannot be moved aside: ${errorText(moveErr)}`, movedAside: null };
        }
      }
      return { db: openReadOnly(file), writable: false, error: errorText(err), movedAside };
    }
  }
}

/** Bytes the database takes on disk: the file and its write-ahead log. */
export function dbBytes(dataDir: string): number {
  if (dataDir === MEMORY_STORE) return 0;
  const file = path.join(dataDir, DB_FILE);
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // not there
    }
  }
  return total;
}
