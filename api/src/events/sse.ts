// One client's Server-Sent Events stream (text/event-stream), fed from its job's log of
// ready frames (job-hub.ts): the client keeps the id it has been sent up to and is written
// to while it has at most maxBufferedBytes unread; past that it waits for 'drain', and a
// client that stays behind for stallMs is cut (it resumes with Last-Event-ID). A comment
// every heartbeatMs keeps proxies that cut idle connections (60 s is common) from cutting
// it. A slow client only lags behind the log: it holds nothing, and slows nobody.
import type { ServerResponse } from 'node:http';
import type { BoundedEventLog } from '../../../common/event-log.ts';

export interface SseOptions {
  heartbeatMs: number;
  maxBufferedBytes: number;
  /** Longest a client may stay over maxBufferedBytes before it is cut. */
  stallMs: number;
}

/** One SSE event. JSON.stringify never emits a raw newline, so one `data:` line carries it. */
export function sseFrame(id: string, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class SseClient {
  private cursor: number;
  private sentCount = 0;
  private sentEnd = false;
  private cutFlag = false;
  private closedFlag = false;
  private peak = 0;
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly res: ServerResponse,
    private readonly log: BoundedEventLog,
    after: number,
    private readonly options: SseOptions,
    headers: Record<string, string> = {},
  ) {
    this.cursor = after;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx buffers responses unless told not to; an event must not wait in a proxy.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.socket?.setNoDelay(true);
    // The headers and a first line at once: the client knows the stream is open.
    res.write(': stream open\n\n');
    this.heartbeat = setInterval(() => this.write(': keepalive\n\n'), options.heartbeatMs);
    this.heartbeat.unref();
    this.unsubscribe = log.subscribe(() => this.pump());
    res.on('drain', () => this.onDrain());
    res.once('close', () => {
      this.markClosed();
      if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    });
    this.pump();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Events written (the end included). */
  get sent(): number {
    return this.sentCount;
  }

  get ended(): boolean {
    return this.sentEnd;
  }

  /** Whether the stream was cut for a client that stayed behind. */
  get wasCut(): boolean {
    return this.cutFlag;
  }

  /** Most bytes the client had left unread at any one time. */
  get peakBufferedBytes(): number {
    return this.peak;
  }

  /** Runs once, when the response is closed (by us, the client, or a cut). */
  onClose(fn: () => void): void {
    if (this.res.closed) fn();
    else this.res.once('close', fn);
  }

  /** End the stream without `end` (shutdown, the job's events lost): the client resumes later. */
  close(): void {
    if (this.closedFlag) return;
    this.markClosed();
    this.res.end();
  }

  private pump(): void {
    if (this.closedFlag || this.stallTimer !== null) return;
    for (let e = this.log.next(this.cursor); e !== null; e = this.log.next(this.cursor)) {
      this.cursor = e.id;
      this.sentCount += 1;
      if (!this.write(e.frame)) {
        this.waitForDrain();
        return;
      }
    }
    if (this.log.ended) {
      this.sentEnd = true;
      this.sentCount += 1;
      this.write(this.log.end!);
      this.markClosed();
      this.res.end();
      // Still unread after stallMs: let it go.
      if (!this.res.writableFinished) this.waitForDrain();
    }
  }

  private waitForDrain(): void {
    this.stallTimer = setTimeout(() => this.cut(), this.options.stallMs);
    this.stallTimer.unref();
  }

  private onDrain(): void {
    if (this.stallTimer === null) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.pump();
  }

  private cut(): void {
    this.stallTimer = null;
    if (this.res.writableFinished || this.res.destroyed) return;
    this.cutFlag = true;
    this.markClosed();
    this.res.destroy();
  }

  /** false once the client has more than maxBufferedBytes unread. */
  private write(chunk: string): boolean {
    if (this.res.writableEnded || this.res.destroyed) return false;
    this.res.write(chunk);
    const buffered = this.res.writableLength;
    if (buffered > this.peak) this.peak = buffered;
    return buffered <= this.options.maxBufferedBytes;
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    clearInterval(this.heartbeat);
    this.unsubscribe();
  }
}
