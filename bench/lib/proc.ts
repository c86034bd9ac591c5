// Readers of /proc for the figures the bench reports: resident memory, CPU time, open
// file descriptors, zombies and processes. Linux only, synchronous (each read is a few
// microseconds, and a sampler that awaits would measure the event loop, not the process).
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { listPids } from '../../supervisor/src/proc.ts';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux build in practice.

export interface MemoryKb {
  rssKb: number;
  hwmKb: number;
}

/** VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB. */
export function readMemory(pid: number): MemoryKb {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (m === null) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(m[1]);
  };
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/**
 * What a set of processes takes from the machine's memory, in kB: the private pages of each
 * (Private_Clean + Private_Dirty in /proc/PID/smaps) plus their shared pages once, per
 * mapping the largest of them (node's own binary and libraries are file pages the kernel
 * holds once, however many node processes map them; a sum of VmRSS counts them per process).
 */
export function machineFootprintKb(pids: readonly number[]): number {
  let privateKb = 0;
  const shared = new Map<string, number>();
  for (const pid of pids) {
    const perMapping = new Map<string, number>();
    let mapping = '[anon]';
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (header !== null) {
        mapping = header[1] === '' ? '[anon]' : header[1]!;
        continue;
      }
      const field = /^(Private_Clean|Private_Dirty|Shared_Clean|Shared_Dirty):\s+(\d+) kB/.exec(line);
      if (field === null) continue;
      if (field[1]!.startsWith('Private')) privateKb += Number(field[2]);
      else perMapping.set(mapping, (perMapping.get(mapping) ?? 0) + Number(field[2]));
    }
    for (const [name, kb] of perMapping) shared.set(name, Math.max(shared.get(name) ?? 0, kb));
  }
  let sharedKb = 0;
  for (const kb of shared.values()) sharedKb += kb;
  return privateKb + sharedKb;
}

/** Reset VmHWM to the current RSS (writing 5 to clear_refs, Linux >= 4.0, needs owner or root). */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface Stat {
  pid: number;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** utime + stime, in ms. */
  cpuMs: number;
}

/** One /proc/PID/stat line, parsed after the command name (which may hold spaces and ")"). */
export function readStat(pid: number): Stat | null {
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const rest = line.slice(line.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return {
    pid,
    state: rest[0] ?? '?',
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    sid: Number(rest[3]),
    cpuMs: ((Number(rest[11]) + Number(rest[12])) * 1000) / CLOCK_TICKS_PER_SECOND,
  };
}

/** CPU time (user + system) a process has used so far, in ms (10 ms resolution). */
export function readCpuMs(pid: number): number {
  const stat = readStat(pid);
  if (stat === null) throw new Error(`process ${pid} is gone`);
  return stat.cpuMs;
}

/** argv joined by spaces (at most 120 characters), or "(gone)". */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
  } catch {
    return '(gone)';
  }
}

/** Open fds of a process, without the /proc/PID/stat descriptors the supervisor keeps for its
 *  scans (supervisor/src/proc-table.ts: one per process on the machine, closed as they go). */
export function countFds(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // closed meanwhile
    }
    if (!/^\/proc\/\d+\/stat$/.test(target)) n += 1;
  }
  return n;
}

// The supervisor's own /proc listing: the bench counts processes the way it does.
export { listPids };

export function allStats(): Stat[] {
  const out: Stat[] = [];
  for (const pid of listPids()) {
    const s = readStat(pid);
    if (s !== null) out.push(s);
  }
  return out;
}

/** Every live descendant of the given roots (not the roots), by walking ppid links. */
export function descendants(roots: readonly number[], stats: readonly Stat[] = allStats()): Stat[] {
  const children = new Map<number, Stat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [s]);
    else list.push(s);
  }
  const out: Stat[] = [];
  const queue = [...roots];
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

/**
 * PIDs whose start-up environment has an entry starting with `entryPrefix` (e.g.
 * "BENCH_MARK=abc\0" for an exact entry). A setsid'd escapee leaves the process tree but
 * keeps its environment, so this finds what ppid links cannot. Kernel threads and
 * vanished processes read as empty; they are skipped.
 */
export function pidsWithEnv(entryPrefix: string): number[] {
  const inner = Buffer.from(`\0${entryPrefix}`);
  const first = Buffer.from(entryPrefix);
  const out: number[] = [];
  for (const pid of listPids()) {
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    if (env.includes(inner) || env.subarray(0, first.length).equals(first)) out.push(pid);
  }
  return out;
}

/** PIDs carrying the bench fixtures' marker BENCH_MARK=mark. */
export function markedPids(mark: string): number[] {
  return pidsWithEnv(`BENCH_MARK=${mark}\0`);
}

/** A PID counts as alive while it exists and is not a zombie (a zombie has already died). */
export function isAlive(pid: number): boolean {
  const s = readStat(pid);
  return s !== null && s.state !== 'Z';
}

export function zombiesAmong(stats: readonly Stat[]): number {
  return stats.filter((s) => s.state === 'Z').length;
}
