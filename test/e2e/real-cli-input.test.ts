// The real CLI (pinned) reading its prompt as a stream-json user message, behind the real
// supervisor and API, against the Messages API stand-in: images reach the model as image
// blocks (also in a resumed session); a cancel or a timeout during a streamed answer
// interrupts the turn first, so the answer carries the partial text and a session that
// resumes, and nothing of the tree is left; the turn and budget limits answer their codes.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { request } from '../support/api-harness.ts';
import { e2eSuite, eventually, findProcesses, startE2eService } from '../support/e2e-service.ts';
import { bash, conversationText, startMessagesApi, type ContentBlock, type MessagesApi, type MessagesRequestBody } from '../support/messages-api.ts';

// A 1x1 PNG and a 1x1 JPEG.
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAIAAAUAAen63NgAAAAASUVORK5CYII=';
const JPEG_BASE64 =
  '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=';

const suite = e2eSuite({ COMMAND_TIMEOUT_MS: '60000' });

interface ImageBlock {
  type: 'image';
  source: { type: string; media_type: string; data: string };
}

/** The image blocks of a request's user message number `index` (0: the first). */
function imageBlocksOf(body: MessagesRequestBody, index: number): ImageBlock[] {
  const user = body.messages.filter((m) => m.role === 'user')[index];
  assert.ok(user !== undefined, `user message ${index} in ${JSON.stringify(body.messages.map((m) => m.role))}`);
  return typeof user.content === 'string' ? [] : (user.content as Array<ContentBlock | ImageBlock>).filter((b): b is ImageBlock => b.type === 'image');
}

/** Chunks of a slow answer: the first is "Part 1. ", and so on. */
function slowAnswer(count: number, gapMs: number): { textChunks: { chunks: string[]; gapMs: number } } {
  return { textChunks: { chunks: Array.from({ length: count }, (_, i) => `Part ${i + 1}. `), gapMs } };
}

/** Resolves once the stand-in has streamed at least `chunks` chunks of the answer to the main request. */
async function streamedChunks(api: MessagesApi, chunks: number, gapMs: number): Promise<void> {
  assert.ok(await eventually(() => api.mainRequests().length > 0, 20_000, 20), 'the CLI asked the model');
  await new Promise((r) => setTimeout(r, (chunks - 1) * gapMs + gapMs / 2));
}

async function runningJobId(service: { get(p: string): Promise<{ json(): unknown }> }): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const status = (await service.get('/status')).json() as { job: { id: string } | null };
    if (status.job !== null) return status.job.id;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no job running');
}

void test('images reach the model as image blocks of the first user message, with the same bytes; a resumed session takes one too', async () => {
  const { api, service } = suite;
  api.script([{ text: 'Two pictures: a PNG and a JPEG.' }, { text: 'And one more.' }]);
  const res = await service.command({
    text: 'what do these show?',
    images: [
      { mediaType: 'image/png', data: PNG_BASE64 },
      { mediaType: 'image/jpeg', data: JPEG_BASE64 },
    ],
  });
  assert.equal(res.statusCode, 200, res.text);
  const body = res.json();
  assert.equal(body.text, 'Two pictures: a PNG and a JPEG.');
  const first = api.mainRequests()[0]!;
  assert.deepEqual(
    imageBlocksOf(first, 0).map((b) => b.source),
    [
      { type: 'base64', media_type: 'image/png', data: PNG_BASE64 },
      { type: 'base64', media_type: 'image/jpeg', data: JPEG_BASE64 },
    ],
  );
  assert.match(conversationText(first), /what do these show\?/);

  const again = await service.command({ text: 'and this one?', sessionId: body.sessionId, images: [{ mediaType: 'image/png', data: PNG_BASE64 }] });
  assert.equal(again.statusCode, 200, again.text);
  assert.equal(again.json().text, 'And one more.');
  assert.equal(again.json().sessionId, body.sessionId);
  const resumed = api.mainRequests()[1]!;
  // The earlier turn (its two images included) and the new message with its image.
  assert.equal(imageBlocksOf(resumed, 0).length, 2);
  const users = resumed.messages.filter((m) => m.role === 'user');
  assert.deepEqual(imageBlocksOf(resumed, users.length - 1).map((b) => b.source.data), [PNG_BASE64]);
  assert.match(conversationText(resumed), /Two pictures: a PNG and a JPEG\.[\s\S]*and this one\?/);
});

