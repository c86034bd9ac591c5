// The pure parts of a job's events, without processes: the bounded log both sides use,
// the watch that tells a complete image from one still being written, what the
// stream-json reader reports as it reads, the supervisor's record of a job's events, and
// how requests ask for event streams and async answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedEventLog } from '../../common/event-log.ts';
import { parseEventId } from '../../common/events.ts';
import { acceptsExactly, prefers } from '../../api/src/negotiation.ts';
import { StreamJsonReader } from '../../supervisor/src/claude/stream-json.ts';
import { JobEventLog, storedLog } from '../../supervisor/src/job/event-log.ts';
import { ImageWatch } from '../../supervisor/src/job/image-watch.ts';
import type { JobView } from '../../common/protocol.ts';

const frames = (log: BoundedEventLog): string[] => log.since(0).map((e) => e.frame);

void test('the log keeps events in id order and hands each reader the next one after its position', () => {
  const log = new BoundedEventLog();
  for (let id = 1; id <= 5; id++) log.add({ id, type: 'text', frame: `f${id}` });
  assert.equal(log.next(0)?.id, 1);
  assert.equal(log.next(3)?.id, 4);
  assert.equal(log.next(5), null);
  assert.deepEqual(log.since(2).map((e) => e.id), [3, 4, 5]);
  let told = 0;
  const off = log.subscribe(() => (told += 1));
  log.add({ id: 6, type: 'usage', frame: 'f6' });
  log.finish('end');
  log.add({ id: 7, type: 'text', frame: 'late' });
  assert.equal(told, 2, 'told of the event and of the end, not of anything after it');
  assert.equal(log.end, 'end');
  assert.equal(log.subscriberCount, 0, 'readers are let go at the end');
  off();
  assert.deepEqual(frames(log), ['f1', 'f2', 'f3', 'f4', 'f5', 'f6']);
});

void test('past its bounds the log drops the oldest usage first, then progress, then text; never images or the newest', () => {
  const log = new BoundedEventLog({ maxEvents: 4, maxBytes: 1000 });
  log.add({ id: 1, type: 'image', frame: 'i1' });
  log.add({ id: 2, type: 'usage', frame: 'u2' });
  log.add({ id: 3, type: 'progress', frame: 'p3' });
  log.add({ id: 4, type: 'text', frame: 't4' });
  log.add({ id: 5, type: 'usage', frame: 'u5' });
  assert.deepEqual(frames(log), ['i1', 'p3', 't4', 'u5'], 'the oldest usage went');
  log.add({ id: 6, type: 'text', frame: 't6' });
  assert.deepEqual(frames(log), ['i1', 'p3', 't4', 't6'], 'then usage again (the newest is kept only while it is the newest)');
  log.add({ id: 7, type: 'image', frame: 'i7' });
  assert.deepEqual(frames(log), ['i1', 't4', 't6', 'i7'], 'then progress');
  log.add({ id: 8, type: 'image', frame: 'i8' });
  assert.deepEqual(frames(log), ['i1', 't6', 'i7', 'i8'], 'then text');
  log.add({ id: 9, type: 'image', frame: 'i9' });
  assert.deepEqual(frames(log), ['i1', 'i7', 'i8', 'i9']);
  log.add({ id: 10, type: 'image', frame: 'i10' });
  assert.equal(log.size.count, 5, 'images are never dropped: over the count rather than lose one');
  assert.equal(log.dropped, 5);
  // A reader whose position was dropped goes on with the next one kept.
  assert.equal(log.next(3)?.id, 7);

  const bytes = new BoundedEventLog({ maxEvents: 100, maxBytes: 10 });
  bytes.add({ id: 1, type: 'text', frame: 'aaaaaa' });
  bytes.add({ id: 2, type: 'text', frame: 'bbbbbb' });
  assert.deepEqual(frames(bytes), ['bbbbbb']);
  assert.deepEqual(bytes.size, { count: 1, bytes: 6 });
});

void test('an image counts as complete once two looks in a row see the same non-zero size and mtime', () => {
  const watch = new ImageWatch();
  assert.deepEqual(watch.observe([{ name: 'a.png', size: 0, mtimeMs: 1 }]), []);
  assert.deepEqual(watch.observe([{ name: 'a.png', size: 0, mtimeMs: 1 }]), [], 'empty is not complete');
  assert.deepEqual(watch.observe([{ name: 'a.png', size: 100, mtimeMs: 2 }]), [], 'still growing');
  assert.deepEqual(
    watch.observe([
      { name: 'a.png', size: 100, mtimeMs: 2 },
      { name: 'b.png', size: 50, mtimeMs: 3 },
    ]),
    ['a.png'],
  );
  assert.deepEqual(
    watch.observe([
      { name: 'a.png', size: 100, mtimeMs: 2 },
      { name: 'b.png', size: 50, mtimeMs: 3 },
    ]),
    ['b.png'],
    'each is announced once',
  );
  assert.deepEqual(watch.observe([{ name: 'c.png', size: 9, mtimeMs: 5 }]), []);
  assert.deepEqual(watch.rest(['a.png', 'b.png', 'c.png', 'd.png']), ['c.png', 'd.png'], 'the end announces the rest, in the final order');
  assert.deepEqual(watch.rest(['c.png']), []);
});

