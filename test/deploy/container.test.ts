// The real docker/Dockerfile, built with podman on a base made here (no registry to pull
// node:22-bookworm from; test/support/deploy-podman.ts), then run twice: with the
// entrypoint as PID 1 (docker, compose) and under `--init` (catatonit as PID 1, as Fly's
// init is on a Fly Machine). Each run: /health, the image's own HEALTHCHECK, a job through
// POST /command with a fixture CLI, then `podman stop` with a running job must end within
// the stop timeout, by the services' own exit (status 0, not SIGKILL), leaving nothing.
// Slow the first time (a full image build, ~2-4 min here); layers are cached afterwards.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, healthy, http, pidsWithEnv, procInfo, waitFor } from '../support/deploy-harness.ts';
import { ensureBaseImage, Podman, podmanSkipReason } from '../support/deploy-podman.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtureCli = path.join(root, 'test/fixtures/deploy-echo-cli.sh');
// The image's agent user (docker/Dockerfile: useradd --uid 10001 agent).
const AGENT_UID = 10001;
// Named after this machine's node, so a node upgrade makes a new base.
const BASE_IMAGE = `localhost/agent-cockpit-test-base:bookworm-node${process.versions.node}`;
const IMAGE = 'localhost/agent-cockpit-test:latest';
// The host's CA bundle, for npm behind this machine's TLS-intercepting egress proxy: the
// same build secret a user behind a corporate proxy passes (docs/deploy.md).
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
// What compose's stop_grace_period and fly.toml's kill_timeout give the container.
const STOP_TIMEOUT_S = 30;
const START_DEADLINE_MS = 90_000;

const log = (line: string): void => console.log(`deploy: ${line}`);

void test('the image builds with podman and runs as on docker and on Fly', { skip: podmanSkipReason(), timeout: 25 * 60_000 }, async (t) => {
  const confDir = mkdtempSync(path.join(os.tmpdir(), 'deploy-podman-'));
  t.after(() => rmSync(confDir, { recursive: true, force: true }));
  const podman = new Podman(confDir);

  await ensureBaseImage(podman, BASE_IMAGE, log);

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
    await t.test(withInit ? 'under --init (entrypoint not PID 1, as on Fly.io)' : 'with the entrypoint as PID 1', async (t) => {
      const name = `agent-cockpit-test-${randomUUID().slice(0, 8)}`;
      const data = mkdtempSync(path.join(os.tmpdir(), 'deploy-data-'));
      chmodSync(data, 0o755);
      t.after(async () => {
        await podman.run(['rm', '--force', '--time', '0', name]);
        rmSync(data, { recursive: true, force: true });
      });
      const port = await freePort();
      const token = randomUUID();
      const marker = `DEPLOY_CONTAINER_TEST=${randomUUID()}`;
      const base = `http://127.0.0.1:${port}`;

      // Host networking: no CNI/iptables needed here; PORT moves the API off 3001.
      const runArgs = ['run', '--detach', '--name', name, '--network', 'host'];
      if (withInit) runArgs.push('--init');
      runArgs.push(
        '--env', `PORT=${port}`,
        '--env', 'HOST=127.0.0.1',
        '--env', 'ANTHROPIC_API_KEY=sk-ant-deploy-test',
        '--env', `API_TOKEN=${token}`,
        '--env', 'KILL_GRACE_MS=2000',
        '--env', 'CLAUDE_BIN=/opt/deploy-test/claude',
        '--env', 'DEPLOY_TEST_SOCKET_DIR=/run/agent-cockpit',
        // The Playwright command the system prompt gives the agent (system-prompt.ts).
        '--env', 'PLAYWRIGHT_CLI=/app/node_modules/playwright/cli.js',
        '--env', marker,
        '--volume', `${fixtureCli}:/opt/deploy-test/claude:ro`,
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

      const pid1 = (await podman.ok(['exec', name, 'cat', '/proc/1/cmdline'])).stdout.split('\0')[0];
      assert.equal(pid1, withInit ? '/run/podman-init' : 's6-svscan', 'PID 1 in the container');
      assert.equal((await podman.run(['healthcheck', 'run', name])).code, 0, "the image's HEALTHCHECK passes");

      const answer = await http(`${base}/command`, { method: 'POST', body: { text: 'hello from the container test' }, token, timeoutMs: 30_000 });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const text = (answer.body as { text: string }).text;
      assert.match(text, /^deploy-echo user=agent home=\/home\/agent config=\/data\/claude api_token= socket=denied /, text);
      assert.equal(statSync(path.join(data, 'claude')).uid, AGENT_UID, 'the Claude config on the volume belongs to the agent');

      // A screenshot as the agent takes it: Playwright on Debian's Chromium, saved in
      // IMAGES_DIR by the agent, listed and served by the API (group api on the folder).
      const shot = await http(`${base}/command`, { method: 'POST', body: { text: 'take a screenshot' }, token, timeoutMs: 60_000 });
      assert.equal(shot.status, 200, JSON.stringify(shot.body));
      const images = (shot.body as { images: string[] }).images;
      assert.equal(images.length, 1, JSON.stringify(shot.body));
      const image = images[0]!;
      const imagePath = image.startsWith('http') ? new URL(image).pathname : image.startsWith('/') ? image : `/images/${image}`;
      const png = await fetch(`${base}${imagePath}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      assert.equal(png.status, 200);
      assert.equal(png.headers.get('content-type'), 'image/png');
      const bytes = Buffer.from(await png.arrayBuffer());
      assert.deepEqual([...bytes.subarray(1, 4)], [...Buffer.from('PNG')], 'a real PNG');

      // A job that would run for minutes, and its setsid'd escapee.
      const hanging = http(`${base}/command`, { method: 'POST', body: { text: 'please hang' }, token, timeoutMs: STOP_TIMEOUT_S * 1000 });
      await waitFor('the hanging job', 20_000, () => {
        const sleeps = pidsWithEnv(marker).filter((pid) => procInfo(pid)?.cmdline === 'sleep 300');
        return sleeps.length >= 2 ? sleeps : undefined;
      });

      const stop = await podman.run(['stop', '--time', String(STOP_TIMEOUT_S), name]);
      log(`podman stop${withInit ? ' (--init)' : ''}: ${stop.durationMs} ms`);
      assert.equal(stop.code, 0, stop.stderr);
      assert.ok(stop.durationMs < STOP_TIMEOUT_S * 1000, `stopped within ${STOP_TIMEOUT_S} s (took ${stop.durationMs} ms)`);
      const state = (await podman.ok(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim();
      assert.equal(state, 'exited 0', 'exited by itself with status 0, not killed (137)');

      const relay = await hanging;
      assert.equal(relay.status, 503, JSON.stringify(relay.body));
      const output = (await podman.ok(['logs', name])).stdout;
      const order = ['s6: shutting down', 's6: supervisor exited (code 0, signal 0)', 's6: api exited (code 0, signal 0)', 's6: all services down'].map((line) =>
        output.indexOf(line),
      );
      assert.ok(order.every((at, i) => at !== -1 && (i === 0 || at > order[i - 1]!)), `ordered shutdown in the logs:\n${output}`);
      assert.deepEqual(pidsWithEnv(marker), [], 'no process of the container is left');
    });
  }
});
