// The deploy files read with real parsers (Dockerfile, TOML, YAML) and checked against
// what the image and the Fly Machine promise: users, pinned versions, signals, checks,
// ports, no secrets. Fast: no process but the entrypoint's refusal to start and the CLI
// version check against a stand-in `claude`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from '../../common/node-flags.ts';
import { METRICS_PATH } from '../../api/src/metrics/server.ts';
import { execForm, keyValues, parseDockerfile, shellWords, splitFlags, type Instruction } from '../support/deploy-dockerfile.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');
const overlay = path.join(root, 'docker/s6-overlay');
const servicesDir = path.join(overlay, 'etc/s6/services');

const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL/i;
const SECRETS = ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'API_TOKEN'];
/** The build step that compares `claude --version` with package.json's pin. */
const CHECK_SCRIPT = 'check-claude-version.sh';

const instructions = parseDockerfile(read('docker/Dockerfile'));
/** The image's own stage, from the last FROM on (the stages before it build parts of it). */
const dockerfile = instructions.slice(instructions.map((i) => i.keyword).lastIndexOf('FROM'));
const packageJson = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string }> };

function all(keyword: string): Instruction[] {
  return dockerfile.filter((i) => i.keyword === keyword);
}
function only(keyword: string): Instruction {
  const found = all(keyword);
  assert.equal(found.length, 1, `exactly one ${keyword}`);
  return found[0]!;
}
function indexOf(predicate: (i: Instruction) => boolean, what: string): number {
  const index = dockerfile.findIndex(predicate);
  assert.notEqual(index, -1, `Dockerfile has ${what}`);
  return index;
}
/** Every ENV the image sets, later ones winning. */
function imageEnv(): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const i of all('ENV')) for (const [k, v] of keyValues(i)) env.set(k, v);
  return env;
}
function timeoutKillMs(service: string): number {
  const value = Number(readFileSync(path.join(servicesDir, service, 'timeout-kill'), 'utf8').trim());
  assert.ok(Number.isInteger(value) && value > 0, `${service}/timeout-kill is a positive whole number of ms`);
  return value;
}
function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
/** Seconds in a compose/Fly duration: 30, "30s", "1m30s". */
function seconds(value: unknown): number {
  if (typeof value === 'number') return value;
  assert.equal(typeof value, 'string', `duration ${String(value)}`);
  let total = 0;
  const text = value as string;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let consumed = 0;
  for (let match = re.exec(text); match !== null; match = re.exec(text)) {
    const n = Number(match[1]);
    total += match[2] === 'h' ? n * 3600 : match[2] === 'm' ? n * 60 : match[2] === 's' ? n : n / 1000;
    consumed += match[0].length;
  }
  assert.equal(consumed, text.length, `duration ${text} is readable`);
  return total;
}
/** Megabytes in "4gb", "4096mb", "4g", 4096. */
function megabytes(value: unknown): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*(g|gb|m|mb)$/i.exec(String(value));
  assert.ok(match, `memory size ${String(value)} is readable`);
  return Number(match[1]) * (match[2]!.toLowerCase().startsWith('g') ? 1024 : 1);
}

