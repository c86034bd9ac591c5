// A job's process tree, found from /proc on every scan, through each ownership layer this
// deployment has (layers.ts):
//   - everything below the job's reaper (a subreaper: orphans reparent to it), never the
//     reaper itself, which the supervisor releases once the tree is gone;
//   - the CLI and everything descending from it by ppid;
//   - every process of the dedicated agent uid (/proc/PID/status, readable without ptrace);
//   - every process carrying the job's environment marker, where environ is readable;
//   - every member of the job's cgroup.
// Processes are identified by (pid, start time), so a recycled PID is never a member.
import { environHas, readEnviron, readStat, readUids, type ProcStat } from '../proc.ts';
import { procTable } from '../proc-table.ts';

/** A process as first seen: a pid alone is not an identity. */
export interface ProcRef {
  pid: number;
  startTime: number;
}

export interface TreeOptions {
  /** Reapers whose descendants are members; the reapers themselves are not. */
  reapers?: readonly ProcRef[];
  /** The CLI, a member from the first scan on; absent for the startup sweep. */
  rootPid?: number;
  /** The environ entry (exact) or entry prefix that marks members; absent where environ is unreadable. */
  marker?: { entry: Buffer; exact: boolean };
  /** Every process with this uid (real, effective, saved or fs) is a member. */
  agentUid?: number;
  /** Pids in the job's cgroup right now, if it has one. */
  cgroupPids?: () => number[];
  /** Processes started before this (clock ticks after boot) cannot carry the marker: their
   *  environ is never read. Default: the root's start time; 0 for the startup sweep. */
  notBefore?: number;
  /** Never a member: the supervisor itself. */
  selfPid?: number;
}

export class ProcessTree {
  /** Members seen so far: pid -> start time. */
  private readonly members = new Map<number, number>();
  /** Processes already found not to be members (their status and environ are read once). */
  private readonly outsiders = new Map<number, number>();
  private readonly selfPid: number;
  private readonly reapers: ProcRef[];
  /** See TreeOptions.notBefore: the marker exists from the job's first exec on. */
  private notBefore: number;

  constructor(private readonly options: TreeOptions) {
    this.selfPid = options.selfPid ?? process.pid;
    this.reapers = [...(options.reapers ?? [])];
    this.notBefore = options.notBefore ?? 0;
    if (options.rootPid !== undefined) this.addRoot(options.rootPid);
  }

  /** The CLI, once its pid is known (through a reaper, it arrives after the spawn). */
  addRoot(pid: number): void {
    const root = readStat(pid);
    if (root === null) return;
    this.members.set(root.pid, root.startTime);
    if (this.options.notBefore === undefined && this.reapers.length === 0) this.notBefore = root.startTime;
  }

  /** Is this one of the tree's reapers, still alive? (They are never signalled.) */
  isReaper(p: ProcRef): boolean {
    return this.reapers.some((r) => r.pid === p.pid && r.startTime === p.startTime);
  }

  /** Live (non-zombie) members right now. Zombies cannot be signalled away; their parent
   *  (a reaper, or init) reaps them, so they count as gone. */
  scan(): ProcStat[] {
    const stats = new Map<number, ProcStat>();
    const children = new Map<number, number[]>();
    for (const s of procTable.scan()) {
      const { pid } = s;
      if (pid === this.selfPid || pid === 1) continue;
      stats.set(pid, s);
      const list = children.get(s.ppid);
      if (list === undefined) children.set(s.ppid, [pid]);
      else list.push(pid);
    }

    const inTree = new Set<number>();
    const queue: number[] = [];
    const add = (pid: number): void => {
      if (inTree.has(pid) || this.reaperAt(pid, stats)) return;
      inTree.add(pid);
      queue.push(pid);
    };
    for (const r of this.reapers) {
      if (stats.get(r.pid)?.startTime === r.startTime) for (const child of children.get(r.pid) ?? []) add(child);
    }
    for (const [pid, start] of this.members) {
      if (stats.get(pid)?.startTime === start) add(pid);
    }
    if (this.options.cgroupPids) {
      for (const pid of this.options.cgroupPids()) if (stats.has(pid)) add(pid);
    }
    const walk = (): void => {
      while (queue.length > 0) {
        const pid = queue.pop()!;
        for (const child of children.get(pid) ?? []) add(child);
      }
    };
    walk();
    // Only processes never classified before have their status or environ read.
    for (const [pid, s] of stats) {
      if (inTree.has(pid) || this.outsiders.get(pid) === s.startTime || this.reaperAt(pid, stats)) continue;
      if (this.belongs(pid, s)) {
        add(pid);
        walk();
      } else {
        this.outsiders.set(pid, s.startTime);
      }
    }

    this.members.clear();
    const live: ProcStat[] = [];
    for (const pid of inTree) {
      const s = stats.get(pid)!;
      this.members.set(pid, s.startTime);
      this.outsiders.delete(pid);
      if (s.state !== 'Z' && s.state !== 'X') live.push(s);
    }
    // Forget outsiders that are gone, so the map stays the size of the process table.
    for (const [pid, start] of this.outsiders) {
      if (stats.get(pid)?.startTime !== start) this.outsiders.delete(pid);
    }
    return live;
  }

  /** A process found by neither ancestry nor cgroup: its uid, else its environment. */
  private belongs(pid: number, s: ProcStat): boolean {
    const { agentUid, marker } = this.options;
    if (agentUid !== undefined && readUids(pid)?.includes(agentUid) === true) return true;
    if (marker === undefined || s.startTime < this.notBefore) return false;
    const environ = readEnviron(pid);
    return environ !== null && environHas(environ, marker.entry, marker.exact);
  }

  private reaperAt(pid: number, stats: Map<number, ProcStat>): boolean {
    const s = stats.get(pid);
    return s !== undefined && this.isReaper(s);
  }
}
