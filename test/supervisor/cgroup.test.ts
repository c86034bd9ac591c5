// Per-job cgroups against the real kernel, where this machine lets us create them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { test } from 'node:test';
import { detectCgroups, JobCgroup, staleGroups } from '../../supervisor/src/ownership/cgroup.ts';
import { waitFor } from '../support/supervisor-harness.ts';

void test('detects what the machine offers without failing', () => {
  const support = detectCgroups('agent-cockpit-test-probe');
  if (support !== null) {
    assert.ok(['v1-memory', 'v2'].includes(support.kind));
    assert.ok(existsSync(support.parentDir));
    assert.deepEqual(staleGroups(support, 'agent-cockpit-test-probe'), [], 'the probe group is removed');
  }
});

void test('a cgroup v2 job group tracks members and kills them all with cgroup.kill', async (t) => {
  const parentDir = '/sys/fs/cgroup/unified';
  const group = existsSync(`${parentDir}/cgroup.procs`)
    ? JobCgroup.create({ kind: 'v2', parentDir }, `agent-cockpit-test-${process.pid}`, 0)
    : null;
  if (group === null) {
    t.skip(`no writable cgroup v2 hierarchy at ${parentDir}`);
    return;
  }
  const child = spawn('sh', ['-c', 'sleep 0.2; sleep 60 & wait'], { stdio: 'ignore' });
  t.after(async () => {
    group.killAll();
    child.kill('SIGKILL');
    await group.remove();
  });
  assert.equal(group.addPid(child.pid!), true);
  // Children forked after the move are members too.
  await waitFor(() => group.pids().length >= 2, { message: 'sh and its sleeps in the group' });
  group.killAll();
  await once(child, 'exit');
  await waitFor(() => group.pids().length === 0, { message: 'an empty group' });
  assert.equal(await group.remove(), true);
});
