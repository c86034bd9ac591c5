// The job store on a real SQLite file: what survives a reopen, interrupted jobs, retention,
// and every bad state of docs/supervisor.md "The job store": a corrupt file, a read-only
// file system, a full disk (small tmpfs mounts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { tmpfs } from '../support/tmpfs.ts';
import type { JobSummary, JobView } from '../../common/protocol.ts';
import { DB_FILE } from '../../supervisor/src/store/db.ts';
import { JobStore } from '../../supervisor/src/store/jobs.ts';

const RETENTION = { maxJobs: 1000, maxAgeMs: 30 * 86_400_000 };

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'data');
}

function openStore(t: TestContext, dir: string, retention = RETENTION): JobStore {
  const store = new JobStore(dir, retention);
  store.open();
  t.after(() => store.close());
  return store;
}

function summary(id: string, over: Partial<JobSummary> = {}): JobSummary {
  return {
    id,
    state: 'running',
    idempotencyKey: `key-${id}`,
    pid: null,
    promptChars: 5,
    startedAt: new Date().toISOString(),
    endedAt: null,
    durationMs: 0,
    exitCode: null,
    signal: null,
    reason: null,
    errorMessage: null,
    errorCode: null,
    stdoutTruncated: false,
    stderrTruncated: false,
    result: null,
    progress: { turns: 0, tool: null, toolDescription: null },
    cpuMs: 0,
    cpuPercent: 0,
    rssBytes: 0,
    peakRssBytes: 0,
    processCount: 0,
    peakProcessCount: 0,
    processesKilled: 0,
    leftoversKilled: 0,
    images: [],
    ...over,
  };
}

function finished(s: JobSummary, text: string): JobView {
  return { ...s, state: 'finished', reason: 'exit', exitCode: 0, endedAt: new Date().toISOString(), text, stderrTail: 'warn', images: ['a.png'] };
}

void test('a finished job is read back by id and key, after a reopen too; the prompt is never stored', async (t) => {
  const dir = await dataDir(t);
  const store = openStore(t, dir);
  const s = summary('job-1');
  store.insertStarted(s);
  assert.equal(store.byKey('key-job-1')?.state, 'running');
  void store.saveFinished(finished(s, 'the answer'));
  store.close();
  const again = openStore(t, dir);
  const view = again.byId('job-1');
  assert.equal(view?.state, 'finished');
  assert.equal(view?.text, 'the answer');
  assert.equal(view?.stderrTail, 'warn');
  assert.deepEqual(view?.images, ['a.png']);
  assert.equal(again.byKey('key-job-1')?.id, 'job-1');
  assert.equal(again.byId('nope'), undefined);
  assert.deepEqual(again.recent(5).map((j) => j.id), ['job-1']);
  assert.equal('text' in again.recent(5)[0]!, false, 'recent jobs come without their text');
  assert.equal(again.status(0).jobs, 1);
  assert.ok(again.status(0).bytes > 0);
  assert.throws(() => again.insertStarted(summary('job-2', { idempotencyKey: 'key-job-1' })), /UNIQUE/, 'a key maps to one job');
  assert.equal(again.isWritable, true, 'a broken constraint does not take the store down');
});

void test('jobs left running by a dead supervisor become interrupted; retention drops the oldest and the too old', async (t) => {
  const dir = await dataDir(t);
  const store = openStore(t, dir, { maxJobs: 3, maxAgeMs: 86_400_000 });
  const old = summary('old', { startedAt: new Date(Date.now() - 3 * 86_400_000).toISOString() });
  store.insertStarted(old);
  void store.saveFinished({ ...finished(old, 'x'), endedAt: new Date(Date.now() - 2 * 86_400_000).toISOString() });
  for (let i = 0; i < 4; i++) {
    const s = summary(`j${i}`, { startedAt: new Date(Date.now() - 1000 + i).toISOString() });
    store.insertStarted(s);
    void store.saveFinished(finished(s, `t${i}`));
  }
  store.insertStarted(summary('live'));
  const interrupted = store.interruptRunning(Date.now());
  assert.deepEqual(interrupted.map((j) => j.id), ['live']);
  const view = store.byId('live')!;
  assert.equal(view.state, 'finished');
  assert.equal(view.reason, 'interrupted');
  assert.match(view.errorMessage ?? '', /did not finish/);
  assert.equal(store.prune(), 3, 'the 2-day-old job and the two oldest beyond 3');
  assert.deepEqual(store.recent(10).map((j) => j.id), ['live', 'j3', 'j2']);
  assert.equal(store.status(0).jobs, 3);
});

