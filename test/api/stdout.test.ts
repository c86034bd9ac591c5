// Both services with a stdout nobody reads (a full pipe: a log reader that hung) and with
// a stdout nobody can read any more (a closed pipe: `npm start | head`): each still exits
// within its documented bound on SIGTERM. Before common/log-destination.ts, pino's writer
// retried the write forever inside exit and the process never ended.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { freePort } from '../support/deploy-harness.ts';
import { REPO_ROOT, request, tempDir } from '../support/api-harness.ts';
import { fixture, makeTempDir, requestSocket, supervisorEnv, waitFor } from '../support/supervisor-harness.ts';

const KILL_GRACE_MS = 500;
const API_SHUTDOWN_TIMEOUT_MS = 1000;
/** What the services may take beyond their shutdown to hand stdout the last lines. */
const LOGS_MS = 500;

function spawnService(t: TestContext, main: string, env: NodeJS.ProcessEnv): { child: ChildProcess; exited: Promise<number> } {
  const child = spawn(process.execPath, ['--import', 'tsx', main], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(Date.now())));
  t.after(() => child.kill('SIGKILL'));
  // Never read: the pipe fills up (the 'full' case), or is destroyed (the 'closed' case).
  child.stdout!.pause();
  return { child, exited };
}

for (const mode of ['full', 'closed'] as const) {
  void test(`the supervisor exits on SIGTERM within KILL_GRACE_MS + 1.5 s (+ ${LOGS_MS} ms for logs) with a ${mode} stdout`, async (t) => {
    const dir = await makeTempDir(t);
    const env = supervisorEnv(dir, { KILL_GRACE_MS: String(KILL_GRACE_MS), LOG_LEVEL: 'debug' }, fixture('cli-no-stdin.sh'));
    const { child, exited } = spawnService(t, 'supervisor/src/main.ts', env);
    const socketPath = env.SUPERVISOR_SOCKET!;
    await waitFor(async () => (await requestSocket(socketPath, 'GET', '/health', undefined, 1000).catch(() => null))?.status === 200, { timeoutMs: 20_000, message: 'the supervisor' });
    if (mode === 'closed') child.stdout!.destroy();
    // Each job logs a few lines: 150 of them are far more than a pipe holds (64 KiB).
    for (let i = 0; i < 150; i++) {
      const started = await requestSocket<{ id: string }>(socketPath, 'POST', '/jobs', { prompt: 'x' });
      await requestSocket(socketPath, 'GET', `/jobs/${started.body.id}/wait?timeoutMs=5000`);
    }
    const signalled = Date.now();
    child.kill('SIGTERM');
    const bound = KILL_GRACE_MS + 1500 + LOGS_MS;
    const at = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), bound + 5000))]);
    assert.notEqual(at, -1, `still running ${bound + 5000} ms after SIGTERM`);
    assert.ok(at - signalled <= bound, `exited after ${at - signalled} ms (bound ${bound})`);
  });

  void test(`the API exits on SIGTERM within API_SHUTDOWN_TIMEOUT_MS (+ ${LOGS_MS} ms for logs) with a ${mode} stdout`, async (t) => {
    const port = await freePort();
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      PORT: String(port),
      HOST: '127.0.0.1',
      SUPERVISOR_SOCKET: path.join(await tempDir(t), 'none.sock'),
      API_SHUTDOWN_TIMEOUT_MS: String(API_SHUTDOWN_TIMEOUT_MS),
    };
    const { child, exited } = spawnService(t, 'api/src/main.ts', env);
    await waitFor(async () => (await request(port, { path: '/health' }).catch(() => null))?.statusCode === 200, { timeoutMs: 20_000, message: 'the API' });
    if (mode === 'closed') child.stdout!.destroy();
    // One log line per request: 3000 of them are several hundred KiB.
    for (let i = 0; i < 30; i++) await Promise.all(Array.from({ length: 100 }, () => request(port, { path: '/health' })));
    const signalled = Date.now();
    child.kill('SIGTERM');
    const bound = API_SHUTDOWN_TIMEOUT_MS + LOGS_MS;
    const at = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), bound + 5000))]);
    assert.notEqual(at, -1, `still running ${bound + 5000} ms after SIGTERM`);
    assert.ok(at - signalled <= bound, `exited after ${at - signalled} ms (bound ${bound})`);
  });
}
