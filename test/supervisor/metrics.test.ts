// The supervisor's Prometheus metrics on its control socket (GET /metrics), from real
// supervisor processes and fixture CLIs: what a job's end adds to the counters (outcome,
// duration, processes killed, leftovers), the running job's gauges, and the start counts
// that survive a restart, as the job store keeps them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOB_REASONS } from '../../common/protocol.ts';
import { StartCounts } from '../../supervisor/src/start-counts.ts';
import { JobStore } from '../../supervisor/src/store/jobs.ts';
import { parseExposition, valueOf, type Exposition } from '../support/prometheus-text.ts';
import { fixture, makeTempDir, startSupervisor, waitFor, type Supervisor } from '../support/supervisor-harness.ts';

const P = 'agent_cockpit_supervisor_';

async function scrape(sup: Supervisor): Promise<Exposition> {
  const answer = await sup.request<string>('GET', '/metrics');
  assert.equal(answer.status, 200);
  assert.equal(typeof answer.body, 'string', 'text, not JSON');
  return parseExposition(answer.body);
}

void test('a successful job that left two processes running: ok +1, duration observed, leftovers_killed_total 2', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-leftover.sh') });
  const before = await scrape(sup);
  for (const reason of JOB_REASONS) assert.ok(before.samples.some((s) => s.name === `${P}jobs_total` && s.labels.reason === reason), `${reason} shown from the start`);
  assert.equal(valueOf(before, `${P}jobs_total`, { reason: 'exit', outcome: 'ok' }), 0);
  assert.equal(before.types.get(`${P}job_duration_seconds`), 'histogram');
  assert.equal(valueOf(before, `${P}starts_total`), 1);
  assert.equal(valueOf(before, `${P}job_running`), 0);
  assert.ok(valueOf(before, `${P}process_resident_memory_bytes`)! > 0, "Node's process metrics, prefixed");

  const job = await sup.waitJob((await sup.startJob({ prompt: 'start a server' })).body.id);
  assert.equal(job.leftoversKilled, 2);
  const after = await scrape(sup);
  assert.equal(valueOf(after, `${P}jobs_total`, { reason: 'exit', outcome: 'ok' }), 1);
  assert.equal(valueOf(after, `${P}job_duration_seconds_count`, { reason: 'exit' }), 1);
  assert.ok(Math.abs(valueOf(after, `${P}job_duration_seconds_sum`, { reason: 'exit' })! - job.durationMs / 1000) < 0.001);
  assert.equal(valueOf(after, `${P}job_duration_seconds_bucket`, { reason: 'exit', le: '+Inf' }), 1);
  assert.equal(valueOf(after, `${P}leftovers_killed_total`), 2);
  assert.equal(valueOf(after, `${P}processes_killed_total`), 0);
  assert.ok(!JSON.stringify(after).includes(job.id), 'no job id in the metrics');
});

void test('a timed-out job: the running gauges while it runs, then timeout +1 and its killed processes', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-sleep.sh'), env: { COMMAND_TIMEOUT_MS: '1500', KILL_GRACE_MS: '300', SAMPLE_INTERVAL_MS: '100' } });
  const id = (await sup.startJob({ prompt: 'sleep' })).body.id;
  const live = await waitFor(async () => {
    const m = await scrape(sup);
    return valueOf(m, `${P}job_processes`)! >= 2 ? m : null;
  });
  assert.equal(valueOf(live, `${P}job_running`), 1);
  assert.ok(valueOf(live, `${P}job_rss_bytes`)! > 0);
  assert.ok(valueOf(live, `${P}job_cpu_percent`)! >= 0);
  const job = await sup.waitJob(id);
  assert.equal(job.reason, 'timeout');
  const after = await scrape(sup);
  assert.equal(valueOf(after, `${P}jobs_total`, { reason: 'timeout', outcome: 'timeout' }), 1);
  assert.equal(valueOf(after, `${P}job_duration_seconds_count`, { reason: 'timeout' }), 1);
  assert.equal(valueOf(after, `${P}job_duration_seconds_bucket`, { reason: 'timeout', le: '1' }), 0, 'it ran 1.5 s');
  assert.equal(valueOf(after, `${P}job_duration_seconds_bucket`, { reason: 'timeout', le: '2' }), 1);
  assert.equal(valueOf(after, `${P}processes_killed_total`), job.processesKilled);
  assert.ok(job.processesKilled >= 2, 'the CLI and its sleep');
  for (const gauge of ['job_running', 'job_processes', 'job_rss_bytes', 'job_cpu_percent']) assert.equal(valueOf(after, `${P}${gauge}`), 0, `${gauge} 0 when idle`);
});

