// The API against a REAL supervisor process and fixture CLIs (test/fixtures/api-cli.mjs,
// whose prompt is a JSON script): every row of the status table, 20 simultaneous POSTs,
// idempotent retries, GET /jobs/:id, images of a job, and the supervisor dying mid-job.
import assert from 'node:assert/strict';
import { chmod, copyFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, startSupervisor, waitFor } from '../support/supervisor-harness.ts';
import { buildTestApp, tempDir, type RawResponse } from '../support/api-harness.ts';
import { runCount, startStack, waitForRunningJob } from '../support/api-stack.ts';
import { START_GRACE_MS } from '../../api/src/supervisor-client.ts';

void test('status table: 200, 500 exit/error result, 408 timeout, 409 busy, 500 memory_limit, images oldest first', async (t) => {
  const s = await startStack(t, { COMMAND_TIMEOUT_MS: '2500', MEMORY_LIMIT_MB: '150' });

  const ok = await s.post({ result: 'all good', png: ['second-written-first.png', 'a-written-second.png'] });
  assert.equal(ok.statusCode, 200, ok.text);
  const body = ok.json();
  assert.equal(body.text, 'all good');
  assert.equal(body.exitCode, 0);
  assert.equal(typeof body.durationMs, 'number');
  assert.equal(typeof body.jobId, 'string');
  assert.equal(body.truncated, false);
  assert.deepEqual(body.images, ['/images/second-written-first.png', '/images/a-written-second.png']);
  assert.equal(body.sessionId, '00000000-0000-4000-8000-000000000001');
  const img = await s.get('/images/a-written-second.png');
  assert.equal(img.statusCode, 200);
  assert.equal(img.headers['content-type'], 'image/png');

  const plain = await s.post('just a sentence');
  assert.equal(plain.statusCode, 200);
  assert.equal(plain.json().text, 'echo: just a sentence');
  assert.deepEqual(plain.json().images, [], 'no images from an earlier job');
  const received = s.logs.find((l) => l.msg === 'command received' && l.jobId === plain.json().jobId);
  assert.equal(received?.promptChars, 'just a sentence'.length);
  const done = s.logs.find((l) => l.msg === 'command done' && l.jobId === plain.json().jobId);
  assert.equal(done?.statusCode, 200);
  assert.equal(done?.reason, 'exit');
  assert.ok(!JSON.stringify(s.logs).includes('just a sentence'), 'the prompt never reaches the logs');

  const failed = await s.post({ stderr: 'something broke\nfatal: the reason\n', exit: 3 });
  assert.equal(failed.statusCode, 500);
  assert.equal(failed.json().error, 'execution_error');
  assert.equal(failed.json().exitCode, 3);
  assert.match(String(failed.json().message), /the reason/);
  assert.equal(typeof failed.json().jobId, 'string');

  const errorResult = await s.post({ result: 'API Error: overloaded', isError: true });
  assert.equal(errorResult.statusCode, 500);
  assert.equal(errorResult.json().error, 'execution_error');

  // A CLI that prints plain text and knows no interrupt: killed, its stdout is the text.
  const slow = await s.post({ stdout: 'partial output\n', sleepMs: 30_000, interrupt: 'ignore' });
  assert.equal(slow.statusCode, 408, slow.text);
  assert.equal(slow.json().error, 'timeout');
  assert.match(String(slow.json().text), /partial output/);
  assert.deepEqual(slow.json().images, []);
  assert.equal(typeof slow.json().durationMs, 'number');

  const big = await s.post({ allocMb: 600, sleepMs: 20_000 });
  assert.equal(big.statusCode, 500, big.text);
  assert.equal(big.json().error, 'memory_limit');
  assert.ok((big.json().peakRssBytes as number) > 0);
  assert.ok('text' in big.json());

  const first = s.post({ sleepMs: 1200, result: 'first' });
  await waitForRunningJob(s);
  const second = await s.post({ result: 'second' });
  assert.equal(second.statusCode, 409);
  assert.equal(second.json().error, 'busy');
  assert.equal(typeof second.json().message, 'string');
  assert.equal((await first).statusCode, 200);
});

