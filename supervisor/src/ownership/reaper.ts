// The per-job reaper (supervisor/native/reaper.c, built by scripts/build.mjs): a
// subreaper between the supervisor and the CLI that keeps every orphan of the job below
// it, outlives the CLI until the supervisor releases it, and SIGKILLs what is left below
// it when the supervisor dies. This module knows its command line, its status lines and
// how to find the reapers a dead predecessor left.
import { constants } from 'node:os';
import path from 'node:path';
import { listPids, readCmdline, readStat, readUids } from '../proc.ts';
import type { CgroupJoin } from './cgroup.ts';
import type { ProcRef } from './tree.ts';

export const REAPER_NAME = 'agent-cockpit-reaper';

/** Where scripts/build.mjs puts it: dist/ beside the bundles. */
export function defaultReaperBin(repoRoot: string): string {
  return path.join(repoRoot, 'dist', REAPER_NAME);
}

export interface ReaperArgv {
  /** The job's marker value `<instanceTag>:<jobId>`: names the reaper in /proc/PID/cmdline. */
  tag: string;
  /** Drop to this identity before the exec (the agent user); absent: stay as we are. */
  uid?: number;
  gid?: number;
  /** The job cgroup's directory: the CLI is born in it (v2) or joins it before its exec. */
  cgroupDir?: string;
  /** A warm start: the arguments come later, on fd 5 (warmSpec), with the cwd. */
  warm?: boolean;
  program: string;
  args: readonly string[];
}

/** The reaper's arguments (no shell: an argv array, the program after `--`). */
export function reaperArgs(options: ReaperArgv): string[] {
  const argv: string[] = [];
  if (options.uid !== undefined && options.gid !== undefined) argv.push('--uid', String(options.uid), '--gid', String(options.gid));
  if (options.cgroupDir !== undefined) argv.push('--cgroup', options.cgroupDir);
  if (options.warm === true) argv.push('--warm');
  argv.push('--tag', options.tag, '--', options.program, ...options.args);
  return argv;
}

/** What a warm reaper's child reads on fd 5 before its exec: "CWD\0COUNT\0ARG\0...". */
export function warmSpec(cwd: string, args: readonly string[]): Buffer {
  for (const s of [cwd, ...args]) if (s.includes('\0')) throw new Error('an argument of the CLI holds a NUL byte');
  return Buffer.from([cwd, String(args.length), ...args].map((s) => `${s}\0`).join(''), 'utf8');
}

export type ReaperLine =
  | ({ kind: 'joined' } & CgroupJoin)
  | { kind: 'pid'; pid: number }
  | { kind: 'exit'; exitCode: number; alone: boolean }
  | { kind: 'signal'; signal: string; alone: boolean }
  | { kind: 'error'; stage: string; code: string }
  | { kind: 'warn'; what: string; code: string };

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** One status line of the reaper (fd 3), or null for anything else. Pure. */
export function parseReaperLine(line: string): ReaperLine | null {
  const [word, a, b] = line.trim().split(' ');
  const n = Number(a);
  switch (word) {
    case 'pid':
      return Number.isSafeInteger(n) && n > 0 ? { kind: 'pid', pid: n } : null;
    case 'joined':
      if (a === 'clone3') return { kind: 'joined', how: 'clone3', refused: null };
      if (a !== 'write' || !/^\d+$/.test(b ?? '')) return null;
      return { kind: 'joined', how: 'write', refused: b === '0' ? null : (ERRNO_NAMES.get(Number(b)) ?? `errno ${b}`) };
    // "alone": nothing the CLI started is left below the reaper.
    case 'exit':
      return Number.isInteger(n) && n >= 0 && (b === undefined || b === 'alone') ? { kind: 'exit', exitCode: n, alone: b === 'alone' } : null;
    case 'signal':
      return Number.isInteger(n) && (b === undefined || b === 'alone') ? { kind: 'signal', signal: SIGNAL_NAMES.get(n) ?? `SIG${n}`, alone: b === 'alone' } : null;
    case 'error':
    case 'warn': {
      if (a === undefined) return null;
      const errno = Number(b);
      const code = ERRNO_NAMES.get(errno) ?? `errno ${b ?? '?'}`;
      return word === 'error' ? { kind: 'error', stage: a, code } : { kind: 'warn', what: a, code };
    }
    default:
      return null;
  }
}

/**
 * Live reapers of this supervisor instance, found by the tag in their command line (a
 * predecessor killed mid-job leaves its job's reaper). Only processes of our own uid
 * count: an agent can give a process any command line, not our uid.
 */
export function findReapers(instanceTag: string, ownUid: number, selfPid = process.pid): ProcRef[] {
  const prefix = `${instanceTag}:`;
  const found: ProcRef[] = [];
  for (const pid of listPids()) {
    if (pid === selfPid) continue;
    const argv = readCmdline(pid);
    if (argv === null || path.basename(argv[0] ?? '') !== REAPER_NAME) continue;
    const tagAt = argv.indexOf('--tag');
    const end = argv.indexOf('--');
    if (tagAt === -1 || (end !== -1 && end < tagAt) || argv[tagAt + 1]?.startsWith(prefix) !== true) continue;
    if (readUids(pid)?.[0] !== ownUid) continue;
    const stat = readStat(pid);
    if (stat !== null && stat.state !== 'Z') found.push({ pid, startTime: stat.startTime });
  }
  return found;
}
