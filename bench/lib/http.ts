// A small HTTP/JSON client for the bench: the same code path for every server it
// compares (TCP ports and the supervisor's Unix socket), keep-alive on both sides, and
// the round trip timed with the monotonic clock.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Target {
  /** TCP port on 127.0.0.1, or... */
  port?: number;
  /** ...a Unix socket path. */
  socketPath?: string;
  agent: http.Agent;
}

export interface Reply {
  status: number;
  body: string;
  ms: number;
}

export function tcpTarget(port: number): Target {
  return { port, agent: new http.Agent({ keepAlive: true, maxSockets: 4 }) };
}

export function socketTarget(socketPath: string): Target {
  return { socketPath, agent: new http.Agent({ keepAlive: true, maxSockets: 4 }) };
}

export function request(target: Target, method: string, path: string, body?: unknown, timeoutMs = 120_000, extraHeaders: Record<string, string> = {}): Promise<Reply> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = { ...extraHeaders };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = payload.length;
  }
  const where = target.socketPath !== undefined ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({ ...where, method, path, headers, agent: target.agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Request and parse a JSON answer; a status outside `expect` is an error naming the body. */
export async function requestJson<T>(target: Target, method: string, path: string, body?: unknown, expect: readonly number[] = [200, 201, 202]): Promise<{ status: number; json: T; ms: number }> {
  const reply = await request(target, method, path, body);
  if (!expect.includes(reply.status)) throw new Error(`${method} ${path}: HTTP ${reply.status} ${reply.body.slice(0, 300)}`);
  return { status: reply.status, json: JSON.parse(reply.body) as T, ms: reply.ms };
}
