// `npm start` (scripts/start.ts) as a relay would meet it: both processes come up, /health
// answers, a POST /command works; SIGTERM to the launcher's whole process group mid-job
// answers the request 503 shutting_down and everything exits within KILL_GRACE_MS + 3 s.
// Also: if one process dies, the other is stopped and the launcher exits non-zero.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { instanceTagFor } from '../../supervisor/src/ownership/marker.ts';
import { fixture, killMarked, markedPids, waitFor } from '../support/supervisor-harness.ts';
import { REPO_ROOT, request, tempDir } from '../support/api-harness.ts';
import { collectLogLines } from '../support/log-lines.ts';

const KILL_GRACE_MS = 1000;

interface Launched {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  socketPath: string;
}

/** Live (non-zombie) pids in a process group, from /proc (stat field 5 is the pgrp). */
function groupMembers(pgid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

/** `via: 'npm'` runs the real `npm start` (npm -> sh -> scripts/start.ts), as a person would. */
async function launch(t: TestContext, via: 'npm' | 'node'): Promise<Launched> {
  const dir = await tempDir(t, 'api-launch-');
  const socketPath = path.join(dir, 'supervisor.sock');
  const [cmd, args] = via === 'npm' ? ['npm', ['start']] : [process.execPath, ['--import', 'tsx', 'scripts/start.ts']];
  const child = spawn(cmd, args, {
    cwd: REPO_ROOT,
    // Its own process group, like a shell job: the test signals the whole group.
    detached: true,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      ANTHROPIC_API_KEY: 'test-key',
      IS_SANDBOX: '1',
      CLAUDE_BIN: fixture('api-cli.mjs'),
      SUPERVISOR_SOCKET: socketPath,
      IMAGES_DIR: path.join(dir, 'images'),
      DATA_DIR: path.join(dir, 'data'),
      WORKSPACE_DIR: path.join(dir, 'workspace'),
      PORT: '0',
      HOST: '127.0.0.1',
      KILL_GRACE_MS: String(KILL_GRACE_MS),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const logs = collectLogLines(child.stdout!);
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    for (const l of logs) {
      if (typeof l.servicePid === 'number' && l.servicePid !== child.pid) {
        try {
          process.kill(l.servicePid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    killMarked(instanceTagFor(socketPath));
  });
  return { child, logs, stderr: () => stderr, exited, socketPath };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

void test('npm start: both up, /health and POST /command work; SIGTERM to the group mid-job -> 503 and all exit', async (t) => {
  const l = await launch(t, 'npm');
  const listening = await waitFor(() => l.logs.find((x) => x.msg === 'api listening'), { timeoutMs: 30_000, message: `api listening; stderr: ${l.stderr()}` });
  const port = listening.port as number;
  const apiPid = listening.servicePid as number;
  const supPid = (l.logs.find((x) => x.name === 'supervisor') ?? {}).servicePid as number;
  assert.equal(typeof supPid, 'number');

  const health = await request(port, { path: '/health' });
  assert.deepEqual(health.json(), { status: 'ok' });
  const ok = await request(port, { method: 'POST', path: '/command', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'hello' }) });
  assert.equal(ok.statusCode, 200, ok.text);
  assert.equal(ok.json().text, 'echo: hello');

  const pending = request(port, {
    method: 'POST',
    path: '/command',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: JSON.stringify({ stdout: 'working on it\n', sleepMs: 60_000 }) }),
  });
  const tag = instanceTagFor(l.socketPath);
  // Its CLI runs (the first command's was the first spawn; the next job's reaper waits from the start).
  await waitFor(() => l.logs.filter((x) => x.msg === 'spawn').length === 2, { message: 'the job to run' });
  const signalledAt = Date.now();
  process.kill(-l.child.pid!, 'SIGTERM');
  const res = await pending;
  assert.equal(res.statusCode, 503, res.text);
  assert.equal(res.json().error, 'shutting_down');
  // npm itself ends by the group's SIGTERM; the launcher under it reports its own exit.
  await l.exited;
  await waitFor(() => /start: stopped \(exit \d\)/.test(l.stderr()), { timeoutMs: KILL_GRACE_MS + 3000, message: 'the launcher to stop' });
  assert.match(l.stderr(), /start: stopped \(exit 0\)/, l.stderr());
  // Everything: the api, the supervisor, the job's processes, and the launcher's own
  // group (npm and the launcher it execs).
  await waitFor(() => !pidAlive(apiPid) && !pidAlive(supPid) && markedPids(tag).length === 0 && groupMembers(l.child.pid!).length === 0, {
    timeoutMs: KILL_GRACE_MS + 3000,
    message: 'api, supervisor, the job and the launcher group to be gone',
  });
  assert.ok(Date.now() - signalledAt <= KILL_GRACE_MS + 3000, `took ${Date.now() - signalledAt} ms`);
});

void test('npm start: when the supervisor dies, the API is stopped and the launcher exits non-zero', async (t) => {
  const l = await launch(t, 'node');
  const listening = await waitFor(() => l.logs.find((x) => x.msg === 'api listening'), { timeoutMs: 30_000, message: 'api listening' });
  const apiPid = listening.servicePid as number;
  const supPid = (l.logs.find((x) => x.name === 'supervisor') ?? {}).servicePid as number;
  process.kill(supPid, 'SIGKILL');
  const exit = await l.exited;
  assert.equal(exit.code, 1);
  assert.match(l.stderr(), /start: stopped \(exit 1\)/);
  assert.match(l.stderr(), /supervisor exited unexpectedly/);
  await waitFor(() => !pidAlive(apiPid), { timeoutMs: 5000, message: 'the api to stop' });
});

void test('npm start: when the launcher itself is SIGKILLed, the API and the supervisor stop too, and the job with them', async (t) => {
  const l = await launch(t, 'node');
  const listening = await waitFor(() => l.logs.find((x) => x.msg === 'api listening'), { timeoutMs: 30_000, message: 'api listening' });
  const port = listening.port as number;
  const apiPid = listening.servicePid as number;
  const supPid = (l.logs.find((x) => x.name === 'supervisor') ?? {}).servicePid as number;
  const pending = request(port, {
    method: 'POST',
    path: '/command',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: JSON.stringify({ sleepMs: 60_000 }) }),
  }).catch((err: Error) => err);
  const tag = instanceTagFor(l.socketPath);
  await waitFor(() => l.logs.some((x) => x.msg === 'spawn'), { message: 'the job to run' });
  const killedAt = Date.now();
  l.child.kill('SIGKILL');
  await waitFor(() => !pidAlive(apiPid) && !pidAlive(supPid) && markedPids(tag).length === 0, {
    timeoutMs: KILL_GRACE_MS + 4000,
    message: 'the api, the supervisor and the job to stop without their launcher',
  });
  console.log(`launcher SIGKILLed: everything gone after ${Date.now() - killedAt} ms`);
  assert.ok(l.logs.some((x) => x.msg === 'the launcher (npm start) is gone: shutting down'));
  await pending;
});