void test('a CLI that cannot be spawned is a 500 execution_error', async (t) => {
  // The supervisor refuses to start without a runnable CLI: this one disappears after.
  const bin = path.join(await tempDir(t), 'claude');
  await copyFile(fixture('api-cli.mjs'), bin);
  await chmod(bin, 0o755);
  const s = await startStack(t, {}, bin);
  await rm(bin);
  const res = await s.post({ result: 'x' });
  assert.equal(res.statusCode, 500, res.text);
  assert.equal(res.json().error, 'execution_error');
  assert.equal(res.json().exitCode, null);
  assert.ok(String(res.json().message).length > 0);
});

void test('20 simultaneous POSTs: exactly one 200, nineteen 409 busy, one CLI run', async (t) => {
  const s = await startStack(t);
  const answers = await Promise.all(Array.from({ length: 20 }, () => s.post({ sleepMs: 1000, result: 'only one' })));
  const codes = answers.map((a) => a.statusCode).sort();
  assert.equal(codes.filter((c) => c === 200).length, 1, codes.join(','));
  assert.equal(codes.filter((c) => c === 409).length, 19, codes.join(','));
  for (const a of answers.filter((x) => x.statusCode === 409)) assert.equal(a.json().error, 'busy');
  assert.equal(await runCount(s.runs), 1);
});

void test('Idempotency-Key: retries while running and after get the same job, never a second run or a 409', async (t) => {
  const s = await startStack(t);
  const key = { 'idempotency-key': 'wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQUI' };
  const first = s.post({ sleepMs: 1000, result: 'once' }, key);
  const jobId = await waitForRunningJob(s);
  const running = await s.get(`/jobs/${jobId}`);
  assert.equal(running.statusCode, 202);
  assert.equal(running.json().state, 'running');
  const other = await s.post({ result: 'another message' }, { 'idempotency-key': 'another-key' });
  assert.equal(other.statusCode, 409, 'a different key while running is busy');
  const retry = await s.post({ sleepMs: 1000, result: 'once' }, key);
  const done = await first;
  assert.equal(done.statusCode, 200);
  assert.equal(retry.statusCode, 200);
  assert.equal(retry.json().jobId, jobId);
  assert.deepEqual(retry.json(), done.json());
  const later = await s.post({ sleepMs: 1000, result: 'once' }, key);
  assert.equal(later.statusCode, 200);
  assert.deepEqual(later.json(), done.json());
  assert.equal(await runCount(s.runs), 1);
  const byId = await s.get(`/jobs/${jobId}`);
  assert.equal(byId.statusCode, 200);
  assert.deepEqual(byId.json(), done.json());
  const missing = await s.get('/jobs/no-such-job');
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().error, 'job_not_found');
  // Concurrent GETs share one lookup call to the supervisor; each gets its own answer.
  const mixed = await Promise.all(Array.from({ length: 12 }, (_, i) => s.get(i % 3 === 0 ? `/jobs/unknown-${i}` : `/jobs/${jobId}`)));
  for (const [i, res] of mixed.entries()) {
    if (i % 3 === 0) assert.equal(res.json().error, 'job_not_found');
    else assert.deepEqual(res.json(), done.json());
  }
});

