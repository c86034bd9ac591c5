// The image's supervision tree, run on this machine: the real entrypoint and the real s6
// service directories (docker/s6-overlay), Debian's s6-svscan as PID 1 of a new PID
// namespace, the real supervisor and API from this checkout (APP_DIR) on the node running
// this test, and a fixture CLI.
// It checks the users and the node each process runs as, that the agent cannot reach the control
// socket, and that SIGTERM to PID 1 ends a running job, then the supervisor, then the API,
// leaving no process behind. The run scripts start the esbuild bundles (dist/*.mjs), so
// the checkout is built first (scripts/build.mjs, well under a second).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from '../../common/node-flags.ts';
import { stageApp } from '../support/stage-app.ts';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import {
  childrenOf,
  ensureUser,
  freePort,
  groupId,
  healthy,
  http,
  isRoot,
  Output,
  pidsWithEnv,
  procInfo,
  removeUser,
  userId,
  waitFor,
  which,
} from '../support/deploy-harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entrypoint = path.join(root, 'docker/s6-overlay/usr/local/bin/entrypoint');
const services = path.join(root, 'docker/s6-overlay/etc/s6/services');
const fixtureCli = path.join(root, 'test/fixtures/deploy-echo-cli.sh');
const API_TOKEN = randomUUID();
// Both services start on a shared 2-core machine: be generous.
const START_DEADLINE_MS = 60_000;
// The stop timeout compose and fly.toml give the tree (stop_grace_period, kill_timeout).
const STOP_DEADLINE_MS = 30_000;

function skipReason(): string | false {
  if (!isRoot()) return 'needs root: the entrypoint chowns folders and the supervisor drops the CLI to another user';
  for (const command of ['s6-svscan', 's6-notifyoncheck', 'unshare', 'useradd']) {
    if (which(command) === null) return `${command} is not installed (apt-get install s6 execline util-linux passwd)`;
  }
  return false;
}

function waitExit(child: ChildProcess, deadlineMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${deadlineMs} ms`)), deadlineMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

interface Tree {
  child: ChildProcess;
  output: Output;
  pid1: number;
  port: number;
  env: Record<string, string>;
  marker: string;
  socketDir: string;
  fail: (message: string) => never;
}

/** The real entrypoint under `unshare`, as PID 1 of a new PID namespace, until /health answers. */
async function startTree(t: TestContext, options: { appDir: string; env?: Record<string, string> }): Promise<Tree> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-s6-'));
  chmodSync(dir, 0o755); // the agent and api users traverse it
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const port = await freePort();
  const marker = `DEPLOY_S6_TEST=${randomUUID()}`;
  // The fixture CLI where the agent can run it (the checkout may be closed to it), with
  // the helper it sources (lib/stream-input.sh: it reads the stream-json user message).
  const cli = path.join(dir, 'deploy-echo-cli.sh');
  cpSync(fixtureCli, cli);
  chmodSync(cli, 0o755);
  mkdirSync(path.join(dir, 'lib'));
  chmodSync(path.join(dir, 'lib'), 0o755);
  cpSync(path.join(path.dirname(fixtureCli), 'lib/stream-input.sh'), path.join(dir, 'lib/stream-input.sh'));
  chmodSync(path.join(dir, 'lib/stream-input.sh'), 0o644);
  const socketDir = path.join(dir, 'run');
  const env: Record<string, string> = {
    // The node running this test first: the run scripts' `node` is the one under test
    // (.ci/run runs the suite on Node 20, then on the image's Node 22).
    PATH: `${path.dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    LANG: 'C.UTF-8',
    // What the Dockerfile's ENV sets in the image, pointed at a checkout and temp dirs.
    APP_DIR: options.appDir,
    S6_SERVICES_DIR: services,
    S6_SCAN_DIR: path.join(dir, 'scan'),
    PORT: String(port),
    HOST: '127.0.0.1',
    SUPERVISOR_SOCKET: path.join(socketDir, 'supervisor.sock'),
    SUPERVISOR_SOCKET_GROUP: 'api',
    AGENT_USER: 'agent',
    CLAUDE_BIN: cli,
    // The CLI's environment is an allow-list: the fixture's own variables are named here.
    AGENT_ENV: 'DEPLOY_S6_TEST DEPLOY_TEST_SOCKET_DIR',
    WORKSPACE_DIR: path.join(dir, 'data/workspace'),
    CLAUDE_CONFIG_DIR: path.join(dir, 'data/claude'),
    IMAGES_DIR: path.join(dir, 'data/images'),
    DATA_DIR: path.join(dir, 'data/state'),
    KILL_GRACE_MS: '2000',
    LOG_LEVEL: 'info',
    ANTHROPIC_API_KEY: 'sk-ant-deploy-test',
    API_TOKEN,
    // Read by the fixture CLI, to report whether the agent can list the socket's folder.
    DEPLOY_TEST_SOCKET_DIR: socketDir,
    // Inherited by every process of the tree, escapees included: how we count leftovers.
    [marker.split('=')[0]!]: marker.split('=')[1]!,
    ...options.env,
  };

  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '/bin/sh', entrypoint], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new Output(child.stdout, child.stderr);
  t.after(async () => {
    // On a failed assertion: the namespace's PID 1 takes everything with it.
    for (const pid of childrenOf(child.pid!)) process.kill(pid, 'SIGKILL');
    await waitExit(child, 10_000).catch(() => undefined);
    for (const pid of pidsWithEnv(marker)) process.kill(pid, 'SIGKILL');
  });
  const fail = (message: string): never => assert.fail(`${message}\n--- tree output ---\n${output.text}`);

  // PID 1 of the namespace is unshare's child: the entrypoint, exec'd into s6-svscan.
  const pid1 = await waitFor('the namespace init', 10_000, () => childrenOf(child.pid!)[0]);
  await waitFor('/health', START_DEADLINE_MS, () => healthy(`http://127.0.0.1:${port}/health`)).catch((err: Error) => fail(err.message));
  assert.match(procInfo(pid1)?.cmdline ?? '', /^s6-svscan /, "the entrypoint exec'd s6-svscan");
  return { child, output, pid1, port, env, marker, socketDir, fail };
}