void describe('Dockerfile', () => {
  void test('defaults to an official Node 22 Debian bookworm base, overridable', () => {
    const arg = instructions.find((i) => i.keyword === 'ARG' && keyValues(i).has('BASE_IMAGE'));
    assert.ok(arg, 'ARG BASE_IMAGE');
    assert.ok(instructions.indexOf(arg) < instructions.findIndex((i) => i.keyword === 'FROM'), 'ARG before FROM');
    assert.match(keyValues(arg).get('BASE_IMAGE') ?? '', /^node:22(\.\d+)*-bookworm(-slim)?$/);
    for (const from of instructions.filter((i) => i.keyword === 'FROM')) assert.match(from.args.trim(), /^\$\{BASE_IMAGE\}( AS \w+)?$/);
    assert.equal(only('FROM').args.trim(), '${BASE_IMAGE}', 'the image itself has no stage name');
  });

  void test('installs Chromium, fonts, git, s6 and execline from Debian, and cleans apt', () => {
    const aptRun = all('RUN').find((i) => i.args.includes('apt-get install'));
    assert.ok(aptRun, 'an apt-get install step');
    const words = new Set(shellWords(aptRun.args.replace(/&&/g, ' ')));
    for (const pkg of ['chromium', 'fonts-liberation', 'git', 's6', 'execline', 'ca-certificates', 'procps']) {
      assert.ok(words.has(pkg), `apt installs ${pkg}`);
    }
    assert.ok(words.has('--no-install-recommends'));
    assert.match(aptRun.args, /rm -rf \/var\/lib\/apt\/lists/);
  });

  void test('creates the agent and api users with fixed non-root ids, and never switches USER', () => {
    const runs = all('RUN').map((i) => i.args).join(' && ');
    for (const user of ['agent', 'api']) {
      const command = runs.split('&&').map((c) => shellWords(c.trim())).find((w) => w[0] === 'useradd' && w.at(-1) === user);
      assert.ok(command, `useradd ${user}`);
      const uid = Number(command[command.indexOf('--uid') + 1]);
      assert.ok(Number.isInteger(uid) && uid >= 1000, `${user} has a fixed non-root uid (got ${uid})`);
    }
    // The entrypoint must start as root: the supervisor drops the CLI to the agent itself.
    assert.equal(all('USER').length, 0, 'no USER instruction');
  });

  void test('pins the Claude Code CLI and the Playwright CLI through the lockfile', () => {
    const text = read('docker/Dockerfile');
    assert.doesNotMatch(text, /@latest/);
    assert.doesNotMatch(text, /npm (i|install)\b/, 'npm ci, never npm install');
    assert.doesNotMatch(text, /playwright install/, 'no browser download');
    const npmCi = indexOf((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args), 'RUN npm ci');
    const copyLock = indexOf((i) => i.keyword === 'COPY' && i.args.includes('package-lock.json'), 'COPY package-lock.json');
    assert.ok(copyLock < npmCi, 'the lockfile is copied before npm ci');
    for (const [name, bin] of [['@anthropic-ai/claude-code', 'claude'], ['playwright', 'playwright']] as const) {
      const wanted = packageJson.dependencies[name];
      assert.match(wanted ?? '', /^\d+\.\d+\.\d+$/, `${name} is an exact version in package.json`);
      assert.equal(lock.packages[`node_modules/${name}`]?.version, wanted, `${name} locked at ${wanted}`);
      assert.match(text, new RegExp(`/app/node_modules/\\.bin/${bin}\\b`), `${bin} is linked onto PATH`);
    }
    const skip = indexOf((i) => i.keyword === 'ENV' && keyValues(i).get('PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD') === '1', 'PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1');
    assert.ok(skip < npmCi, 'browser download is off before npm ci');
    assert.equal(imageEnv().get('PLAYWRIGHT_BROWSERS_PATH'), '/opt/ms-playwright');
  });

  void test("fails the build unless the installed CLI prints package.json's pinned version", () => {
    const npmCi = indexOf((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args), 'RUN npm ci');
    const copy = indexOf((i) => i.keyword === 'COPY' && i.args.includes(`docker/${CHECK_SCRIPT}`), `COPY docker/${CHECK_SCRIPT}`);
    const run = indexOf((i) => i.keyword === 'RUN' && i.args.includes(CHECK_SCRIPT), `RUN ${CHECK_SCRIPT}`);
    assert.ok(npmCi < run && copy < run, 'checked after npm ci, with the script copied in');
    // What runs is what was copied, on the package.json npm ci installed from (WORKDIR /app).
    const destination = shellWords(dockerfile[copy]!.args).at(-1);
    assert.deepEqual(shellWords(dockerfile[run]!.args), [destination, '/app/package.json']);
    assert.equal(dockerfile.filter((i) => i.keyword === 'WORKDIR').at(0)?.args.trim(), '/app');
    // No version of its own: the pin is package.json's only.
    assert.doesNotMatch(read(`docker/${CHECK_SCRIPT}`), /\d+\.\d+\.\d+/);
  });

  void test(`${CHECK_SCRIPT} passes the pinned version and fails any other`, (t) => {
    const pinned = packageJson.dependencies['@anthropic-ai/claude-code']!;
    const stubs = mkdtempSync(path.join(os.tmpdir(), 'claude-stub-'));
    t.after(() => rmSync(stubs, { recursive: true, force: true }));
    const check = (printed: string, packageFile = path.join(root, 'package.json')): { status: number | null; stderr: string } => {
      // A stand-in `claude` that prints what `claude --version` would.
      writeFileSync(path.join(stubs, 'claude'), `#!/bin/sh\nprintf '%s\\n' '${printed}'\n`, { mode: 0o755 });
      const env = { PATH: `${stubs}:${path.dirname(process.execPath)}:/usr/bin:/bin` };
      return spawnSync(path.join(root, 'docker', CHECK_SCRIPT), [packageFile], { env, encoding: 'utf8' });
    };
    assert.equal(check(`${pinned} (Claude Code)`).status, 0);
    const other = check('2.1.100 (Claude Code)');
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, new RegExp(`says '2\\.1\\.100 \\(Claude Code\\)'; package.json pins '${pinned.replaceAll('.', '\\.')}'`));
    assert.notEqual(check(pinned).status, 0, 'the version alone is not what the CLI prints');
    assert.notEqual(check(`${pinned}1 (Claude Code)`).status, 0);
    const unpinned = path.join(stubs, 'package.json');
    writeFileSync(unpinned, JSON.stringify({ dependencies: {} }));
    assert.notEqual(check(' (Claude Code)', unpinned).status, 0, 'no pin is no pass');
  });

  void test('orders layers for the cache: packages, dependencies, then the source', () => {
    const apt = indexOf((i) => i.keyword === 'RUN' && i.args.includes('apt-get install'), 'apt step');
    const npmCi = indexOf((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args), 'npm ci');
    const source = indexOf((i) => i.keyword === 'COPY' && i.args.includes('supervisor/src'), 'COPY supervisor/src');
    assert.ok(apt < npmCi && npmCi < source);
  });

  void test('bundles the services after copying every source (s6 runs dist/*.mjs)', () => {
    const build = indexOf((i) => i.keyword === 'RUN' && /^node scripts\/build\.mjs\b/.test(i.args.trim()), 'RUN node scripts/build.mjs');
    for (const dir of ['common/', 'supervisor/src/', 'api/src/', 'scripts/build.mjs', 'scripts/start.ts']) {
      const copy = indexOf((i) => i.keyword === 'COPY' && i.args.includes(dir), `COPY ${dir}`);
      assert.ok(copy < build, `${dir} is copied before the build`);
    }
    assert.equal(packageJson.dependencies.esbuild, lock.packages['node_modules/esbuild']?.version, 'esbuild is an exact runtime dependency (npm ci --omit=dev installs it)');
  });

  void test('copies only files that exist and that .dockerignore lets through', () => {
    const allowed = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    assert.ok(read('.dockerignore').split('\n').includes('*'), '.dockerignore starts from nothing (an allowlist)');
    assert.ok(!allowed.some((a) => a.startsWith('.env')), '.env never enters the build context');
    for (const copy of instructions.filter((i) => i.keyword === 'COPY' && !splitFlags(i.args).flags.has('from'))) {
      const argv = execForm(copy.args) ?? shellWords(splitFlags(copy.args).rest);
      for (const source of argv.slice(0, -1)) {
        const clean = source.replace(/\/$/, '');
        assert.ok(existsSync(path.join(root, clean)), `COPY source ${source} exists`);
        assert.ok(allowed.some((a) => clean === a || clean.startsWith(`${a}/`)), `${source} is in the .dockerignore allowlist`);
      }
    }
  });

  void test("builds the per-job reaper in a stage of its own and ships only the binary, beside the bundles", () => {
    const stage = instructions.findIndex((i) => i.keyword === 'FROM' && /\bAS reaper$/.test(i.args.trim()));
    assert.notEqual(stage, -1, 'a reaper stage');
    const gcc = instructions.slice(stage).find((i) => i.keyword === 'RUN' && /\bgcc\b.*reaper\.c/.test(i.args));
    assert.ok(gcc, 'gcc builds reaper.c there');
    const copy = indexOf((i) => i.keyword === 'COPY' && splitFlags(i.args).flags.get('from')?.[0] === 'reaper', 'COPY --from=reaper');
    assert.match(dockerfile[copy]!.args, /\.\/dist\/agent-cockpit-reaper$/);
    assert.ok(!all('RUN').some((i) => /apt-get install[^&]*\bgcc\b/.test(i.args)), 'no compiler in the image itself');
    assert.equal(imageEnv().get('AGENT_USER_DEDICATED'), '1', 'the agent user runs nothing but jobs: its uid names them');
  });

  void test('bakes in no secret', () => {
    for (const i of [...all('ENV'), ...all('ARG')]) {
      for (const name of keyValues(i).keys()) assert.doesNotMatch(name, SECRET_NAME, `${i.keyword} ${name} (line ${i.line})`);
    }
    // An extra CA for the build comes in as a build secret, mounted for one step only.
    const npmCi = all('RUN').find((i) => /\bnpm ci\b/.test(i.args))!;
    assert.deepEqual(splitFlags(npmCi.args).flags.get('mount'), ['type=secret,id=extra_ca']);
  });

  void test('exposes 3001 and the metrics port with a HEALTHCHECK on /health, stops on SIGTERM, enters through the entrypoint', () => {
    assert.deepEqual(only('EXPOSE').args.trim().split(/\s+/), ['3001', imageEnv().get('METRICS_PORT')]);
    assert.equal(imageEnv().get('PORT'), '3001');
    const { flags, rest } = splitFlags(only('HEALTHCHECK').args);
    assert.ok(flags.has('interval') && flags.has('timeout'), 'healthcheck interval and timeout');
    assert.match(rest, /^CMD\s/);
    assert.match(rest, /\/health/);
    assert.equal(only('STOPSIGNAL').args.trim(), 'SIGTERM');
    const entrypoint = execForm(only('ENTRYPOINT').args);
    assert.deepEqual(entrypoint, ['/usr/local/bin/entrypoint'], 'exec form, so signals reach it');
    assert.ok(isExecutable(path.join(overlay, 'usr/local/bin/entrypoint')), 'the entrypoint is in the overlay, executable');
  });

  void test('keeps the socket away from the agent and the data on /data', () => {
    const env = imageEnv();
    assert.equal(env.get('AGENT_USER'), 'agent');
    assert.equal(env.get('SUPERVISOR_SOCKET_GROUP'), 'api');
    const socketDir = path.dirname(env.get('SUPERVISOR_SOCKET') ?? '');
    assert.ok(socketDir.startsWith('/run/'), 'socket under /run');
    for (const name of ['WORKSPACE_DIR', 'CLAUDE_CONFIG_DIR', 'IMAGES_DIR', 'DATA_DIR']) {
      const dir = env.get(name) ?? '';
      assert.ok(dir.startsWith('/data/'), `${name} on the volume`);
      assert.ok(!dir.startsWith(socketDir) && !socketDir.startsWith(dir), `${name} apart from the socket folder`);
    }
  });
});

