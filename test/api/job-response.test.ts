// The JobView -> HTTP answer mapping, every row of the contract table, without processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobView } from '../../common/protocol.ts';
import { finishedJobReply, jobReply, outcomeOf } from '../../api/src/job-response.ts';
import { toErrorReply } from '../../api/src/errors.ts';
import { SupervisorError } from '../../api/src/supervisor-client.ts';
import { fromSupervisor } from '../../api/src/supervisor-errors.ts';

function job(over: Partial<JobView> = {}): JobView {
  return {
    id: 'job-1',
    state: 'finished',
    idempotencyKey: null,
    pid: 123,
    promptChars: 5,
    startedAt: '2026-11-23T12:00:00.000Z',
    endedAt: '2026-11-23T12:00:01.500Z',
    durationMs: 1500.4,
    exitCode: 0,
    signal: null,
    reason: 'exit',
    errorMessage: null,
    text: 'hello',
    stderrTail: '',
    stdoutTruncated: false,
    stderrTruncated: false,
    result: null,
    progress: { turns: 1, tool: null, toolDescription: null },
    cpuMs: 10,
    cpuPercent: 1,
    rssBytes: 1000,
    peakRssBytes: 2000,
    processCount: 0,
    peakProcessCount: 1,
    processesKilled: 0,
    leftoversKilled: 0,
    images: [],
    ...over,
  };
}

const imgs = ['/images/a.png'];

void test('exit 0 answers 200 with the seed fields plus jobId and truncated', () => {
  const r = finishedJobReply(job({ stdoutTruncated: true }), imgs);
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.body, { text: 'hello', images: imgs, exitCode: 0, durationMs: 1500, jobId: 'job-1', truncated: true });
});

void test('exit 0 with a result event adds sessionId, costUsd and numTurns', () => {
  const result = { sessionId: '11111111-2222-3333-4444-555555555555', costUsd: 0.01, numTurns: 2, isError: false, subtype: 'success' };
  const r = finishedJobReply(job({ result }), []);
  assert.equal(r.statusCode, 200);
  assert.equal(r.body.sessionId, result.sessionId);
  assert.equal(r.body.costUsd, 0.01);
  assert.equal(r.body.numTurns, 2);
});

void test('exit 0 with an error result is a 500 execution_error', () => {
  const result = { sessionId: null, costUsd: null, numTurns: null, isError: true, subtype: 'error_during_execution' };
  const r = finishedJobReply(job({ result, errorMessage: 'API Error: 500' }), []);
  assert.equal(r.statusCode, 500);
  assert.equal(r.body.error, 'execution_error');
  assert.equal(r.body.message, 'API Error: 500');
  assert.equal(r.body.exitCode, 0);
});

void test('non-zero exit is a 500 execution_error whose message is the stderr tail', () => {
  const r = finishedJobReply(job({ exitCode: 3, text: null, stderrTail: 'boom\n' }), imgs);
  assert.equal(r.statusCode, 500);
  assert.deepEqual(r.body, { error: 'execution_error', message: 'boom', exitCode: 3, text: null, durationMs: 1500, jobId: 'job-1' });
  assert.equal(r.outcome, 'execution_error');
});

void test('non-zero exit without stderr says the exit code; a signal says the signal', () => {
  assert.match(String(finishedJobReply(job({ exitCode: 2, text: null }), []).body.message), /code 2/);
  assert.match(String(finishedJobReply(job({ exitCode: null, signal: 'SIGKILL', text: null }), []).body.message), /SIGKILL/);
});

void test('spawn_error is a 500 execution_error with the spawn error and a null exitCode', () => {
  const r = finishedJobReply(job({ reason: 'spawn_error', exitCode: null, pid: null, text: null, errorMessage: 'spawn claude ENOENT' }), []);
  assert.equal(r.statusCode, 500);
  assert.equal(r.body.error, 'execution_error');
  assert.equal(r.body.message, 'spawn claude ENOENT');
  assert.equal(r.body.exitCode, null);
});

void test('timeout is a 408 with partial text (or null), images, durationMs and jobId', () => {
  const r = finishedJobReply(job({ reason: 'timeout', exitCode: null, signal: 'SIGTERM', text: 'partial', errorMessage: 'timed out after 1000 ms' }), imgs);
  assert.equal(r.statusCode, 408);
  assert.deepEqual(r.body, { error: 'timeout', message: 'timed out after 1000 ms', text: 'partial', images: imgs, durationMs: 1500, jobId: 'job-1' });
  assert.equal(finishedJobReply(job({ reason: 'timeout', text: '' }), []).body.text, null);
});

void test('memory_limit is a 500 with text and peakRssBytes', () => {
  const r = finishedJobReply(job({ reason: 'memory_limit', exitCode: null, signal: 'SIGKILL', text: null }), []);
  assert.equal(r.statusCode, 500);
  assert.equal(r.body.error, 'memory_limit');
  assert.equal(r.body.peakRssBytes, 2000);
  assert.ok('text' in r.body);
});

void test('shutdown is a 503 shutting_down with the partial text', () => {
  const r = finishedJobReply(job({ reason: 'shutdown', exitCode: null, text: 'half' }), []);
  assert.equal(r.statusCode, 503);
  assert.equal(r.body.error, 'shutting_down');
  assert.equal(r.body.text, 'half');
});

void test('cancelled is a 409 cancelled with the partial text, images and session', () => {
  const r = finishedJobReply(job({ reason: 'cancelled', exitCode: null, signal: 'SIGTERM', text: 'half way' }), imgs);
  assert.equal(r.statusCode, 409);
  assert.equal(r.body.error, 'cancelled');
  assert.equal(r.body.text, 'half way');
  assert.deepEqual(r.body.images, imgs);
  assert.equal(r.outcome, 'cancelled');
});

