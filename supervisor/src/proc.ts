// Reading /proc: the one source of truth for "which processes exist now". Every read may
// race with the process exiting (ENOENT/ESRCH) or be refused (EACCES): those simply mean
// "not this one". Reads are synchronous and tiny; scans read the table through kept
// descriptors (proc-table.ts).
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/** One process as /proc/PID/stat describes it. `startTime` (clock ticks after boot) plus
 *  `pid` identifies a process: a reused PID gets a different start time. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** R, S, D, Z (zombie), X (dead), T, ... */
  state: string;
  startTime: number;
  /** utime + stime in clock ticks. */
  cpuTicks: number;
  rssPages: number;
}

/** Linux reports CPU times in USER_HZ, fixed at 100 for user space on every architecture. */
export const CLOCK_TICKS_PER_SECOND = 100;
export const PAGE_SIZE_BYTES = readPageSize();

const statBuffer = Buffer.alloc(4096);
// /proc/PID/status is ~1.5 KiB; the Uid line sits in its first few hundred bytes.
const statusBuffer = Buffer.alloc(2048);

export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(name));
  }
  return pids;
}

/** The first `buffer.length` bytes of a small /proc file as latin1, or null if gone or unreadable. */
function readProcFile(path: string, buffer: Buffer): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    return buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** /proc/PID/stat parsed, or null if the process is gone or unreadable. */
export function readStat(pid: number): ProcStat | null {
  const line = readProcFile(`/proc/${pid}/stat`, statBuffer);
  return line === null ? null : parseStat(pid, line);
}

/** PF_KTHREAD in the flags field of /proc/PID/stat (include/linux/sched.h); no process of
 *  user space can set it. */
const PF_KTHREAD = 0x00200000;

/** Is this pid a kernel thread now (the flags field, the 9th of proc(5))? False if gone. */
export function isKernelThread(pid: number): boolean {
  const line = readProcFile(`/proc/${pid}/stat`, statBuffer);
  if (line === null) return false;
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": fields after the comm.
  const flags = Number(line.slice(line.lastIndexOf(')') + 2).split(' ')[6]);
  return Number.isInteger(flags) && (flags & PF_KTHREAD) !== 0;
}

/** State, ppid, utime, stime, starttime, rss: fields 3, 4, 14, 15, 22, 24 of proc(5). */
const RSS_FIELD = 21;
const WANTED_FIELDS = Uint8Array.from({ length: RSS_FIELD + 1 }, (_, i) => ([0, 1, 11, 12, 19, RSS_FIELD].includes(i) ? 1 : 0));

/** The comm field may contain spaces and parentheses: parse from the last ')'. */
export function parseStat(pid: number, line: string): ProcStat | null {
  const close = line.lastIndexOf(')');
  if (close === -1) return null;
  // Only the fields used, cut out in place (a scan parses every process on the machine;
  // splitting all 52 fields was a third of its JS time). Field 0 here is field 3 (state)
  // of proc(5).
  const f: string[] = [];
  let from = close + 2;
  for (let i = 0; i <= RSS_FIELD && from <= line.length; i++) {
    let to = line.indexOf(' ', from);
    if (to === -1) to = line.length;
    if (WANTED_FIELDS[i] === 1) f[i] = line.slice(from, to);
    from = to + 1;
  }
  const state = f[0];
  const ppid = Number(f[1]);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const startTime = Number(f[19]);
  const rssPages = Number(f[RSS_FIELD]);
  if (state === undefined || state === '' || f[1] === undefined || !Number.isFinite(ppid) || f[19] === undefined || !Number.isFinite(startTime)) return null;
  return { pid, ppid, state, startTime, cpuTicks: (utime || 0) + (stime || 0), rssPages: rssPages || 0 };
}

/** The start time of a live, non-zombie process, or null. Checked right before signalling. */
export function liveStartTime(pid: number): number | null {
  const s = readStat(pid);
  return s === null || s.state === 'Z' || s.state === 'X' ? null : s.startTime;
}

/** /proc/PID/environ (NUL-separated), or null when gone or not ours to read. */
export function readEnviron(pid: number): Buffer | null {
  try {
    return readFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
}

/** The real, effective, saved and filesystem uids from /proc/PID/status, or null. Readable
 *  for every process without ptrace rights, unlike environ (FINDINGS, December 2026). */
export function readUids(pid: number): number[] | null {
  const status = readProcFile(`/proc/${pid}/status`, statusBuffer);
  return status === null ? null : parseUids(status);
}

/** The `Uid:` line of a /proc/PID/status text. */
export function parseUids(status: string): number[] | null {
  const at = status.indexOf('\nUid:');
  if (at === -1) return null;
  const end = status.indexOf('\n', at + 1);
  const uids = status
    .slice(at + 5, end === -1 ? undefined : end)
    .trim()
    .split(/\s+/)
    .map(Number);
  return uids.length === 4 && uids.every(Number.isInteger) ? uids : null;
}

/** /proc/PID/cmdline as its argv (readable for every process), or null. */
export function readCmdline(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    if (raw === '') return null; // kernel threads and zombies
    return (raw.endsWith('\0') ? raw.slice(0, -1) : raw).split('\0');
  } catch {
    return null;
  }
}

/** Does the environment block hold `needle` as a whole entry (exact) or at an entry's start? */
export function environHas(environ: Buffer, needle: Buffer, exact: boolean): boolean {
  let from = 0;
  for (;;) {
    const i = environ.indexOf(needle, from);
    if (i === -1) return false;
    const startsEntry = i === 0 || environ[i - 1] === 0;
    const end = i + needle.length;
    const endsEntry = end === environ.length || environ[end] === 0;
    if (startsEntry && (!exact || endsEntry)) return true;
    from = i + 1;
  }
}

/** AT_PAGESZ from the auxiliary vector (64-bit little/big endian pairs); 4096 if unreadable. */
function readPageSize(): number {
  try {
    const auxv = readFileSync('/proc/self/auxv');
    for (let off = 0; off + 16 <= auxv.length; off += 16) {
      const key = Number(auxv.readBigUInt64LE(off));
      if (key === 0) break;
      if (key === 6) return Number(auxv.readBigUInt64LE(off + 8));
    }
  } catch {
    // fall through
  }
  return 4096;
}

/** Zombie children of `parentPid` right now (they pile up when we are PID 1 without an init). */
export function countZombieChildren(parentPid: number): number {
  let n = 0;
  for (const pid of listPids()) {
    const s = readStat(pid);
    if (s !== null && s.state === 'Z' && s.ppid === parentPid) n += 1;
  }
  return n;
}
