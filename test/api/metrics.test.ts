// GET /metrics on METRICS_PORT: the API as a real process in front of a real supervisor
// (fixture CLI test/fixtures/api-cli.mjs). One endpoint answers both processes' metrics
// in the Prometheus text format, every line of it checked; a job that timed out is
// counted as one; the relay's port has no /metrics; no secret, prompt or job id is in
// it; a frozen supervisor leaves the API's own figures with supervisor_up 0; API starts
// are counted across restarts; METRICS_PORT unset means no listener at all.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { JOB_OUTCOMES } from '../../common/job-outcome.ts';
import { JOB_REASONS } from '../../common/protocol.ts';
import { REPO_ROOT, request, startApiProcess, tempDir, type ApiProcess, type RawResponse } from '../support/api-harness.ts';
import { freePort, listeningPorts } from '../support/ports.ts';
import { parseExposition, valueOf, type Exposition } from '../support/prometheus-text.ts';
import { fixture, startSupervisor, waitFor, type Supervisor } from '../support/supervisor-harness.ts';

const API = 'agent_cockpit_api_';
const SUP = 'agent_cockpit_supervisor_';
// Secrets with values found nowhere else: if either reached the metrics, the test sees it.
const TOKEN = 'metrics-test-api-token-7f3c9a51d2e8';
const CLAUDE_KEY = 'sk-ant-metrics-test-key-0b6e2d94c1aa';

/** Labels our own metrics may carry, and their values: bounded sets, never ids or text. */
const OWN_LABELS: Record<string, ReadonlySet<string> | 'bucket'> = {
  reason: new Set(JOB_REASONS),
  outcome: new Set(JOB_OUTCOMES),
  le: 'bucket',
};
/** Our metrics by name (the rest under the prefixes are Node's process metrics). */
const OWN = /^agent_cockpit_(supervisor|api)_(jobs_total|job_|processes_killed|leftovers_killed|starts_total|api_starts_total|uptime_seconds|store_writable|images_|supervisor_up)/;

async function startPair(t: TestContext, supervisorEnv: Record<string, string> = {}): Promise<{ sup: Supervisor; api: ApiProcess; metricsPort: number; runs: string; startApi: () => Promise<ApiProcess> }> {
  const sup = await startSupervisor(t, {
    claudeBin: fixture('api-cli.mjs'),
    env: { KILL_GRACE_MS: '300', SAMPLE_INTERVAL_MS: '50', ANTHROPIC_API_KEY: CLAUDE_KEY, API_TOKEN: TOKEN, ...supervisorEnv },
  });
  const metricsPort = await freePort();
  const startApi = () =>
    startApiProcess(t, {
      SUPERVISOR_SOCKET: sup.socketPath,
      IMAGES_DIR: path.join(sup.dir, 'images'),
      WORKSPACE_DIR: path.join(sup.dir, 'workspace'),
      API_TOKEN: TOKEN,
      // The API never gets it in production (npm start and s6 leave it out); here it does, to prove it does not leak.
      ANTHROPIC_API_KEY: CLAUDE_KEY,
      METRICS_PORT: String(metricsPort),
    });
  return { sup, api: await startApi(), metricsPort, runs: path.join(await tempDir(t), 'runs'), startApi };
}

function command(port: number, script: Record<string, unknown>): Promise<RawResponse> {
  return request(port, {
    method: 'POST',
    path: '/command',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ text: JSON.stringify(script) }),
  });
}

async function scrape(port: number): Promise<{ res: RawResponse; metrics: Exposition }> {
  const res = await request(port, { path: '/metrics' });
  assert.equal(res.statusCode, 200, res.text);
  return { res, metrics: parseExposition(res.text) };
}

