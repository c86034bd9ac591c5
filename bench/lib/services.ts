// Starting and stopping the processes under test: the supervisor and the API as their
// esbuild bundles (dist/*.mjs, built once per run by scripts/build.mjs) under plain node,
// exactly as `npm run start:*` and the image run them; peer (b) as `node --import tsx`.
// Their logs go to files in the run's temp dir (read back only when something fails).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_NODE_FLAGS, withServiceEnv } from '../../common/node-flags.ts';
import { type Target, request, socketTarget, tcpTarget } from './http.ts';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname;
export const FIXTURES = join(REPO_ROOT, 'bench', 'fixtures');
/** Prefix of every BENCH_MARK this run gives a fixture, so cleanup finds exactly ours. */
export const RUN_TAG = `b${process.pid}x${Date.now().toString(36)}`;

/** A fresh fixture marker of this run. */
export function newMark(kind: string): string {
  return `${RUN_TAG}-${kind}-${randomBytes(3).toString('hex')}`;
}

export interface Service {
  name: string;
  pid: number;
  target: Target;
  logFile: string;
  stop(): Promise<void>;
}

/** A TCP port free right now (bound then released; good enough on one machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

let built = false;

/** dist/supervisor.mjs and dist/api.mjs from the current sources, once per run. */
function buildOnce(): void {
  if (built) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  built = true;
}

/** A .ts runs through tsx; anything else (the bundles) under plain node. */
async function launch(name: string, script: string, env: Record<string, string>, target: Target, dir: string, wrapper: readonly string[] = []): Promise<Service> {
  const logFile = join(dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  // BENCH_PROFILE_DIR=DIR: every service writes a V8 CPU profile there when it exits.
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`];
  // The bundles run with the services' own node flags and environment, as npm start and
  // the image run them.
  const bundle = !script.endsWith('.ts');
  const flags = bundle ? [...SERVICE_NODE_FLAGS] : ['--import', 'tsx'];
  const argv = [...wrapper, process.execPath, ...profile, ...flags, join(REPO_ROOT, script)];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO_ROOT,
    env: bundle ? withServiceEnv({ ...process.env, ...env }) : { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`${name} exited during start-up:\n${logTail(logFile)}`);
    try {
      const reply = await request(target, 'GET', '/health', undefined, 2000);
      if (reply.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer /health within 20 s:\n${logTail(logFile)}`);
    }
    await sleep(50);
  }
  return {
    name,
    pid: child.pid!,
    target,
    logFile,
    async stop() {
      target.agent.destroy();
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

export interface SupervisorOptions {
  dir: string;
  claudeBin: string;
  env?: Record<string, string>;
  /** A command the supervisor runs under (test/support/cgroup-mounts.ts v2OnlyWrapper); it must exec node. */
  wrapper?: readonly string[];
}

/** A supervisor on a socket in `dir`, the CLI replaced by a fixture. Runs as root with IS_SANDBOX=1. */
export async function startSupervisor(name: string, options: SupervisorOptions): Promise<Service & { socketPath: string }> {
  const base = join(options.dir, name);
  await mkdir(join(base, 'workspace'), { recursive: true });
  await mkdir(join(base, 'images'), { recursive: true });
  const socketPath = join(base, 'supervisor.sock');
  const env = {
    SUPERVISOR_SOCKET: socketPath,
    CLAUDE_BIN: options.claudeBin,
    IS_SANDBOX: '1',
    ANTHROPIC_API_KEY: 'bench-not-a-key',
    WORKSPACE_DIR: join(base, 'workspace'),
    IMAGES_DIR: join(base, 'images'),
    DATA_DIR: join(base, 'data'),
    ...options.env,
  };
  buildOnce();
  const service = await launch(name, 'dist/supervisor.mjs', env, socketTarget(socketPath), options.dir, options.wrapper);
  return { ...service, socketPath };
}

/** The API on a free port in front of the supervisor at `socketPath`. */
export async function startApi(name: string, dir: string, socketPath: string, env: Record<string, string> = {}): Promise<Service & { port: number }> {
  const port = await freePort();
  const images = join(dir, `${name}-images`);
  await mkdir(images, { recursive: true });
  buildOnce();
  const service = await launch(
    name,
    'dist/api.mjs',
    { PORT: String(port), HOST: '127.0.0.1', SUPERVISOR_SOCKET: socketPath, IMAGES_DIR: images, ...env },
    tcpTarget(port),
    dir,
  );
  return { ...service, port };
}

/** Peer (b), the seed plan's Express server, on a free port. */
export async function startPeer(name: string, dir: string, claudeBin: string): Promise<Service & { port: number }> {
  const port = await freePort();
  const service = await launch(name, 'bench/peer-express.ts', { PORT: String(port), CLAUDE_BIN: claudeBin, IMAGES_DIR: dir }, tcpTarget(port), dir);
  return { ...service, port };
}
