// The real docker/Dockerfile, built with podman on a base made here with a Node 22 (no
// registry to pull node:22-bookworm from; test/support/deploy-podman.ts), then run twice
// with podman's default capabilities (no CAP_SYS_PTRACE, cgroups read-only): as
// docker-compose.yml runs it (entrypoint as PID 1, compose's security options), and under
// `--init` (catatonit as PID 1, as Fly's init is on a Fly Machine). Each run drives the
// image's own pinned Claude Code CLI against the Messages API stand-in on the host's
// loopback and checks, while the container runs: the node the services run, who the agent
// is, a screenshot, the ownership layers in /status, the leftovers of a successful job, a
// timed-out fork storm with an empty-environment escapee, the supervisor SIGKILLed mid-job
// and restarted by s6 (the relay gets `interrupted` from its store on the volume), and
// last `podman stop` with a job running, which must end by the services' own exit
// (status 0, not SIGKILL).
// Slow the first time (a full image build, ~3-4 min here); layers are cached afterwards.
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { SupervisorStatus } from '../../common/protocol.ts';
import { freePort, healthy, http, waitFor } from '../support/deploy-harness.ts';
import { baseImageNode, dockerfileNodeMajor, ensureBaseImage, npmVersion, Podman, podmanSkipReason, type BaseNode } from '../support/deploy-podman.ts';
import { parseExposition, valueOf, type Exposition } from '../support/prometheus-text.ts';
import { bash, startMessagesApi, toolResults, toolResultText, type MessagesApi } from '../support/messages-api.ts';
import { pinnedCliVersion, versionLine } from '../support/pinned-cli.ts';
import { findProcesses } from '../support/processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
// The image's agent user (docker/Dockerfile: useradd --uid 10001 agent).
const AGENT_UID = 10001;
// The image's Node major (docker/Dockerfile's node:22-bookworm), and the node of that
// major copied into the base made here: CONTAINER_TEST_NODE, else the node running this
// test if it is that major, else the one .ci/run installs (test/support/deploy-podman.ts).
const NODE_MAJOR = dockerfileNodeMajor(path.join(root, 'docker/Dockerfile'));
const BASE_NODE = baseImageNode(NODE_MAJOR);
const IMAGE = 'localhost/agent-cockpit-test:latest';
// The host's CA bundle, for npm behind this machine's TLS-intercepting egress proxy: the
// same build secret a user behind a corporate proxy passes (docs/deploy.md).
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
// What compose's stop_grace_period and fly.toml's kill_timeout give the container.
const STOP_TIMEOUT_S = 30;
const START_DEADLINE_MS = 90_000;
// Long enough for every normal job here, short for the storm. A screenshot job (the CLI,
// two model turns, a Chromium start in a fresh container) usually takes 2-3 s, but 12 s
// was exceeded twice in seven CI runs on a slower VM, always the first in a new container.
// The storm forks 25 processes a second (~1.3 MB each): ~0.9 GB by the deadline, well
// under MEMORY_LIMIT_MB (2 GB), so it ends by the timeout it tests.
const COMMAND_TIMEOUT_MS = 20_000;

const log = (line: string): void => console.log(`deploy: ${line}`);
const newToken = (): string => String(randomInt(3_000_000, 3_900_000));
const left = (token: string) => findProcesses({ needle: `${token}.` });

/** `podman run` flags for what docker-compose.yml sets beyond the image (its security options). */
function composeRunFlags(): string[] {
  const compose = parseYaml(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Record<string, unknown>> };
  const service = Object.values(compose.services)[0]!;
  const flags: string[] = [];
  for (const option of (service.security_opt as string[] | undefined) ?? []) flags.push('--security-opt', option.replace(/:true$/, ''));
  if (service.pids_limit !== undefined) flags.push('--pids-limit', String(service.pids_limit));
  if (service.shm_size !== undefined) flags.push('--shm-size', String(service.shm_size).replace(/b$/i, ''));
  assert.equal(service.cap_add, undefined, 'compose adds no capability');
  return flags;
}

