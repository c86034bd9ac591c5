// The process table as the supervisor's scans read it (ownership/tree.ts): every process's
// /proc/PID/stat stays open between scans and is read again with one pread, where a fresh
// read is an open, a read and a close (a third of the syscalls: on this machine's VM a
// scan of ~70 processes took 1.1 ms the fresh way; docs/benchmarks.md section 8).
//
// A kept descriptor names its process, not its pid: once that process is reaped, reading
// it fails (ESRCH), so a recycled pid is opened afresh and never read as the process that
// had it before. One table per supervisor, shared by every job's tree and the sampling, so
// the sweep at a job's end finds the machine's processes already open.
//
// Kernel threads are left out: no job's process is one (nor can become one), and on a
// VM's or a dev machine's table they are most of it (63 of 70 processes here). Where
// kthreadd is in our pid namespace (not in a container's), its children are read in one
// file after the listing: a pid listed, then found among them, is a kernel thread now (a
// process of ours that had the pid is gone, so there is nothing of it to miss).
import { closeSync, openSync, readSync } from 'node:fs';
import { isKernelThread, listPids, parseStat, readStat, type ProcStat } from './proc.ts';

/** Descriptors kept at most; processes beyond are read the fresh way (a busy host). */
export const MAX_KEPT = 1024;

const buffer = Buffer.alloc(4096);

/** Kernel threads' parent: pid 2 where the pid namespace is the machine's. */
const KTHREADD_PID = 2;

export class ProcTable {
  /** pid -> the open /proc/PID/stat of the process that has it now. */
  private readonly kept = new Map<number, number>();
  /** kthreadd's list of children, kept open; null where kthreadd is not ours to see;
   *  undefined until the first scan looks. */
  private kthreadChildren: number | null | undefined = undefined;

  constructor(private readonly maxKept = MAX_KEPT) {}

  /** How many descriptors are open (the endurance bench tells them from leaked ones). */
  get keptCount(): number {
    return this.kept.size;
  }

  /** Every process now (gone ones skipped), read through kept descriptors where it can. */
  scan(): ProcStat[] {
    const pids = listPids();
    const kernel = this.kernelThreads(); // after the listing (see the top of this file)
    const live = new Set<number>();
    const stats: ProcStat[] = [];
    for (const pid of pids) {
      if (kernel.has(pid)) continue;
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
    if (typeof this.kthreadChildren === 'number') closeSync(this.kthreadChildren);
    this.kthreadChildren = undefined;
  }

  /** The kernel threads now (kthreadd's children); none where kthreadd is not ours to see. */
  private kernelThreads(): ReadonlySet<number> {
    if (this.kthreadChildren === undefined) this.kthreadChildren = openKthreadChildren();
    const fd = this.kthreadChildren;
    if (fd === null) return NONE;
    const text = preadAll(fd);
    if (text === null) return NONE;
    const pids = new Set<number>();
    for (const word of text.split(' ')) if (word.trim() !== '') pids.add(Number(word));
    return pids;
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

const NONE: ReadonlySet<number> = new Set();

/** /proc/2/task/2/children, open, when pid 2 is kthreadd (a kernel thread); else null.
 *  Kernels without CONFIG_PROC_CHILDREN have no such file: null, and kernel threads are
 *  read as any. */
function openKthreadChildren(): number | null {
  if (!isKernelThread(KTHREADD_PID)) return null;
  try {
    return openSync(`/proc/${KTHREADD_PID}/task/${KTHREADD_PID}/children`, 'r');
  } catch {
    return null;
  }
}

/** A whole small /proc file through its descriptor, from offset 0, or null. */
function preadAll(fd: number): string | null {
  let text = '';
  for (let at = 0; ; ) {
    let n: number;
    try {
      n = readSync(fd, buffer, 0, buffer.length, at);
    } catch {
      return null;
    }
    if (n === 0) return text;
    text += buffer.toString('latin1', 0, n);
    at += n;
  }
}

/** The supervisor's one table. */
export const procTable = new ProcTable();
