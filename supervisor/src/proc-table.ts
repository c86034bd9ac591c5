// The process table as the supervisor's scans read it (ownership/tree.ts): every process's
// /proc/PID/stat stays open between scans and is read again with one pread, where a fresh
// read is an open, a read and a close (a third of the syscalls: on this machine's VM a
// scan of ~70 processes took 1.1 ms the fresh way; docs/benchmarks.md section 8).
//
// A kept descriptor names its process, not its pid: once that process is reaped, reading
// it fails (ESRCH), so a recycled pid is opened afresh and never read as the process that
// had it before. One table per supervisor, shared by every job's tree and the sampling, so
// the sweep at a job's end finds the machine's processes already open.
import { closeSync, openSync, readSync } from 'node:fs';
import { listPids, parseStat, readStat, type ProcStat } from './proc.ts';

/** Descriptors kept at most; processes beyond are read the fresh way (a busy host). */
export const MAX_KEPT = 1024;

const buffer = Buffer.alloc(4096);

export class ProcTable {
  /** pid -> the open /proc/PID/stat of the process that has it now. */
  private readonly kept = new Map<number, number>();

  constructor(private readonly maxKept = MAX_KEPT) {}

  /** How many descriptors are open (the endurance bench tells them from leaked ones). */
  get keptCount(): number {
    return this.kept.size;
  }

  /** Every process now (gone ones skipped), read through kept descriptors where it can. */
  scan(): ProcStat[] {
    const pids = listPids();
    const live = new Set<number>();
    const stats: ProcStat[] = [];
    for (const pid of pids) {
      live.add(pid);
      const s = this.read(pid);
      if (s !== null) stats.push(s);
    }
    // Processes gone since the last scan: their descriptors go too.
    for (const [pid, fd] of this.kept) {
      if (!live.has(pid)) this.forget(pid, fd);
    }
    return stats;
  }

  /** Close every kept descriptor. */
  close(): void {
    for (const [pid, fd] of this.kept) this.forget(pid, fd);
  }

  private read(pid: number): ProcStat | null {
    const fd = this.kept.get(pid);
    if (fd !== undefined) {
      const line = pread(fd);
      if (line !== null) return parseStat(pid, line);
      // Reaped since (ESRCH): the pid may already name another process, opened below.
      this.forget(pid, fd);
    }
    if (this.kept.size >= this.maxKept) return readStat(pid);
    let opened: number;
    try {
      opened = openSync(`/proc/${pid}/stat`, 'r');
    } catch {
      return null; // gone, or the descriptor limit: "not this one" like any racing read
    }
    const line = pread(opened);
    if (line === null) {
      closeSync(opened);
      return null;
    }
    this.kept.set(pid, opened);
    return parseStat(pid, line);
  }

  private forget(pid: number, fd: number): void {
    this.kept.delete(pid);
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing to give back
    }
  }
}

function pread(fd: number): string | null {
  try {
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return n === 0 ? null : buffer.toString('latin1', 0, n);
  } catch {
    return null;
  }
}

/** The supervisor's one table. */
export const procTable = new ProcTable();
