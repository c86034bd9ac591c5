// One Server-Sent Events response (text/event-stream), written to the raw socket: events
// with an id, a comment every heartbeatMs so that proxies which cut idle connections (60 s
// is common) keep it, and a bound on what a client leaves unread: past maxBufferedBytes
// the connection is cut, and the client resumes with Last-Event-ID. Nothing here ever
// waits for a client to read.
import type { ServerResponse } from 'node:http';

export interface SseOptions {
  heartbeatMs: number;
  maxBufferedBytes: number;
}

export class SseWriter {
  private readonly timer: NodeJS.Timeout;
  private readonly maxBufferedBytes: number;
  private closedFlag = false;
  private cut = false;

  constructor(
    private readonly res: ServerResponse,
    options: SseOptions,
    headers: Record<string, string> = {},
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx buffers responses unless told not to; an event must not wait in a proxy.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.socket?.setNoDelay(true);
    this.maxBufferedBytes = options.maxBufferedBytes;
    // The headers and a first line at once: the client knows the stream is open.
    res.write(': stream open\n\n');
    this.timer = setInterval(() => this.write(': keepalive\n\n'), options.heartbeatMs);
    this.timer.unref();
    res.once('close', () => this.markClosed());
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Whether the stream was cut for a client that did not read. */
  get wasCut(): boolean {
    return this.cut;
  }

  /** Runs once, when the response is closed (by us, the client, or a cut). */
  onClose(fn: () => void): void {
    if (this.closedFlag) fn();
    else this.res.once('close', fn);
  }

  send(id: string, event: string, data: unknown): void {
    // JSON.stringify never emits a raw newline, so one `data:` line carries it all.
    this.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    if (this.closedFlag) return;
    this.markClosed();
    this.res.end();
  }

  private write(chunk: string): void {
    if (this.closedFlag) return;
    this.res.write(chunk);
    if (this.res.writableLength > this.maxBufferedBytes) {
      this.cut = true;
      this.markClosed();
      this.res.destroy();
    }
  }

  private markClosed(): void {
    this.closedFlag = true;
    clearInterval(this.timer);
  }
}
