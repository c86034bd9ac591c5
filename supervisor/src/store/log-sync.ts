// The job store's write-ahead log, synced off the event loop. In WAL mode synchronous=FULL
// means one thing: the log is synced at each commit. A commit made with NORMAL followed by
// an fdatasync of the log is as durable, but the sync runs in libuv's thread pool: the
// event loop serves the socket meanwhile instead of blocking in SQLite's fsync (a job's
// final commit, FULL, took ~1 ms of the supervisor's answer path; docs/benchmarks.md
// section 1). Its caller waits for sync() before saying the record is kept.
import { closeSync, fdatasync, openSync } from 'node:fs';

export class LogSync {
  private fd: number | null;

  /** `file`: the log (jobs.db-wal), which SQLite keeps while the database is open. */
  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }

  /** Resolves once everything committed so far is on disk; rejects with the I/O error. */
  sync(): Promise<void> {
    const fd = this.fd;
    if (fd === null) return Promise.reject(new Error('the job store is closed'));
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err === null ? resolve() : reject(err))));
  }

  close(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = null;
  }
}
