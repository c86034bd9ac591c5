// Startup: configuration errors, the root rule, the socket's mode, stale and live
// sockets, and the leftovers of a supervisor that died mid-job.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SupervisorStatus } from '../../common/protocol.ts';
import { fixture, makeTempDir, markedPids, runSupervisor, startSupervisor, supervisorEnv, waitFor } from '../support/supervisor-harness.ts';

void test('a bad value exits 1 naming the variable and what it accepts', async (t) => {
  const dir = await makeTempDir(t);
  const result = await runSupervisor(supervisorEnv(dir, { KILL_GRACE_MS: 'soon' }));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /KILL_GRACE_MS: expected a whole number/);
});

void test('as root without AGENT_USER or IS_SANDBOX it refuses to start and says why', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('the rule applies to root only');
    return;
  }
  const dir = await makeTempDir(t);
  const result = await runSupervisor(supervisorEnv(dir, { IS_SANDBOX: undefined, AGENT_USER: undefined }));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /AGENT_USER/);
  assert.match(result.stderr, /refuses --dangerously-skip-permissions as root/);
  assert.match(result.stderr, /IS_SANDBOX=1/);
});

void test('the socket is owner-only, or group-only with SUPERVISOR_SOCKET_GROUP', async (t) => {
  const owner = await startSupervisor(t);
  assert.equal(statSync(owner.socketPath).mode & 0o777, 0o600);
  const grouped = await startSupervisor(t, { env: { SUPERVISOR_SOCKET_GROUP: '4242' } });
  const st = statSync(grouped.socketPath);
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.gid, 4242);
  const health = await grouped.request('GET', '/health');
  assert.deepEqual(health.body, { status: 'ok' });
});

void test('a stale socket file is replaced; a live one makes the new supervisor refuse', async (t) => {
  const dir = await makeTempDir(t);
  // A socket file nobody listens on, as a SIGKILLed process leaves it.
  const socketPath = join(dir, 'supervisor.sock');
  const listener = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', listener]);
  assert.ok(statSync(socketPath).isSocket());
  const first = await startSupervisor(t, { dir });
  assert.ok(first.logs.some((l) => l.msg === 'removed a stale socket'));
  assert.equal((await first.request('GET', '/health')).status, 200);

  const second = await startSupervisor(t, { dir, noWait: true });
  const exit = await second.exited;
  assert.equal(exit.code, 1);
  assert.ok(second.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('refusing to start')));
  assert.equal((await first.request('GET', '/health')).status, 200, 'the live supervisor is untouched');
});

void test('a path that is not a socket is never replaced', async (t) => {
  const dir = await makeTempDir(t);
  writeFileSync(join(dir, 'supervisor.sock'), 'precious');
  const sup = await startSupervisor(t, { dir, noWait: true });
  assert.equal((await sup.exited).code, 1);
});

void test("a supervisor SIGKILLed mid-job takes its job's tree with it (the job's reaper ends it)", async (t) => {
  const dir = await makeTempDir(t);
  const dead = await startSupervisor(t, { dir, claudeBin: fixture('cli-tree.sh') });
  const started = await dead.startJob({ prompt: 'work' });
  await waitFor(() => markedPids(dead.instanceTag, started.body.id).length >= 4, { message: 'the fixture tree' });
  dead.child.kill('SIGKILL');
  await dead.exited;
  await waitFor(() => markedPids(dead.instanceTag).length === 0, { timeoutMs: 1000, message: 'the tree to end with its supervisor' });

  const next = await startSupervisor(t, { dir, claudeBin: fixture('cli-tree.sh') });
  // Nothing was left to kill (a stale job cgroup, when there is one, is removed).
  const sweep = next.logs.find((l) => typeof l.msg === 'string' && l.msg.includes('leftovers of a previous supervisor'));
  assert.equal(sweep?.processesKilled, 0, JSON.stringify(sweep));
  const status = await next.request<SupervisorStatus>('GET', '/status');
  assert.equal(status.body.job, null);
});