void test('/status shows the running job, recent jobs, limits, system and images', async (t) => {
  const s = await startStack(t, { COMMAND_TIMEOUT_MS: '60000' });
  await s.post({ result: 'one', png: ['s.png'] });
  const pending = s.post({ sleepMs: 800, result: 'two' });
  await waitForRunningJob(s);
  const st = (await s.get('/status')).json() as Record<string, Record<string, unknown> & unknown[]>;
  assert.equal(st.supervisor!.reachable, true);
  assert.equal(typeof st.supervisor!.pid, 'number');
  assert.equal(typeof st.job!.id, 'string');
  assert.equal(typeof st.job!.elapsedMs, 'number');
  assert.equal(typeof st.job!.promptChars, 'number');
  assert.equal(st.limits!.timeoutMs, 60000);
  const recent = st.recentJobs as unknown as Record<string, unknown>[];
  assert.equal(recent[0]!.outcome, 'ok');
  assert.deepEqual(recent[0]!.images, ['/images/s.png']);
  assert.equal(recent[0]!.costUsd, 0.001, "the CLI's cost estimate, from its result event");
  // The folder's figures are the watcher's: it lists a file once it has stopped changing.
  await waitFor(async () => ((await s.get('/status')).json().images as { count: number }).count === 1, { message: 'the watcher to count s.png' });
  const latest = ((await s.get('/status')).json().images as { latest: Array<{ url: string; name: string; modifiedAt: string }> }).latest;
  assert.deepEqual(latest.map((i) => [i.url, i.name]), [['/images/s.png', 's.png']], 'the newest images, for the page\'s thumbnails');
  const text = JSON.stringify(st);
  assert.ok(!text.includes('test-key') && !text.includes('sleepMs'), 'no secret, no prompt text');
  await pending;
});

void test('supervisor killed mid-job: new requests get 503 within 1 s; the waiting one rides out the restart and answers interrupted', async (t) => {
  const s = await startStack(t);
  const pending = s.post({ sleepMs: 30_000, result: 'never' }, { 'idempotency-key': 'killed-mid-job' });
  const jobId = await waitForRunningJob(s);
  await waitFor(async () => (await runCount(s.runs)) === 1, { message: 'the CLI to run' });
  s.sup.child.kill('SIGKILL');
  await s.sup.exited;
  const before = Date.now();
  const next = await s.post({ result: 'x' });
  assert.ok(Date.now() - before < 1000);
  assert.equal(next.statusCode, 503);
  assert.equal(next.json().error, 'supervisor_unavailable');
  assert.match(String(next.json().idempotencyKey), /^api-/, 'the key this start used, for a safe retry');
  const status = await s.get('/status');
  assert.equal(status.statusCode, 200);
  assert.equal((status.json().supervisor as { reachable: boolean }).reachable, false);
  // s6 (or a person) starts it again on the same store: the waiting request gets the verdict.
  await startSupervisor(t, { dir: s.sup.dir, claudeBin: fixture('api-cli.mjs'), env: { KILL_GRACE_MS: '300' } });
  const res = await pending;
  assert.equal(res.statusCode, 500, res.text);
  assert.equal(res.json().error, 'interrupted');
  assert.equal(res.json().jobId, jobId);
  const again = await s.post({ sleepMs: 30_000, result: 'never' }, { 'idempotency-key': 'killed-mid-job' });
  assert.deepEqual(again.json(), res.json(), 'a retry with the key answers the same, and runs nothing');
  assert.equal(await runCount(s.runs), 1);
  assert.deepEqual(JSON.parse((await s.get(`/jobs/${jobId}`)).text), res.json());
});

void test('a frozen supervisor (SIGSTOP): 503 within SUPERVISOR_TIMEOUT_MS + 1 s, and the prompt never runs after SIGCONT', async (t) => {
  const s = await startStack(t);
  s.sup.child.kill('SIGSTOP');
  let answer: RawResponse;
  try {
    const before = Date.now();
    answer = await s.post({ result: 'ghost' });
    const took = Date.now() - before;
    assert.ok(took < 900 + START_GRACE_MS + 500, `answered after ${took} ms`);
    assert.equal(answer.statusCode, 503);
    assert.equal(answer.json().error, 'supervisor_unavailable');
    const status = await s.get('/status');
    assert.equal(status.statusCode, 200);
    assert.equal((status.json().supervisor as { reachable: boolean }).reachable, false);
    // Frozen past the deadline, as the relay saw it (2 s).
    await new Promise((r) => setTimeout(r, 2000 - took));
  } finally {
    s.sup.child.kill('SIGCONT');
  }
  const refused = await s.sup.waitForLog((l) => l.msg === 'start refused: past its deadline');
  assert.ok((refused.lateMs as number) > 0);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await runCount(s.runs), 0, 'a 503 means the prompt did not run');
  assert.equal(s.sup.logs.filter((l) => l.msg === 'command received').length, 0);
  // The key the 503 handed back: a retry with it runs the prompt, once.
  const key = String(answer.json().idempotencyKey);
  const retry = await s.post({ result: 'ghost' }, { 'idempotency-key': key });
  assert.equal(retry.statusCode, 200, retry.text);
  assert.equal(await runCount(s.runs), 1);
});

