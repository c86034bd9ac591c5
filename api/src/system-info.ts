// Host facts for /status: memory (systeminformation), load averages, free disk where the
// images and the workspace live. Answers come from a cache refreshed in the background,
// so /status never waits on the system while a job keeps the machine busy. Disk figures
// use statfs(2) on the folders themselves (one syscall, exactly the right filesystem)
// rather than systeminformation's fsSize, which spawns `df` (~10 ms here).
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import si from 'systeminformation';

export interface DiskInfo {
  path: string;
  totalBytes: number | null;
  freeBytes: number | null;
}

export interface SystemInfo {
  memory: { totalBytes: number; availableBytes: number };
  /** fs.protected_hardlinks: no one can hard-link a file they do not own into IMAGES_DIR. */
  protectedHardlinks: boolean | null;
  loadAverage: number[];
  cpus: number;
  disks: { images: DiskInfo; workspace: DiskInfo };
  sampledAt: string;
}

async function disk(path: string): Promise<DiskInfo> {
  try {
    const s = await statfs(path);
    return { path, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  } catch {
    // The workspace may not exist yet (the supervisor creates it): report unknown.
    return { path, totalBytes: null, freeBytes: null };
  }
}

/** The kernel's fs.protected_hardlinks (null when unreadable). GET /images relies on it. */
export function protectedHardlinks(): boolean | null {
  try {
    return readFileSync('/proc/sys/fs/protected_hardlinks', 'utf8').trim() === '1';
  } catch {
    return null;
  }
}

export class SystemSampler {
  private cached: SystemInfo | null = null;
  private cachedAtMs = 0;
  private refreshing: Promise<SystemInfo> | null = null;

  constructor(
    private readonly imagesDir: string,
    private readonly workspaceDir: string,
    private readonly maxAgeMs = 2000,
  ) {}

  /** The latest sample; waits only when there has never been one. */
  async get(): Promise<SystemInfo> {
    const stale = Date.now() - this.cachedAtMs > this.maxAgeMs;
    if (this.cached !== null) {
      if (stale) this.refresh().catch(() => undefined);
      return this.cached;
    }
    return this.refresh();
  }

  private refresh(): Promise<SystemInfo> {
    this.refreshing ??= this.sample()
      .then((info) => {
        this.cached = info;
        this.cachedAtMs = Date.now();
        return info;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private async sample(): Promise<SystemInfo> {
    const [mem, images, workspace] = await Promise.all([si.mem(), disk(this.imagesDir), disk(this.workspaceDir)]);
    return {
      memory: { totalBytes: mem.total, availableBytes: mem.available },
      protectedHardlinks: protectedHardlinks(),
      loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
      cpus: os.availableParallelism(),
      disks: { images, workspace },
      sampledAt: new Date().toISOString(),
    };
  }
}