void describe('s6 service directories', () => {
  for (const service of ['supervisor', 'api']) {
    void test(`${service}: executable run and finish, readiness fd, timeout-kill`, () => {
      for (const file of ['run', 'finish', 'data/check']) {
        assert.ok(isExecutable(path.join(servicesDir, service, file)), `${service}/${file} is executable`);
      }
      assert.equal(readFileSync(path.join(servicesDir, service, 'notification-fd'), 'utf8').trim(), '3');
      timeoutKillMs(service);
      const run = readFileSync(path.join(servicesDir, service, 'run'), 'utf8');
      assert.match(run, /\$\{APP_DIR:-\/app\}/, 'the app folder comes from APP_DIR (tests point it at the checkout)');
      // The same node flags as npm start and the bench (common/node-flags.ts): one list.
      assert.match(run, new RegExp(`node ${SERVICE_NODE_FLAGS.join(' ')} dist/${service}\\.mjs`), 'runs the bundle under plain node with the services\' flags');
      assert.doesNotMatch(run, /--import tsx/, 'no tsx loader in production');
      for (const [name, value] of Object.entries(SERVICE_ENV)) {
        assert.ok(run.includes(`\nexport ${name}="\${${name}:-${value}}"\n`), `exports ${name} (default ${value}, the operator's value wins)`);
      }
    });
  }

  void test('the api drops to the api user without the Claude credentials; the supervisor stays root and never sees API_TOKEN', () => {
    const api = readFileSync(path.join(servicesDir, 'api/run'), 'utf8');
    const supervisor = readFileSync(path.join(servicesDir, 'supervisor/run'), 'utf8');
    assert.match(api, /s6-setuidgid api node /);
    assert.doesNotMatch(supervisor, /s6-setuidgid/);
    assert.match(supervisor, /^unset API_TOKEN$/m);
    const unset = /^unset (.+)$/m.exec(api)?.[1]?.split(/\s+/) ?? [];
    for (const name of ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN']) assert.ok(unset.includes(name), `api/run unsets ${name}`);
    assert.ok(api.indexOf('unset ') < api.indexOf('exec s6-notifyoncheck'), 'before the API starts');
  });

  void test('supervisor timeout-kill covers its own shutdown (KILL_GRACE_MS + 2 s)', () => {
    const killGraceMs = Number(imageEnv().get('KILL_GRACE_MS'));
    assert.ok(timeoutKillMs('supervisor') >= killGraceMs + 2000);
    assert.ok(timeoutKillMs('api') > 5000, 'api timeout-kill covers its 5 s shutdown deadline');
  });

  void test('SIGTERM and SIGINT are diverted to the ordered shutdown', () => {
    for (const signal of ['SIGTERM', 'SIGINT']) {
      assert.ok(isExecutable(path.join(servicesDir, '.s6-svscan', signal)), `.s6-svscan/${signal}`);
    }
    const script = readFileSync(path.join(servicesDir, '.s6-svscan/SIGTERM'), 'utf8');
    const supervisorDown = script.indexOf('s6-svc -d supervisor');
    const apiDown = script.indexOf('s6-svc -d api');
    assert.ok(supervisorDown !== -1 && apiDown > supervisorDown, 'supervisor goes down before the api');
    assert.match(script, /exec s6-svscanctl -t \.\s*$/);
  });
});

void describe('fly.toml', () => {
  const fly = parseToml(read('fly.toml')) as Record<string, unknown>;
  const http = fly.http_service as Record<string, unknown>;

  void test('builds the Dockerfile and runs both processes in one Machine', () => {
    assert.equal((fly.build as Record<string, unknown>).dockerfile, 'docker/Dockerfile');
    const groups = fly.processes === undefined ? [] : Object.keys(fly.processes as object);
    assert.ok(groups.length <= 1, 'one process group: the supervisor and the API share a socket');
  });

  void test('stops with SIGTERM and waits longer than the services can take', () => {
    assert.equal(fly.kill_signal, 'SIGTERM');
    const killTimeoutS = seconds(fly.kill_timeout);
    const env = fly.env as Record<string, string>;
    const killGraceMs = Number(env.KILL_GRACE_MS ?? imageEnv().get('KILL_GRACE_MS'));
    assert.ok(killTimeoutS >= killGraceMs / 1000 + 2, 'covers the supervisor');
    // The entrypoint sets timeout-kill to KILL_GRACE_MS + 5 s and API_SHUTDOWN_TIMEOUT_MS + 3 s; they run in turn.
    assert.ok(killTimeoutS >= (killGraceMs + 5000 + 5000 + 3000) / 1000, 'covers both services stopping in turn');
    assert.ok(killTimeoutS <= 300, "Fly's maximum");
  });

  void test('serves 3001 with a /health check and never auto-stops', () => {
    assert.equal(http.internal_port, 3001);
    assert.ok(http.auto_stop_machines === 'off' || http.auto_stop_machines === false);
    assert.ok((http.min_machines_running as number) >= 1);
    const checks = http.checks as Array<Record<string, unknown>>;
    assert.ok(checks.some((c) => c.path === '/health' && (c.method ?? 'GET') === 'GET'));
  });

  void test('[metrics] scrapes the image\'s METRICS_PORT at /metrics, apart from the relay\'s port, on 0.0.0.0', () => {
    const metrics = fly.metrics as Record<string, unknown>;
    assert.ok(metrics !== undefined && !Array.isArray(metrics), 'one [metrics] section');
    const env = { ...Object.fromEntries(imageEnv()), ...(fly.env as Record<string, string>) };
    assert.equal(metrics.port, Number(env.METRICS_PORT), "the image's METRICS_PORT (the API's metrics listener)");
    assert.equal(metrics.path, METRICS_PATH);
    assert.notEqual(metrics.port, http.internal_port, 'never the relay\'s port');
    assert.notEqual(Number(env.METRICS_PORT), Number(env.PORT));
    assert.equal(env.METRICS_HOST, '0.0.0.0', "Fly's scraper comes over the Machine's network, not the loopback");
    assert.equal(fly.services, undefined, 'no [[services]]: nothing publishes the metrics port');
  });

  void test('mounts a volume on /data and sizes the VM for Chromium and the CLI', () => {
    const mounts = (Array.isArray(fly.mounts) ? fly.mounts : [fly.mounts]) as Array<Record<string, unknown>>;
    assert.ok(mounts.some((m) => m.destination === '/data' && typeof m.source === 'string'));
    const vm = (fly.vm as Array<Record<string, unknown>>)[0]!;
    assert.ok(megabytes(vm.memory) >= 4096, 'at least 4 GB');
  });

  void test('carries no secret', () => {
    for (const name of Object.keys(fly.env as object)) assert.doesNotMatch(name, SECRET_NAME);
  });
});

void describe('docker-compose.yml', () => {
  const compose = parseYaml(read('docker-compose.yml')) as { services: Record<string, Record<string, unknown>> };
  const services = Object.values(compose.services);

  void test('one service, built from docker/Dockerfile, secrets from .env', () => {
    assert.equal(services.length, 1);
    const service = services[0]!;
    assert.equal((service.build as Record<string, unknown>).dockerfile, 'docker/Dockerfile');
    assert.deepEqual([service.env_file].flat(), ['.env']);
    assert.equal(service.environment, undefined, 'settings go in .env, not in the file');
  });

  void test('publishes 3001, limits memory, restarts, and waits out the shutdown', () => {
    const service = services[0]!;
    assert.ok((service.ports as string[]).some((p) => /(^|:)3001:3001$/.test(String(p))));
    const limits = ((service.deploy as Record<string, unknown>)?.resources as Record<string, unknown>)?.limits as Record<string, unknown>;
    assert.ok(megabytes(limits?.memory ?? service.mem_limit) >= 2048);
    assert.ok(['always', 'unless-stopped', 'on-failure'].includes(String(service.restart)));
    assert.ok(seconds(service.stop_grace_period) >= seconds((parseToml(read('fly.toml')) as Record<string, unknown>).kill_timeout));
    assert.ok((service.volumes as string[]).some((v) => String(v).endsWith(':/data')));
  });

  void test('no new privileges, a pids limit, and no extra capability', () => {
    const service = services[0]!;
    assert.ok((service.security_opt as string[]).some((o) => /^no-new-privileges(:true)?$/.test(o)));
    assert.ok(Number(service.pids_limit) >= 1024, `pids_limit ${String(service.pids_limit)}`);
    assert.equal(service.cap_add, undefined, 'the ownership layers need no capability (no SYS_PTRACE)');
    assert.equal(service.privileged, undefined);
  });
});

void describe('.env.example', () => {
  void test('names every secret and holds no value', () => {
    const lines = read('.env.example').split('\n');
    for (const name of SECRETS) {
      const line = lines.find((l) => l.replace(/^#\s*/, '').startsWith(`${name}=`));
      assert.ok(line, `${name} listed`);
      assert.equal(line.split('=')[1], '', `${name} has no value`);
    }
    assert.match(read('.gitignore'), /^\.env$/m, '.env itself is git-ignored');
  });
});

void describe('entrypoint', () => {
  const entrypoint = path.join(overlay, 'usr/local/bin/entrypoint');
  const run = (env: Record<string, string>) =>
    spawnSync('/bin/sh', [entrypoint], { env: { PATH: process.env.PATH, SUPERVISOR_SOCKET: '/nonexistent/s.sock', ...env }, encoding: 'utf8' });
  const notRoot = process.getuid?.() !== 0 ? 'the entrypoint checks secrets only once it runs as root' : false;

  void test('refuses to start without Claude credentials, naming both variables', { skip: notRoot }, () => {
    const result = run({ API_TOKEN: 'x'.repeat(32) });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN/);
  });

  void test('refuses to start without API_TOKEN', { skip: notRoot }, () => {
    const result = run({ ANTHROPIC_API_KEY: 'sk-test' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /set API_TOKEN/);
    assert.doesNotMatch(result.stderr, /sk-test/, 'never echoes a secret');
  });

  void test('refuses a scan folder it would wipe at the top level', { skip: notRoot }, () => {
    const result = run({
      ANTHROPIC_API_KEY: 'sk-test',
      API_TOKEN: 'x'.repeat(32),
      WORKSPACE_DIR: '/nonexistent/w',
      CLAUDE_CONFIG_DIR: '/nonexistent/c',
      IMAGES_DIR: '/nonexistent/i',
      DATA_DIR: '/nonexistent/d',
      S6_SCAN_DIR: '/',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /S6_SCAN_DIR must be an absolute path below a top-level folder/);
  });
});
