// Process-tree discovery from /proc with real processes: descendants, marked escapees,
// the PID-reuse guard, the kept /proc descriptors, and what a scan costs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { once } from 'node:events';
import { test } from 'node:test';
import { jobMarkerEntry, markerValue, MARKER_VAR } from '../../supervisor/src/ownership/marker.ts';
import { listPids, readStat } from '../../supervisor/src/proc.ts';
import { ProcTable, procTable } from '../../supervisor/src/proc-table.ts';
import { UsageMeter } from '../../supervisor/src/job/usage.ts';
import { signalProcess, terminateTree } from '../../supervisor/src/ownership/terminate.ts';
import { ProcessTree } from '../../supervisor/src/ownership/tree.ts';
import { waitFor } from '../support/supervisor-harness.ts';

function startTree(script: string, tag: string, jobId: string) {
  const child = spawn('sh', ['-c', script], {
    env: { ...process.env, [MARKER_VAR]: markerValue(tag, jobId) },
    detached: true,
    stdio: 'ignore',
  });
  const tree = new ProcessTree({ rootPid: child.pid!, marker: { entry: jobMarkerEntry(tag, jobId), exact: true } });
  return { child, tree };
}

void test('finds descendants and setsid escapees; terminate leaves nothing', async (t) => {
  const { child, tree } = startTree('setsid sh -c "sleep 60 & exit 0" </dev/null >/dev/null 2>&1 & sleep 60 & sleep 60', 'treetest', 'a');
  t.after(() => void terminateTree(tree, { graceMs: 0 }));
  // The escapee's parent exits: it is reparented away (not a descendant any more) and
  // still a member through the marker.
  await waitFor(() => {
    const live = tree.scan();
    const pids = new Set(live.map((p) => p.pid));
    return live.length >= 4 && live.some((p) => p.pid !== child.pid && !pids.has(p.ppid));
  }, { message: 'sh, two sleeps and the reparented escapee' });
  const outcome = await terminateTree(tree, { graceMs: 1000, firstPid: child.pid });
  assert.equal(outcome.remaining, 0);
  assert.equal(outcome.forced, false);
  assert.ok(outcome.processesKilled >= 4);
  assert.deepEqual(tree.scan(), []);
});

void test('never signals a pid whose start time changed (PID reuse guard)', async (t) => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const stat = await waitFor(() => readStat(child.pid!));
  assert.equal(signalProcess({ pid: stat.pid, startTime: stat.startTime + 1 }, 'SIGKILL'), false);
  assert.equal(readStat(child.pid!)?.state !== undefined, true, 'still alive');
  assert.equal(signalProcess(stat, 'SIGKILL'), true);
});

void test('sampling a 100-process tree costs well under 1% of a core at one sample per second', async (t) => {
  const { tree } = startTree('for i in $(seq 100); do sleep 60 & done; wait', 'treetest', 'cost');
  t.after(() => void terminateTree(tree, { graceMs: 0 }));
  await waitFor(() => tree.scan().length >= 101, { message: '101 processes' });
  const meter = new UsageMeter();
  const rounds = 50;
  const before = process.cpuUsage();
  for (let i = 0; i < rounds; i++) meter.update(tree.scan(), Date.now());
  const used = process.cpuUsage(before);
  const perSampleMs = (used.user + used.system) / 1000 / rounds;
  console.log(`one sample of a 101-process tree: ${perSampleMs.toFixed(2)} ms of CPU (${(perSampleMs / 10).toFixed(2)}% of a core at 1/s)`);
  assert.ok(perSampleMs < 10, `${perSampleMs} ms per sample`);
});

/** This process's open descriptors on /proc/PID/stat of `pid`. */
function statFdsOf(pid: number): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `/proc/${pid}/stat`) n += 1;
    } catch {
      // the readdir's own descriptor, closed by now
    }
  }
  return n;
}

