// Every way an agent's process can try to outlive its job, against a real supervisor on
// this machine, with cgroups hidden (a tmpfs over /sys/fs/cgroup in a mount namespace, as
// in a container) and available: setsid'd double forks, plain `&`, nohup, re-execs with
// an empty environment, a fork storm, leaving the job's cgroup, the supervisor SIGKILLed
// mid-job, and a tree racing past the memory ceiling. Each process the fixture leaves
// carries a token in its command line, so "nothing is left" is checked whatever it did to
// its environment. docker/ runs the same cases in the image (test/deploy/container.test.ts).
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { JobView, SupervisorStatus } from '../../common/protocol.ts';
import { ensureUser, removeUser, userId } from '../support/deploy-harness.ts';
import { findProcesses } from '../support/processes.ts';
import { makeTempDir, stageFixtures, startSupervisor, waitFor, type Supervisor } from '../support/supervisor-harness.ts';

const isRoot = process.getuid?.() === 0;
/** Hides every cgroup hierarchy from the supervisor, as a container's read-only mounts do. */
const HIDE_CGROUPS = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs cgroup-hidden /sys/fs/cgroup && exec "$@"', 'hide-cgroups'];
const TEST_AGENT = 'cockpit-agent-test';
const MIB = 1024 * 1024;

const newToken = (): string => String(randomInt(3_000_000, 3_900_000));
const left = (token: string) => findProcesses({ needle: `${token}.` });

