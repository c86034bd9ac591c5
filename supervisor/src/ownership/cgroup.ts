// Optional per-job cgroups, found at run time. Containers usually mount cgroups
// read-only, so nothing here may fail a job: every operation is best effort.
//   v1 memory controller writable -> membership + memory.limit_in_bytes as a kernel
//     backstop above the sampled ceiling + OOM-kill counter (reason memory_limit).
//   else a writable cgroup v2 hierarchy -> membership + cgroup.kill.
// Job groups are created inside the supervisor's own cgroup, never beside it, so the
// limits the supervisor itself runs under (a container's, a systemd unit's) still apply.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type CgroupKind = 'v1-memory' | 'v2';

/** How the CLI gets into its job's group (the reaper reports it; probed once at start). */
export interface CgroupJoin {
  /** `clone3`: born in the group (cgroup v2, CLONE_INTO_CGROUP); `write`: a move after fork. */
  how: 'clone3' | 'write';
  /** Why clone3 was refused on cgroup v2 (an errno name such as ENOSYS); null otherwise. */
  refused: string | null;
}

export interface CgroupSupport {
  kind: CgroupKind;
  /** The supervisor's own cgroup directory: job groups are made in it. */
  parentDir: string;
  /** Seen at start by the probe (probe-layers.ts); absent when no reaper ran it. */
  join?: CgroupJoin;
}

interface Mount {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function readMounts(): Mount[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    if (l[3] === undefined || l[4] === undefined || r[0] === undefined) continue;
    mounts.push({ root: l[3], mountPoint: l[4], fsType: r[0], superOptions: (r[2] ?? '').split(',') });
  }
  return mounts;
}

/** Our own path in a hierarchy from /proc/self/cgroup ("4:memory:/a/b" or "0::/a/b"). */
function ownPath(match: (controllers: string) => boolean): string | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first === -1 || second === -1) continue;
    if (match(line.slice(first + 1, second))) return line.slice(second + 1);
  }
  return undefined;
}

function dirFor(mount: Mount, path: string): string {
  // Without a cgroup namespace the mount's root may be our own ancestor (docker v1).
  const rel = mount.root !== '/' && path.startsWith(mount.root) ? path.slice(mount.root.length) : path;
  return join(mount.mountPoint, rel);
}

/** Can we create (and remove) a child group here? */
function probe(parentDir: string, name: string): boolean {
  const dir = join(parentDir, name);
  try {
    mkdirSync(dir);
  } catch {
    return false;
  }
  try {
    rmdirSync(dir);
  } catch {
    // leave it; startup cleanup of the next run removes it
  }
  return true;
}

export function detectCgroups(probeName: string): CgroupSupport | null {
  const mounts = readMounts();
  const v1 = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes('memory'));
  const v1Path = ownPath((c) => c.split(',').includes('memory'));
  if (v1 && v1Path !== undefined) {
    const parentDir = dirFor(v1, v1Path);
    if (probe(parentDir, probeName)) return { kind: 'v1-memory', parentDir };
  }
  const v2 = mounts.find((m) => m.fsType === 'cgroup2');
  const v2Path = ownPath((c) => c === '');
  if (v2 && v2Path !== undefined) {
    const parentDir = dirFor(v2, v2Path);
    if (probe(parentDir, probeName)) return { kind: 'v2', parentDir };
  }
  return null;
}

function readPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

export class JobCgroup {
  private constructor(
    readonly dir: string,
    readonly kind: CgroupKind,
  ) {}

  /** Make the job's group; null when that fails (the job runs without one). */
  static create(support: CgroupSupport, name: string, memoryBackstopBytes: number): JobCgroup | null {
    const dir = join(support.parentDir, name);
    try {
      mkdirSync(dir);
    } catch {
      return null;
    }
    const group = new JobCgroup(dir, support.kind);
    if (support.kind === 'v1-memory') {
      try {
        writeFileSync(join(dir, 'memory.limit_in_bytes'), String(memoryBackstopBytes));
      } catch {
        // membership alone still helps
      }
    }
    return group;
  }

  /** Move a process in (right after spawn). */
  addPid(pid: number): boolean {
    try {
      writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
      return true;
    } catch {
      return false;
    }
  }

  pids(): number[] {
    return readPids(this.dir);
  }

  /** Kernel OOM kills inside the group so far (v1 memory.oom_control `oom_kill`). */
  oomKills(): number {
    if (this.kind !== 'v1-memory') return 0;
    try {
      const m = /oom_kill (\d+)/.exec(readFileSync(join(this.dir, 'memory.oom_control'), 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /**
   * The group's peak memory use in bytes, as the kernel counted it (v1
   * `memory.max_usage_in_bytes`, v2 `memory.peak` where the memory controller is on), or
   * null. The kernel sees a peak the sampler can miss between two samples.
   */
  peakBytes(): number | null {
    const file = this.kind === 'v1-memory' ? 'memory.max_usage_in_bytes' : 'memory.peak';
    try {
      const value = Number(readFileSync(join(this.dir, file), 'utf8').trim());
      return Number.isSafeInteger(value) ? value : null;
    } catch {
      return null;
    }
  }

  /** cgroup v2: SIGKILL every member at once, atomically with respect to forks. */
  killAll(): void {
    if (this.kind !== 'v2') return;
    try {
      writeFileSync(join(this.dir, 'cgroup.kill'), '1');
    } catch {
      // older kernels have no cgroup.kill; the per-process loop does the work
    }
  }

  /** Remove the (empty) group; retried briefly because exiting tasks linger a moment. */
  async remove(): Promise<boolean> {
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(this.dir);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    return false;
  }
}

/** Leftover groups of a previous run of this supervisor instance (name prefix match). */
export function staleGroups(support: CgroupSupport, prefix: string): { dir: string; pids: number[] }[] {
  let names: string[];
  try {
    names = readdirSync(support.parentDir);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(prefix)).map((n) => ({ dir: join(support.parentDir, n), pids: readPids(join(support.parentDir, n)) }));
}
