// Signals: a clean shutdown mid-job, a second signal, and the supervisor as PID 1 of a
// new PID namespace (where the kernel gives it no default signal actions).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ErrorBody, JobView, SupervisorStatus } from '../../common/protocol.ts';
import { fixture, markedPids, startSupervisor, waitFor } from '../support/supervisor-harness.ts';

void test('SIGTERM mid-job ends the job with reason shutdown, leaves nothing and exits 0 in time', async (t) => {
  const grace = 1500;
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-tree.sh'), env: { KILL_GRACE_MS: String(grace) } });
  const started = await sup.startJob({ prompt: 'work' });
  const id = started.body.id;
  await waitFor(() => markedPids(sup.instanceTag, id).length >= 4, { message: 'the fixture tree' });
  const waiting = sup.request<JobView>('GET', `/jobs/${id}/wait?timeoutMs=30000`);
  const signalledAt = Date.now();
  sup.child.kill('SIGTERM');
  await sup.waitForLog((l) => l.msg === 'shutdown');
  // During the grace period (a TERM-ignoring child holds it open) new jobs are refused.
  const refused = await sup.request<ErrorBody>('POST', '/jobs', { prompt: 'late' });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error, 'shutting_down');
  const answer = await waiting;
  assert.equal(answer.status, 200);
  assert.equal(answer.body.reason, 'shutdown');
  const exit = await sup.exited;
  const elapsed = Date.now() - signalledAt;
  assert.equal(exit.code, 0);
  assert.ok(elapsed < grace + 2000, `exited after ${elapsed} ms`);
  assert.deepEqual(markedPids(sup.instanceTag), []);
  assert.equal(existsSync(sup.socketPath), false, 'the socket is removed');
});

void test('a second signal exits at once with a non-zero code and kills the tree', async (t) => {
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-tree.sh'), env: { KILL_GRACE_MS: '20000' } });
  const started = await sup.startJob({ prompt: 'work' });
  await waitFor(() => markedPids(sup.instanceTag, started.body.id).length >= 4, { message: 'the fixture tree' });
  sup.child.kill('SIGTERM');
  await sup.waitForLog((l) => l.msg === 'shutdown');
  sup.child.kill('SIGINT');
  const exit = await sup.exited;
  assert.equal(exit.code, 130);
  assert.ok(sup.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('second signal')));
  await waitFor(() => markedPids(sup.instanceTag).length === 0, { timeoutMs: 1000, message: 'the tree to be gone' });
});

/** The pid (in our namespace) of the child `unshare --fork` started. */
function childOf(pid: number): number | null {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
    return children.length > 0 ? Number(children[0]) : null;
  } catch {
    return null;
  }
}

for (const withReaper of [true, false]) {
  const name = withReaper
    ? "as PID 1 of a PID namespace it warns, the jobs' reapers leave no zombie, and it shuts down on SIGTERM"
    : 'as PID 1 without the reaper it warns, reports zombies and shuts down on SIGTERM';
  void test(name, async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('unshare --pid needs root');
      return;
    }
    if (!existsSync('/usr/bin/unshare')) {
      t.skip('unshare (util-linux) is not installed');
      return;
    }
    const sup = await startSupervisor(t, {
      claudeBin: fixture('cli-leftover.sh'),
      wrapper: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'],
      env: withReaper ? {} : { REAPER_BIN: '/nonexistent/agent-cockpit-reaper' },
    });
    const startup = sup.logs.find((l) => l.msg === 'startup');
    assert.equal(startup?.pid1, true);
    await sup.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('Running as PID 1'));

    // Leftovers of a job: below its reaper they are reaped there; without one they are
    // reparented to the supervisor and, once killed, stay zombies.
    const started = await sup.startJob({ prompt: 'leave something' });
    const job = await sup.waitJob(started.body.id);
    assert.equal(job.reason, 'exit');
    assert.equal(job.leftoversKilled, 2);
    const status = await sup.request<SupervisorStatus>('GET', '/status');
    assert.equal(status.body.pid1, true);
    assert.equal(status.body.pid, 1);
    assert.equal(status.body.ownership.subreaper, withReaper);
    assert.match(status.body.warnings.join(' '), /tini|--init|s6-svscan/);
    if (withReaper) assert.equal(status.body.zombies, 0, 'the reaper reaped them');
    else assert.ok(status.body.zombies >= 1, `zombies: ${status.body.zombies}`);

    const inner = await waitFor(() => childOf(sup.pid), { message: 'the namespaced supervisor' });
    process.kill(inner, 'SIGTERM');
    const exit = await sup.exited;
    assert.equal(exit.code, 0);
    assert.ok(sup.logs.some((l) => l.msg === 'shutdown complete'));
  });
}

