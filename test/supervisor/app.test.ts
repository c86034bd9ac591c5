// The control protocol's routes through app.inject (no socket): status codes, schemas,
// and the error body shape for every kind of error.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createLogger } from '../../common/logger.ts';
import type { JobView, SupervisorStatus } from '../../common/protocol.ts';
import { build } from '../../supervisor/src/app.ts';
import { loadConfig } from '../../supervisor/src/config.ts';
import { ownershipStatus } from '../../supervisor/src/ownership/layers.ts';
import { SupervisorMetrics } from '../../supervisor/src/metrics.ts';
import { JobRunner } from '../../supervisor/src/runner.ts';
import { StartCounts } from '../../supervisor/src/start-counts.ts';
import { MEMORY_STORE } from '../../supervisor/src/store/db.ts';
import { JobStore } from '../../supervisor/src/store/jobs.ts';
import { fixture } from '../support/supervisor-harness.ts';
import { Writable } from 'node:stream';

async function makeApp(t: TestContext, claudeBin = fixture('cli-echo.mjs')) {
  const dir = await mkdtemp(join(tmpdir(), 'sup-app-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = loadConfig(
    { SUPERVISOR_SOCKET: join(dir, 's.sock'), WORKSPACE_DIR: dir, IMAGES_DIR: dir, CLAUDE_BIN: claudeBin, IS_SANDBOX: '1', ANTHROPIC_API_KEY: 'sk-ant-test' },
    { uid: process.getuid?.() ?? 0 },
  );
  const log = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const layers = { agentUid: null, reaperBin: null, cgroups: null, environ: true, agentIsSupervisorUser: true };
  const store = new JobStore(MEMORY_STORE, config.jobsRetention);
  store.open();
  const runner = new JobRunner({ config, log, instanceTag: 'apptest', layers, env: process.env, store, onJobFinished: (view) => metrics.jobFinished(view) });
  const metrics = new SupervisorMetrics({ running: () => runner.runningSummary(), startedAtMs: Date.now(), storeWritable: () => store.isWritable });
  const starts = new StartCounts(store, (totals) => metrics.setStarts(totals));
  const app = build({
    runner,
    log,
    metrics,
    starts,
    status: () => ({
      pid: process.pid,
      pid1: false,
      uptimeMs: 1,
      version: 'test',
      zombies: 0,
      warnings: [],
      cgroup: { enabled: false, path: null },
      ownership: ownershipStatus(layers),
      nextJob: runner.nextJob(),
      store: store.status(runner.unsavedCount),
      limits: { timeoutMs: 1, memoryLimitBytes: 1, maxOutputBytes: 1, killGraceMs: 1, interruptGraceMs: 1, sampleIntervalMs: 1, maxTurns: null, maxBudgetUsd: null },
    }),
  });
  t.after(async () => {
    await runner.shutdown();
    await app.close();
  });
  return { app, runner };
}

void test('unknown routes and unknown jobs answer 404 in the error shape', async (t) => {
  const { app } = await makeApp(t);
  const route = await app.inject({ method: 'GET', url: '/nope' });
  assert.equal(route.statusCode, 404);
  assert.deepEqual(route.json(), { error: 'not_found', message: 'No route GET /nope' });
  const job = await app.inject({ method: 'GET', url: '/jobs/abc' });
  assert.equal(job.statusCode, 404);
  assert.equal(job.json().error, 'job_not_found');
  const badId = await app.inject({ method: 'GET', url: '/jobs/..%2Fetc' });
  assert.equal(badId.statusCode, 400);
  assert.equal(badId.json().error, 'bad_request');
});

void test('bad bodies answer 400 bad_request without a stack trace', async (t) => {
  const { app } = await makeApp(t);
  for (const payload of [{}, { prompt: '' }, { prompt: 1 }, { prompt: 'x', extra: true }, { prompt: 'x', sessionId: '--help' }]) {
    const res = await app.inject({ method: 'POST', url: '/jobs', payload });
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    assert.equal(res.json().error, 'bad_request');
    assert.ok(!res.body.includes('    at '), 'no stack trace');
  }
  const json = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: '{"prompt":' });
  assert.equal(json.statusCode, 400);
  assert.equal(json.json().error, 'bad_request');
  const wait = await app.inject({ method: 'GET', url: '/jobs/abc/wait?timeoutMs=soon' });
  assert.equal(wait.statusCode, 400);
});

