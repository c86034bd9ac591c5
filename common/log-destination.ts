// Where the logs go: stdout, written so that stdout can never hold a service up. pino's
// own destination (sonic-boom) retries a write to a full pipe forever and flushes
// synchronously in its exit hook, so a service whose log reader stopped reading hung
// inside exit (seen: `npm start | head`, 72 minutes). Here every write is asynchronous
// (the threadpool may block, the event loop never does), a pipe that stays full fills a
// bounded queue and then drops lines (and says how many once it drains), a closed pipe
// (EPIPE) drops everything, and the services' shutdown awaits flush() with a deadline
// before process.exit(), which ends whatever write is still stuck in the kernel.
import { write as fsWrite } from 'node:fs';

/** Lines kept while stdout cannot take them; beyond this they are dropped and counted. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** A non-blocking pipe that is full answers EAGAIN: try again after this long. */
const RETRY_MS = 20;

export class LogDestination {
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private writing = false;
  private closed = false;
  private dropped = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly fd = 1,
    /** Turns a JSON line into what a person reads (pino-pretty's factory), on a terminal. */
    private readonly format?: (line: string) => string,
  ) {}

  /** pino's destination interface. Never blocks, never throws. */
  write(line: string): boolean {
    if (this.closed) return true;
    const text = this.format === undefined ? line : this.format(line);
    const chunk = Buffer.from(text, 'utf8');
    if (this.queuedBytes + chunk.length > MAX_QUEUED_BYTES) {
      this.dropped += 1;
      return true;
    }
    if (this.dropped > 0 && this.queuedBytes === 0) this.noteDropped();
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    this.pump();
    return true;
  }

  /** Resolves when everything queued is written, stdout is gone, or `deadlineMs` passed. */
  flush(deadlineMs: number): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => {
      // Ref'd: the caller is waiting on purpose (retries of a full pipe are unref'd).
      const timer = setTimeout(done, deadlineMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  /** Lines dropped so far because stdout could not take them. */
  get droppedLines(): number {
    return this.dropped;
  }

  private get idle(): boolean {
    return this.closed || (this.queuedBytes === 0 && !this.writing);
  }

  private noteDropped(): void {
    const note = `${JSON.stringify({ level: 40, time: Date.now(), msg: 'log lines dropped: stdout could not take them', droppedLines: this.dropped })}\n`;
    this.dropped = 0;
    const chunk = Buffer.from(this.format === undefined ? note : this.format(note), 'utf8');
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
  }

  private pump(): void {
    if (this.writing || this.closed || this.queue.length === 0) return;
    const chunk = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue);
    this.queue = [chunk];
    this.writing = true;
    fsWrite(this.fd, chunk, 0, chunk.length, null, (err, written) => {
      this.writing = false;
      if (err !== null) {
        if (err.code === 'EAGAIN') {
          setTimeout(() => this.pump(), RETRY_MS).unref();
          return;
        }
        // EPIPE (the reader is gone), EBADF...: nothing will ever take these lines.
        this.closed = true;
        this.queue = [];
        this.queuedBytes = 0;
        this.settle();
        return;
      }
      const rest = chunk.subarray(written);
      this.queue = rest.length === 0 ? this.queue.slice(1) : [rest, ...this.queue.slice(1)];
      this.queuedBytes -= written;
      if (this.queue.length > 0) this.pump();
      else this.settle();
    });
  }

  private settle(): void {
    if (!this.idle) return;
    for (const done of this.waiters.splice(0)) done();
  }
}
