// A stop is gentle first: cancel, timeout and shutdown write the CLI's interrupt request on
// its stdin and wait INTERRUPT_GRACE_MS for its result, then end the tree as before, all
// within KILL_GRACE_MS. Through a real supervisor and the api-cli fixture, which answers
// an interrupt as the real CLI does (`partial`: the text of the block it was streaming),
// ignores it, or exits without a word.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../common/protocol.ts';
import { fixture, makeTempDir, markedPids, startSupervisor } from '../support/supervisor-harness.ts';

const SESSION = '00000000-0000-4000-8000-000000000000';

interface Script {
  sleepMs?: number;
  interrupt?: 'result' | 'ignore' | 'exit-no-result';
  partial?: string;
  controlLog?: string;
  result?: string;
  waitStdinEof?: boolean;
  lines?: unknown[];
}

const said = (text: string): unknown => ({ type: 'assistant', parent_tool_use_id: null, message: { id: 'msg_1', content: [{ type: 'text', text }] } });

function controlRequests(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

async function runningJob(t: Parameters<typeof startSupervisor>[0], script: Script, env: Record<string, string> = {}) {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env: { KILL_GRACE_MS: '3000', INTERRUPT_GRACE_MS: '1000', ...env } });
  const started = await sup.startJob({ prompt: JSON.stringify(script) });
  assert.equal(started.status, 201);
  // The fixture has read its prompt and is in its sleep.
  await sup.waitForLog((l) => l.msg === 'spawn');
  await new Promise((r) => setTimeout(r, 300));
  return { sup, id: started.body.id };
}

void test('cancel: the CLI gets the interrupt and answers; the job has its partial text and session, and nothing was signalled', async (t) => {
  const dir = await makeTempDir(t);
  const controlLog = join(dir, 'control.log');
  const { sup, id } = await runningJob(t, { sleepMs: 30_000, interrupt: 'result', partial: 'Half of the answer.', controlLog });
  const t0 = Date.now();
  const cancelled = await sup.request<JobView>('POST', `/jobs/${id}/cancel`);
  const tookMs = Date.now() - t0;
  assert.equal(cancelled.status, 200);
  const job = cancelled.body;
  assert.equal(job.reason, 'cancelled');
  assert.equal(job.text, 'Half of the answer.');
  assert.equal(job.result?.sessionId, SESSION);
  assert.equal(job.result?.subtype, 'error_during_execution');
  assert.equal(job.errorMessage, 'The job was cancelled');
  assert.equal(job.processesKilled, 0, 'the CLI ended its turn and exited: no signal was needed');
  assert.deepEqual(controlRequests(controlLog), ['interrupt']);
  assert.ok(tookMs < 1000, `a CLI that answers is not kept waiting: ${tookMs} ms`);
  const line = sup.logs.find((l) => l.msg === 'interrupt');
  assert.equal(line?.answered, true);
  assert.equal(line?.exited, true);
  assert.deepEqual(markedPids(sup.instanceTag, id), []);
});

void test('a CLI that ignores the interrupt is signalled after INTERRUPT_GRACE_MS; the whole stop stays within KILL_GRACE_MS', async (t) => {
  const dir = await makeTempDir(t);
  const controlLog = join(dir, 'control.log');
  const { sup, id } = await runningJob(t, { sleepMs: 30_000, interrupt: 'ignore', controlLog, lines: [said('Working on it.')] });
  const t0 = Date.now();
  const cancelled = await sup.request<JobView>('POST', `/jobs/${id}/cancel`);
  const tookMs = Date.now() - t0;
  const job = cancelled.body;
  assert.equal(job.reason, 'cancelled');
  assert.equal(job.text, 'Working on it.', 'the text read so far');
  assert.equal(job.result, null);
  assert.ok(job.processesKilled >= 1, 'the CLI was signalled');
  assert.deepEqual(controlRequests(controlLog), ['interrupt']);
  assert.ok(tookMs >= 1000, `the interrupt had its grace: ${tookMs} ms`);
  assert.ok(tookMs < 3000 + 1500, `within KILL_GRACE_MS: ${tookMs} ms`);
  assert.equal(sup.logs.find((l) => l.msg === 'interrupt')?.answered, false);
  assert.deepEqual(markedPids(sup.instanceTag, id), []);
});

void test('a CLI that exits at the interrupt without a result: the stop goes on at once', async (t) => {
  const { sup, id } = await runningJob(t, { sleepMs: 30_000, interrupt: 'exit-no-result', lines: [said('Started.')] });
  const t0 = Date.now();
  const job = (await sup.request<JobView>('POST', `/jobs/${id}/cancel`)).body;
  assert.equal(job.reason, 'cancelled');
  assert.equal(job.text, 'Started.');
  assert.ok(Date.now() - t0 < 1000, 'no wait for a result that cannot come');
  assert.deepEqual(markedPids(sup.instanceTag, id), []);
});

void test('timeout: interrupted first, 408-shaped record with the partial text and the session', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env: { COMMAND_TIMEOUT_MS: '800', KILL_GRACE_MS: '3000' } });
  const started = await sup.startJob({ prompt: JSON.stringify({ sleepMs: 30_000, partial: 'So far: two steps.' } satisfies Script) });
  const job = await sup.waitJob(started.body.id);
  assert.equal(job.reason, 'timeout');
  assert.equal(job.text, 'So far: two steps.');
  assert.equal(job.result?.sessionId, SESSION);
  assert.equal(job.processesKilled, 0);
  assert.ok(job.durationMs < 800 + 1000, `durationMs ${job.durationMs}`);
});

void test('shutdown (SIGTERM): the running job is interrupted, keeps its session, and the supervisor exits 0', async (t) => {
  const dir = await makeTempDir(t);
  const controlLog = join(dir, 'control.log');
  const { sup, id } = await runningJob(t, { sleepMs: 30_000, controlLog, partial: 'Nearly done.' });
  const exit = await sup.stop('SIGTERM');
  assert.equal(exit.code, 0);
  assert.deepEqual(controlRequests(controlLog), ['interrupt']);
  const done = sup.logs.find((l) => l.msg === 'done' && l.jobId === id);
  assert.equal(done?.reason, 'shutdown');
  assert.equal(sup.logs.find((l) => l.msg === 'interrupt')?.answered, true);
  assert.deepEqual(markedPids(sup.instanceTag, id), []);
});

void test('stdin is closed once the result is read: a CLI that waits for EOF after its result, as the real one does, ends the job', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs') });
  const started = await sup.startJob({ prompt: JSON.stringify({ result: 'All done.', waitStdinEof: true } satisfies Script) });
  const job = await sup.waitJob(started.body.id, 10_000);
  assert.equal(job.reason, 'exit');
  assert.equal(job.exitCode, 0);
  assert.equal(job.text, 'All done.');
  assert.ok(job.durationMs < 5000, `durationMs ${job.durationMs}`);
});
