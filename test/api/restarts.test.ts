// Durable jobs through the relay's door: POST /command with an Idempotency-Key while (a)
// the API is SIGKILLed at random moments and started again (the supervisor lives on), and
// (b) the whole `npm start` launcher is killed (alone, or with both its services) and
// started again on the same DATA_DIR. Every key ends as one job with at most one CLI run
// (counted by the fixture), and exactly one when it answered its result.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { instanceTagFor } from '../../supervisor/src/ownership/marker.ts';
import { runsByTag, seedFor } from '../support/chaos.ts';
import { REPO_ROOT, request, startApiProcess, tempDir, type ApiProcess, type RawResponse } from '../support/api-harness.ts';
import { collectLogLines } from '../support/log-lines.ts';
import { fixture, killMarked, markedPids, startSupervisor, waitFor } from '../support/supervisor-harness.ts';

const JOBS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function post(port: number, runs: string, key: string, sleepMs: number): Promise<RawResponse> {
  return request(port, {
    method: 'POST',
    path: '/command',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ text: JSON.stringify({ runs, tag: key, result: key, sleepMs }) }),
  });
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

void test(`the API SIGKILLed at random moments during ${JOBS} commands, restarted each time: every key one run, one result`, async (t) => {
  const rand = seedFor(t);
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env: { KILL_GRACE_MS: '300' } });
  const runs = path.join(sup.dir, 'runs.log');
  const apiEnv = { SUPERVISOR_SOCKET: sup.socketPath, IMAGES_DIR: path.join(sup.dir, 'images'), WORKSPACE_DIR: path.join(sup.dir, 'workspace'), LOG_LEVEL: 'info' };
  let api: ApiProcess = await startApiProcess(t, apiEnv);
  let restarts = 0;
  const killAndRestart = async (): Promise<void> => {
    api.child.kill('SIGKILL');
    await api.exited;
    api = await startApiProcess(t, apiEnv);
    restarts += 1;
  };
  const answers = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < JOBS; i++) {
    const key = `a${i}`;
    const sleepMs = 20 + Math.floor(rand() * 100);
    let killer: Promise<void> | null = rand() < 0.12 ? sleep(Math.floor(rand() * 200)).then(killAndRestart) : null;
    for (let attempt = 0; ; attempt++) {
      assert.ok(attempt < 10, `key ${key}: no answer after 10 attempts`);
      const res = await post(api.port, runs, key, sleepMs).catch(() => null);
      if (res?.statusCode === 200) {
        answers.set(key, res.json());
        break;
      }
      // Only a kill explains anything else: the job runs on in the supervisor.
      assert.ok(killer !== null, `${key}: ${res?.statusCode} ${res?.text}`);
      await killer;
      killer = null;
    }
    if (killer !== null) await killer;
  }
  const counts = await runsByTag(runs);
  for (let i = 0; i < JOBS; i++) {
    const key = `a${i}`;
    assert.equal(answers.get(key)!.text, key);
    assert.equal(counts.get(key), 1, `${key}: one CLI run`);
  }
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), JOBS);
  t.diagnostic(`${restarts} API restarts`);
  assert.ok(restarts >= 10, `the API was killed ${restarts} times`);
});

interface Service {
  launcher: ChildProcess;
  logs: Record<string, unknown>[];
  port: number;
}

async function startService(t: TestContext, dir: string): Promise<Service> {
  const launcher = spawn(process.execPath, ['dist/start.mjs'], {
    cwd: REPO_ROOT,
    detached: true,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      ANTHROPIC_API_KEY: 'test-key',
      IS_SANDBOX: '1',
      CLAUDE_BIN: fixture('api-cli.mjs'),
      SUPERVISOR_SOCKET: path.join(dir, 'supervisor.sock'),
      IMAGES_DIR: path.join(dir, 'images'),
      DATA_DIR: path.join(dir, 'data'),
      WORKSPACE_DIR: path.join(dir, 'workspace'),
      PORT: '0',
      HOST: '127.0.0.1',
      KILL_GRACE_MS: '300',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  launcher.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const logs = collectLogLines(launcher.stdout!);
  t.after(() => {
    for (const pid of servicePids({ launcher, logs, port: 0 })) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const listening = await waitFor(() => logs.find((l) => l.msg === 'api listening'), { timeoutMs: 30_000, message: `api listening; stderr: ${stderr}` });
  return { launcher, logs, port: listening.port as number };
}

function servicePids(s: Service): number[] {
  const pids = new Set<number>([s.launcher.pid!]);
  for (const l of s.logs) if (typeof l.servicePid === 'number') pids.add(l.servicePid);
  return [...pids];
}

void test(`npm start killed at random moments during ${JOBS} commands (the launcher alone, or with its services), restarted each time`, async (t) => {
  const rand = seedFor(t);
  const dir = await tempDir(t, 'api-restarts-');
  const runs = path.join(dir, 'runs.log');
  const tag = instanceTagFor(path.join(dir, 'supervisor.sock'));
  t.after(() => killMarked(tag));
  let service = await startService(t, dir);
  let restarts = 0;
  const killAndRestart = async (): Promise<void> => {
    const pids = servicePids(service);
    // The launcher alone (its services notice it within a second and shut down), or the
    // launcher, the supervisor and the API at once (a crash of the whole machine's service).
    for (const pid of rand() < 0.5 ? [service.launcher.pid!] : pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await waitFor(() => pids.every((p) => !alive(p)) && markedPids(tag).length === 0, { timeoutMs: 10_000, message: 'the old instance to be gone' });
    service = await startService(t, dir);
    restarts += 1;
  };
  const jobOf = new Map<string, string>();
  for (let i = 0; i < JOBS; i++) {
    const key = `n${i}`;
    const sleepMs = 20 + Math.floor(rand() * 100);
    // Jobs take ~80 ms plus their sleep here: most kills land mid-job, some around it.
    let killer: Promise<void> | null = rand() < 0.07 ? sleep(Math.floor(rand() * 200)).then(killAndRestart) : null;
    for (let attempt = 0; ; attempt++) {
      assert.ok(attempt < 10, `key ${key}: no answer after 10 attempts`);
      const res = await post(service.port, runs, key, sleepMs).catch(() => null);
      const body = res?.json() ?? {};
      if (typeof body.jobId === 'string') {
        const known = jobOf.get(key);
        assert.ok(known === undefined || known === body.jobId, `${key}: one job per key`);
        jobOf.set(key, body.jobId);
      }
      if (killer !== null) {
        await killer;
        killer = null;
        continue; // ask again on the new instance: its answer is the stored one
      }
      assert.ok(res !== null, `${key}: no answer without a kill`);
      break;
    }
  }
  const counts = await runsByTag(runs);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < JOBS; i++) {
    const key = `n${i}`;
    const res = await post(service.port, runs, key, 0);
    const body = res.json();
    assert.equal(body.jobId, jobOf.get(key), `${key}: the same job`);
    const outcome = res.statusCode === 200 ? 'ok' : String(body.error);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    if (outcome === 'ok') {
      assert.equal(body.text, key);
      assert.equal(counts.get(key), 1, `${key}: one run`);
    } else {
      assert.ok(outcome === 'shutting_down' || outcome === 'interrupted', `${key}: ${res.statusCode} ${res.text}`);
      assert.ok((counts.get(key) ?? 0) <= 1, `${key}: at most one run`);
    }
  }
  t.diagnostic(`${restarts} restarts; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.ok(restarts >= 5, `npm start was killed ${restarts} times`);
});
