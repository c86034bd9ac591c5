// The HTTP edges, over a real socket with bytes written by hand: requests Node's parser
// rejects before Fastify (answered in the documented `{error, message}` shape), clients
// that trickle their request in (cut off by REQUEST_TIMEOUT_MS), and a second
// Authorization header riding along behind the right one.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { buildTestApp, tempDir } from '../support/api-harness.ts';

const TOKEN = 'edge-test-token-0123456789';

async function listening(t: TestContext, options: { requestTimeoutMs?: number; headersTimeoutMs?: number } = {}): Promise<number> {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t), apiToken: TOKEN, ...options });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

/** Writes `raw` as it is and reads until the server closes (or `timeoutMs`). */
function exchange(port: number, raw: string | Buffer, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).toString('latin1')}`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(raw);
  });
}

function parse(response: string): { status: number; headers: string; body: Record<string, unknown> } {
  const [head, body] = response.split('\r\n\r\n', 2) as [string, string];
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  return { status, headers: head, body: JSON.parse(body) as Record<string, unknown> };
}

void test("requests Node's parser rejects get the documented error shape, not Fastify's", async (t) => {
  const port = await listening(t);
  const auth = `Authorization: Bearer ${TOKEN}\r\n`;
  const cases: Array<[string, string | Buffer, number, string]> = [
    ['a bad chunk size', `POST /command HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 400, 'bad_request'],
    ['Content-Length and Transfer-Encoding both', `POST /command HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`, 400, 'bad_request'],
    ['a NUL byte in a header', Buffer.from(`GET /status HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n`, 'latin1'), 400, 'bad_request'],
    ['an unknown method', `FROB /status HTTP/1.1\r\nHost: x\r\n\r\n`, 400, 'bad_request'],
    ['headers over the limit', `GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
  ];
  for (const [what, raw, status, code] of cases) {
    const res = parse(await exchange(port, raw));
    assert.equal(res.status, status, what);
    assert.equal(res.body.error, code, what);
    assert.equal(typeof res.body.message, 'string', what);
    assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message'], `${what}: exactly the documented fields`);
    assert.match(res.headers, /content-type: application\/json/i, what);
  }
});

void test('a client that sends its body a byte at a time is cut off after REQUEST_TIMEOUT_MS, 300 of them at once', async (t) => {
  const requestTimeoutMs = 2000;
  const port = await listening(t, { requestTimeoutMs, headersTimeoutMs: 1000 });
  const started = Date.now();
  const slow = Array.from({ length: 300 }, () =>
    new Promise<{ closedAfterMs: number; answer: string }>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let answer = '';
      const body = `{"text":"${'x'.repeat(200)}"}`;
      socket.on('connect', () => {
        socket.write(`POST /command HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
        let i = 0;
        const drip = setInterval(() => {
          if (socket.destroyed || i >= body.length) return clearInterval(drip);
          socket.write(body[i++]!);
        }, 200);
        socket.on('close', () => clearInterval(drip));
      });
      socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve({ closedAfterMs: Date.now() - started, answer }));
    }),
  );
  const results = await Promise.all(slow);
  const latest = Math.max(...results.map((r) => r.closedAfterMs));
  console.log(`300 trickling clients: all closed by ${latest} ms (REQUEST_TIMEOUT_MS ${requestTimeoutMs})`);
  // Node checks for expired requests once a second (connectionsCheckingInterval).
  assert.ok(latest < requestTimeoutMs + 2500, `the last was closed after ${latest} ms`);
  const answered = results.filter((r) => r.answer !== '');
  assert.ok(answered.length > 0, 'they are told why');
  for (const r of answered) assert.equal(parse(r.answer).body.error, 'request_timeout');
});

void test('two Authorization headers are refused, even with the right token first', async (t) => {
  const port = await listening(t);
  const twice = `GET /status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nAuthorization: Bearer wrong-token-wrong-token\r\nConnection: close\r\n\r\n`;
  const res = parse(await exchange(port, twice));
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'bad_request');
  assert.match(String(res.body.message), /more than one Authorization header/i);
  const once = `GET /status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`;
  assert.equal(parse(await exchange(port, once)).status, 200, 'one right header still works');
});