void test('a resume of an unknown session is a 404 session_not_found', () => {
  const r = finishedJobReply(job({ exitCode: 1, errorCode: 'session_not_found', errorMessage: 'No conversation found' }), []);
  assert.equal(r.statusCode, 404);
  assert.equal(r.body.error, 'session_not_found');
});

void test('a job that reached its maxTurns is a 422 max_turns with the partial text, images and session', () => {
  const result = { sessionId: '11111111-2222-3333-4444-555555555555', costUsd: 0.02, numTurns: 1, isError: true, subtype: 'error_max_turns' };
  const r = finishedJobReply(
    job({ exitCode: 1, text: 'I looked at the photo and', errorCode: 'max_turns', errorMessage: 'Reached maximum number of turns (1)', result }),
    imgs,
    true,
  );
  assert.equal(r.statusCode, 422);
  assert.equal(r.outcome, 'max_turns');
  assert.deepEqual(r.body, {
    error: 'max_turns',
    message: 'Reached maximum number of turns (1)',
    text: 'I looked at the photo and',
    images: imgs,
    imagesTruncated: true,
    durationMs: 1500,
    jobId: 'job-1',
    sessionId: result.sessionId,
    costUsd: 0.02,
    numTurns: 1,
  });
});

void test('a job that passed its maxBudgetUsd is a 422 budget_exceeded; without text or a message it says so', () => {
  const r = finishedJobReply(job({ exitCode: 0, text: null, errorCode: 'budget_exceeded', errorMessage: 'Reached maximum budget ($0.01)' }), []);
  assert.equal(r.statusCode, 422);
  assert.deepEqual(r.body, { error: 'budget_exceeded', message: 'Reached maximum budget ($0.01)', text: null, images: [], durationMs: 1500, jobId: 'job-1' });
  const bare = finishedJobReply(job({ exitCode: 1, text: '', errorCode: 'budget_exceeded', errorMessage: null }), []);
  assert.equal(bare.body.text, null);
  assert.match(String(bare.body.message), /budget/);
  assert.match(String(finishedJobReply(job({ exitCode: 1, errorCode: 'max_turns', errorMessage: null }), []).body.message), /turns/);
  assert.equal(outcomeOf(job({ exitCode: 1, errorCode: 'max_turns' })), 'max_turns');
  assert.equal(outcomeOf(job({ exitCode: 1, errorCode: 'budget_exceeded' })), 'budget_exceeded');
});

void test('shutdown keeps the session of a job stopped gently', () => {
  const result = { sessionId: '11111111-2222-3333-4444-555555555555', costUsd: null, numTurns: 3, isError: true, subtype: null };
  const r = finishedJobReply(job({ reason: 'shutdown', exitCode: null, signal: 'SIGTERM', text: 'half', result }), imgs);
  assert.equal(r.statusCode, 503);
  assert.deepEqual(r.body, {
    error: 'shutting_down',
    message: 'The service shut down while the command ran',
    text: 'half',
    images: imgs,
    durationMs: 1500,
    jobId: 'job-1',
    sessionId: result.sessionId,
    numTurns: 3,
  });
});

void test('a running job is a 202 with its live state', () => {
  const r = jobReply(job({ state: 'running', endedAt: null, exitCode: null, reason: null, text: null }), imgs);
  assert.equal(r.statusCode, 202);
  assert.equal(r.body.state, 'running');
  assert.equal(r.body.jobId, 'job-1');
  assert.deepEqual(r.body.images, imgs);
});

void test('every error body has error and message strings', () => {
  for (const reason of ['timeout', 'memory_limit', 'shutdown', 'cancelled', 'spawn_error', 'exit'] as const) {
    const r = finishedJobReply(job({ reason, exitCode: reason === 'exit' ? 1 : null }), []);
    assert.equal(typeof r.body.error, 'string', reason);
    assert.equal(typeof r.body.message, 'string', reason);
    assert.ok(r.body.message !== '', reason);
  }
});

void test('outcomeOf labels summaries the way the replies do', () => {
  assert.equal(outcomeOf(job()), 'ok');
  assert.equal(outcomeOf(job({ reason: 'timeout' })), 'timeout');
  assert.equal(outcomeOf(job({ exitCode: 1 })), 'execution_error');
  assert.equal(outcomeOf(job({ state: 'running', reason: null })), 'running');
});

void test('supervisor errors at a start: store_unavailable and deadline_exceeded are 503s that hand back the key', () => {
  const store = toErrorReply(fromSupervisor(new SupervisorError(503, 'STORE_UNAVAILABLE', 'disk full', {}), { idempotencyKey: 'k1' }));
  assert.deepEqual(store, { statusCode: 503, body: { error: 'store_unavailable', message: 'disk full', idempotencyKey: 'k1' } });
  const late = toErrorReply(fromSupervisor(new SupervisorError(503, 'deadline_exceeded', 'late', {}), { idempotencyKey: 'k2' }));
  assert.equal(late.statusCode, 503);
  assert.equal(late.body.error, 'supervisor_unavailable');
  assert.equal(late.body.idempotencyKey, 'k2');
  const interrupted = finishedJobReply(job({ reason: 'interrupted', exitCode: null, text: null, errorMessage: 'gone' }), []);
  assert.equal(interrupted.statusCode, 500);
  assert.equal(interrupted.body.error, 'interrupted');
  assert.equal(outcomeOf(job({ reason: 'interrupted', exitCode: null })), 'interrupted');
});
