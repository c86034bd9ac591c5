// The next job's launch is made ahead of its request (supervisor/src/job/launch.ts): its
// reaper (reaper.c --warm) waits, forked and in its cgroup, for the CLI's arguments on fd 5.
// Real supervisors, real reapers, real signals.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Readable, Writable } from 'node:stream';
import type { JobView } from '../../common/protocol.ts';
import { REAPER_NAME, warmSpec } from '../../supervisor/src/ownership/reaper.ts';
import { listPids, readCmdline, readStat } from '../../supervisor/src/proc.ts';
import { fixture, markedPids, REPO_ROOT, startSupervisor, waitFor } from '../support/supervisor-harness.ts';

const REAPER = join(REPO_ROOT, 'dist', REAPER_NAME);

/** Live warm reapers of one supervisor (its children: a waiting reaper's child has the
 *  same command line), with the job id each is for. */
function warmReapers(sup: { instanceTag: string; pid: number }): { pid: number; jobId: string; cgroupDir: string | null }[] {
  const { instanceTag } = sup;
  const found: { pid: number; jobId: string; cgroupDir: string | null }[] = [];
  for (const pid of listPids()) {
    const argv = readCmdline(pid);
    if (argv === null || !argv[0]?.endsWith(REAPER_NAME) || !argv.includes('--warm')) continue;
    const tag = argv[argv.indexOf('--tag') + 1] ?? '';
    const stat = readStat(pid);
    if (!tag.startsWith(`${instanceTag}:`) || stat === null || stat.state === 'Z' || stat.ppid !== sup.pid) continue;
    const cgroupAt = argv.indexOf('--cgroup');
    found.push({ pid, jobId: tag.slice(instanceTag.length + 1), cgroupDir: cgroupAt === -1 ? null : argv[cgroupAt + 1]! });
  }
  return found;
}

function childrenOf(pid: number): number[] {
  return listPids().filter((p) => readStat(p)?.ppid === pid);
}

void test('the next job waits ready: the job runs under the reaper made before its request, and another is made after it', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-sleep.sh') });
  const [warm] = await waitFor(() => (warmReapers(sup).length === 1 ? warmReapers(sup) : null), { message: 'one warm reaper' });
  // Waiting: its one child has not run the CLI yet (it is still the reaper's image).
  const [waiting] = await waitFor(() => (childrenOf(warm!.pid).length === 1 ? childrenOf(warm!.pid) : null), { message: "the warm reaper's child" });
  assert.equal(readCmdline(waiting!)?.[0], readCmdline(warm!.pid)?.[0]);
  const groupDir = warm!.cgroupDir;
  if (groupDir !== null) assert.ok(existsSync(groupDir), 'its cgroup is made before the request');

  const started = await sup.startJob({ prompt: 'work' });
  assert.equal(started.status, 201);
  assert.equal(started.body.id, warm!.jobId, 'the job takes the prepared id');
  const spawnLine = await sup.waitForLog((l) => l.msg === 'spawn' && l.jobId === warm!.jobId);
  assert.equal(spawnLine.pid, waiting, 'the CLI is the child that waited, now exec\'d');
  assert.equal(readStat(waiting!)?.ppid, warm!.pid);
  assert.deepEqual(warmReapers(sup).map((w) => w.pid), [warm!.pid], 'no second one while a job runs');

  const cancelled = await sup.request<JobView>('POST', `/jobs/${warm!.jobId}/cancel`);
  assert.equal(cancelled.body.reason, 'cancelled');
  assert.deepEqual(markedPids(sup.instanceTag, warm!.jobId), []);
  if (groupDir !== null) assert.equal(existsSync(groupDir), false, "the job's cgroup is removed");
  const [next] = await waitFor(() => (warmReapers(sup).length === 1 ? warmReapers(sup) : null), { message: 'the next warm reaper' });
  assert.notEqual(next!.jobId, warm!.jobId);
});

void test('a prepared reaper someone killed: the job starts without it, says so, and its waiting child is gone', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-echo.mjs') });
  const [warm] = await waitFor(() => (warmReapers(sup).length === 1 ? warmReapers(sup) : null), { message: 'one warm reaper' });
  process.kill(warm!.pid, 'SIGKILL');
  await waitFor(() => readStat(warm!.pid) === null || readStat(warm!.pid)?.state === 'Z', { message: 'the reaper to die' });
  const started = await sup.startJob({ prompt: 'hello' });
  assert.equal(started.status, 201);
  assert.notEqual(started.body.id, warm!.jobId);
  const done = await sup.waitJob(started.body.id);
  assert.equal(done.reason, 'exit');
  assert.match(done.text ?? '', /^sha256=/);
  assert.ok(sup.logs.some((l) => l.level === 40 && l.jobId === warm!.jobId && /prepared reaper was gone/.test(String(l.msg))), 'a warn line names it');
  // Its child waited for a spec that never came: the discard ends it.
  await waitFor(() => markedPids(sup.instanceTag, warm!.jobId).length === 0, { message: "the dead reaper's child to exit" });
});

