// A job's process tree, found from /proc on every scan: the CLI, everything descending
// from it, every process carrying the job's marker (setsid'd escapees reparented away),
// and every member of the job's cgroup. Processes are identified by (pid, start time)
// so a recycled PID is never mistaken for a member.
import { environHas, listPids, readEnviron, readStat, type ProcStat } from './proc.ts';

export interface TreeOptions {
  /** The CLI; absent when only the marker defines the tree (startup cleanup). */
  rootPid?: number;
  /** Environ entry (or prefix) that marks members. */
  marker: Buffer;
  /** true: the marker must be a whole entry; false: a prefix of one. */
  exactMarker: boolean;
  /** Pids in the job's cgroup right now, if it has one. */
  cgroupPids?: () => number[];
  /** Never a member: the supervisor itself. */
  selfPid?: number;
}

export class ProcessTree {
  /** Members seen so far: pid -> start time. */
  private readonly members = new Map<number, number>();
  /** Processes already found not to be members (their environ is read only once). */
  private readonly outsiders = new Map<number, number>();
  private readonly selfPid: number;
  /** The root's start time: a process started before it cannot carry the job's marker
   *  (the marker exists from the root's exec on), so its environ is never read. */
  private readonly notBefore: number;

  constructor(private readonly options: TreeOptions) {
    this.selfPid = options.selfPid ?? process.pid;
    const root = options.rootPid === undefined ? null : readStat(options.rootPid);
    if (root !== null) this.members.set(root.pid, root.startTime);
    this.notBefore = root?.startTime ?? 0;
  }

  /** Live (non-zombie) members right now. Zombies cannot be signalled away; their parent
   *  (or init) reaps them, so they count as gone. */
  scan(): ProcStat[] {
    const stats = new Map<number, ProcStat>();
    const children = new Map<number, number[]>();
    for (const pid of listPids()) {
      if (pid === this.selfPid || pid === 1) continue;
      const s = readStat(pid);
      if (s === null) continue;
      stats.set(pid, s);
      const list = children.get(s.ppid);
      if (list === undefined) children.set(s.ppid, [pid]);
      else list.push(pid);
    }

    const inTree = new Set<number>();
    const queue: number[] = [];
    const add = (pid: number): void => {
      if (inTree.has(pid)) return;
      inTree.add(pid);
      queue.push(pid);
    };
    for (const [pid, start] of this.members) {
      if (stats.get(pid)?.startTime === start) add(pid);
    }
    if (this.options.cgroupPids) {
      for (const pid of this.options.cgroupPids()) if (stats.has(pid) && pid !== this.selfPid) add(pid);
    }
    const walk = (): void => {
      while (queue.length > 0) {
        const pid = queue.pop()!;
        for (const child of children.get(pid) ?? []) add(child);
      }
    };
    walk();
    // Only processes never classified before have their environ read (the costly part).
    for (const [pid, s] of stats) {
      if (inTree.has(pid) || this.outsiders.get(pid) === s.startTime) continue;
      if (s.startTime < this.notBefore) {
        this.outsiders.set(pid, s.startTime);
        continue;
      }
      const environ = readEnviron(pid);
      if (environ !== null && environHas(environ, this.options.marker, this.options.exactMarker)) {
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
}