function ensureUsers(t: TestContext): void {
  const created = ['agent', 'api'].filter((name) => ensureUser(name, { home: name === 'agent' }));
  t.after(() => created.forEach(removeUser));
}

void test('s6-svscan as PID 1 runs the supervisor and the API, runs a job as the agent, and shuts down in order', { skip: skipReason(), timeout: 180_000 }, async (t) => {
  ensureUsers(t);
  // The app as the image has it, where the api user can read it: a staged copy of this checkout.
  const { child: tree, output, pid1, port, env, marker, socketDir, fail } = await startTree(t, { appDir: stageApp(t) });

  await t.test("each process runs as its own user, on this test's node", () => {
    const procs = pidsWithEnv(marker).map(procInfo).filter((p) => p !== null);
    const supervisor = procs.find((p) => p.cmdline.includes('dist/supervisor.mjs'));
    const api = procs.find((p) => p.cmdline.includes('dist/api.mjs'));
    assert.equal(supervisor?.uid, 0, 'supervisor as root');
    assert.equal(api?.uid, userId('api'), 'api as the api user');
    const node = realpathSync(process.execPath);
    console.log(`s6 tree: supervisor and api run ${node} (${process.version})`);
    for (const p of [supervisor!, api!]) assert.equal(readlinkSync(`/proc/${p.pid}/exe`), node, p.cmdline);
    // The services' node flags and environment, as npm start and the bench run them (common/node-flags.ts).
    for (const p of [supervisor!, api!]) {
      assert.ok(p.cmdline.includes(` ${SERVICE_NODE_FLAGS.join(' ')} `), p.cmdline);
      const environ = readFileSync(`/proc/${p.pid}/environ`, 'utf8').split('\0');
      for (const [name, value] of Object.entries(SERVICE_ENV)) assert.ok(environ.includes(`${name}=${value}`), `${p.cmdline}: ${name}=${value}`);
    }
  });

  await t.test('the socket folder is root:api 0750 and the socket 0660', () => {
    const folder = statSync(socketDir);
    assert.equal(folder.mode & 0o777, 0o750);
    assert.equal(folder.uid, 0);
    assert.equal(folder.gid, groupId('api'));
    const socket = statSync(env.SUPERVISOR_SOCKET!);
    assert.ok(socket.isSocket());
    assert.equal(socket.mode & 0o777, 0o660);
    assert.equal(socket.gid, groupId('api'));
  });

  await t.test('a job runs as the agent, with its HOME and config dir, without the API token or the socket', async () => {
    const unauthenticated = await http(`http://127.0.0.1:${port}/command`, { method: 'POST', body: { text: 'hi' } });
    assert.equal(unauthenticated.status, 401);
    const answer = await http(`http://127.0.0.1:${port}/command`, { method: 'POST', body: { text: 'who are you' }, token: API_TOKEN, timeoutMs: 30_000 });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const text = (answer.body as { text: string }).text;
    assert.match(text, /^deploy-echo user=agent /);
    assert.match(text, / home=\/home\/agent /);
    assert.ok(text.includes(` config=${env.CLAUDE_CONFIG_DIR} `), text);
    assert.match(text, / api_token= /, 'API_TOKEN never reaches the agent');
    assert.match(text, / malloc_arena_max= /, "the services' own MALLOC_ARENA_MAX does not reach the agent");
    assert.match(text, / socket=denied /, 'the agent cannot list the socket folder');
    assert.match(text, /prompt=who are you/);
  });

  await t.test('s6 restarts a supervisor that dies, and jobs run again', async () => {
    const supervisorPid = (): number | undefined =>
      pidsWithEnv(marker).find((pid) => procInfo(pid)?.cmdline.includes('dist/supervisor.mjs') === true);
    const before = supervisorPid();
    assert.ok(before !== undefined);
    process.kill(before, 'SIGKILL');
    await waitFor('a new supervisor', 20_000, () => {
      const now = supervisorPid();
      return now !== undefined && now !== before ? now : undefined;
    });
    // The API keeps running; once the new supervisor listens, commands work again.
    const answer = await waitFor('a command after the restart', 30_000, async () => {
      const reply = await http(`http://127.0.0.1:${port}/command`, { method: 'POST', body: { text: 'again' }, token: API_TOKEN, timeoutMs: 10_000 });
      return reply.status === 200 ? reply : undefined;
    });
    assert.match((answer.body as { text: string }).text, /^deploy-echo user=agent .*prompt=again/);
    assert.ok(output.lineIndex(/^s6: supervisor exited \(code 256, signal 9\)$/) !== -1, 'finish saw the SIGKILL');
  });

  await t.test('SIGTERM to PID 1 ends the running job, then the supervisor, then the API, within the stop timeout', async () => {
    const hanging = http(`http://127.0.0.1:${port}/command`, { method: 'POST', body: { text: 'please hang' }, token: API_TOKEN, timeoutMs: STOP_DEADLINE_MS });
    // The fixture's escapee (setsid sleep) is up: the job is really running.
    await waitFor('the hanging job and its escapee', 20_000, () => {
      const sleeps = pidsWithEnv(marker).map(procInfo).filter((p) => p?.cmdline === 'sleep 300');
      return sleeps.length >= 2 ? sleeps : undefined;
    });

    process.kill(pid1, 'SIGTERM');
    const exit = await waitExit(tree, STOP_DEADLINE_MS).catch((err: Error) => fail(err.message));
    assert.deepEqual(exit, { code: 0, signal: null }, output.text);

    // The relay's request got an answer before the API went down: the job ended by shutdown.
    const answer = await hanging;
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal((answer.body as { error: string }).error, 'shutting_down');

    const supervisorExit = output.lineIndex(/^s6: supervisor exited \(code 0, signal 0\)$/); // the restart's exit was by signal 9
    const apiExit = output.lineIndex(/^s6: api exited \(code 0, signal 0\)$/);
    const allDown = output.lineIndex(/^s6: all services down$/);
    assert.ok(supervisorExit !== -1 && apiExit !== -1 && allDown !== -1, `both services exited 0 by themselves:\n${output.text}`);
    assert.ok(output.lineIndex(/^s6: shutting down/) < supervisorExit, 'the ordered shutdown ran');
    assert.ok(supervisorExit < apiExit && apiExit < allDown, `supervisor, then api, then s6-svscan:\n${output.text}`);
    assert.deepEqual(pidsWithEnv(marker), [], 'no process of the tree is left');

    // The supervisor ended the job itself (not the kernel tearing down the namespace).
    const ended = output.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.name === 'supervisor' && entry.reason === 'shutdown');
    assert.ok(ended, `the supervisor logged the job's end by shutdown:\n${output.text}`);
  });
});