async function gone(token: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (left(token).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(left(token), [], `still running ${withinMs} ms later`);
}

interface ApiStatus {
  supervisor: Pick<SupervisorStatus, 'pid' | 'warnings' | 'ownership'> & { reachable: boolean };
  recentJobs: Array<{ leftoversKilled: number }>;
}

interface Running {
  name: string;
  base: string;
  token: string;
  data: string;
  logs: () => Promise<string>;
  command: (text: string, timeoutMs?: number) => ReturnType<typeof http>;
  /** The API's /status: its supervisor section, and the recent jobs. */
  status: () => Promise<ApiStatus>;
  /** GET /metrics on METRICS_PORT, fetched inside the container: its text, parsed line by line. */
  metrics: () => Promise<{ text: string; exposition: Exposition }>;
  agentProcesses: () => Promise<string[]>;
}

async function runContainer(t: TestContext, podman: Podman, api: MessagesApi, withInit: boolean): Promise<Running> {
  const name = `agent-cockpit-test-${randomUUID().slice(0, 8)}`;
  const data = mkdtempSync(path.join(os.tmpdir(), 'deploy-data-'));
  chmodSync(data, 0o755);
  t.after(async () => {
    await podman.run(['rm', '--force', '--time', '0', name]);
    rmSync(data, { recursive: true, force: true });
  });
  const port = await freePort();
  const metricsPort = await freePort();
  const token = randomUUID();
  const base = `http://127.0.0.1:${port}`;
  // Host networking: no CNI/iptables needed here, and the CLI reaches the stand-in on the
  // host's loopback. PORT moves the API off 3001. No capability is added.
  const runArgs = ['run', '--detach', '--name', name, '--network', 'host'];
  runArgs.push(...(withInit ? ['--init'] : composeRunFlags()));
  runArgs.push(
    '--env', `PORT=${port}`,
    '--env', 'HOST=127.0.0.1',
    '--env', `METRICS_PORT=${metricsPort}`,
    '--env', 'METRICS_HOST=127.0.0.1',
    '--env', 'ANTHROPIC_API_KEY=sk-ant-deploy-test',
    '--env', `ANTHROPIC_BASE_URL=${api.url}`,
    '--env', 'CLAUDE_CODE_MAX_RETRIES=0',
    '--env', `API_TOKEN=${token}`,
    '--env', 'KILL_GRACE_MS=2000',
    '--env', `COMMAND_TIMEOUT_MS=${COMMAND_TIMEOUT_MS}`,
    '--volume', `${data}:/data`,
    IMAGE,
  );
  await podman.ok(runArgs);
  // The services' and s6's lines are on stdout, in order; stderr has the entrypoint's.
  const logs = async (): Promise<string> => {
    const result = await podman.run(['logs', name]);
    return `${result.stdout}\n--- stderr ---\n${result.stderr}`;
  };
  await waitFor('/health', START_DEADLINE_MS, () => healthy(`${base}/health`)).catch(async (err: Error) => assert.fail(`${err.message}\n${await logs()}`));
  // A fresh image's files come from disk at their first read: the first jobs in the first
  // container after a fresh-clone build took 11.8 s and 19.9 s (one timed out at 20 s)
  // where later ones take 2-4 s. Reading the CLI's binary and Chromium's here first keeps
  // the jobs' deadlines about the jobs.
  const warmStarted = performance.now();
  await podman.ok(['exec', name, 'sh', '-c', 'cat "$(readlink -f /app/node_modules/.bin/claude)" /usr/lib/chromium/chromium >/dev/null']);
  log(`warm-up read of the CLI and Chromium: ${(performance.now() - warmStarted).toFixed(0)} ms`);
  // The CLI the image runs is the one package.json pins (the build checks it too).
  assert.equal((await podman.ok(['exec', name, 'claude', '--version'])).stdout.trim(), versionLine(pinnedCliVersion()));
  return {
    name,
    base,
    token,
    data,
    logs,
    command: (text, timeoutMs = COMMAND_TIMEOUT_MS + 10_000) => http(`${base}/command`, { method: 'POST', body: { text }, token, timeoutMs }),
    status: async () => (await http(`${base}/status`, { token })).body as ApiStatus,
    metrics: async () => {
      const fetched = await podman.ok([
        'exec', name, 'node', '-e',
        "fetch('http://127.0.0.1:'+process.env.METRICS_PORT+'/metrics').then(async (r) => { if (r.status !== 200) process.exit(1); process.stdout.write(await r.text()); })",
      ]);
      return { text: fetched.stdout, exposition: parseExposition(fetched.stdout) };
    },
    // Processes of the agent user, seen inside the container (podman exec runs as root).
    agentProcesses: async () =>
      (await podman.run(['exec', name, 'ps', '-u', String(AGENT_UID), '-o', 'pid=,args=']))
        .stdout.split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== ''),
  };
}

