// Test harness: real supervisor processes on temporary Unix sockets, a tiny HTTP client
// for the socket, and counters of the processes a supervisor's jobs left behind.
// Shared by the supervisor, API and bench tests. Everything started here is stopped
// (and every temp dir removed) in t.after, even when the test fails.
//
// Exports:
//   REPO_ROOT                         absolute path of the repository
//   fixture(name)                     absolute path of test/fixtures/<name>
//   startSupervisor(t, options?)      spawn `node --import tsx supervisor/src/main.ts`
//                                     (IS_SANDBOX=1, fresh socket/workspace/images under
//                                     a temp dir unless given) and wait for its 'startup'
//                                     log line; returns a Supervisor:
//     .socketPath .dir .instanceTag .child .pid .logs (parsed JSON lines) .stderr()
//     .request(method, path, body?)   -> { status, body } over the socket
//     .startJob(body) / .waitJob(id, timeoutMs?) convenience wrappers (POST /jobs, /wait)
//     .waitForLog(pred, timeoutMs?)   -> the first log line matching pred
//     .exited                         Promise<{ code, signal }>
//     .stop(signal?)                  signal it and wait for exit (SIGKILL after 8 s)
//   requestSocket(socketPath, method, path, body?, timeoutMs?) -> { status, body }
//   runSupervisor(env, timeoutMs?)    run to exit (config errors): { code, stdout, stderr }
//   markedPids(instanceTag, jobId?)   pids whose environ carries the job marker
//   killMarked(instanceTag)           SIGKILL them (cleanup safety net)
//   removeJobCgroups(instanceTag)     rmdir the job cgroups a killed supervisor left
//   makeTempDir(t) / supervisorEnv(dir, extra?, claudeBin?)  building blocks
//   waitFor(check, { timeoutMs, intervalMs, message })  poll until check() is truthy
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { JobView, StartJobRequest } from '../../common/protocol.ts';
import { instanceMarkerPrefix, instanceTagFor, jobMarkerEntry } from '../../supervisor/src/ownership/marker.ts';
import { detectCgroups, staleGroups } from '../../supervisor/src/ownership/cgroup.ts';
import { environHas, listPids, readEnviron } from '../../supervisor/src/proc.ts';
import { collectLogLines } from './log-lines.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO_ROOT, 'supervisor', 'src', 'main.ts');

export function fixture(name: string): string {
  return join(REPO_ROOT, 'test', 'fixtures', name);
}

/**
 * Copies fixtures into `dir`/bin, where another user can run them: the checkout itself
 * may sit under a folder only its owner can enter (a clone in /root). `dir` is opened
 * to 0755 for that. The helpers they import or source (test/fixtures/lib/) come too.
 * Returns the staged path of the first one.
 */
export function stageFixtures(dir: string, ...names: string[]): string {
  chmodSync(dir, 0o755);
  const bin = join(dir, 'bin');
  mkdirSync(join(bin, 'lib'), { recursive: true, mode: 0o755 });
  chmodSync(bin, 0o755);
  chmodSync(join(bin, 'lib'), 0o755);
  for (const name of readdirSync(fixture('lib'))) {
    copyFileSync(join(fixture('lib'), name), join(bin, 'lib', name));
    chmodSync(join(bin, 'lib', name), 0o644);
  }
  for (const name of names) {
    copyFileSync(fixture(name), join(bin, name));
    chmodSync(join(bin, name), 0o755);
  }
  return join(bin, names[0]!);
}

export interface HttpAnswer<T = unknown> {
  status: number;
  body: T;
}

export function requestSocket<T = unknown>(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<HttpAnswer<T>> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpRequest(
      {
        socketPath,
        method,
        path,
        agent: false,
        timeout: timeoutMs,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 25, message = 'condition' }: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Pids of live processes carrying a supervisor instance's marker (one job's, if given). */
export function markedPids(instanceTag: string, jobId?: string): number[] {
  const needle = jobId === undefined ? instanceMarkerPrefix(instanceTag) : jobMarkerEntry(instanceTag, jobId);
  const found: number[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const environ = readEnviron(pid);
    if (environ !== null && environHas(environ, needle, jobId !== undefined)) found.push(pid);
  }
  return found;
}

export function killMarked(instanceTag: string): number {
  let n = 0;
  for (const pid of markedPids(instanceTag)) {
    try {
      process.kill(pid, 'SIGKILL');
      n += 1;
    } catch {
      // gone
    }
  }
  return n;
}

/** Remove the (emptied) job cgroups a killed supervisor instance left behind. */
export async function removeJobCgroups(instanceTag: string): Promise<void> {
  const support = detectCgroups(`agent-cockpit-${instanceTag}-probe`);
  if (support === null) return;
  for (const group of staleGroups(support, `agent-cockpit-${instanceTag}-`)) {
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(group.dir);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 25)); // members still exiting
      }
    }
  }
}