void test('images: an answer lists the newest 20 with imagesTruncated, and the supervisor prunes the folder to IMAGES_MAX_COUNT', async (t) => {
  const s = await startStack(t, { IMAGES_MAX_COUNT: '25' });
  // An old screenshot from long ago goes at the next prune whatever the count.
  const old = path.join(s.imagesDir, 'ancient.png');
  await writeFile(old, 'x');
  await utimes(old, new Date(Date.now() - 8 * 24 * 3600_000), new Date(Date.now() - 8 * 24 * 3600_000));
  const names = Array.from({ length: 30 }, (_, i) => `shot-${String(i).padStart(2, '0')}.png`);
  const res = await s.post({ result: 'thirty screenshots', png: names, pngGapMs: 5 });
  assert.equal(res.statusCode, 200, res.text);
  const body = res.json() as { images: string[]; imagesTruncated?: boolean };
  assert.equal(body.imagesTruncated, true);
  assert.deepEqual(body.images, names.slice(10).map((n) => `/images/${n}`), 'the newest 20, oldest first');
  // The prune runs right after the job: the newest 25 are kept, the job's newest among them.
  const left = await waitFor(async () => {
    const files = (await readdir(s.imagesDir)).filter((n) => n.endsWith('.png')).sort();
    return files.length === 25 ? files : undefined;
  }, { message: 'the prune' });
  assert.deepEqual(left, names.slice(5));
  const pruned = await s.sup.waitForLog((l) => l.msg === 'pruned old images');
  assert.equal(pruned.removedCount, 6, 'ancient.png and the 5 oldest of the job');
});

/** A Unix socket in front of the supervisor's that notes the request line of every call. */
async function countingProxy(t: TestContext, target: string, dir: string): Promise<{ socketPath: string; calls: string[] }> {
  const socketPath = path.join(dir, 'proxy.sock');
  const calls: string[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(/^(GET|POST) (\S+) HTTP\/1\.1\r$/gm)) calls.push(`${m[1]} ${m[2]}`);
    });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { socketPath, calls };
}

void test('a command is one call to the supervisor (started and waited for at once); a job longer than a wait slice goes on with long polls', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs') });
  const dir = await tempDir(t);
  const proxy = await countingProxy(t, sup.socketPath, dir);
  const { app } = await buildTestApp(t, { imagesDir: dir, socketPath: proxy.socketPath, supervisorWaitSliceMs: 400 });
  const post = (script: Record<string, unknown>) => app.inject({ method: 'POST', url: '/command', payload: { text: JSON.stringify(script) } });
  const quick = await post({ result: 'quick' });
  assert.equal(quick.statusCode, 200, quick.body);
  assert.equal(quick.json().text, 'quick');
  const commandCalls = proxy.calls.filter((c) => c.startsWith('POST /jobs') || c.includes('/wait'));
  assert.deepEqual(commandCalls, ['POST /jobs?waitMs=400']);

  proxy.calls.length = 0;
  const slow = await post({ result: 'slow', sleepMs: 1500 });
  assert.equal(slow.statusCode, 200, slow.body);
  assert.equal(slow.json().text, 'slow');
  const slowCalls = proxy.calls.filter((c) => c.startsWith('POST /jobs') || c.includes('/wait'));
  assert.equal(slowCalls[0], 'POST /jobs?waitMs=400');
  assert.ok(slowCalls.length >= 3 && slowCalls.slice(1).every((c) => /^GET \/jobs\/[^/]+\/wait\?timeoutMs=400$/.test(c)), slowCalls.join(', '));
});