void test('a kept /proc/PID/stat descriptor reads as gone once its process is reaped, never as the next holder of the pid', async () => {
  // The kernel fact the table's identity rests on: the descriptor names the process.
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const fd = openSync(`/proc/${child.pid}/stat`, 'r');
  try {
    assert.ok(readSync(fd, Buffer.alloc(4096), 0, 4096, 0) > 0);
    child.kill('SIGKILL');
    await once(child, 'exit');
    await waitFor(() => readStat(child.pid!) === null, { message: 'reaped' });
    assert.throws(() => readSync(fd, Buffer.alloc(4096), 0, 4096, 0), { code: 'ESRCH' });
  } finally {
    closeSync(fd);
  }
});

void test('the process table keeps one descriptor per process, reads through it, and closes it when the process goes', async (t) => {
  // The supervisor's own table: the only one in this process (the trees above scan through
  // it too, so a second table would make the descriptor counts two).
  const table = procTable;
  t.after(() => table.close());
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await waitFor(() => readStat(child.pid!));
  const first = table.scan().find((s) => s.pid === child.pid);
  assert.equal(first?.startTime, readStat(child.pid!)?.startTime);
  assert.equal(statFdsOf(child.pid!), 1, 'one kept descriptor');
  // Read again through the kept one: the same process, its state current.
  process.kill(child.pid!, 'SIGSTOP');
  await waitFor(() => table.scan().find((s) => s.pid === child.pid)?.state === 'T', { message: 'stopped, seen through the kept descriptor' });
  assert.equal(statFdsOf(child.pid!), 1, 'still one descriptor');
  const userSpace = listPids().filter((p) => !kernelThreadPids().has(p)).length;
  assert.ok(table.keptCount >= userSpace - 5 && table.keptCount <= userSpace + 5, `about one per process of user space (${table.keptCount} of ${userSpace})`);
  child.kill('SIGKILL');
  await once(child, 'exit');
  await waitFor(() => readStat(child.pid!) === null, { message: 'reaped' });
  assert.equal(table.scan().some((s) => s.pid === child.pid), false);
  assert.equal(statFdsOf(child.pid!), 0, 'its descriptor closed');
});

/** Kernel threads now, from their own stat lines (ppid 2, kthreadd, where kthreadd is pid 2
 *  of this pid namespace); none in a container's. */
function kernelThreadPids(): Set<number> {
  const kthreadd = readFileOrNull('/proc/2/stat');
  if (kthreadd === null || !/^2 \(kthreadd\) /.test(kthreadd)) return new Set();
  return new Set(listPids().filter((p) => readStat(p)?.ppid === 2));
}

function readFileOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

void test('the process table leaves kernel threads out (none is a job\'s), and nothing else', (t) => {
  const table = new ProcTable();
  t.after(() => table.close());
  const kernel = kernelThreadPids();
  if (kernel.size === 0) t.diagnostic('kthreadd is not in this pid namespace (a container): no kernel thread to leave out');
  const scanned = new Set(table.scan().map((s) => s.pid));
  const after = kernelThreadPids();
  assert.ok(scanned.has(process.pid), 'this process is in it');
  if (kernel.size > 0) assert.ok(scanned.has(2), 'kthreadd itself is read (a process like any, not its own child)');
  // Kernel threads come and go (kworkers): those that were one both before and after.
  const stayed = [...kernel].filter((p) => after.has(p) && p !== 2);
  assert.deepEqual(stayed.filter((p) => scanned.has(p)), [], 'no kernel thread in the scan');
  const users = listPids().filter((p) => !after.has(p) && !kernel.has(p) && readStat(p) !== null);
  const missing = users.filter((p) => !scanned.has(p));
  assert.ok(missing.length <= 3, `every process of user space is (missing: ${missing.join(', ')}; they may have started since)`);
});

void test('past its limit the table reads processes the plain way, and finds them all the same', () => {
  const limited = new ProcTable(3);
  const all = new ProcTable();
  try {
    const a = new Set(limited.scan().map((s) => s.pid));
    const b = new Set(all.scan().map((s) => s.pid));
    assert.equal(limited.keptCount, 3);
    assert.ok(a.has(process.pid) && b.has(process.pid));
    // Processes come and go on a shared machine: the two lists agree but for those.
    const differ = [...a].filter((p) => !b.has(p)).length + [...b].filter((p) => !a.has(p)).length;
    assert.ok(differ <= 4, `scans agree (${differ} differ)`);
  } finally {
    limited.close();
    all.close();
  }
});
