// A Server-Sent Events client for the bench: one real HTTP connection (no agent, no
// pooling), the stream parsed field by field as the spec says (id, event, data; comment
// lines counted), and each event handed over with the wall-clock time in ms (with
// fraction: performance.timeOrigin + performance.now()) at which its blank line was parsed.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: unknown;
  /** performance.timeOrigin + performance.now() when the event's frame was parsed. */
  atMs: number;
}

export interface SseStream {
  status: number;
  /** Events so far (kept only with keep: true; `count` always counts). */
  events: SseEvent[];
  count: number;
  comments: number;
  /** Resolves when the server ends the stream or the connection breaks. */
  done: Promise<void>;
  close(): void;
}

export interface SseRequest {
  port: number;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Keep every event in `events` (default true). */
  keep?: boolean;
  onEvent?: (event: SseEvent) => void;
}

/** Resolves once the response headers are in; rejects on a status other than 200 or a non-SSE answer. */
export function openSse(o: SseRequest): Promise<SseStream> {
  const headers: Record<string, string | number> = { accept: 'text/event-stream', ...o.headers };
  if (o.body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(o.body);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: o.port, method: o.method ?? 'GET', path: o.path, agent: false, headers });
    req.on('error', reject);
    req.on('response', (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => reject(new Error(`${o.method ?? 'GET'} ${o.path}: HTTP ${res.statusCode} ${type} ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`)));
        return;
      }
      let resolveDone!: () => void;
      const stream: SseStream = {
        status: res.statusCode,
        events: [],
        count: 0,
        comments: 0,
        done: new Promise<void>((r) => (resolveDone = r)),
        close: () => req.destroy(),
      };
      res.on('close', () => resolveDone());
      res.on('error', () => resolveDone());
      let buffer = '';
      let current: { id?: string; event?: string; data: string[] } = { data: [] };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (current.data.length > 0) {
              const event: SseEvent = { id: current.id, event: current.event ?? 'message', data: JSON.parse(current.data.join('\n')) as unknown, atMs: performance.timeOrigin + performance.now() };
              stream.count += 1;
              if (o.keep !== false) stream.events.push(event);
              o.onEvent?.(event);
            }
            current = { data: [] };
          } else if (line.startsWith(':')) stream.comments += 1;
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
      resolve(stream);
    });
    req.end(o.body);
  });
}