void test('idle shutdown and an idle supervisor killed: the waiting reaper and its child go too', async (t) => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const sup = await startSupervisor(t, { claudeBin: fixture('cli-echo.mjs') });
    const [warm] = await waitFor(() => (warmReapers(sup).length === 1 ? warmReapers(sup) : null), { message: 'one warm reaper' });
    const groupDir = warm!.cgroupDir;
    sup.child.kill(signal);
    const exit = await sup.exited;
    if (signal === 'SIGTERM') assert.equal(exit.code, 0);
    // SIGKILL: the control pipe's EOF tells the reaper; nobody else does.
    await waitFor(() => markedPids(sup.instanceTag).length === 0, { timeoutMs: 3000, message: `nothing of the instance left after ${signal}` });
    // A clean shutdown removes the prepared cgroup; after SIGKILL the next start's sweep does.
    if (signal === 'SIGTERM' && groupDir !== null) assert.equal(existsSync(groupDir), false, 'the prepared cgroup is removed');
  }
});

/** Run the reaper binary in --warm mode; hand it `spec` on fd 5 (and close it, unless
 *  `keepOpen`); collect fd 1 and fd 3. */
async function runWarm(base: string[], spec: Buffer, keepOpen = false): Promise<{ stdout: string; status: string[] }> {
  const child = spawn(REAPER, ['--warm', '--tag', 'test:warm', '--', ...base], { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let status = '';
  (child.stdout as Readable).on('data', (c: Buffer) => (stdout += c.toString()));
  (child.stdio[3] as Readable).on('data', (c: Buffer) => (status += c.toString()));
  const specPipe = (child.stdio as unknown as Writable[])[5]!;
  specPipe.on('error', () => undefined);
  if (keepOpen) specPipe.write(spec);
  else specPipe.end(spec);
  const lines = (): string[] => status.split('\n').filter(Boolean);
  await waitFor(() => lines().some((l) => /^(exit|signal|error) /.test(l)), { message: 'the warm child to finish' });
  await waitFor(() => lines().some((l) => /^(exit|signal) /.test(l)), { message: 'its end' });
  (child.stdio[4] as Writable).end();
  specPipe.destroy();
  await new Promise((resolve) => child.once('exit', resolve));
  return { stdout, status: lines() };
}

void test('reaper --warm: the spec appends arguments and sets the cwd; anything else is "error spec", and nothing runs', async () => {
  const base = ['/bin/sh', '-c', 'pwd; printf "[%s]" "$@"', 'sh', 'fixed'];
  const ok = await runWarm(base, warmSpec('/tmp', ['a b', '', 'c']));
  assert.equal(ok.stdout, '/tmp\n[fixed][a b][][c]');
  assert.match(ok.status[0]!, /^pid \d+$/);
  assert.equal(ok.status[1], 'exit 0 alone');
  // A whole spec is enough: the exec does not wait for the supervisor to close the pipe.
  const open = await runWarm(base, warmSpec('/tmp', ['x']), true);
  assert.equal(open.stdout, '/tmp\n[fixed][x]');
  assert.equal(open.status[1], 'exit 0 alone');

  for (const [name, spec, errno] of [
    ['empty (the supervisor gave it up)', Buffer.alloc(0), 22],
    ['a count that does not match', Buffer.from('/tmp\u00002\u0000one\u0000'), 22],
    ['no final NUL', Buffer.from('/tmp\u00001\u0000one'), 22],
    ['more arguments than its count', Buffer.from('/tmp\u00001\u0000one\u0000two\u0000'), 22],
    ['a count that is not a number', Buffer.from('/tmp\u0000x\u0000one\u0000'), 22],
    ['a cwd that does not exist', warmSpec('/nonexistent-dir', []), 2],
  ] as const) {
    const failed = await runWarm(base, spec);
    assert.equal(failed.stdout, '', `${name}: nothing ran`);
    assert.deepEqual(failed.status, [`error spec ${errno}`, 'exit 127 alone'], name);
  }
});

void test('reaper: its end line says "alone" only when nothing the program started is left below it', async () => {
  const run = async (script: string): Promise<{ status: string[]; leftover: number | null }> => {
    const child = spawn(REAPER, ['--tag', 'test:alone', '--', '/bin/sh', '-c', script], { stdio: ['ignore', 'pipe', 'ignore', 'pipe', 'pipe'] });
    let status = '';
    let stdout = '';
    (child.stdio[3] as Readable).on('data', (c: Buffer) => (status += c.toString()));
    (child.stdout as Readable).on('data', (c: Buffer) => (stdout += c.toString()));
    const lines = (): string[] => status.split('\n').filter(Boolean);
    await waitFor(() => lines().some((l) => /^(exit|signal) /.test(l)), { message: 'the program to end' });
    const leftover = stdout.trim() === '' ? null : Number(stdout.trim());
    if (leftover !== null) assert.equal(readStat(leftover)?.ppid, child.pid, 'the orphan became the reaper\'s');
    (child.stdio[4] as Writable).end();
    await new Promise((resolve) => child.once('exit', resolve));
    return { status: lines(), leftover };
  };
  const alone = await run('exit 3');
  assert.equal(alone.status.at(-1), 'exit 3 alone');
  const orphaned = await run('sleep 30 & echo $!; exit 4');
  assert.equal(orphaned.status.at(-1), 'exit 4', 'its orphan is left: not alone');
  await waitFor(() => readStat(orphaned.leftover!) === null, { message: 'the orphan killed when the reaper was let go' });
  const signalled = await run('kill -TERM $$');
  assert.equal(signalled.status.at(-1), 'signal 15 alone');
});
