// Jobs end to end through a real supervisor process and its socket.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request as httpRequest } from 'node:http';
import { JOB_ID_HEADER, type ErrorBody, type JobView, type StartJobRequest } from '../../common/protocol.ts';
import { fixture, makeTempDir, markedPids, stageFixtures, startSupervisor, waitFor } from '../support/supervisor-harness.ts';

void test('a 5 MB multi-byte prompt arrives intact on the CLI stdin', async (t) => {
  const sup = await startSupervisor(t);
  const prompt = 'héllo wörld ✓ 𝄞 '.repeat(5 * 1024 * 1024 / 24);
  const bytes = Buffer.byteLength(prompt);
  assert.ok(bytes >= 5_000_000);
  const started = await sup.startJob({ prompt });
  assert.equal(started.status, 201);
  assert.equal(started.body.promptChars, prompt.length);
  const job = await sup.waitJob(started.body.id);
  assert.equal(job.reason, 'exit');
  assert.equal(job.text, `sha256=${createHash('sha256').update(prompt).digest('hex')} bytes=${bytes}`);
  assert.equal(job.result?.isError, false);
  const received = await sup.waitForLog((l) => l.msg === 'command received');
  assert.equal(received?.promptChars, prompt.length);
  assert.ok(!JSON.stringify(sup.logs).includes('héllo'), 'the prompt text is never logged');
});

void test('a CLI that exits without reading stdin is a normal exit', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-no-stdin.sh') });
  const started = await sup.startJob({ prompt: 'x'.repeat(2 * 1024 * 1024) });
  const job = await sup.waitJob(started.body.id);
  assert.equal(job.reason, 'exit');
  assert.equal(job.exitCode, 0);
  assert.equal(job.errorMessage, null);
  assert.equal(job.text, 'did not read the prompt');
});

void test('a binary gone since the start ends the job with spawn_error', async (t) => {
  const dir = await makeTempDir(t);
  const bin = join(dir, 'claude');
  copyFileSync(fixture('cli-echo.mjs'), bin);
  chmodSync(bin, 0o755);
  const sup = await startSupervisor(t, { dir, claudeBin: bin });
  rmSync(bin);
  const started = await sup.startJob({ prompt: 'hi' });
  const job = await sup.waitJob(started.body.id);
  assert.equal(job.reason, 'spawn_error');
  assert.equal(job.pid, null);
  assert.equal(job.text, null);
  assert.match(job.errorMessage ?? '', /ENOENT/);
  // The supervisor still takes the next job.
  const next = await sup.startJob({ prompt: 'again' });
  assert.equal(next.status, 201);
});

void test('refuses a second job while one runs; the same idempotency key returns the same job', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-sleep.sh') });
  const first = await sup.startJob({ prompt: 'one', idempotencyKey: 'msg-1' });
  assert.equal(first.status, 201);
  const second = await sup.request<ErrorBody>('POST', '/jobs', { prompt: 'two' });
  assert.equal(second.status, 409);
  assert.equal(second.body.error, 'busy');
  assert.equal(second.body.jobId, first.body.id);
  const retry = await sup.startJob({ prompt: 'one', idempotencyKey: 'msg-1' });
  assert.equal(retry.status, 200);
  assert.equal(retry.body.id, first.body.id);

  const cancelled = await sup.request<JobView>('POST', `/jobs/${first.body.id}/cancel`);
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.state, 'finished');
  assert.equal(cancelled.body.reason, 'cancelled');
  assert.ok(cancelled.body.processesKilled >= 1);
  assert.deepEqual(markedPids(sup.instanceTag, first.body.id), []);
  // Remembered after it finished too: never a second run.
  const later = await sup.startJob({ prompt: 'one', idempotencyKey: 'msg-1' });
  assert.equal(later.status, 200);
  assert.equal(later.body.id, first.body.id);
});