export interface SupervisorOptions {
  /** Extra environment (merged over the defaults). */
  env?: Record<string, string | undefined>;
  /** Fixture CLI; default cli-echo.mjs. */
  claudeBin?: string;
  /** Command run in front of node (e.g. ['unshare', '--pid', '--fork', '--mount-proc']). */
  wrapper?: string[];
  /** Reuse a directory (and its socket path) instead of a fresh temp dir. */
  dir?: string;
  /** Do not wait for the startup line (e.g. a supervisor expected to refuse to start). */
  noWait?: boolean;
  startupTimeoutMs?: number;
}

export interface Supervisor {
  dir: string;
  socketPath: string;
  instanceTag: string;
  child: ChildProcess;
  pid: number;
  logs: Record<string, unknown>[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  request<T = unknown>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<HttpAnswer<T>>;
  startJob(body: StartJobRequest): Promise<HttpAnswer<JobView>>;
  waitJob(id: string, timeoutMs?: number): Promise<JobView>;
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function makeTempDir(t: TestContext, prefix = 'sup-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function supervisorEnv(dir: string, extra: Record<string, string | undefined> = {}, claudeBin = fixture('cli-echo.mjs')): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SUPERVISOR_SOCKET: join(dir, 'supervisor.sock'),
    WORKSPACE_DIR: join(dir, 'workspace'),
    IMAGES_DIR: join(dir, 'images'),
    DATA_DIR: join(dir, 'data'),
    CLAUDE_BIN: claudeBin,
    IS_SANDBOX: '1',
    LOG_LEVEL: 'debug',
    // Any value: the fixture CLIs never call an API.
    ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY ?? 'sk-ant-test-not-a-key',
  };
  delete env.AGENT_USER;
  delete env.NODE_TEST_CONTEXT; // the supervisor is not a test file
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export async function startSupervisor(t: TestContext, options: SupervisorOptions = {}): Promise<Supervisor> {
  const dir = options.dir ?? (await makeTempDir(t));
  const env = supervisorEnv(dir, options.env, options.claudeBin);
  const socketPath = env.SUPERVISOR_SOCKET!;
  const instanceTag = instanceTagFor(socketPath);
  const argv = [...(options.wrapper ?? []), process.execPath, '--import', 'tsx', MAIN];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const listeners = new Set<() => void>();
  let stderr = '';
  const logs = collectLogLines(child.stdout!, () => {
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  // 'close', not 'exit': every log line has been read by then.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );

  const waitForLog = (pred: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = (): boolean => {
        const hit = logs.find(pred);
        if (hit) {
          cleanup();
          resolve(hit);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      const onExit = (): void => {
        setImmediate(() => {
          if (!check()) {
            cleanup();
            reject(new Error(`supervisor exited before the log line; stderr: ${stderr.slice(-2000)}`));
          }
        });
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
        child.off('close', onExit);
      };
      const listener = (): void => void check();
      listeners.add(listener);
      child.once('close', onExit);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    }
    return exited;
  };

  t.after(async () => {
    // Graceful first, so the supervisor removes its job cgroup; then the safety nets.
    await stop('SIGTERM');
    killMarked(instanceTag);
    await removeJobCgroups(instanceTag);
  });

  const sup: Supervisor = {
    dir,
    socketPath,
    instanceTag,
    child,
    pid: child.pid!,
    logs,
    stderr: () => stderr,
    exited,
    request: (method, path, body, timeoutMs) => requestSocket(socketPath, method, path, body, timeoutMs),
    startJob: (body) => requestSocket<JobView>(socketPath, 'POST', '/jobs', body),
    waitJob: async (id, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = Math.max(0, deadline - Date.now());
        const answer = await requestSocket<JobView>(socketPath, 'GET', `/jobs/${id}/wait?timeoutMs=${Math.min(left, 60_000)}`, undefined, left + 5000);
        if (answer.body.state === 'finished' || Date.now() >= deadline) return answer.body;
      }
    },
    waitForLog,
    stop,
  };
  if (!options.noWait) await waitForLog((l) => l.msg === 'startup', options.startupTimeoutMs ?? 20_000);
  return sup;
}

/** Run a supervisor to its exit (for configurations that must refuse to start). */
export function runSupervisor(env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`supervisor still running after ${timeoutMs} ms; stdout: ${stdout.slice(-1000)}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
