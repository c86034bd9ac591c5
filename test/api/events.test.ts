// The relay's conversation around a job, against a REAL supervisor and fixture CLIs: the
// event stream (order, content, resume, 100 subscribers, a client that never reads, one
// that leaves), cancel, Prefer: respond-async, and the long poll.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, markedPids, startSupervisor, waitFor } from '../support/supervisor-harness.ts';
import { request, type RawResponse } from '../support/api-harness.ts';
import { runCount, startStack, waitForRunningJob, type Stack } from '../support/api-stack.ts';
import { openSse, type SseEvent } from '../support/sse-client.ts';
import { EVENTS_FLUSH_MS } from '../../supervisor/src/runner.ts';

const assistant = (id: string, content: unknown[]): Record<string, unknown> => ({ type: 'assistant', parent_tool_use_id: null, message: { id, content } });
const textBlock = (text: string): Record<string, unknown> => ({ type: 'text', text });
const toolResult = (id: string): Record<string, unknown> => ({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: id, content: 'ok' }] } });

/** The events that are not samples, as [type, data] for comparison. */
function story(events: SseEvent[]): Array<[string, unknown]> {
  return events.filter((e) => e.event !== 'usage').map((e) => [e.event, e.data]);
}

function withoutTimes(events: SseEvent[]): Array<Omit<SseEvent, 'atMs'>> {
  return events.map(({ atMs: _atMs, ...rest }) => rest);
}

function post(s: Stack, script: Record<string, unknown>, headers: Record<string, string> = {}): Promise<RawResponse> {
  return s.post(script, headers);
}

function body(s: Stack, script: Record<string, unknown>): string {
  return JSON.stringify({ text: JSON.stringify({ runs: s.runs, imagesDir: s.imagesDir, ...script }) });
}

void test('a job that runs a tool, writes an image and answers: its events in order, then end with the very answer of POST /command', async (t) => {
  const s = await startStack(t);
  const script = {
    lines: [
      assistant('m1', [textBlock('Looking.'), { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'cat /etc/SECRET-CMD', description: 'Read the config' } }]),
      toolResult('t1'),
      assistant('m2', [textBlock('Here it is.')]),
    ],
    lineGapMs: 100,
    png: ['shot.png'],
    sleepMs: 800,
    result: 'Here it is.',
  };
  const answer = post(s, script);
  const jobId = await waitForRunningJob(s);
  const live = await openSse(s.port, `/jobs/${jobId}/events`);
  assert.equal(live.status, 200);
  assert.match(String(live.headers['content-type']), /^text\/event-stream/);
  assert.equal(live.headers['cache-control'], 'no-store');
  await live.done;
  const res = await answer;
  assert.equal(res.statusCode, 200, res.text);

  assert.deepEqual(story(live.events), [
    ['progress', { turn: 1, tool: null, description: null }],
    ['text', { turn: 1, text: 'Looking.', truncated: false }],
    ['progress', { turn: 1, tool: 'Bash', description: 'Read the config' }],
    ['progress', { turn: 1, tool: null, description: null }],
    ['progress', { turn: 2, tool: null, description: null }],
    ['text', { turn: 2, text: 'Here it is.', truncated: false }],
    ['image', { name: 'shot.png', url: '/images/shot.png' }],
    ['end', { status: 200, body: res.json() }],
  ]);
  // Ids count up; the last is `end`.
  const ids = live.events.map((e) => e.id);
  assert.equal(ids.at(-1), 'end');
  const numbers = ids.slice(0, -1).map(Number);
  assert.ok(numbers.every((n, i) => Number.isInteger(n) && n >= 1 && (i === 0 || n > numbers[i - 1]!)), ids.join(','));
  // The image was announced while the job still ran (a sample came after it), not at its end.
  const imageAt = live.events.findIndex((e) => e.event === 'image');
  assert.ok(
    live.events.slice(imageAt + 1).some((e) => e.event === 'usage'),
    'a usage sample after the image: it was seen live',
  );
  const usage = live.events.find((e) => e.event === 'usage')!.data as { processCount: number; rssBytes: number; cpuMs: number; cpuPercent: number };
  assert.ok(usage.processCount >= 1 && usage.rssBytes > 0 && typeof usage.cpuMs === 'number' && typeof usage.cpuPercent === 'number');
  // Each sample says when it was taken (ms since the job started): a chart's time axis.
  const times = live.events.filter((e) => e.event === 'usage').map((e) => (e.data as { elapsedMs: number }).elapsedMs);
  assert.ok(times.length >= 2 && times.every((ms, i) => Number.isInteger(ms) && ms >= 0 && ms <= 10_000 && (i === 0 || ms >= times[i - 1]!)), times.join(','));
  // The command itself never leaves the supervisor.
  assert.ok(!JSON.stringify(live.events).includes('SECRET-CMD'));

  // A finished job's stream replays the same events, ids and all, and ends; GET agrees.
  const late = await openSse(s.port, `/jobs/${jobId}/events`);
  await late.done;
  assert.deepEqual(withoutTimes(late.events), withoutTimes(live.events));
  assert.deepEqual((await s.get(`/jobs/${jobId}`)).json(), res.json());
});