void test('a supervisor SIGKILLed mid-job and started again on its store: starts 2, the job counted interrupted, API starts kept', async (t) => {
  const dir = await makeTempDir(t);
  const first = await startSupervisor(t, { dir, claudeBin: fixture('cli-sleep.sh'), env: { KILL_GRACE_MS: '300' } });
  const startId = 'f3b1c0de-0000-4000-8000-000000000001';
  assert.deepEqual((await first.request('POST', '/api-starts', { startId })).body, { apiStarts: 1 });
  assert.deepEqual((await first.request('POST', '/api-starts', { startId })).body, { apiStarts: 1 }, 'a retry of the same start counts once');
  assert.equal((await first.request('POST', '/api-starts', { startId: '../x' })).status, 400);
  await first.startJob({ prompt: 'sleep' });
  first.child.kill('SIGKILL');
  await first.exited;

  const second = await startSupervisor(t, { dir, claudeBin: fixture('cli-sleep.sh'), env: { KILL_GRACE_MS: '300' } });
  assert.equal(second.logs.find((l) => l.msg === 'startup')?.starts, 2);
  const m = await scrape(second);
  assert.equal(valueOf(m, `${P}starts_total`), 2);
  assert.equal(valueOf(m, `${P}api_starts_total`), 1, 'kept in the store');
  assert.equal(valueOf(m, `${P}jobs_total`, { reason: 'interrupted', outcome: 'interrupted' }), 1);
  assert.equal(m.samples.filter((s) => s.name === `${P}job_duration_seconds_count`).reduce((n, s) => n + s.value, 0), 0, 'nobody saw it end: no duration');
  assert.deepEqual((await second.request('POST', '/api-starts', { startId: 'f3b1c0de-0000-4000-8000-000000000002' })).body, { apiStarts: 2 });
  assert.equal(valueOf(await scrape(second), `${P}api_starts_total`), 2);
});

void test('start counts: durable in the store, once per start id, and counted in memory while the store cannot take them', async (t) => {
  const dir = await makeTempDir(t);
  const retention = { maxJobs: 10, maxAgeMs: 86_400_000 };
  const seen: Array<{ supervisor: number; api: number }> = [];
  const store = new JobStore(dir, retention);
  store.open();
  const counts = new StartCounts(store, (totals) => seen.push(totals));
  assert.deepEqual(counts.totals, { supervisor: 1, api: 0 });
  assert.equal(counts.apiStarted('a'), 1);
  assert.equal(counts.apiStarted('a'), 1);
  assert.equal(counts.apiStarted('b'), 2);
  store.close();
  const reopened = new JobStore(dir, retention);
  reopened.open();
  assert.deepEqual(new StartCounts(reopened, () => undefined).totals, { supervisor: 2, api: 2 });
  reopened.close();
  // A store not open (not writable): the counts go on in memory from what it held.
  const closed = new JobStore(dir, retention);
  const inMemory = new StartCounts(closed, () => undefined);
  assert.deepEqual(inMemory.totals, { supervisor: 1, api: 0 });
  assert.equal(inMemory.apiStarted('c'), 1);
  assert.deepEqual(seen.at(-1), { supervisor: 1, api: 2 });
});
