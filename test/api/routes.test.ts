// Route behaviour that needs no supervisor: validation, error shapes, auth, /health,
// /status with the supervisor away, and the 1-second answer when nothing listens.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, tempDir } from '../support/api-harness.ts';

const TOKEN = 'test-token-0123456789abcdef';

function assertErrorShape(body: Record<string, unknown>, code: string): void {
  assert.equal(body.error, code);
  assert.equal(typeof body.message, 'string');
  assert.ok(!('stack' in body) && !('statusCode' in body) && !('code' in body), JSON.stringify(body));
}

void test('GET /health answers {status: ok} without auth', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t), apiToken: TOKEN });
  const res = await app.inject({ method: 'GET', url: '/health' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
});

void test('POST /command rejects missing, empty, blank and non-string text with 400 bad_request', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  const bodies = ['{}', '{"text":""}', '{"text":"   \\n\\t "}', '{"text":1}', '{"text":["a"]}', '{"text":null}', '{"text":{}}', '{"text":true}', '[]', '"text"', 'null'];
  for (const payload of bodies) {
    const res = await app.inject({ method: 'POST', url: '/command', payload, headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 400, payload);
    assertErrorShape(res.json(), 'bad_request');
  }
});

void test('malformed JSON, an empty JSON body, no body and a non-JSON body are 400 bad_request', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  const cases = [
    { payload: '{"text": "x"', ct: 'application/json' },
    { payload: '', ct: 'application/json' },
    { payload: 'text=hello', ct: 'application/x-www-form-urlencoded' },
    { payload: 'hello', ct: 'text/plain' },
  ];
  for (const c of cases) {
    const res = await app.inject({ method: 'POST', url: '/command', payload: c.payload, headers: { 'content-type': c.ct } });
    assert.equal(res.statusCode, 400, JSON.stringify(c));
    assertErrorShape(res.json(), 'bad_request');
  }
  const none = await app.inject({ method: 'POST', url: '/command' });
  assert.equal(none.statusCode, 400);
  assertErrorShape(none.json(), 'bad_request');
});

void test('a body over the limit is 413 payload_too_large', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t), bodyLimitBytes: 2048 });
  const res = await app.inject({ method: 'POST', url: '/command', payload: JSON.stringify({ text: 'x'.repeat(4096) }), headers: { 'content-type': 'application/json' } });
  assert.equal(res.statusCode, 413);
  assertErrorShape(res.json(), 'payload_too_large');
});

void test('a bad Idempotency-Key or sessionId is 400', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  const long = await app.inject({ method: 'POST', url: '/command', payload: { text: 'hi' }, headers: { 'idempotency-key': 'k'.repeat(201) } });
  assert.equal(long.statusCode, 400);
  assertErrorShape(long.json(), 'bad_request');
  const session = await app.inject({ method: 'POST', url: '/command', payload: { text: 'hi', sessionId: '../../x' } });
  assert.equal(session.statusCode, 400);
});

void test('unknown routes and methods are 404 not_found in the error shape', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  for (const [method, url] of [['GET', '/nope'], ['DELETE', '/command'], ['GET', '/command'], ['POST', '/health']] as const) {
    const res = await app.inject({ method, url });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    assertErrorShape(res.json(), 'not_found');
  }
});

void test('with API_TOKEN, every route but /health needs the bearer token', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t), apiToken: TOKEN });
  const routes = [
    ['POST', '/command'],
    ['GET', '/status'],
    ['GET', '/jobs/abc'],
    ['GET', '/images/a.png'],
    ['GET', '/images/..%2fetc%2fpasswd'],
    ['GET', '/nope'],
  ] as const;
  const wrong = [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, 'Bearer ', `Bearer ${TOKEN.slice(0, -1)}`];
  for (const [method, url] of routes) {
    for (const authorization of wrong) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const res = await app.inject({ method, url, headers, payload: method === 'POST' ? { text: 'hi' } : undefined });
      assert.equal(res.statusCode, 401, `${method} ${url} ${authorization}`);
      assertErrorShape(res.json(), 'unauthorized');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
  }
  const ok = await app.inject({ method: 'GET', url: '/images/missing.png', headers: { authorization: `bearer ${TOKEN}` } });
  assert.equal(ok.statusCode, 404, 'the right token (scheme in any case) gets through');
});

void test('with no supervisor listening, POST /command is 503 supervisor_unavailable within 1 s', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  const started = Date.now();
  const res = await app.inject({ method: 'POST', url: '/command', payload: { text: 'hi' } });
  assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  assert.equal(res.statusCode, 503);
  assertErrorShape(res.json(), 'supervisor_unavailable');
  const job = await app.inject({ method: 'GET', url: '/jobs/abc' });
  assert.equal(job.statusCode, 503);
});

void test('/status still answers 200 with supervisor.reachable false when the socket is dead', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  const res = await app.inject({ method: 'GET', url: '/status' });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.supervisor.reachable, false);
  assert.equal(body.job, null);
  assert.deepEqual(body.recentJobs, []);
  assert.equal(typeof body.api.pid, 'number');
  assert.equal(typeof body.system.memory.totalBytes, 'number');
  assert.equal(typeof body.system.disks.images.freeBytes, 'number');
  assert.equal(body.images.count, 0);
});

void test('during shutdown new requests get 503 shutting_down; /health still answers', async (t) => {
  const { app, shutdown } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  shutdown.begin();
  const res = await app.inject({ method: 'POST', url: '/command', payload: { text: 'hi' } });
  assert.equal(res.statusCode, 503);
  assertErrorShape(res.json(), 'shutting_down');
  assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
});

void test('request logs carry method, path without query, statusCode, durationMs', async (t) => {
  const { app, logs } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  await app.inject({ method: 'GET', url: '/health?token=secret-in-query' });
  const line = logs.find((l) => l.msg === 'request');
  assert.ok(line);
  assert.equal(line.method, 'GET');
  assert.equal(line.url, '/health');
  assert.equal(line.statusCode, 200);
  assert.equal(typeof line.durationMs, 'number');
  assert.ok(!JSON.stringify(logs).includes('secret-in-query'));
});