void test('Last-Event-ID resumes after that event, mid-job and after the end; after `end` it is 204', async (t) => {
  const s = await startStack(t);
  const lines = Array.from({ length: 10 }, (_, i) => assistant(`m${i}`, [textBlock(`step ${i}`)]));
  const answer = post(s, { lines, lineGapMs: 120, result: 'done' });
  const jobId = await waitForRunningJob(s);
  const whole = await openSse(s.port, `/jobs/${jobId}/events`);

  const first = await openSse(s.port, `/jobs/${jobId}/events`);
  await first.waitForEvents(4);
  first.close();
  const seen = first.events.slice(0, 4);
  const resumed = await openSse(s.port, `/jobs/${jobId}/events`, { headers: { 'last-event-id': seen.at(-1)!.id! } });
  await resumed.done;
  await whole.done;
  assert.equal((await answer).statusCode, 200);
  assert.ok(resumed.events.length > 1 && resumed.events.at(-1)!.event === 'end');
  assert.deepEqual(withoutTimes([...seen, ...resumed.events]), withoutTimes(whole.events));

  // After the end: from an id in the middle, the rest and the end.
  const middle = whole.events[5]!;
  const rest = await openSse(s.port, `/jobs/${jobId}/events`, { headers: { 'last-event-id': middle.id! } });
  await rest.done;
  assert.deepEqual(withoutTimes(rest.events), withoutTimes(whole.events.slice(6)));

  const after = await request(s.port, { path: `/jobs/${jobId}/events`, headers: { 'last-event-id': 'end' } });
  assert.equal(after.statusCode, 204);
  const bad = await request(s.port, { path: `/jobs/${jobId}/events`, headers: { 'last-event-id': 'seven' } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error, 'bad_request');
  const unknown = await request(s.port, { path: '/jobs/no-such-job/events' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().error, 'job_not_found');
});

void test('100 concurrent subscribers all get the whole history, the same ids, and the end', async (t) => {
  const s = await startStack(t);
  const lines = Array.from({ length: 20 }, (_, i) => assistant(`m${i}`, [textBlock(`line ${i}`)]));
  const answer = post(s, { lines, lineGapMs: 40, sleepMs: 300, result: 'done' });
  const jobId = await waitForRunningJob(s);
  const subscribers = await Promise.all(Array.from({ length: 100 }, () => openSse(s.port, `/jobs/${jobId}/events`)));
  await Promise.all(subscribers.map((c) => c.done));
  assert.equal((await answer).statusCode, 200);
  const reference = withoutTimes(subscribers[0]!.events);
  assert.equal(reference.filter((e) => e.event === 'text').length, 20);
  assert.equal(reference.at(-1)!.event, 'end');
  for (const c of subscribers) assert.deepEqual(withoutTimes(c.events), reference);
});

void test('a subscriber that never reads costs a bounded buffer, does not hold the job, and is let go; one that reads gets everything', { timeout: 90_000 }, async (t) => {
  // 3,000 text events of 16 KiB (48 MiB, in ~4 s): more than the socket buffers of a
  // client that never reads can hide (measured here: 3-9 MiB).
  const bound = 64 * 1024;
  const s = await startStack(t, {}, fixture('api-cli.mjs'), { eventsMaxBufferedBytes: bound, eventsStallMs: 1000 });
  // The first line comes after 800 ms: both subscribers are there before the flood.
  const answer = post(s, { lines: [assistant('m0', [textBlock('flooding')])], lineGapMs: 800, bulkText: { count: 3000, chars: 16 * 1024, gapMs: 10 }, sleepMs: 300, result: 'done' });
  const jobId = await waitForRunningJob(s);
  const stalled = await openSse(s.port, `/jobs/${jobId}/events`, { read: false });
  const reader = await openSse(s.port, `/jobs/${jobId}/events`);
  await reader.done;
  const res = await answer;
  assert.equal(res.statusCode, 200, res.text);
  assert.equal(reader.events.at(-1)?.event, 'end', 'the job ended while one subscriber had read nothing');
  // The server lets the stalled client go: cut once it stays behind for eventsStallMs.
  // (Its own end of the socket never notices: it reads nothing.)
  const closed = () => s.logs.filter((l) => l.msg === 'events stream closed' && l.jobId === jobId);
  await waitFor(() => closed().length === 2, { message: 'both streams to be closed', timeoutMs: 15_000 });
  stalled.close();
  const stalledLog = closed().find((l) => l.cut === true);
  assert.ok(stalledLog !== undefined, JSON.stringify(closed()));
  // What it left unread in this process stayed within the bound plus one event.
  assert.ok((stalledLog.peakBufferedBytes as number) <= bound + 20 * 1024, `peak ${String(stalledLog.peakBufferedBytes)}`);
  // The reader, reading live, got every text in order.
  const texts = reader.events.filter((e) => e.event === 'text').map((e) => (e.data as { text: string }).text.split(' ')[0]);
  assert.deepEqual(texts, ['flooding', ...Array.from({ length: 3000 }, (_, i) => String(i))]);
  // What is kept afterwards is bounded (the log holds at most 1 MiB: the oldest texts went).
  const replay = await openSse(s.port, `/jobs/${jobId}/events`);
  await replay.done;
  const kept = replay.events.filter((e) => e.event === 'text');
  assert.ok(kept.length > 0 && kept.length < 100, `${kept.length} text events kept`);
  assert.ok((kept.at(-1)!.data as { text: string }).text.startsWith('2999 '));
  assert.equal(replay.events.at(-1)?.event, 'end');
});

void test('a stream client that disconnects leaves the job running; its result stays fetchable', async (t) => {
  const s = await startStack(t);
  const conn = await openSse(s.port, '/command', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body(s, { lines: [assistant('m1', [textBlock('working')])], sleepMs: 1200, result: 'finished anyway' }),
  });
  assert.equal(conn.status, 200);
  const jobId = String(conn.headers.location).split('/').pop()!;
  await conn.waitForEvents(1);
  conn.close();
  const status = (await s.get('/status')).json() as { job: { id: string } | null };
  assert.equal(status.job?.id, jobId, 'still running after the client left');
  const res = await s.get(`/jobs/${jobId}?waitMs=20000`);
  assert.equal(res.statusCode, 200, res.text);
  assert.equal(res.json().text, 'finished anyway');
  assert.equal(await runCount(s.runs), 1);
});

void test('POST /command with Accept: text/event-stream streams the job and ends with the answer a plain POST gets', async (t) => {
  const s = await startStack(t);
  const conn = await openSse(s.port, '/command', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'sse-key-1' },
    body: body(s, { lines: [assistant('m1', [textBlock('hello')])], result: 'hello' }),
  });
  await conn.done;
  const end = conn.events.at(-1)!;
  assert.equal(end.event, 'end');
  const again = await s.post({ lines: [assistant('m1', [textBlock('hello')])], result: 'hello' }, { 'idempotency-key': 'sse-key-1' });
  assert.deepEqual(end.data, { status: again.statusCode, body: again.json() });
  assert.equal(await runCount(s.runs), 1, 'the key ran once');
  // A start the supervisor refuses is a plain JSON error, not a stream.
  const running = s.post({ sleepMs: 800, result: 'slow' });
  await waitForRunningJob(s);
  const busy = await openSse(s.port, '/command', { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(s, { result: 'x' }) });
  await busy.done;
  assert.equal(busy.status, 409);
  assert.equal((JSON.parse(busy.text) as { error: string }).error, 'busy');
  await running;
});