async function gone(token: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (left(token).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(left(token), [], `still running ${withinMs} ms later`);
}

/** Polls the summed RSS of the processes whose command line holds `needle`, every 5 ms;
 *  stop() gives the first time (epoch ms) it was over `limitBytes`, or null. */
function watchCrossing(needle: string, limitBytes: number): { stop: () => Promise<number | null> } {
  let pids: number[] = [];
  let listedAt = 0;
  let crossedAt: number | null = null;
  const timer = setInterval(() => {
    if (crossedAt !== null) return;
    if (Date.now() - listedAt > 50) {
      pids = findProcesses({ needle }).map((p) => p.pid);
      listedAt = Date.now();
    }
    let rss = 0;
    for (const pid of pids) {
      try {
        rss += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
      } catch {
        // gone
      }
    }
    if (rss > limitBytes) crossedAt = Date.now();
  }, 5);
  return {
    stop: async () => {
      clearInterval(timer);
      return crossedAt;
    },
  };
}

interface Setup {
  name: string;
  hideCgroups: boolean;
  /** Extra supervisor settings; the fixture CLI is staged where the agent can run it. */
  env: (t: TestContext) => Record<string, string | undefined>;
  expect: { subreaper: boolean; agentUid: boolean; contained: boolean };
}

const rootAgent = (): Record<string, string | undefined> => ({ IS_SANDBOX: '1', AGENT_USER: undefined });

const setups: Setup[] = [
  { name: 'cgroups hidden, agent as root: the reaper alone', hideCgroups: true, env: rootAgent, expect: { subreaper: true, agentUid: false, contained: false } },
  { name: 'cgroups available, agent as root: reaper and cgroup', hideCgroups: false, env: rootAgent, expect: { subreaper: true, agentUid: false, contained: false } },
  {
    name: 'cgroups hidden, no reaper, a dedicated agent user: the uid alone',
    hideCgroups: true,
    env: (t) => {
      if (ensureUser(TEST_AGENT, { home: false })) t.after(() => removeUser(TEST_AGENT));
      return { AGENT_USER: TEST_AGENT, AGENT_USER_DEDICATED: '1', IS_SANDBOX: undefined, REAPER_BIN: '/nonexistent/agent-cockpit-reaper' };
    },
    expect: { subreaper: false, agentUid: true, contained: true },
  },
];

/** A supervisor for one setup, with the fixture staged in a folder the agent user can read. */
async function start(t: TestContext, setup: Setup, extra: Record<string, string> = {}, dir?: string): Promise<Supervisor> {
  const base = dir ?? (await makeTempDir(t, 'own-'));
  const cli = stageFixtures(base, 'cli-ownership.sh', 'alloc-fast.mjs');
  return startSupervisor(t, {
    dir: base,
    claudeBin: cli,
    wrapper: setup.hideCgroups ? HIDE_CGROUPS : undefined,
    env: { ...setup.env(t), ...extra },
  });
}

function skipReason(setup: Setup): string | false {
  if (!isRoot) return 'needs root: mount namespaces, other users, cgroups';
  return setup.hideCgroups || process.platform === 'linux' ? false : 'Linux only';
}

for (const setup of setups) {
  void test(`ownership, ${setup.name}`, { skip: skipReason(setup) }, async (t) => {
    await t.test('/status shows the layers this deployment has, and says when a tree could escape', async (t) => {
      const sup = await start(t, setup);
      const status = (await sup.request<SupervisorStatus>('GET', '/status')).body;
      assert.equal(status.ownership.subreaper, setup.expect.subreaper);
      assert.equal(status.ownership.agentUid !== null, setup.expect.agentUid);
      if (setup.expect.agentUid) assert.equal(status.ownership.agentUid, userId(TEST_AGENT));
      assert.equal(status.ownership.contained, setup.expect.contained);
      if (setup.hideCgroups) assert.equal(status.ownership.cgroup, null);
      assert.equal(status.warnings.some((w) => /escape|outlive/.test(w)), !setup.expect.contained, status.warnings.join('\n'));
      const missing = sup.logs.filter((l) => l.level === 40 && typeof l.layer === 'string').map((l) => l.layer);
      if (!setup.expect.subreaper) assert.ok(missing.includes('subreaper'), 'a missing reaper is a warn line');
      if (setup.hideCgroups) assert.ok(missing.includes('cgroup'), 'missing cgroups are a warn line');
    });

    await t.test('leftovers of a successful job (setsid double fork, &, nohup, env -i) are gone by the answer and counted', async (t) => {
      const sup = await start(t, setup);
      const token = newToken();
      const started = await sup.startJob({ prompt: `leftovers ${token}` });
      const job = await sup.waitJob(started.body.id);
      assert.equal(job.reason, 'exit', job.errorMessage ?? '');
      assert.equal(job.exitCode, 0);
      await gone(token, 1500);
      assert.ok(job.leftoversKilled >= 4, `leftoversKilled ${job.leftoversKilled}`);
    });

    await t.test('a timed-out fork storm with an empty-environment escapee leaves nothing', async (t) => {
      const sup = await start(t, setup, { COMMAND_TIMEOUT_MS: '2500', KILL_GRACE_MS: '1000' });
      const token = newToken();
      const started = await sup.startJob({ prompt: `storm ${token}` });
      await waitFor(() => left(token).length >= 300, { timeoutMs: 5000, message: 'the storm' });
      const job = await sup.waitJob(started.body.id);
      assert.equal(job.reason, 'timeout');
      assert.ok(job.peakProcessCount >= 200, `peakProcessCount ${job.peakProcessCount}`);
      await gone(token, 1000);
    });

    await t.test('the supervisor SIGKILLed mid-job: nothing of the old job 2 s after the restart, the next job runs alone', async (t) => {
      const dir = await makeTempDir(t, 'own-');
      const first = await start(t, setup, {}, dir);
      const old = newToken();
      await first.startJob({ prompt: `hang ${old}` });
      await waitFor(() => left(old).length >= 3, { message: "the old job's processes" });
      first.child.kill('SIGKILL');
      await first.exited;
      const second = await start(t, setup, {}, dir);
      await gone(old, 2000);
      const next = newToken();
      const started = await second.startJob({ prompt: `hang ${next}` });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      await waitFor(() => left(next).length >= 3, { message: "the new job's processes" });
      assert.deepEqual(left(old), [], 'the new job runs alone');
      const cancelled = await second.request<JobView>('POST', `/jobs/${started.body.id}/cancel`);
      assert.equal(cancelled.body.reason, 'cancelled');
      await gone(next, 1000);
    });

    await t.test('past the memory ceiling the tree is killed at once (KILL_GRACE_MS=5000) and the peak is reported', async (t) => {
      const limitMb = 500;
      const sup = await start(t, setup, { MEMORY_LIMIT_MB: String(limitMb), KILL_GRACE_MS: '5000' });
      const token = newToken();
      const log = join(sup.dir, 'workspace', `alloc-${token}.log`);
      const started = await sup.startJob({ prompt: `alloc ${token} ${log}` });
      // Watch the tree from here, every 5 ms: when it crossed the ceiling.
      const crossing = watchCrossing(`${token}.`, limitMb * MIB);
      const job = await sup.waitJob(started.body.id, 30_000);
      const crossedAt = await crossing.stop();
      assert.equal(job.reason, 'memory_limit', job.errorMessage ?? '');
      await gone(token, 100);
      // The watcher polls every 5 ms: a sample that lands just past the crossing (one CI run:
      // 0.2 MiB over) kills the tree before its next poll. Then the supervisor's own figure,
      // over the ceiling, is what saw it cross, and the tree was gone within that poll.
      const sampledOver = /over the limit of/.test(job.errorMessage ?? '') && job.peakRssBytes > limitMb * MIB;
      assert.ok(
        crossedAt !== null || sampledOver || /kernel/.test(job.errorMessage ?? ''),
        `seen crossing the ceiling (or the kernel ended it first): ${job.errorMessage} peak ${job.peakRssBytes}`,
      );
      const lateMs = crossedAt === null ? 0 : Date.parse(job.endedAt!) - crossedAt;
      console.log(`${setup.name}: gone ${lateMs} ms after crossing ${limitMb} MiB; peak ${(job.peakRssBytes / MIB).toFixed(0)} MiB; ${job.errorMessage}`);
      assert.ok(lateMs <= 1500, `the tree was gone ${lateMs} ms after crossing the ceiling`);
      assert.ok(job.peakRssBytes >= limitMb * MIB, `peakRssBytes ${job.peakRssBytes}`);
    });

    // Only a root agent can move itself out of its cgroup.
    if (setup.hideCgroups || setup.expect.agentUid) return;
    await t.test('an agent that leaves the job cgroup and drops its environment is still ended', async (t) => {
      const sup = await start(t, setup);
      const status = (await sup.request<SupervisorStatus>('GET', '/status')).body;
      if (status.ownership.cgroup === null) {
        t.skip('no writable cgroup hierarchy on this machine');
        return;
      }
      const token = newToken();
      const started = await sup.startJob({ prompt: `cgroup ${token}` });
      const job = await sup.waitJob(started.body.id);
      assert.equal(job.reason, 'exit', job.errorMessage ?? '');
      assert.doesNotMatch(job.stderrTail, /still in a job cgroup/, 'the fixture really left its cgroup');
      await gone(token, 1500);
      assert.ok(job.leftoversKilled >= 1);
    });
  });
}
