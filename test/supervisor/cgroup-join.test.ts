// How a job's CLI gets into its cgroup, against a real supervisor and reaper on this
// machine (hybrid cgroups: v1 memory controller and a v2 hierarchy without controllers).
// On cgroup v2 the reaper makes the CLI in its group (clone3 with CLONE_INTO_CGROUP): a
// move after fork waits for an RCU grace period (~8 ms here) before the CLI runs. Where
// clone3 is refused (test/fixtures/no-clone3.c answers ENOSYS, as Docker's and podman's
// default seccomp profiles do), and on v1, the CLI writes itself into cgroup.procs before
// its exec. Either way it is a member before it runs a line, and /status says which.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { SupervisorStatus } from '../../common/protocol.ts';
import { hasCgroupV2, v1MemoryMounts, v2OnlyWrapper } from '../support/cgroup-mounts.ts';
import { fixture, makeTempDir, stageFixtures, startSupervisor } from '../support/supervisor-harness.ts';

const isRoot = process.getuid?.() === 0;

const v1Memory = v1MemoryMounts();
const hasV2 = hasCgroupV2();
/** A mount namespace without the v1 memory controller: the supervisor then takes cgroup v2. */
const V2_ONLY = v2OnlyWrapper();

function skipReason(needsV1: boolean): string | false {
  if (!isRoot) return 'needs root: mount namespaces and cgroups';
  if (!hasV2) return 'no cgroup v2 hierarchy on this machine';
  if (needsV1 && v1Memory.length === 0) return 'no cgroup v1 memory controller on this machine';
  return false;
}

/** test/fixtures/no-clone3.c, compiled for this test. */
async function noClone3(t: TestContext): Promise<string> {
  const dir = await makeTempDir(t, 'noclone3-');
  const bin = join(dir, 'no-clone3');
  const cc = spawnSync('gcc', ['-O2', '-Wall', '-o', bin, fixture('no-clone3.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `gcc failed: ${cc.stderr}`);
  return bin;
}

async function run(t: TestContext, wrapper: string[] | undefined): Promise<{ status: SupervisorStatus; groups: string[]; warnings: string[] }> {
  const dir = await makeTempDir(t, 'cgjoin-');
  const sup = await startSupervisor(t, {
    dir,
    claudeBin: stageFixtures(dir, 'cli-cgroup.sh'),
    wrapper,
    env: { IS_SANDBOX: '1', AGENT_USER: undefined },
  });
  const status = (await sup.request<SupervisorStatus>('GET', '/status')).body;
  const started = await sup.startJob({ prompt: 'where am I' });
  const job = await sup.waitJob(started.body.id);
  assert.equal(job.reason, 'exit', job.errorMessage ?? '');
  const groups = (job.text ?? '').split(';').filter((g) => g !== '');
  const warnings = sup.logs.filter((l) => l.level === 40).map((l) => String(l.msg));
  return { status, groups, warnings };
}

const jobGroup = (groups: string[], prefix: string): string | undefined => groups.find((g) => g.startsWith(prefix) && /\/agent-cockpit-[^/]+$/.test(g));

void test('cgroup v2: the CLI is born in its job group (clone3), no warning', { skip: skipReason(false) }, async (t) => {
  const { status, groups, warnings } = await run(t, V2_ONLY);
  assert.equal(status.cgroup.kind, 'v2');
  assert.equal(status.cgroup.join, 'clone3');
  assert.ok(jobGroup(groups, '0::'), `the CLI's first command ran in the job group: ${groups.join(' | ')}`);
  assert.deepEqual(
    status.warnings.filter((w) => /clone3/.test(w)),
    [],
  );
  assert.deepEqual(
    warnings.filter((w) => /clone3/.test(w)),
    [],
  );
});

void test('cgroup v2 with clone3 refused (ENOSYS, as under a default seccomp profile): the CLI writes itself in, and /status and the log say so', { skip: skipReason(false) }, async (t) => {
  const wrapper = [...V2_ONLY, await noClone3(t)];
  const { status, groups, warnings } = await run(t, wrapper);
  assert.equal(status.cgroup.kind, 'v2');
  assert.equal(status.cgroup.join, 'write');
  assert.ok(jobGroup(groups, '0::'), `still a member before its first command: ${groups.join(' | ')}`);
  assert.ok(
    status.warnings.some((w) => /CLONE_INTO_CGROUP is refused here \(ENOSYS/.test(w)),
    status.warnings.join('\n'),
  );
  assert.ok(
    warnings.some((w) => /CLONE_INTO_CGROUP is refused here/.test(w)),
    'a warn line at start',
  );
});

void test('cgroup v1 memory: the CLI writes itself in (clone3 cannot place into v1), no warning', { skip: skipReason(true) }, async (t) => {
  const { status, groups } = await run(t, undefined);
  assert.equal(status.cgroup.kind, 'v1-memory');
  assert.equal(status.cgroup.join, 'write');
  assert.ok(
    groups.some((g) => /:memory:.*\/agent-cockpit-[^/]+$/.test(g)),
    `the CLI's first command ran in the job's memory group: ${groups.join(' | ')}`,
  );
  assert.deepEqual(
    status.warnings.filter((w) => /clone3/.test(w)),
    [],
  );
});