void test('/metrics: both processes in the Prometheus text format; a timeout counted once; never on the relay port; no secret, prompt or id', async (t) => {
  const { sup, api, metricsPort, runs } = await startPair(t, { COMMAND_TIMEOUT_MS: '1500' });
  const { res, metrics: before } = await scrape(metricsPort);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const status = await request(api.port, { path: '/status', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual((JSON.parse(status.text) as { api: { metrics: unknown } }).api.metrics, { host: '127.0.0.1', port: metricsPort }, '/status says where the metrics are');
  assert.equal(valueOf(before, `${API}supervisor_up`), 1);
  assert.equal(valueOf(before, `${SUP}jobs_total`, { reason: 'timeout', outcome: 'timeout' }), 0);
  assert.equal(valueOf(before, `${SUP}job_duration_seconds_count`, { reason: 'timeout' }), 0);
  for (const prefix of [API, SUP]) {
    for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.ok(valueOf(before, `${prefix}${name}`) !== undefined, `${prefix}${name}: Node's process metrics of both`);
    }
    assert.ok(valueOf(before, `${prefix}uptime_seconds`)! > 0);
  }

  const ok = await command(api.port, { runs, result: 'fine' });
  assert.equal(ok.statusCode, 200, ok.text);
  const timedOut = await command(api.port, { runs, stdout: 'the secret plan: prompt-text-marker\n', sleepMs: 30_000, interrupt: 'ignore' });
  assert.equal(timedOut.statusCode, 408, timedOut.text);
  const { res: afterRes, metrics: after } = await scrape(metricsPort);
  assert.equal(valueOf(after, `${SUP}jobs_total`, { reason: 'timeout', outcome: 'timeout' }), 1, 'the timeout counted once');
  assert.equal(valueOf(after, `${SUP}job_duration_seconds_count`, { reason: 'timeout' }), 1);
  assert.equal(valueOf(after, `${SUP}jobs_total`, { reason: 'exit', outcome: 'ok' }), 1);
  assert.equal(valueOf(after, `${SUP}job_duration_seconds_count`, { reason: 'exit' }), 1);
  assert.ok(valueOf(after, `${SUP}processes_killed_total`)! >= 1, 'the timed-out CLI was killed');
  assert.equal(valueOf(after, `${SUP}starts_total`), 1);
  await waitFor(async () => valueOf((await scrape(metricsPort)).metrics, `${SUP}api_starts_total`) === 1, { message: 'the API start counted' });

  // Nothing a person would not want in a dashboard: no secret, no prompt or answer, no id.
  for (const needle of [TOKEN, CLAUDE_KEY, 'prompt-text-marker', 'fine', String(ok.json().jobId), String(timedOut.json().jobId), sup.socketPath]) {
    assert.ok(!afterRes.text.includes(needle), `${needle} is not in /metrics`);
  }
  for (const s of after.samples.filter((x) => OWN.test(x.name))) {
    for (const [label, value] of Object.entries(s.labels)) {
      const allowed = OWN_LABELS[label];
      assert.ok(allowed !== undefined, `${s.name}: label ${label} is one of ours`);
      if (allowed === 'bucket') assert.match(value, /^(\d+|\+Inf)$/, `${s.name} le`);
      else assert.ok(allowed.has(value), `${s.name}{${label}="${value}"} from a bounded set`);
    }
  }
  assert.ok(after.samples.every((s) => s.name.startsWith(API) || s.name.startsWith(SUP)), 'every metric under one of the two prefixes');

  // The relay's port has no /metrics, with the token or without; the metrics port has nothing else.
  assert.equal((await request(api.port, { path: '/metrics' })).statusCode, 401);
  assert.equal((await request(api.port, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 404);
  for (const [method, p] of [['GET', '/'], ['GET', '/health'], ['GET', '/status'], ['POST', '/metrics'], ['GET', '/metrics/x']] as const) {
    const other = await request(metricsPort, { method, path: p });
    assert.equal(other.statusCode, 404, `${method} ${p}`);
    assert.equal(other.json().error, 'not_found');
  }
  assert.deepEqual(listeningPorts(api.child.pid!), [api.port, metricsPort].sort((a, b) => a - b), 'the API listens on its two ports only');
});

void test('/metrics with the supervisor frozen: 200 with the API figures and supervisor_up 0, then 1 once it answers again', async (t) => {
  const { sup, metricsPort } = await startPair(t);
  sup.child.kill('SIGSTOP');
  try {
    const before = Date.now();
    const { metrics } = await scrape(metricsPort);
    assert.ok(Date.now() - before < 900 + 1000, 'answered within SUPERVISOR_TIMEOUT_MS and a second');
    assert.equal(valueOf(metrics, `${API}supervisor_up`), 0);
    assert.ok(valueOf(metrics, `${API}process_resident_memory_bytes`)! > 0);
    assert.ok(!metrics.samples.some((s) => s.name.startsWith(SUP)), 'no supervisor figure it could not get');
  } finally {
    sup.child.kill('SIGCONT');
  }
  const { metrics } = await scrape(metricsPort);
  assert.equal(valueOf(metrics, `${API}supervisor_up`), 1);
});

void test('API starts are counted across API restarts (the supervisor keeps the count), images stored with their bytes', async (t) => {
  const { sup, api, metricsPort, runs, startApi } = await startPair(t);
  const counted = (n: number) => async () => valueOf((await scrape(metricsPort)).metrics, `${SUP}api_starts_total`) === n;
  await waitFor(counted(1), { message: 'the first start' });
  const shot = await command(api.port, { runs, imagesDir: path.join(sup.dir, 'images'), png: ['a.png', 'b.png'], result: 'two screenshots' });
  assert.equal(shot.statusCode, 200, shot.text);
  await waitFor(async () => valueOf((await scrape(metricsPort)).metrics, `${API}images_stored`) === 2, { message: 'the watcher to list both' });
  const { metrics } = await scrape(metricsPort);
  assert.ok(valueOf(metrics, `${API}images_bytes`)! > 0);
  api.child.kill('SIGKILL');
  await api.exited;
  await startApi();
  await waitFor(counted(2), { message: 'the second start' });
});

void test('METRICS_PORT unset: no metrics listener, said at info; METRICS_PORT equal to PORT or out of range: exit 1 naming it', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs') });
  const api = await startApiProcess(t, { SUPERVISOR_SOCKET: sup.socketPath, IMAGES_DIR: path.join(sup.dir, 'images'), WORKSPACE_DIR: path.join(sup.dir, 'workspace'), API_TOKEN: TOKEN });
  const off = api.logs.find((l) => l.msg === 'metrics off: METRICS_PORT is unset');
  assert.equal(off?.level, 30, 'at info');
  assert.ok(!api.logs.some((l) => l.msg === 'metrics listening'));
  assert.deepEqual(listeningPorts(api.child.pid!), [api.port], 'the relay port only');
  assert.equal((await request(api.port, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 404);
  const status = await request(api.port, { path: '/status', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal((JSON.parse(status.text) as { api: { metrics: unknown } }).api.metrics, null, '/status says metrics are off');

  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'api/src/main.ts'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
  const same = run({ PORT: '3901', METRICS_PORT: '3901' });
  assert.equal(same.status, 1);
  assert.match(same.stderr, /METRICS_PORT: expected a port other than PORT/);
  for (const bad of ['0', '65536', 'nine']) {
    const r = run({ PORT: '3901', METRICS_PORT: bad });
    assert.equal(r.status, 1, bad);
    assert.match(r.stderr, /METRICS_PORT: expected a whole number from 1 to 65535/, bad);
  }
});