void test('starts a job (201), waits for it, and lists it in /status', async (t) => {
  const { app } = await makeApp(t);
  const started = await app.inject({ method: 'POST', url: '/jobs', payload: { prompt: 'hi', idempotencyKey: 'k1' } });
  assert.equal(started.statusCode, 201);
  const view = started.json<JobView>();
  assert.equal(view.state, 'running');
  assert.equal(view.idempotencyKey, 'k1');
  const waited = await app.inject({ method: 'GET', url: `/jobs/${view.id}/wait?timeoutMs=10000` });
  const done = waited.json<JobView>();
  assert.equal(done.state, 'finished');
  assert.equal(done.reason, 'exit');
  assert.match(done.text ?? '', /^sha256=/);
  const again = await app.inject({ method: 'POST', url: '/jobs', payload: { prompt: 'hi', idempotencyKey: 'k1' } });
  assert.equal(again.statusCode, 200);
  assert.equal(again.json<JobView>().id, view.id);
  const status = (await app.inject({ method: 'GET', url: '/status' })).json<SupervisorStatus>();
  assert.equal(status.job, null);
  assert.equal(status.recentJobs[0]?.id, view.id);
  assert.equal('text' in (status.recentJobs[0] ?? {}), false, '/status lists jobs without their output');
});

void test('after shutdown new jobs get 503 shutting_down', async (t) => {
  const { app, runner } = await makeApp(t);
  await runner.shutdown();
  const res = await app.inject({ method: 'POST', url: '/jobs', payload: { prompt: 'late' } });
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().error, 'shutting_down');
});

void test('POST /jobs/lookup answers the jobs it knows and names the ids it does not', async (t) => {
  const { app } = await makeApp(t);
  const started = (await app.inject({ method: 'POST', url: '/jobs', payload: { prompt: 'hi' } })).json<JobView>();
  await app.inject({ method: 'GET', url: `/jobs/${started.id}/wait?timeoutMs=10000` });
  const res = await app.inject({ method: 'POST', url: '/jobs/lookup', payload: { ids: [started.id, 'nope'] } });
  assert.equal(res.statusCode, 200);
  const body = res.json<{ jobs: JobView[]; missing: string[] }>();
  assert.deepEqual(body.jobs.map((j) => [j.id, j.state]), [[started.id, 'finished']]);
  assert.deepEqual(body.missing, ['nope']);
  for (const payload of [{ ids: [] }, { ids: ['../x'] }, { ids: Array.from({ length: 101 }, (_, i) => `j${i}`) }, {}]) {
    const bad = await app.inject({ method: 'POST', url: '/jobs/lookup', payload });
    assert.equal(bad.statusCode, 400, JSON.stringify(payload));
    assert.equal(bad.json().error, 'bad_request');
  }
});

void test('GET /metrics answers the Prometheus text format; POST /api-starts validates its body', async (t) => {
  const { app } = await makeApp(t);
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(res.body, /^# HELP agent_cockpit_supervisor_/);
  assert.match(res.body, /^agent_cockpit_supervisor_starts_total 1$/m);
  for (const payload of [{}, { startId: '' }, { startId: 'a b' }, { startId: 'x', extra: 1 }]) {
    const bad = await app.inject({ method: 'POST', url: '/api-starts', payload });
    assert.equal(bad.statusCode, 400, JSON.stringify(payload));
    assert.equal(bad.json().error, 'bad_request');
  }
  const ok = await app.inject({ method: 'POST', url: '/api-starts', payload: { startId: 'api-1' } });
  assert.deepEqual(ok.json(), { apiStarts: 1 });
});
