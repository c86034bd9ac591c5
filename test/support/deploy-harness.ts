// Helpers for the deploy tests (s6 tree, container): users, ports, polling with a
// deadline, HTTP calls, and finding processes by an environment marker in /proc, which
// reaches even setsid'd escapees that no parent/child walk finds.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';

export const isRoot = (): boolean => process.getuid?.() === 0;

/** The absolute path of a command on PATH, or null. */
export function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function userExists(name: string): boolean {
  return spawnSync('id', ['-u', name], { stdio: 'ignore' }).status === 0;
}

/** Create a local user (with its own group, and a HOME when asked) unless it exists; true if created. */
export function ensureUser(name: string, options: { home: boolean }): boolean {
  if (userExists(name)) return false;
  const args = options.home ? ['--create-home', '--shell', '/bin/sh'] : ['--no-create-home', '--shell', '/usr/sbin/nologin'];
  // Its own group, or the existing group of that name (useradd refuses to make it twice).
  const groupExists = spawnSync('getent', ['group', name], { stdio: 'ignore' }).status === 0;
  args.push(...(groupExists ? ['--gid', name] : ['--user-group']));
  execFileSync('useradd', [...args, name], { stdio: 'pipe' });
  return true;
}

export function removeUser(name: string): void {
  spawnSync('userdel', ['--remove', name], { stdio: 'ignore' });
}

export function userId(name: string): number {
  return Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
}

export function groupId(name: string): number {
  return Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
}

/** A TCP port free on the loopback right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Poll until probe returns a value (not undefined); throw naming `what` at the deadline. */
export async function waitFor<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 200): Promise<T> {
  const end = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > end) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${why}`);
    }
    await sleep(everyMs);
  }
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** One HTTP call with a JSON body and answer, bounded by timeoutMs. */
export async function http(url: string, options: { method?: string; body?: unknown; token?: string; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}

/** `GET url` answers 200 (undefined otherwise, for waitFor). */
export async function healthy(url: string): Promise<true | undefined> {
  const answer = await http(url, { timeoutMs: 2000 });
  return answer.status === 200 ? true : undefined;
}

/** PIDs whose environment holds exactly `entry` (NAME=value). Unreadable ones are skipped. */
export function pidsWithEnv(entry: string): number[] {
  const wanted = Buffer.from(entry);
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${name}/environ`);
    } catch {
      continue; // gone, a kernel thread, or not ours to read
    }
    let start = 0;
    while (start < environ.length) {
      let end = environ.indexOf(0, start);
      if (end === -1) end = environ.length;
      if (end - start === wanted.length && environ.subarray(start, end).equals(wanted)) {
        found.push(Number(name));
        break;
      }
      start = end + 1;
    }
  }
  return found;
}

export interface ProcInfo {
  pid: number;
  uid: number;
  cmdline: string;
}

/** The real uid and command line of a process, or null when it is gone. */
export function procInfo(pid: number): ProcInfo | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, uid, cmdline };
  } catch {
    return null;
  }
}

/** Direct children of a process (Linux /proc/PID/task/TID/children). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') children.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return children;
}

/** Collects a child's stdout and stderr, interleaved, for assertions and failure reports. */
export class Output {
  private chunks: string[] = [];

  constructor(...streams: Array<Readable | null>) {
    for (const stream of streams) stream?.on('data', (chunk: Buffer) => this.chunks.push(chunk.toString('utf8')));
  }

  get text(): string {
    return this.chunks.join('');
  }

  get lines(): string[] {
    return this.text.split('\n');
  }

  /** Index of the first line matching the pattern, -1 if none. */
  lineIndex(pattern: RegExp): number {
    return this.lines.findIndex((line) => pattern.test(line));
  }
}