void test('timeout-kill bounds the shutdown when a service ignores SIGTERM', { skip: skipReason(), timeout: 120_000 }, async (t) => {
  ensureUsers(t);
  // An app folder whose supervisor never stops (test/fixtures/deploy-stub), with this
  // checkout's node_modules; the stubs bundled into dist/ as the run scripts expect.
  const appDir = mkdtempSync(path.join(os.tmpdir(), 'deploy-stub-app-'));
  t.after(() => rmSync(appDir, { recursive: true, force: true }));
  chmodSync(appDir, 0o755);
  cpSync(path.join(root, 'package.json'), path.join(appDir, 'package.json'));
  symlinkSync(path.join(root, 'node_modules'), path.join(appDir, 'node_modules'));
  mkdirSync(path.join(appDir, 'dist'), { mode: 0o755 });
  for (const [service, stub] of [['supervisor', 'supervisor-ignores-sigterm.ts'], ['api', 'api-health-only.ts']]) {
    buildSync({
      entryPoints: [path.join(root, 'test/fixtures/deploy-stub', stub!)],
      outfile: path.join(appDir, 'dist', `${service!}.mjs`),
      bundle: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'warning',
    });
  }

  // The entrypoint derives the supervisor's timeout-kill as KILL_GRACE_MS + 5 s.
  const { child, output, pid1, marker, fail } = await startTree(t, { appDir, env: { KILL_GRACE_MS: '0', API_SHUTDOWN_TIMEOUT_MS: '100' } });
  await waitFor('the stub supervisor', 10_000, () => (output.text.includes('stub supervisor: listening') ? true : undefined));

  process.kill(pid1, 'SIGTERM');
  const exit = await waitExit(child, STOP_DEADLINE_MS).catch((err: Error) => fail(`shutdown hung: ${err.message}`));
  assert.deepEqual(exit, { code: 0, signal: null }, output.text);
  assert.ok(output.text.includes('stub supervisor: ignoring SIGTERM'), 'the supervisor got SIGTERM first');
  const killed = output.lineIndex(/^s6: supervisor exited \(code 256, signal 9\)$/);
  const apiExit = output.lineIndex(/^s6: api exited \(code 0, signal 0\)$/);
  assert.ok(killed !== -1 && apiExit > killed, `s6 SIGKILLed the supervisor, then stopped the api:\n${output.text}`);
  assert.deepEqual(pidsWithEnv(marker), [], 'no process left');
});