/** POST /jobs?waitMs over the socket: the status line and headers as they come, then the body. */
function startWaiting(socketPath: string, body: StartJobRequest, waitMs: number) {
  return new Promise<{ status: number; jobId: string | undefined; body: Promise<JobView> }>((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = httpRequest(
      { socketPath, method: 'POST', path: `/jobs?waitMs=${waitMs}`, agent: false, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        const chunks: Buffer[] = [];
        const done = new Promise<JobView>((ok, fail) => {
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => ok(JSON.parse(Buffer.concat(chunks).toString('utf8')) as JobView));
          res.on('error', fail);
        });
        const id = res.headers[JOB_ID_HEADER];
        resolve({ status: res.statusCode ?? 0, jobId: typeof id === 'string' ? id : undefined, body: done });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

void test('POST /jobs?waitMs: the status and the job id go out as the job starts, its final view once its tree is gone', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-sleep.sh') });
  const started = await startWaiting(sup.socketPath, { prompt: 'run a while', idempotencyKey: 'wait-1' }, 20_000);
  assert.equal(started.status, 201);
  assert.ok(started.jobId !== undefined, 'the job id header');
  // The answer's head came while the job runs; its body has not.
  const live = await sup.request<JobView>('GET', `/jobs/${started.jobId}`);
  assert.equal(live.body.state, 'running');
  let bodyCame = false;
  void started.body.then(() => (bodyCame = true));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(bodyCame, false, 'no body while the job runs');
  await sup.request('POST', `/jobs/${started.jobId}/cancel`);
  const end = await started.body;
  assert.equal(end.id, started.jobId);
  assert.equal(end.state, 'finished');
  assert.equal(end.reason, 'cancelled');
  assert.deepEqual(markedPids(sup.instanceTag, end.id), [], 'its tree gone before the answer');
  // The same key again: the finished job at once, head and body together, never a second run.
  const again = await startWaiting(sup.socketPath, { prompt: 'run a while', idempotencyKey: 'wait-1' }, 20_000);
  assert.equal(again.status, 200);
  assert.equal(again.jobId, end.id);
  assert.equal((await again.body).reason, 'cancelled');
  // A waitMs that is not a number of ms is refused like any bad request, and nothing runs.
  const bad = await sup.request<ErrorBody>('POST', '/jobs?waitMs=1e3', { prompt: 'never' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'bad_request');
  const status = await sup.request<{ job: unknown }>('GET', '/status');
  assert.equal(status.body.job, null);
});

void test('sweeps what a successful CLI left running and records the count', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-leftover.sh') });
  const started = await sup.startJob({ prompt: 'start a server' });
  const job = await sup.waitJob(started.body.id);
  assert.equal(job.reason, 'exit');
  assert.equal(job.exitCode, 0);
  assert.equal(job.text, 'done, servers left running');
  assert.equal(job.leftoversKilled, 2);
  assert.deepEqual(markedPids(sup.instanceTag, job.id), []);
  const done = await sup.waitForLog((l) => l.msg === 'done' && l.jobId === job.id);
  assert.equal(done?.leftoversKilled, 2);
  assert.ok(Number(done?.durationMs) < 1500, 'leftovers gone within 1.5 s of the start');
});

void test('reports live accounting while the job runs', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-sleep.sh'), env: { SAMPLE_INTERVAL_MS: '100' } });
  const started = await sup.startJob({ prompt: 'sleep' });
  const live = await waitFor(async () => {
    const r = await sup.request<JobView>('GET', `/jobs/${started.body.id}`);
    return r.body.processCount >= 2 ? r.body : null;
  });
  assert.equal(live.state, 'running');
  assert.ok(live.rssBytes > 0 && live.peakRssBytes >= live.rssBytes);
  assert.ok(live.durationMs >= 0);
  const early = await sup.request<JobView>('GET', `/jobs/${started.body.id}/wait?timeoutMs=50`);
  assert.equal(early.body.state, 'running', 'a wait answers with the running job after timeoutMs');
  const status = await sup.request<{ job: JobView | null }>('GET', '/status');
  assert.equal(status.body.job?.id, started.body.id);
});

void test('runs the CLI as AGENT_USER with its HOME, in WORKSPACE_DIR, without API_TOKEN', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('switching users needs root');
    return;
  }
  const dir = await makeTempDir(t);
  // The agent user must reach the CLI and the workspace: both live in the opened temp dir.
  const sup = await startSupervisor(t, {
    dir,
    claudeBin: stageFixtures(dir, 'cli-whoami.sh'),
    env: { AGENT_USER: 'nobody', IS_SANDBOX: undefined, API_TOKEN: 'secret-token' },
  });
  const started = await sup.startJob({ prompt: 'who am i' });
  const job = await sup.waitJob(started.body.id);
  assert.equal(job.reason, 'exit', job.errorMessage ?? '');
  assert.equal(job.text, `uid=65534 home=/nonexistent user=nobody token=unset socket=unset marker=set pwd=${join(dir, 'workspace')}`);
  assert.equal(statSync(join(dir, 'workspace')).uid, 65534, 'the workspace it created belongs to the agent');
});