void test('cancel during a streamed answer: the turn is interrupted, the answer has the partial text and a session that resumes, 0 survivors', async () => {
  const { api, service } = suite;
  const gapMs = 700;
  api.script([{ ...slowAnswer(12, gapMs) }, { text: 'Picking up where we left off.' }]);
  const waiting = service.command({ text: 'write a long story' });
  const jobId = await runningJobId(service);
  await streamedChunks(api, 2, gapMs);

  const cancel = await request(service.port, { method: 'POST', path: `/jobs/${jobId}/cancel` });
  assert.equal(cancel.statusCode, 409, cancel.text);
  const final = cancel.json();
  assert.equal(final.error, 'cancelled');
  assert.match(String(final.text), /^Part 1\. Part 2\./, 'the partial answer');
  assert.doesNotMatch(String(final.text), /Part 12\./);
  assert.match(String(final.sessionId), /^[0-9a-f-]{36}$/, 'the CLI printed its result: the session is known');
  assert.deepEqual(findProcesses({ cwdInside: service.workspaceDir }), [], 'nothing of the tree once cancel has answered');
  const interrupt = service.supervisorLogs.find((l) => l.msg === 'interrupt' && l.jobId === jobId);
  assert.equal(interrupt?.answered, true, JSON.stringify(interrupt));
  assert.equal((await waiting).statusCode, 409);

  const resumed = await service.command({ text: 'go on', sessionId: final.sessionId });
  assert.equal(resumed.statusCode, 200, resumed.text);
  assert.equal(resumed.json().text, 'Picking up where we left off.');
  const seen = conversationText(api.mainRequests()[1]!);
  assert.match(seen, /Part 1\. Part 2\./, 'the partial answer is in the resumed conversation');
  assert.match(seen, /go on/);
});

void test('timeout during a streamed answer: 408 with the partial text and the session; the session resumes; 0 survivors', async (t) => {
  const api = await startMessagesApi();
  t.after(() => api.close());
  const timeoutMs = 4000;
  const service = await startE2eService(t, { messagesApi: api, env: { COMMAND_TIMEOUT_MS: String(timeoutMs), KILL_GRACE_MS: '5000' } });
  api.script([{ ...slowAnswer(40, 400) }, { text: 'Resumed after the timeout.' }]);
  const res = await service.command({ text: 'write a very long story' });
  assert.equal(res.statusCode, 408, res.text);
  const body = res.json();
  assert.equal(body.error, 'timeout');
  assert.match(String(body.text), /^Part 1\. Part 2\. /);
  assert.doesNotMatch(String(body.text), /Part 40\./);
  assert.match(String(body.sessionId), /^[0-9a-f-]{36}$/);
  // Answered well within the kill grace: the CLI ended its turn when asked.
  assert.ok((body.durationMs as number) < timeoutMs + 2000, `durationMs ${body.durationMs}`);
  assert.deepEqual(findProcesses({ cwdInside: service.workspaceDir }), []);

  const resumed = await service.command({ text: 'continue', sessionId: body.sessionId });
  assert.equal(resumed.statusCode, 200, resumed.text);
  assert.match(conversationText(api.mainRequests()[1]!), /Part 1\. Part 2\./);
});

void test('cancel while a Bash tool runs with setsid children: interrupted, 0 survivors, the session resumes', async () => {
  const { api, service } = suite;
  const marker = `${6000 + randomInt(1000)}.${randomInt(100_000, 999_999)}`;
  api.script([
    { text: 'Starting the long build.', tools: [bash(`setsid sleep ${marker} >/dev/null 2>&1 </dev/null & sleep ${marker}`, 'Run the long build')] },
    { text: 'The build was stopped.' },
  ]);
  const waiting = service.command({ text: 'run the long build' });
  const jobId = await runningJobId(service);
  assert.ok(await eventually(() => findProcesses({ needle: `sleep ${marker}` }).length >= 2, 20_000, 50), 'the command and its setsid child run');
  const cancel = await request(service.port, { method: 'POST', path: `/jobs/${jobId}/cancel` });
  const final = cancel.json();
  assert.equal(final.error, 'cancelled', cancel.text);
  assert.match(String(final.text), /Starting the long build\./);
  assert.deepEqual([...findProcesses({ needle: `sleep ${marker}` }), ...findProcesses({ cwdInside: service.workspaceDir })], []);
  assert.equal((await waiting).statusCode, 409);
  const resumed = await service.command({ text: 'what happened?', sessionId: final.sessionId });
  assert.equal(resumed.statusCode, 200, resumed.text);
  assert.match(conversationText(api.mainRequests()[1]!), /Starting the long build\./);
});

void test('maxTurns 1 with a tool call answers max_turns with the partial text; a budget exceeded answers budget_exceeded', async () => {
  const { api, service } = suite;
  api.script([{ text: 'First I will look around.', tools: [bash('ls', 'List the files')] }, { text: 'never reached' }]);
  const turns = await service.command({ text: 'look around', maxTurns: 1 });
  assert.equal(turns.statusCode, 422, turns.text);
  assert.equal(turns.json().error, 'max_turns');
  assert.match(String(turns.json().message), /maximum number of turns \(1\)/);
  assert.equal(turns.json().text, 'First I will look around.');

  // 100k input + 50k output tokens: dollars by any model's price, far over a cent.
  api.script([{ text: 'An expensive thought.', usage: { inputTokens: 100_000, outputTokens: 50_000 }, tools: [bash('ls', 'List the files')] }, { text: 'never reached' }]);
  const budget = await service.command({ text: 'think hard', maxBudgetUsd: 0.01 });
  assert.equal(budget.statusCode, 422, budget.text);
  assert.equal(budget.json().error, 'budget_exceeded');
  assert.match(String(budget.json().message), /maximum budget/);
  assert.equal(budget.json().text, 'An expensive thought.');
  assert.ok((budget.json().costUsd as number) > 0.01);
});