void test('a large answer is stored in pieces and read back exactly, as text or as bytes; its pieces go with its job', async (t) => {
  const dir = await dataDir(t);
  const store = openStore(t, dir, { maxJobs: 1, maxAgeMs: RETENTION.maxAgeMs });
  // Characters of 1-4 UTF-8 bytes (an astral one: a surrogate pair), shifted so that the
  // 64 Ki cuts fall inside a pair (code units) and inside a character (bytes).
  const text = `ab${'aé€😀'.repeat(40_000)}`;
  const big = summary('big');
  store.insertStarted(big);
  assert.equal(await store.saveFinished(finished(big, text)), true);
  const raw = summary('raw');
  store.insertStarted(raw);
  const bytes = Buffer.from(text);
  await store.saveFinished({ ...finished(raw, ''), text: bytes });
  void store.saveFinished({ ...finished(raw, ''), text: bytes }); // saved again (a retry): pieces replaced, not added
  store.close();
  const reopened = openStore(t, dir, { maxJobs: 1, maxAgeMs: RETENTION.maxAgeMs });
  assert.equal(reopened.byId('big')?.text, text);
  assert.equal(reopened.byId('raw')?.text, text);
  const answer = reopened.answerById('big')!;
  assert.equal(answer.view.text, null, 'a large text is not in the view');
  const pieces = [...answer.pieces!];
  assert.ok(pieces.length > 1 && pieces.every((p) => p.length <= 64 * 1024), `${pieces.length} pieces`);
  assert.equal(pieces.join(''), text);
  assert.equal(reopened.byKey('key-raw')?.text, text);
  const rawPieces = [...reopened.answerById('raw')!.pieces!].length;
  const Database = (await import('libsql')).default;
  const check = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.after(() => check.close());
  const counted = (): unknown[] => check.prepare('SELECT job_id, count(*) FROM job_text GROUP BY job_id ORDER BY job_id').raw().all();
  assert.deepEqual(counted(), [['big', pieces.length], ['raw', rawPieces]]);
  assert.equal(reopened.prune(), 1, 'one job kept');
  assert.deepEqual(counted(), [['raw', rawPieces]], "the pruned job's pieces are gone with it");
});

void test('a file that is not a database is moved aside and a fresh store created', async (t) => {
  const dir = await dataDir(t);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, DB_FILE), Buffer.alloc(16384, 0x5a));
  const store = new JobStore(dir, RETENTION);
  const opened = store.open();
  t.after(() => store.close());
  assert.equal(opened.writable, true);
  assert.ok(opened.movedAside !== null && existsSync(opened.movedAside), 'the old file is kept for a person to look at');
  assert.match(path.basename(opened.movedAside), /^jobs\.db\.corrupt-/);
  store.insertStarted(summary('fresh'));
  assert.equal(store.byId('fresh')?.id, 'fresh');
});

void test('a database damaged inside (quick_check fails) is moved aside too', async (t) => {
  const dir = await dataDir(t);
  const store = openStore(t, dir);
  for (let i = 0; i < 200; i++) {
    const s = summary(`j${i}`);
    store.insertStarted(s);
    void store.saveFinished(finished(s, 'x'.repeat(2000)));
  }
  store.close();
  // Overwrite pages in the middle of the file (the header stays valid).
  const file = path.join(dir, DB_FILE);
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(4096 * 4, 0xff), 0, 4096 * 4, 4096 * 3);
  closeSync(fd);
  const again = new JobStore(dir, RETENTION);
  const opened = again.open();
  t.after(() => again.close());
  assert.equal(opened.writable, true, opened.error ?? '');
  assert.notEqual(opened.movedAside, null, 'moved aside');
  assert.equal(again.status(0).jobs, 0, 'a fresh store');
});

void test('a read-only file system: finished jobs still read, new ones refused with store_unavailable', async (t) => {
  const fs = await tmpfs(t, '4m');
  if ('skip' in fs) return t.skip(fs.skip);
  // Made elsewhere, then copied in: a file open for writing would keep the remount from happening.
  const made = await dataDir(t);
  const store = openStore(t, made);
  const s = summary('kept');
  store.insertStarted(s);
  void store.saveFinished(finished(s, 'still here'));
  const dir = path.join(fs.mnt, 'data');
  mkdirSync(dir);
  for (const f of readdirSync(made)) copyFileSync(path.join(made, f), path.join(dir, f));
  execFileSync('mount', ['-o', 'remount,ro', fs.mnt]);
  const ro = new JobStore(dir, RETENTION);
  const opened = ro.open();
  t.after(() => ro.close());
  assert.equal(opened.writable, false);
  assert.match(opened.error ?? '', /READONLY|read-only|readonly/);
  assert.equal(ro.byId('kept')?.text, 'still here', 'a finished job is never lost');
  assert.throws(() => ro.insertStarted(summary('new')), { code: 'STORE_UNAVAILABLE' });
  assert.equal(ro.status(0).writable, false);
});