/** The last tool_result the CLI sent the stand-in. */
function lastToolOutput(api: MessagesApi): string {
  const results = api.mainRequests().flatMap((r) => toolResults(r));
  assert.ok(results.length > 0, 'the Bash tool ran');
  return toolResultText(results.at(-1)!);
}

const skip = podmanSkipReason() || (typeof BASE_NODE === 'string' ? BASE_NODE : false);

void test('the image builds with podman and runs as on docker and on Fly', { skip, timeout: 25 * 60_000 }, async (t) => {
  const node = BASE_NODE as BaseNode;
  const confDir = mkdtempSync(path.join(os.tmpdir(), 'deploy-podman-'));
  t.after(() => rmSync(confDir, { recursive: true, force: true }));
  const podman = new Podman(confDir);
  const api = await startMessagesApi();
  t.after(() => api.close());

  // Named after its node and npm, so an upgrade of either makes a new base.
  const BASE_IMAGE = `localhost/agent-cockpit-test-base:bookworm-node${node.version.slice(1)}-npm${npmVersion()}`;
  await ensureBaseImage(podman, BASE_IMAGE, node, log);

  // --format docker keeps the HEALTHCHECK (OCI images have none). --network host: RUN
  // steps need no bridge network (CI installs podman without iptables or netavark).
  const buildArgs = ['build', '--format', 'docker', '--network', 'host', '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`, '-f', 'docker/Dockerfile', '-t', IMAGE];
  if (existsSync(HOST_CA)) buildArgs.push('--secret', `id=extra_ca,src=${HOST_CA}`);
  const build = await podman.run([...buildArgs, root]);
  const cached = (build.stdout.match(/--> Using cache/g) ?? []).length;
  log(`image build: ${Math.round(build.durationMs / 1000)} s (${cached} cached steps)`);
  assert.equal(build.code, 0, `podman build failed:\n${(build.stdout + build.stderr).split('\n').slice(-60).join('\n')}`);
  const size = Number((await podman.ok(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).stdout.trim());
  log(`image size: ${(size / 1e9).toFixed(2)} GB on a debootstrap minbase (node:22-bookworm adds ~0.8 GB)`);

  await t.test('refuses to start without the Claude credentials, saying which', async () => {
    const result = await podman.run(['run', '--rm', '--network', 'host', '--env', 'API_TOKEN=0123456789abcdef', IMAGE]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /entrypoint: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN/);
  });

  for (const withInit of [false, true]) {
    await t.test(withInit ? 'under --init (entrypoint not PID 1, as on Fly.io)' : 'as docker-compose.yml runs it (entrypoint as PID 1)', async (t) => {
      const c = await runContainer(t, podman, api, withInit);
      const pid1 = (await podman.ok(['exec', c.name, 'cat', '/proc/1/cmdline'])).stdout.split('\0')[0];
      assert.equal(pid1, withInit ? '/run/podman-init' : 's6-svscan', 'PID 1 in the container');
      assert.equal((await podman.run(['healthcheck', 'run', c.name])).code, 0, "the image's HEALTHCHECK passes");

      await t.test(`the supervisor and the API run the image's node, Node ${NODE_MAJOR}`, async () => {
        const ps = (await podman.ok(['exec', c.name, 'ps', '-eo', 'pid=,uid=,args='])).stdout;
        for (const bundle of ['dist/supervisor.mjs', 'dist/api.mjs']) {
          const [pid, uid] = ps
            .split('\n')
            .map((line) => line.trim().split(/\s+/))
            .find((words) => words.slice(2).includes(bundle)) ?? [];
          assert.ok(pid !== undefined && uid !== undefined, `${bundle} runs:\n${ps}`);
          // As the process's own user: without CAP_SYS_PTRACE root cannot read another uid's exe link.
          const exe = (await podman.ok(['exec', '--user', uid, c.name, 'readlink', `/proc/${pid}/exe`])).stdout.trim();
          const version = (await podman.ok(['exec', c.name, exe, '--version'])).stdout.trim();
          log(`${withInit ? '--init' : 'compose'}: ${bundle} (pid ${pid}, uid ${uid}) runs ${exe} ${version}`);
          assert.equal(exe, '/usr/local/bin/node', bundle);
          assert.equal(version, node.version, `${bundle}: the node copied into the base`);
          assert.ok(version.startsWith(`v${NODE_MAJOR}.`), version);
        }
      });

      await t.test('the ownership layers: the agent uid and the reaper, no ptrace, nothing escapes', async () => {
        const s = (await c.status()).supervisor;
        log(`${withInit ? '--init' : 'compose'}: ownership ${JSON.stringify(s.ownership)}; warnings ${JSON.stringify(s.warnings)}`);
        assert.equal(s.ownership.agentUid, AGENT_UID);
        assert.equal(s.ownership.subreaper, true);
        assert.equal(s.ownership.environ, false, 'no CAP_SYS_PTRACE: the marker is unreadable, and that is said');
        assert.equal(s.ownership.contained, true);
        assert.ok(!s.warnings.some((w) => /escape|outlive/.test(w)), s.warnings.join('\n'));
        const startup = await c.logs();
        assert.match(startup, /"layer":"environ"/, 'the missing environ layer is a warn line');
      });

      await t.test('the agent is user agent, with its config on the volume, no API_TOKEN and no way to the socket', async () => {
        api.script([
          {
            tools: [
              bash(
                'echo "user=$(id -un) home=$HOME config=${CLAUDE_CONFIG_DIR:-} api_token=${API_TOKEN:+set} ' +
                  'socket=$(ls /run/agent-cockpit >/dev/null 2>&1 && echo reachable || echo denied)"',
                'Who am I',
              ),
            ],
          },
          { text: 'checked' },
        ]);
        const answer = await c.command('who are you');
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(lastToolOutput(api).trim(), 'user=agent home=/home/agent config=/data/claude api_token= socket=denied');
        assert.equal(statSync(path.join(c.data, 'claude')).uid, AGENT_UID, 'the Claude config on the volume belongs to the agent');
        // The api user reads no more than it must: not the agent's workspace (its free space, yes).
        assert.notEqual((await podman.run(['exec', '--user', 'api', c.name, 'ls', '/data/workspace'])).code, 0, 'api cannot list the workspace');
        const disks = ((await http(`${c.base}/status`, { token: c.token })).body as { system: { disks: { workspace: { freeBytes: number | null } } } }).system.disks;
        assert.equal(typeof disks.workspace.freeBytes, 'number');
      });

      await t.test('a screenshot as the agent takes it: Playwright on Debian Chromium, listed and served', async () => {
        const port = new URL(c.base).port;
        api.script([
          {
            tools: [
              bash(`/app/node_modules/playwright/cli.js screenshot --full-page http://127.0.0.1:${port}/health /data/images/deploy-shot-${port}.png`, 'Screenshot'),
            ],
          },
          { text: 'Here it is.' },
        ]);
        const started = Date.now();
        const shot = await c.command('take a screenshot');
        log(`screenshot job: ${Date.now() - started} ms`);
        if (shot.status !== 200) {
          const tool = api.mainRequests().flatMap((r) => toolResults(r)).at(-1);
          assert.fail(`${JSON.stringify(shot.body)}; the tool's output: ${tool === undefined ? '(none: the tool had not answered)' : toolResultText(tool)}`);
        }
        const images = (shot.body as { images: string[] }).images;
        assert.equal(images.length, 1, `${JSON.stringify(shot.body)} ${lastToolOutput(api)}`);
        const png = await fetch(`${c.base}${images[0]!}`, { headers: { authorization: `Bearer ${c.token}` }, signal: AbortSignal.timeout(5000) });
        assert.equal(png.status, 200);
        assert.equal(png.headers.get('content-type'), 'image/png');
        const bytes = Buffer.from(await png.arrayBuffer());
        assert.deepEqual([...bytes.subarray(1, 4)], [...Buffer.from('PNG')], 'a real PNG');
      });

      await t.test("a successful job's leftovers (setsid, &, nohup, a double fork) are gone within 1.5 s of the answer and counted", async () => {
        const token = newToken();
        api.script([
          {
            tools: [
              bash(
                `setsid sleep ${token}.1 >/dev/null 2>&1 </dev/null & sleep ${token}.2 >/dev/null 2>&1 & ` +
                  `nohup sleep ${token}.3 >/dev/null 2>&1 & (setsid sleep ${token}.4 >/dev/null 2>&1 </dev/null &); echo started`,
                'Start three servers',
              ),
            ],
          },
          { text: 'Servers started.' },
        ]);
        const answer = await c.command('start the servers');
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        await gone(token, 1500);
        const last = (await c.status()).recentJobs[0]!;
        assert.ok(last.leftoversKilled >= 4, `leftoversKilled ${last.leftoversKilled}`);
      });

      await t.test('a timed-out fork storm with an empty-environment escapee leaves nothing', async () => {
        const token = newToken();
        api.script([
          {
            tools: [
              bash(
                `for i in $(seq 200); do sleep ${token}.6 >/dev/null 2>&1 & done; ` +
                  `(while :; do sleep ${token}.5 >/dev/null 2>&1 & sleep 0.04; done) >/dev/null 2>&1 & ` +
                  `env -i /bin/sh -c "setsid /bin/sh -c 'sleep ${token}.7 & exit 0' & exit 0" </dev/null >/dev/null 2>&1; ` +
                  `sleep ${token}.8`,
                'Build everything',
              ),
            ],
          },
          { text: 'never reached' },
        ]);
        const answer = await c.command('build everything');
        assert.equal(answer.status, 408, JSON.stringify(answer.body));
        await gone(token, 1000);
      });

      await t.test('/metrics inside the container: both processes, the timeout and the leftovers counted, no secret; none on the relay port', async () => {
        const { text, exposition: m } = await c.metrics();
        assert.equal(valueOf(m, 'agent_cockpit_api_supervisor_up'), 1);
        assert.equal(valueOf(m, 'agent_cockpit_supervisor_jobs_total', { reason: 'timeout', outcome: 'timeout' }), 1, 'the fork storm timed out');
        assert.equal(valueOf(m, 'agent_cockpit_supervisor_job_duration_seconds_count', { reason: 'timeout' }), 1);
        assert.ok(valueOf(m, 'agent_cockpit_supervisor_leftovers_killed_total')! >= 4);
        assert.ok(valueOf(m, 'agent_cockpit_supervisor_processes_killed_total')! > 0, 'the storm was killed');
        assert.equal(valueOf(m, 'agent_cockpit_supervisor_starts_total'), 1);
        assert.ok(valueOf(m, 'agent_cockpit_api_images_stored')! >= 1, 'the screenshot');
        for (const secret of [c.token, 'sk-ant-deploy-test']) assert.ok(!text.includes(secret), 'no secret in /metrics');
        assert.equal((await http(`${c.base}/metrics`, { token: c.token })).status, 404, 'not on the relay port');
      });

      await t.test('the supervisor SIGKILLed mid-job: the relay gets interrupted once s6 restarts it, nothing of the old job 2 s after; the next job runs alone', async () => {
        const token = newToken();
        api.script([{ tools: [bash(`setsid sleep ${token}.1 >/dev/null 2>&1 </dev/null & sleep ${token}.2`, 'Wait')] }, { text: 'never reached' }]);
        const pending = c.command('wait a while');
        await waitFor('the job', 20_000, () => (left(token).length >= 2 ? true : undefined), 50);
        const before = (await c.status()).supervisor;
        await podman.ok(['exec', c.name, 's6-svc', '-k', '/run/s6/services/supervisor']);
        // The waiting request rides out the restart; the new supervisor's store (on /data)
        // says the job was interrupted.
        const relay = await pending;
        assert.equal(relay.status, 500, JSON.stringify(relay.body));
        assert.equal((relay.body as { error: string }).error, 'interrupted');
        const restartedAt = await waitFor('s6 to restart the supervisor', 20_000, async () => {
          const s = (await c.status().catch(() => null))?.supervisor;
          return s?.reachable === true && s.pid !== before.pid ? Date.now() : undefined;
        }, 50);
        await gone(token, Math.max(0, restartedAt + 2000 - Date.now()));
        assert.deepEqual(await c.agentProcesses(), [], 'no process of the agent user is left');
        api.script([{ text: 'alone' }]);
        const next = await c.command('are you alone?');
        assert.equal(next.status, 200, JSON.stringify(next.body));
        assert.equal((next.body as { text: string }).text, 'alone');
        const { exposition: m } = await c.metrics();
        assert.equal(valueOf(m, 'agent_cockpit_supervisor_starts_total'), 2, 'the restart counted, from the store on /data');
        assert.equal(valueOf(m, 'agent_cockpit_supervisor_jobs_total', { reason: 'interrupted', outcome: 'interrupted' }), 1);
      });

      // A job that would run for minutes, then the container is stopped.
      const token = newToken();
      api.script([{ tools: [bash(`setsid sleep ${token}.1 >/dev/null 2>&1 </dev/null & sleep ${token}.2`, 'Wait')] }, { text: 'never reached' }]);
      const hanging = c.command('please hang', STOP_TIMEOUT_S * 1000);
      await waitFor('the hanging job', 20_000, () => (left(token).length >= 2 ? true : undefined), 50);
      const stop = await podman.run(['stop', '--time', String(STOP_TIMEOUT_S), c.name]);
      log(`podman stop${withInit ? ' (--init)' : ''}: ${stop.durationMs} ms`);
      assert.equal(stop.code, 0, stop.stderr);
      assert.ok(stop.durationMs < STOP_TIMEOUT_S * 1000, `stopped within ${STOP_TIMEOUT_S} s (took ${stop.durationMs} ms)`);
      const state = (await podman.ok(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', c.name])).stdout.trim();
      assert.equal(state, 'exited 0', 'exited by itself with status 0, not killed (137)');
      const relay = await hanging;
      assert.equal(relay.status, 503, JSON.stringify(relay.body));
      const output = (await podman.ok(['logs', c.name])).stdout;
      const order = ['s6: shutting down', 's6: supervisor exited (code 0, signal 0)', 's6: api exited (code 0, signal 0)', 's6: all services down'].map((line) =>
        output.lastIndexOf(line),
      );
      assert.ok(order.every((at, i) => at !== -1 && (i === 0 || at > order[i - 1]!)), `ordered shutdown in the logs:\n${output}`);
    });
  }
});