void test('without the reaper, the next supervisor kills the leftovers of one that died mid-job', async (t) => {
  const dir = await makeTempDir(t);
  const env = { REAPER_BIN: '/nonexistent/agent-cockpit-reaper' };
  const dead = await startSupervisor(t, { dir, claudeBin: fixture('cli-tree.sh'), env });
  const started = await dead.startJob({ prompt: 'work' });
  await waitFor(() => markedPids(dead.instanceTag, started.body.id).length >= 4, { message: 'the fixture tree' });
  dead.child.kill('SIGKILL');
  await dead.exited;
  const survivors = markedPids(dead.instanceTag).length;
  assert.ok(survivors >= 4, `the tree outlives a SIGKILLed supervisor (${survivors})`);

  const next = await startSupervisor(t, { dir, claudeBin: fixture('cli-tree.sh'), env });
  const line = next.logs.find((l) => l.msg === 'killed leftovers of a previous supervisor');
  assert.ok(line, 'logs the cleanup');
  assert.ok(Number(line.processesKilled) >= 4);
  assert.deepEqual(markedPids(next.instanceTag), []);
  const status = await next.request<SupervisorStatus>('GET', '/status');
  assert.equal(status.body.job, null);
});

void test('a CLAUDE_BIN the agent cannot run, or folders it cannot write, stop the start naming the path', async (t) => {
  const dir = await makeTempDir(t);
  const missing = await runSupervisor(supervisorEnv(dir, {}, '/nonexistent/claude'));
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /refusing to start: CLAUDE_BIN \/nonexistent\/claude cannot be executed/);
  if (process.getuid?.() !== 0) return; // the rest switches users

  // A checkout under a 0700 folder, as /root is: root can run the CLI there, the agent cannot.
  const closed = join(dir, 'closed');
  mkdirSync(closed, { mode: 0o700 });
  const bin = join(closed, 'claude');
  copyFileSync(fixture('cli-echo.mjs'), bin);
  chmodSync(bin, 0o755);
  const agent = { AGENT_USER: 'nobody', IS_SANDBOX: undefined };
  const unreachable = await runSupervisor(supervisorEnv(dir, agent, bin));
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stdout, new RegExp(`CLAUDE_BIN ${bin} cannot be executed as AGENT_USER nobody`));

  // The CLI where the agent reaches it, the workspace below the closed folder.
  chmodSync(dir, 0o755);
  const open = join(dir, 'bin');
  mkdirSync(open, { mode: 0o755 });
  copyFileSync(fixture('cli-echo.mjs'), join(open, 'claude'));
  chmodSync(join(open, 'claude'), 0o755);
  const workspace = join(closed, 'workspace');
  const noWorkspace = await runSupervisor(supervisorEnv(dir, { ...agent, WORKSPACE_DIR: workspace }, join(open, 'claude')));
  assert.equal(noWorkspace.code, 1);
  assert.match(noWorkspace.stdout, new RegExp(`WORKSPACE_DIR ${workspace} is not a folder it can write to as AGENT_USER nobody`));
});

void test('a socket folder another user made, or one others can write, is refused', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('making a folder owned by another user needs root');
    return;
  }
  const dir = await makeTempDir(t);
  const squatted = join(dir, 'squatted');
  mkdirSync(squatted, { mode: 0o755 });
  chownSync(squatted, 65534, 65534);
  const env = (socketDir: string) => supervisorEnv(dir, { SUPERVISOR_SOCKET: join(socketDir, 'supervisor.sock') });
  const other = await runSupervisor(env(squatted));
  assert.equal(other.code, 1);
  assert.match(other.stdout, /belongs to uid 65534, not to the supervisor/);
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const writable = await runSupervisor(env(open));
  assert.equal(writable.code, 1);
  assert.match(writable.stdout, /writable by its group or by others \(mode 777\)/);
});