void test('cancel during a tool call with setsid children: 0 survivors, the waiting POST /command gets cancelled, the cancel answer is the final body', async (t) => {
  const s = await startStack(t, { KILL_GRACE_MS: '500' }, fixture('cli-tree.sh'));
  const waiting = s.post('run the tree');
  const jobId = await waitForRunningJob(s);
  await waitFor(() => markedPids(s.sup.instanceTag, jobId).length >= 3, { message: 'the tree to be up' });
  const events = await openSse(s.port, `/jobs/${jobId}/events`);

  const cancel = await request(s.port, { method: 'POST', path: `/jobs/${jobId}/cancel` });
  assert.equal(markedPids(s.sup.instanceTag, jobId).length, 0, 'the whole tree is gone once cancel answers');
  assert.equal(cancel.statusCode, 409, cancel.text);
  const final = cancel.json();
  assert.equal(final.error, 'cancelled');
  assert.equal(final.jobId, jobId);
  assert.match(String(final.text), /partial output/);

  const res = await waiting;
  assert.equal(res.statusCode, 409);
  assert.deepEqual(res.json(), final);
  await events.done;
  assert.deepEqual(events.events.at(-1)?.data, { status: 409, body: final });

  const twice = await request(s.port, { method: 'POST', path: `/jobs/${jobId}/cancel` });
  assert.equal(twice.statusCode, 409);
  assert.deepEqual(twice.json(), final);
  const unknown = await request(s.port, { method: 'POST', path: '/jobs/no-such-job/cancel' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().error, 'job_not_found');
});

void test('cancelling a finished job answers its result and changes nothing', async (t) => {
  const s = await startStack(t);
  const done = await s.post({ result: 'already done' });
  assert.equal(done.statusCode, 200);
  const cancel = await request(s.port, { method: 'POST', path: `/jobs/${String(done.json().jobId)}/cancel` });
  assert.equal(cancel.statusCode, 200);
  assert.deepEqual(cancel.json(), done.json());
});

void test('Prefer: respond-async answers 202 at once; its events and GET /jobs/:id give the same final body; one run', async (t) => {
  const s = await startStack(t);
  const script = { lines: [assistant('m1', [textBlock('on it')])], sleepMs: 500, result: 'async result' };
  const headers = { prefer: 'respond-async', 'idempotency-key': 'async-key-1' };
  const accepted = await s.post(script, headers);
  assert.equal(accepted.statusCode, 202, accepted.text);
  assert.equal(accepted.headers['preference-applied'], 'respond-async');
  const a = accepted.json() as Record<string, string>;
  assert.equal(a.state, 'running');
  assert.equal(a.idempotencyKey, 'async-key-1');
  assert.equal(accepted.headers.location, a.resultUrl);
  assert.deepEqual([a.eventsUrl, a.resultUrl, a.cancelUrl], [`/jobs/${a.jobId}/events`, `/jobs/${a.jobId}`, `/jobs/${a.jobId}/cancel`]);

  const events = await openSse(s.port, a.eventsUrl!);
  await events.done;
  const end = events.events.at(-1)!;
  assert.equal(end.event, 'end');
  const result = await s.get(a.resultUrl!);
  assert.deepEqual(end.data, { status: result.statusCode, body: result.json() });
  assert.equal(result.json().text, 'async result');

  const retry = await s.post(script, headers);
  assert.equal(retry.statusCode, 202);
  assert.equal(retry.json().jobId, a.jobId);
  assert.equal(retry.json().state, 'finished');
  const sync = await s.post(script, { 'idempotency-key': 'async-key-1' });
  assert.deepEqual(sync.json(), result.json());
  assert.equal(await runCount(s.runs), 1);
});

void test('GET /jobs/:id?waitMs answers at the end or with the live state after waitMs; out-of-range waits are 400', async (t) => {
  const s = await startStack(t);
  const slow = s.post({ sleepMs: 1500, result: 'waited for' });
  const jobId = await waitForRunningJob(s);
  const early = await s.get(`/jobs/${jobId}?waitMs=100`);
  assert.equal(early.statusCode, 202);
  assert.equal(early.json().state, 'running');
  const atEnd = await s.get(`/jobs/${jobId}?waitMs=30000`);
  assert.equal(atEnd.statusCode, 200);
  assert.equal(atEnd.json().text, 'waited for');
  assert.deepEqual(atEnd.json(), (await slow).json());
  for (const bad of ['60001', '-1', '1e3', '', 'soon']) {
    const res = await s.get(`/jobs/${jobId}?waitMs=${bad}`);
    assert.equal(res.statusCode, 400, `waitMs=${bad}: ${res.text}`);
    assert.equal(res.json().error, 'bad_request');
  }
});

void test('a quiet stream gets a comment line every EVENTS_HEARTBEAT_MS; shutdown ends open streams, not the job', async (t) => {
  const s = await startStack(t, {}, fixture('api-cli.mjs'), { eventsHeartbeatMs: 100 });
  const running = s.post({ sleepMs: 2500, result: 'quiet' });
  const jobId = await waitForRunningJob(s);
  const conn = await openSse(s.port, `/jobs/${jobId}/events`);
  await waitFor(() => conn.comments.filter((c) => c === 'keepalive').length >= 3, { message: 'three keepalive comments' });
  s.shutdown.begin();
  await conn.done;
  assert.notEqual(conn.events.at(-1)?.event, 'end', 'closed by the shutdown, before the job ended');
  const res = await running;
  assert.equal(res.statusCode, 503, 'the waiting POST /command is answered shutting_down');
  const job = await s.sup.waitJob(jobId);
  assert.equal(job.state, 'finished');
  assert.equal(job.reason, 'exit', 'the job itself ran on');
});

void test('the supervisor SIGKILLed mid-stream: the stream waits for its restart and ends with the interrupted answer; the events written before the crash are kept', async (t) => {
  const s = await startStack(t);
  const pending = s.post({ lines: [assistant('m1', [textBlock('working')])], sleepMs: 30_000, result: 'never' });
  const jobId = await waitForRunningJob(s);
  const conn = await openSse(s.port, `/jobs/${jobId}/events`);
  await conn.waitForEvents(2);
  // Past one EVENTS_FLUSH_MS: the running job's events are in the store when it dies.
  await new Promise((r) => setTimeout(r, EVENTS_FLUSH_MS + 500));
  s.sup.child.kill('SIGKILL');
  await s.sup.exited;
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(conn.events.at(-1)?.event === 'end', false, 'no end while the supervisor is gone');
  await startSupervisor(t, { dir: s.sup.dir, claudeBin: fixture('api-cli.mjs'), env: { KILL_GRACE_MS: '300' } });
  await conn.done;
  const end = conn.events.at(-1)!;
  assert.equal(end.event, 'end');
  const res = await pending;
  assert.deepEqual(end.data, { status: 500, body: res.json() });
  assert.equal(res.json().error, 'interrupted');
  const ids = conn.events.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no event twice across the reconnect');
  // A late subscriber still sees what the job said before the crash, then its end.
  const late = await openSse(s.port, `/jobs/${jobId}/events`);
  await late.done;
  assert.deepEqual(story(late.events), [
    ['progress', { turn: 1, tool: null, description: null }],
    ['text', { turn: 1, text: 'working', truncated: false }],
    ['end', end.data],
  ]);
});