void test('a running job shows the output it has printed so far', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-tree.sh') });
  const started = await sup.startJob({ prompt: 'tree' });
  const live = await waitFor(async () => {
    const r = await sup.request<JobView>('GET', `/jobs/${started.body.id}`);
    return r.body.text !== null ? r.body : null;
  });
  assert.equal(live.state, 'running');
  assert.equal(live.text, 'partial output before the timeout\n');
});

void test("the CLI gets an allow-list of the supervisor's environment, plus what AGENT_ENV names", async (t) => {
  const sup = await startSupervisor(t, {
    claudeBin: fixture('cli-env.sh'),
    env: {
      NODE_ENV: 'production',
      PORT: '3001',
      HOST: '0.0.0.0',
      API_TOKEN: 'never-for-the-agent-0123',
      MEMORY_LIMIT_MB: '2048',
      GITHUB_TOKEN: 'ghp_for_pull_requests',
      DATABASE_URL: 'postgres://db/app',
      NPM_TOKEN: 'npm_not_named',
      AGENT_ENV: 'DATABASE_URL',
    },
  });
  const started = await sup.startJob({ prompt: 'env' });
  const job = await sup.waitJob(started.body.id);
  const names = new Set((job.text ?? '').trim().split(' '));
  for (const name of ['PATH', 'HOME', 'ANTHROPIC_API_KEY', 'IS_SANDBOX', 'GITHUB_TOKEN', 'DATABASE_URL', 'AGENT_COCKPIT_JOB', 'DISABLE_TELEMETRY']) {
    assert.ok(names.has(name), `${name} reaches the CLI`);
  }
  for (const name of ['NODE_ENV', 'PORT', 'HOST', 'API_TOKEN', 'MEMORY_LIMIT_MB', 'NPM_TOKEN', 'SUPERVISOR_SOCKET', 'CLAUDE_BIN', 'AGENT_ENV']) {
    assert.ok(!names.has(name), `${name} stays out of the CLI's environment`);
  }
});

void test("a request's limits over MAX_TURNS / MAX_BUDGET_USD are refused before anything runs; within them the job runs", async (t) => {
  const sup = await startSupervisor(t, { env: { MAX_TURNS: '5', MAX_BUDGET_USD: '1.5' } });
  for (const [body, message] of [
    [{ prompt: 'hi', maxTurns: 6 }, "maxTurns (6) is over this service's limit, MAX_TURNS=5"],
    [{ prompt: 'hi', maxBudgetUsd: 2 }, "maxBudgetUsd (2) is over this service's limit, MAX_BUDGET_USD=1.5"],
  ] as const) {
    const refused = await sup.request<ErrorBody>('POST', '/jobs', body);
    assert.deepEqual([refused.status, refused.body], [400, { error: 'bad_request', message }]);
  }
  for (const bad of [{ maxTurns: 0 }, { maxTurns: 1.5 }, { maxBudgetUsd: 0 }, { maxBudgetUsd: 'one' }]) {
    assert.equal((await sup.request('POST', '/jobs', { prompt: 'hi', ...bad })).status, 400, JSON.stringify(bad));
  }
  assert.deepEqual(sup.logs.filter((l) => l.msg === 'spawn'), [], 'nothing ran');
  const status = await sup.request<{ limits: Record<string, unknown> }>('GET', '/status');
  assert.deepEqual([status.body.limits.maxTurns, status.body.limits.maxBudgetUsd, status.body.limits.interruptGraceMs], [5, 1.5, 2000]);
  const ok = await sup.startJob({ prompt: 'hi', maxTurns: 5, maxBudgetUsd: 0.5 });
  assert.equal(ok.status, 201);
  assert.equal((await sup.waitJob(ok.body.id)).reason, 'exit');
});