function line(event: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(event)}\n`);
}

void test('the stream-json reader reports progress changes and each top-level text block, never a command', () => {
  const told: unknown[] = [];
  const reader = new StreamJsonReader(1 << 20, {
    progress: (p) => told.push(['progress', { ...p }]),
    text: (turn, text) => told.push(['text', turn, text]),
  });
  const assistant = (id: string, content: unknown[], parent: string | null = null): Buffer => line({ type: 'assistant', parent_tool_use_id: parent, message: { id, content } });
  reader.push(assistant('m1', [{ type: 'text', text: 'Looking.' }]));
  reader.push(assistant('m1', [{ type: 'tool_use', name: 'Bash', input: { command: 'cat secret', description: 'Read it' } }]));
  reader.push(assistant('sub', [{ type: 'text', text: 'a subagent speaks' }], 'toolu_1'));
  reader.push(line({ type: 'user', message: { content: [{ type: 'tool_result', content: 'x' }] } }));
  reader.push(assistant('m2', [{ type: 'text', text: '  ' }]));
  reader.push(assistant('m2', [{ type: 'text', text: 'Done.' }]));
  reader.push(line({ type: 'result', subtype: 'success', is_error: false, result: 'Done.' }));
  reader.end();
  assert.deepEqual(told, [
    ['progress', { turns: 1, tool: null, toolDescription: null }],
    ['text', 1, 'Looking.'],
    ['progress', { turns: 1, tool: 'Bash', toolDescription: 'Read it' }],
    ['progress', { turns: 1, tool: null, toolDescription: null }],
    ['progress', { turns: 2, tool: null, toolDescription: null }],
    ['text', 2, 'Done.'],
  ]);
  assert.ok(!JSON.stringify(told).includes('cat secret'));
});

void test('a long answer is kept up to the cap and then no longer copied per block', () => {
  const reader = new StreamJsonReader(1000);
  for (let i = 0; i < 50; i++) reader.push(line({ type: 'assistant', parent_tool_use_id: null, message: { id: `m${i}`, content: [{ type: 'text', text: 'x'.repeat(100) }] } }));
  assert.equal(reader.end().assistantText.length, 1000);
});

function view(over: Partial<JobView> = {}): JobView {
  return { id: 'job-1', state: 'finished', reason: 'exit', exitCode: 0, text: 'ok', stderrTail: '', ...over } as JobView;
}

void test("the supervisor's record: ids from 1, one line per event, stored as a JSON array, replayed with the end", () => {
  const events = new JobEventLog();
  events.record('progress', { turn: 1, tool: null, description: null });
  events.record('usage', { cpuMs: 1, cpuPercent: 2, rssBytes: 3, processCount: 1 });
  const json = events.toJson();
  assert.deepEqual(JSON.parse(json), [
    { id: 1, type: 'progress', data: { turn: 1, tool: null, description: null } },
    { id: 2, type: 'usage', data: { cpuMs: 1, cpuPercent: 2, rssBytes: 3, processCount: 1 } },
  ]);
  events.end(view());
  events.record('text', { turn: 9, text: 'after the end', truncated: false });
  assert.equal(events.toJson(), json, 'nothing after the end');
  const replay = storedLog(json, view());
  assert.deepEqual(replay.since(1).map((e) => e.id), [2]);
  assert.deepEqual(JSON.parse(replay.end!), { id: 'end', type: 'end', data: { job: view() } });
  assert.equal(storedLog(null, view()).since(0).length, 0, 'an interrupted job: only its end');
});

void test('Last-Event-ID, Accept and Prefer are read as the spec says', () => {
  assert.equal(parseEventId(undefined), 0);
  assert.equal(parseEventId(''), 0);
  assert.equal(parseEventId('17'), 17);
  assert.equal(parseEventId('end'), 'end');
  for (const bad of ['-1', '1.5', 'x', '1e3', '9999999999999999']) assert.equal(parseEventId(bad), null, bad);
  assert.equal(acceptsExactly('text/event-stream', 'text/event-stream'), true);
  assert.equal(acceptsExactly('application/json, Text/Event-Stream; charset=utf-8', 'text/event-stream'), true);
  assert.equal(acceptsExactly('*/*', 'text/event-stream'), false, 'a wildcard keeps JSON');
  assert.equal(acceptsExactly('text/event-stream;q=0', 'text/event-stream'), false);
  assert.equal(acceptsExactly(undefined, 'text/event-stream'), false);
  assert.equal(prefers('respond-async', 'respond-async'), true);
  assert.equal(prefers('wait=10, Respond-Async', 'respond-async'), true);
  assert.equal(prefers(['return=minimal', 'respond-async; x=1'], 'respond-async'), true);
  assert.equal(prefers('respond-asynchronously', 'respond-async'), false);
  assert.equal(prefers(undefined, 'respond-async'), false);
});
