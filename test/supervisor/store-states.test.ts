// The job store's bad states as a running supervisor meets them (docs/supervisor.md, "The
// job store"): a corrupt file at start, a read-only file system, a disk that fills while a
// job runs. Never a crash loop, never a lost finished job, new jobs refused with
// store_unavailable while the store cannot record them, and /status says so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { tmpfs } from '../support/tmpfs.ts';
import type { JobView, SupervisorStatus } from '../../common/protocol.ts';
import { fixture, startSupervisor, waitFor } from '../support/supervisor-harness.ts';

const ENV = { KILL_GRACE_MS: '300' };

async function runsIn(file: string): Promise<number> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').length;
}

void test('a corrupt jobs.db at start: moved aside, a fresh store, a warning in /status, jobs run', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sup-corrupt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'data'));
  writeFileSync(path.join(dir, 'data', 'jobs.db'), 'this is not a database'.repeat(500));
  const sup = await startSupervisor(t, { dir, claudeBin: fixture('api-cli.mjs'), env: ENV });
  const moved = sup.logs.find((l) => l.msg === 'the job store was corrupt: moved aside, a new one created');
  assert.ok(moved !== undefined && moved.level === 50, 'one error line');
  assert.match(String(moved.movedTo), /jobs\.db\.corrupt-/);
  const status = (await sup.request<SupervisorStatus>('GET', '/status')).body;
  assert.equal(status.store.writable, true);
  assert.ok(status.warnings.some((w) => w.includes('moved aside')));
  const started = await sup.startJob({ prompt: JSON.stringify({ result: 'fine' }) });
  assert.equal(started.status, 201);
  assert.equal((await sup.waitJob(started.body.id)).text, 'fine');
});

void test('a read-only file system: the supervisor starts, old jobs answer, new ones are 503 store_unavailable and nothing runs', async (t) => {
  const fs = await tmpfs(t, '8m', '0755');
  if ('skip' in fs) return t.skip(fs.skip);
  const runs = path.join(fs.mnt, '..', `${path.basename(fs.mnt)}-runs.log`);
  t.after(() => rm(runs, { force: true }));
  const env = { ...ENV, DATA_DIR: path.join(fs.mnt, 'data') };
  const first = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env });
  const done = await first.startJob({ prompt: JSON.stringify({ result: 'kept', runs }) });
  const kept = await first.waitJob(done.body.id);
  assert.equal(kept.text, 'kept');
  // And one left running by a supervisor that died: the read-only store cannot say so.
  const left = await first.startJob({ prompt: JSON.stringify({ sleepMs: 30_000, runs }) });
  await waitFor(async () => (await runsIn(runs)) === 2, { message: 'the second job to run' });
  first.child.kill('SIGKILL');
  await first.exited;
  execFileSync('mount', ['-o', 'remount,ro', fs.mnt]);
  const sup = await startSupervisor(t, { dir: first.dir, claudeBin: fixture('api-cli.mjs'), env });
  const line = sup.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('the job store is not writable'));
  assert.ok(line !== undefined && line.level === 50, 'one error line at start');
  const status = (await sup.request<SupervisorStatus>('GET', '/status')).body;
  assert.equal(status.store.writable, false);
  assert.match(status.store.error ?? '', /READONLY|read-only/i);
  assert.ok(status.warnings.some((w) => w.includes('not writable')));
  const old = await sup.request<JobView>('GET', `/jobs/${kept.id}`);
  assert.equal(old.status, 200);
  assert.equal(old.body.text, 'kept', 'a finished job is never lost');
  const gone = await sup.request<JobView>('GET', `/jobs/${left.body.id}`);
  assert.equal(gone.body.state, 'finished', 'not "running" forever');
  assert.equal(gone.body.reason, 'interrupted');
  const refused = await sup.startJob({ prompt: JSON.stringify({ result: 'new', runs }) });
  assert.equal(refused.status, 503);
  assert.equal((refused.body as unknown as { error: string }).error, 'store_unavailable');
  assert.equal(await runsIn(runs), 2, 'nothing ran on the read-only store');
});

void test('the disk fills while a job runs: its answer is kept in memory and served, new jobs refused; with room again it is written and survives a restart', async (t) => {
  const fs = await tmpfs(t, '2m', '0755');
  if ('skip' in fs) return t.skip(fs.skip);
  const env = { ...ENV, DATA_DIR: path.join(fs.mnt, 'data') };
  const sup = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env });
  // Leave ~96 KiB: room to record the start, not the answer.
  const filler = path.join(fs.mnt, 'filler');
  const st = statfsSync(fs.mnt);
  writeFileSync(filler, Buffer.alloc(Math.max(0, st.bavail * st.bsize - 96 * 1024)));
  const big = 'x'.repeat(400 * 1024);
  const started = await sup.startJob({ prompt: JSON.stringify({ stdout: big }) });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const view = await sup.waitJob(started.body.id);
  assert.equal(view.text?.length, big.length, 'the waiter gets the whole answer');
  assert.equal((await sup.request<JobView>('GET', `/jobs/${view.id}`)).body.text?.length, big.length, 'and GET, from memory');
  await sup.waitForLog((l) => l.msg === 'could not write the finished job; kept in memory until the store takes it');
  const status = (await sup.request<SupervisorStatus>('GET', '/status')).body;
  assert.equal(status.store.writable, false);
  assert.equal(status.store.unsaved, 1);
  assert.equal(status.recentJobs[0]?.id, view.id);
  const refused = await sup.startJob({ prompt: 'no room' });
  assert.equal(refused.status, 503);
  assert.equal((refused.body as unknown as { error: string }).error, 'store_unavailable');
  rmSync(filler);
  // The store is tried again at most every 5 s.
  const next = await waitFor(
    async () => {
      const res = await sup.startJob({ prompt: JSON.stringify({ result: 'room again' }) });
      return res.status === 201 ? res : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 500, message: 'a start to be accepted once there is room' },
  );
  await sup.waitJob(next.body.id);
  assert.equal((await sup.request<SupervisorStatus>('GET', '/status')).body.store.unsaved, 0);
  await sup.stop('SIGTERM');
  const again = await startSupervisor(t, { dir: sup.dir, claudeBin: fixture('api-cli.mjs'), env });
  const stored = await again.request<JobView>('GET', `/jobs/${view.id}`);
  assert.equal(stored.body.text?.length, big.length, 'written once the disk had room');
});
