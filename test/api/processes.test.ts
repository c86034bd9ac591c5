// The API as a real process next to a real supervisor: SIGKILL mid-job and a restart
// lose nothing (the job's state lives in the supervisor), and SIGTERM mid-job answers
// the waiting request 503 shutting_down and leaves no process behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, makeTempDir, markedPids, runSupervisor, startSupervisor, supervisorEnv, waitFor, type Supervisor } from '../support/supervisor-harness.ts';
import { REPO_ROOT, request, startApiProcess, tempDir, type ApiProcess } from '../support/api-harness.ts';

const TOKEN = 'process-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

async function startApi(t: TestContext, sup: Supervisor): Promise<ApiProcess> {
  return startApiProcess(t, {
    SUPERVISOR_SOCKET: sup.socketPath,
    IMAGES_DIR: path.join(sup.dir, 'images'),
    WORKSPACE_DIR: path.join(sup.dir, 'workspace'),
    API_TOKEN: TOKEN,
  });
}

function post(port: number, text: string, headers: Record<string, string> = {}) {
  return request(port, { method: 'POST', path: '/command', headers: { 'content-type': 'application/json', ...auth, ...headers }, body: JSON.stringify({ text }) });
}

async function runningJobId(port: number): Promise<string> {
  return waitFor(
    async () => {
      const st = (await request(port, { path: '/status', headers: auth })).json() as { job: { id: string } | null };
      return st.job?.id;
    },
    { message: 'a running job', timeoutMs: 10_000 },
  );
}

void test('API killed with SIGKILL mid-job and restarted: the result is there by id and by Idempotency-Key', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env: { KILL_GRACE_MS: '300' } });
  const runs = path.join(await tempDir(t), 'runs');
  const script = JSON.stringify({ runs, sleepMs: 1500, result: 'survived the restart' });
  const key = { 'idempotency-key': 'msg-restart-1' };
  const api1 = await startApi(t, sup);
  const lost = post(api1.port, script, key).catch((err: Error) => err);
  const jobId = await runningJobId(api1.port);
  api1.child.kill('SIGKILL');
  await api1.exited;
  assert.ok((await lost) instanceof Error, 'the first connection died with the API');

  const api2 = await startApi(t, sup);
  const retried = await post(api2.port, script, key);
  assert.equal(retried.statusCode, 200, retried.text);
  assert.equal(retried.json().jobId, jobId);
  assert.equal(retried.json().text, 'survived the restart');
  const byId = await request(api2.port, { path: `/jobs/${jobId}`, headers: auth });
  assert.equal(byId.statusCode, 200);
  assert.deepEqual(byId.json(), retried.json());
  assert.equal((await readFile(runs, 'utf8')).trim().split('\n').length, 1, 'one CLI run in all');
});

void test('SIGTERM mid-job to the API and the supervisor: 503 shutting_down with jobId, clean exits, no survivors', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env: { KILL_GRACE_MS: '500' } });
  const api = await startApi(t, sup);
  const pending = post(api.port, JSON.stringify({ stdout: 'half an answer\n', sleepMs: 30_000 }));
  const jobId = await runningJobId(api.port);
  assert.ok(markedPids(sup.instanceTag, jobId).length > 0, 'the job runs');
  api.child.kill('SIGTERM');
  sup.child.kill('SIGTERM');
  const res = await pending;
  assert.equal(res.statusCode, 503, res.text);
  assert.equal(res.json().error, 'shutting_down');
  assert.equal(res.json().jobId, jobId);
  assert.ok('text' in res.json());
  assert.equal((await api.exited).code, 0);
  await sup.exited;
  assert.deepEqual(markedPids(sup.instanceTag), [], 'no process of the job survives');
  assert.ok(api.logs.some((l) => l.msg === 'api stopped'));
});

void test('SIGTERM to the API alone: 503 shutting_down; the job runs on and a new API returns its result', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env: { KILL_GRACE_MS: '300' } });
  const api = await startApi(t, sup);
  const pending = post(api.port, JSON.stringify({ sleepMs: 2500, result: 'finished without the api' }));
  const jobId = await runningJobId(api.port);
  api.child.kill('SIGTERM');
  const res = await pending;
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().error, 'shutting_down');
  assert.equal(res.json().jobId, jobId);
  assert.equal((await api.exited).code, 0);
  const api2 = await startApi(t, sup);
  const done = await waitFor(
    async () => {
      const r = await request(api2.port, { path: `/jobs/${jobId}`, headers: auth });
      return r.statusCode === 200 ? r : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 100, message: 'the job to finish' },
  );
  assert.equal(done.json().text, 'finished without the api');
});

void test('the API needs no Claude credential; the supervisor, which starts the CLI, refuses to start without one', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs') });
  // startApi gives the API no ANTHROPIC_API_KEY nor CLAUDE_CODE_OAUTH_TOKEN.
  const api = await startApi(t, sup);
  const environ = readFileSync(`/proc/${api.child.pid}/environ`, 'latin1');
  assert.doesNotMatch(environ, /ANTHROPIC_API_KEY|CLAUDE_CODE_OAUTH_TOKEN/);
  const dir = await makeTempDir(t);
  const refused = await runSupervisor(supervisorEnv(dir, { ANTHROPIC_API_KEY: undefined, CLAUDE_CODE_OAUTH_TOKEN: undefined }));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN/);
});

void test('a second SIGTERM during shutdown exits at once with status 1', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env: { KILL_GRACE_MS: '300' } });
  const api = await startApi(t, sup);
  const pending = post(api.port, JSON.stringify({ sleepMs: 30_000 })).catch((err: Error) => err);
  await runningJobId(api.port);
  api.child.kill('SIGTERM');
  // Two signals sent back to back would merge into one pending signal: wait for the first.
  await waitFor(() => api.logs.some((l) => l.msg === 'shutting down'), { message: 'the first signal' });
  api.child.kill('SIGTERM');
  assert.equal((await api.exited).code, 1);
  await pending;
  assert.ok(api.logs.some((l) => l.msg === 'second signal; exiting now'));
});

void test('without API_TOKEN the API listens on loopback only, and a non-loopback HOST without one exits 1 saying why', async (t) => {
  const api = await startApiProcess(t, { HOST: '', SUPERVISOR_SOCKET: path.join(await tempDir(t), 'none.sock') });
  const listening = api.logs.find((l) => l.msg === 'api listening');
  assert.equal(listening?.host, '127.0.0.1');
  assert.equal(listening?.auth, false);
  const outside = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
  if (outside !== undefined) {
    const reached = await new Promise<boolean>((resolve) => {
      const s = net.connect(api.port, outside);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    assert.equal(reached, false, `not reachable on ${outside}`);
  }
  for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'api/src/main.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: host },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1, host);
    assert.match(r.stderr, /HOST: expected a loopback address .* while API_TOKEN is unset/, host);
  }
});

void test('a bad value is named with what it accepts, never echoed (it may be a pasted secret)', () => {
  const secret = 'sk-ant-api03-pasted-into-the-wrong-variable';
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'api/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: secret },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /PORT: expected a whole number from 0 to 65535/);
  assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), 'the value is not in the output');
});
