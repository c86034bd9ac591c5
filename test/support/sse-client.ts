// A Server-Sent Events client for the tests: a real HTTP connection, the stream parsed
// field by field as the spec says (id, event, data; comment lines counted), each event
// stamped with when it arrived. `read: false` opens the connection and never reads it (a
// client that stalls).
import http from 'node:http';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: unknown;
  /** performance.timeOrigin + performance.now() when the event's blank line arrived. */
  atMs: number;
}

export interface SseConnection {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  comments: string[];
  /** Body text when the answer was not an event stream (an error). */
  text: string;
  /** Resolves when the server ends the stream (or the connection breaks). */
  done: Promise<void>;
  /** Resolves once `n` events have arrived. */
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
  close(): void;
}

export interface SseOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** false: never read from the socket. */
  read?: boolean;
  onEvent?: (event: SseEvent) => void;
}

export function openSse(port: number, path: string, options: SseOptions = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: options.method ?? 'GET',
      path,
      agent: false,
      headers: { accept: 'text/event-stream', ...options.headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const waiters: Array<{ n: number; resolve: () => void }> = [];
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      const conn: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        text: '',
        done,
        waitForEvents: (n, timeoutMs = 20_000) =>
          events.length >= n
            ? Promise.resolve()
            : new Promise<void>((ok, fail) => {
                const timer = setTimeout(() => fail(new Error(`only ${events.length} of ${n} events within ${timeoutMs} ms`)), timeoutMs);
                waiters.push({ n, resolve: () => (clearTimeout(timer), ok()) });
              }),
        close: () => req.destroy(),
      };
      res.on('close', () => resolveDone());
      res.on('error', () => resolveDone());
      if (options.read === false) {
        res.pause();
        resolve(conn);
        return;
      }
      const isStream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      let buffer = '';
      let current: { id?: string; event?: string; data: string[] } = { data: [] };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (!isStream) {
          conn.text += chunk;
          return;
        }
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (current.data.length > 0) {
              const text = current.data.join('\n');
              const event: SseEvent = { id: current.id, event: current.event ?? 'message', data: JSON.parse(text) as unknown, atMs: performance.timeOrigin + performance.now() };
              events.push(event);
              options.onEvent?.(event);
              for (const w of waiters.filter((x) => events.length >= x.n)) {
                waiters.splice(waiters.indexOf(w), 1);
                w.resolve();
              }
            }
            current = { data: [] };
          } else if (line.startsWith(':')) comments.push(line.slice(1).trim());
          else {
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') current.id = value;
            else if (field === 'event') current.event = value;
            else if (field === 'data') current.data.push(value);
          }
        }
      });
      resolve(conn);
    });
    req.end(options.body);
  });
}