void test('a full disk: the write that fails marks the store unwritable; freeing space and reopening recovers', async (t) => {
  const fs = await tmpfs(t, '1m');
  if ('skip' in fs) return t.skip(fs.skip);
  const mnt = fs.mnt;
  const dir = path.join(mnt, 'data');
  const store = new JobStore(dir, RETENTION);
  store.open();
  t.after(() => store.close());
  const filler = path.join(mnt, 'filler');
  let failed: unknown = null;
  let i = 0;
  try {
    // Fill the disk beside the store, then write jobs until one does not fit.
    writeFileSync(filler, Buffer.alloc(700 * 1024));
    for (; i < 1000; i++) {
      const s = summary(`j${i}`);
      store.insertStarted(s);
      void store.saveFinished(finished(s, 'y'.repeat(8000)));
    }
  } catch (err) {
    failed = err;
  }
  assert.ok(failed !== null, 'a write failed');
  assert.equal((failed as { code?: string }).code, 'STORE_UNAVAILABLE');
  assert.equal(store.isWritable, false);
  assert.match(store.status(0).error ?? '', /full/i);
  assert.equal(store.byId('j0')?.state, 'finished', 'what was written stays readable');
  rmSync(filler);
  assert.equal(store.reopen(Date.now() + 10_000), true, 'writable again once there is room');
  store.insertStarted(summary('after'));
  assert.equal(store.byId('after')?.state, 'running');
  assert.ok(readdirSync(dir).includes(DB_FILE));
});

void test('a schema 1 store (before events) opens as the newest schema: its jobs intact, events stored from then on', async (t) => {
  const dir = await dataDir(t);
  mkdirSync(dir, { recursive: true });
  // Schema 1 as the store wrote it before issue 11, with one finished job in it.
  const v1 = `PRAGMA journal_mode = WAL;
    CREATE TABLE jobs (id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, state TEXT NOT NULL CHECK (state IN ('running', 'finished')),
      started_at INTEGER NOT NULL, ended_at INTEGER, summary TEXT NOT NULL, text TEXT, stderr_tail TEXT NOT NULL DEFAULT '') STRICT;
    CREATE INDEX jobs_started_at ON jobs (started_at);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE INDEX jobs_running ON jobs (state) WHERE state = 'running';
    INSERT INTO jobs VALUES ('old-job', 'old-key', 'finished', 1, 2, '${JSON.stringify(summary('old-job', { state: 'finished', reason: 'exit', exitCode: 0 })).replace(/'/g, "''")}', 'old text', '');
    PRAGMA user_version = 1;`;
  const Database = (await import('libsql')).default;
  const db = new Database(path.join(dir, DB_FILE));
  db.exec(v1);
  db.close();

  const store = openStore(t, dir);
  assert.equal(store.isWritable, true, String(store.lastError));
  assert.equal(store.byId('old-job')?.text, 'old text');
  assert.equal(store.eventsOf('old-job'), null, 'a job from before has no events');
  store.insertStarted(summary('new-job'));
  const events = JSON.stringify([{ id: 1, type: 'text', data: { turn: 1, text: 'hi', truncated: false } }]);
  void store.saveFinished(finished(summary('new-job'), 'new text'), events);
  assert.equal(store.eventsOf('new-job'), events);
  const check = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.after(() => check.close());
  assert.deepEqual(check.prepare('PRAGMA user_version').raw().get(), [3]);
});

void test('a final record is committed at once and resolves once its log is synced to disk (never rejects)', async (t) => {
  const dir = await dataDir(t);
  const store = openStore(t, dir);
  const s = summary('job-sync');
  store.insertStarted(s);
  const synced = store.saveFinished(finished(s, 'kept'));
  // Committed before the sync: another connection reads it at once.
  const reader = new JobStore(dir, RETENTION);
  reader.open();
  t.after(() => reader.close());
  assert.equal(reader.byId('job-sync')?.text, 'kept');
  assert.equal(await synced, true);
  const memory = new JobStore(':memory:', RETENTION);
  memory.open();
  t.after(() => memory.close());
  memory.insertStarted(summary('job-mem'));
  assert.equal(await memory.saveFinished(finished(summary('job-mem'), 'x')), true);
});
