// Process-tree discovery from /proc with real processes: descendants, marked escapees,
// the PID-reuse guard, and what a scan costs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { jobMarkerEntry, markerValue, MARKER_VAR } from '../../supervisor/src/ownership/marker.ts';
import { readStat } from '../../supervisor/src/proc.ts';
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
