// The real CLI (pinned) behind the real supervisor and API, against the Messages API
// stand-in: the events a relay sees for a job that runs a Bash tool, writes an image and
// answers; and a cancel in the middle of a tool call whose command left setsid'd children.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { bash } from '../support/messages-api.ts';
import { e2eSuite, eventually, findProcesses } from '../support/e2e-service.ts';
import { request } from '../support/api-harness.ts';
import { openSse, type SseEvent } from '../support/sse-client.ts';

// A 1x1 PNG.
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAIAAAUAAen63NgAAAAASUVORK5CYII=';

const suite = e2eSuite({ COMMAND_TIMEOUT_MS: '60000' });

async function runningJobId(): Promise<string> {
  const { service } = suite;
  let id: string | null = null;
  for (let i = 0; i < 400 && id === null; i++) {
    const status = (await service.get('/status')).json() as { job: { id: string } | null };
    id = status.job?.id ?? null;
    if (id === null) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(id !== null, 'a job to be running');
  return id;
}

const story = (events: SseEvent[]): Array<[string, unknown]> => events.filter((e) => e.event !== 'usage' && e.event !== 'image').map((e) => [e.event, e.data]);

void test('a Bash tool that writes an image, then an answer: progress, text, image and end, as the relay sees them', async () => {
  const { api, service } = suite;
  const name = `shot-${randomInt(1e9)}.png`;
  api.script([
    { text: 'Taking a picture.', tools: [bash(`echo ${PNG_BASE64} | base64 -d > ${path.join(service.imagesDir, name)}; sleep 1`, 'Save a picture')] },
    { text: 'Saved it.' },
  ]);
  const conn = await openSse(service.port, '/command', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `e2e-events-${randomInt(1e9)}` },
    body: JSON.stringify({ text: 'take a picture' }),
  });
  assert.equal(conn.status, 200, conn.text);
  await conn.done;
  const end = conn.events.at(-1)!;
  assert.equal(end.event, 'end');
  const { status, body } = end.data as { status: number; body: Record<string, unknown> };
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.text, 'Saved it.');
  assert.deepEqual(body.images, [`/images/${name}`]);

  assert.deepEqual(story(conn.events), [
    ['progress', { turn: 1, tool: null, description: null }],
    ['text', { turn: 1, text: 'Taking a picture.', truncated: false }],
    ['progress', { turn: 1, tool: 'Bash', description: 'Save a picture' }],
    ['progress', { turn: 1, tool: null, description: null }],
    ['progress', { turn: 2, tool: null, description: null }],
    ['text', { turn: 2, text: 'Saved it.', truncated: false }],
    ['end', end.data],
  ]);
  const images = conn.events.filter((e) => e.event === 'image');
  assert.deepEqual(images.map((e) => e.data), [{ name, url: `/images/${name}` }]);
  // The command never leaves the supervisor; the model's description does.
  assert.ok(!JSON.stringify(conn.events).includes('base64 -d'));
  assert.ok(conn.events.some((e) => e.event === 'usage' && (e.data as { processCount: number }).processCount >= 2), 'a sample saw the CLI and its tool');
  // The same answer for everyone who asks afterwards.
  const jobId = body.jobId as string;
  assert.deepEqual((await service.get(`/jobs/${jobId}`)).json(), body);
});

void test('cancel during a tool call whose command left setsid children: 0 survivors, the waiting POST gets cancelled, the cancel answer is the final body', async () => {
  const { api, service } = suite;
  const marker = `${5000 + randomInt(1000)}.${randomInt(100_000, 999_999)}`;
  api.script([
    {
      text: 'Starting the long build.',
      tools: [bash(`setsid sleep ${marker} >/dev/null 2>&1 </dev/null & setsid sh -c 'sleep ${marker}' >/dev/null 2>&1 </dev/null & sleep ${marker}`, 'Run the long build')],
    },
    { text: 'never reached' },
  ]);
  const waiting = service.command({ text: 'run the long build' });
  const jobId = await runningJobId();
  const events = await openSse(service.port, `/jobs/${jobId}/events`);
  // The tool is running: its progress event came, and its processes are up.
  await eventually(() => events.events.some((e) => e.event === 'progress' && (e.data as { tool: string | null }).tool === 'Bash'), 20_000, 50);
  assert.ok(await eventually(() => findProcesses({ needle: `sleep ${marker}` }).length >= 3, 20_000, 50), 'the command and its setsid children run');

  const cancel = await request(service.port, { method: 'POST', path: `/jobs/${jobId}/cancel` });
  assert.equal(cancel.statusCode, 409, cancel.text);
  const final = cancel.json();
  assert.equal(final.error, 'cancelled');
  assert.equal(final.jobId, jobId);
  assert.match(String(final.text), /Starting the long build\./);
  const left = [...findProcesses({ needle: `sleep ${marker}` }), ...findProcesses({ cwdInside: service.workspaceDir })];
  assert.deepEqual(left, [], 'nothing of the tree once cancel has answered');

  const res = await waiting;
  assert.equal(res.statusCode, 409);
  assert.deepEqual(res.json(), final);
  await events.done;
  assert.deepEqual(events.events.at(-1)?.data, { status: 409, body: final });
  const again = await request(service.port, { method: 'POST', path: `/jobs/${jobId}/cancel` });
  assert.deepEqual([again.statusCode, again.json()], [409, final]);
});
