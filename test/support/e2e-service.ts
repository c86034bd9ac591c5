// The whole service for end-to-end tests with the real Claude Code CLI: a real supervisor
// process and a real API process, the pinned CLI (CLAUDE_BIN unset), and the Messages API
// stand-in behind ANTHROPIC_BASE_URL. Everything lives in one temp folder that is
// removed afterwards; both processes get SIGTERM, then SIGKILL if they linger.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { linkSystemChromium } from '../../supervisor/src/claude/system-chromium.ts';
import { REPO_ROOT, request, startApiProcess, type RawResponse } from './api-harness.ts';
import { startMessagesApi, type MessagesApi } from './messages-api.ts';
import { collectLogLines } from './log-lines.ts';

/** Where cleanups go: a test's context, or a Cleanups list run by a file-level after(). */
export interface CleanupRegistrar {
  after(fn: () => unknown): void;
}

/** Cleanups for a service shared by a whole test file; run() runs them newest first. */
export class Cleanups implements CleanupRegistrar {
  private readonly fns: Array<() => unknown> = [];
  after(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.fns.splice(0).reverse()) await fn();
  }
}

export interface E2eServiceOptions {
  messagesApi: MessagesApi;
  /** Extra supervisor settings (COMMAND_TIMEOUT_MS, AGENT_USER, ...). */
  env?: Record<string, string>;
}

export interface E2eService {
  port: number;
  dir: string;
  imagesDir: string;
  workspaceDir: string;
  supervisorLogs: Record<string, unknown>[];
  command(body: Record<string, unknown>, headers?: Record<string, string>): Promise<RawResponse>;
  get(urlPath: string): Promise<RawResponse>;
}

const SUPERVISOR_START_MS = 20_000;
const STOP_MS = 15_000;

export async function startE2eService(t: CleanupRegistrar, options: E2eServiceOptions): Promise<E2eService> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'e2e-cli-'));
  // A non-root agent must reach its workspace and images folder inside.
  await fs.chmod(dir, 0o755);
  const imagesDir = path.join(dir, 'images');
  const workspaceDir = path.join(dir, 'workspace');
  const home = path.join(dir, 'home');
  const browsers = path.join(dir, 'ms-playwright');
  for (const d of [imagesDir, workspaceDir, home]) await fs.mkdir(d, { recursive: true, mode: 0o777 });
  // mkdir's mode is masked by the umask; the agent user writes here.
  for (const d of [imagesDir, workspaceDir]) await fs.chmod(d, 0o1777);
  await linkSystemChromium(browsers);
  const socketPath = path.join(dir, 'supervisor.sock');

  const children: ChildProcess[] = [];
  t.after(async () => {
    // The API first (it holds requests), then the supervisor (it ends any job's tree).
    for (const child of children.reverse()) await stop(child);
    await fs.rm(dir, { recursive: true, force: true });
    // The CLI's Bash tool keeps per-session scratch under <tmp>/claude-<uid>/<project>/.
    await removeCliScratch(workspaceDir);
  });

  const agentUser = options.env?.AGENT_USER;
  const supervisorEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    SUPERVISOR_SOCKET: socketPath,
    WORKSPACE_DIR: workspaceDir,
    IMAGES_DIR: imagesDir,
    DATA_DIR: path.join(path.dirname(workspaceDir), 'data'),
    ANTHROPIC_BASE_URL: options.messagesApi.url,
    ANTHROPIC_API_KEY: 'sk-ant-e2e-not-a-real-key',
    // No retries against the stand-in's deliberate 500/401: one answer, fast.
    CLAUDE_CODE_MAX_RETRIES: '0',
    // DISABLE_AUTOUPDATER & co. are not set here: the supervisor adds them (cliEnv).
    PLAYWRIGHT_BROWSERS_PATH: browsers,
    KILL_GRACE_MS: '2000',
    SAMPLE_INTERVAL_MS: '250',
    LOG_LEVEL: 'info',
    ...(agentUser === undefined && process.getuid?.() === 0 ? { IS_SANDBOX: '1' } : {}),
    ...options.env,
  };
  const supervisor = spawn(process.execPath, ['--import', 'tsx', 'supervisor/src/main.ts'], {
    cwd: REPO_ROOT,
    env: supervisorEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(supervisor);
  const supervisorLogs = collectLogLines(supervisor.stdout!);
  await waitForLog(supervisor, supervisorLogs, 'startup', SUPERVISOR_START_MS);

  // startApiProcess only registers a cleanup on its context.
  const api = await startApiProcess(t as TestContext, {
    SUPERVISOR_SOCKET: socketPath,
    IMAGES_DIR: imagesDir,
    WORKSPACE_DIR: workspaceDir,
    LOG_LEVEL: 'info',
  });
  children.push(api.child);

  return {
    port: api.port,
    dir,
    imagesDir,
    workspaceDir,
    supervisorLogs,
    command: (body, headers = {}) =>
      request(api.port, {
        method: 'POST',
        path: '/command',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }),
    get: (urlPath) => request(api.port, { path: urlPath }),
  };
}

/** The CLI names a project folder after its cwd, every non-alphanumeric as `-`. */
export function cliProjectName(cwd: string): string {
  return cwd.replace(/[^a-zA-Z0-9]/g, '-');
}

async function removeCliScratch(workspaceDir: string): Promise<void> {
  const tmp = os.tmpdir();
  for (const entry of readdirSync(tmp)) {
    if (/^claude-\d+$/.test(entry)) await fs.rm(path.join(tmp, entry, cliProjectName(workspaceDir)), { recursive: true, force: true });
  }
}

async function waitForLog(child: ChildProcess, logs: Record<string, unknown>[], msg: string, timeoutMs: number): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const deadline = Date.now() + timeoutMs;
  while (!logs.some((l) => l.msg === msg)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`supervisor exited (${child.exitCode ?? child.signalCode}) before "${msg}": ${stderr}${JSON.stringify(logs)}`);
    }
    if (Date.now() > deadline) throw new Error(`supervisor did not log "${msg}" within ${timeoutMs} ms: ${stderr}`);
    await sleep(50);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
  await exited;
  clearTimeout(timer);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until check() is true or the deadline passes; returns the last result. */
export async function eventually(check: () => boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

export { findProcesses, type ProcInfo } from './processes.ts';

/** Create a plain system user for the agent when missing (root only); returns its uid. */
export function ensureAgentUser(name: string): number {
  const uid = (): number => Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  try {
    return uid();
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', '--user-group', name], { stdio: 'ignore' });
    return uid();
  }
}

/**
 * One stand-in and one service for a whole test file (a real CLI run is ~1 s; starting
 * both processes is ~2 s), set up before its first test and stopped after its last;
 * each test scripts the stand-in's next turns. Read the two once `before` has run.
 */
export function e2eSuite(env: Record<string, string> = {}): { readonly api: MessagesApi; readonly service: E2eService } {
  const cleanups = new Cleanups();
  let api: MessagesApi | null = null;
  let service: E2eService | null = null;
  before(async () => {
    api = await startMessagesApi();
    cleanups.after(() => api!.close());
    service = await startE2eService(cleanups, { messagesApi: api, env });
  });
  after(() => cleanups.run());
  return {
    get api() {
      return api!;
    },
    get service() {
      return service!;
    },
  };
}
