// IMAGES_DIR would otherwise grow forever: every screenshot of every job stays. After each
// job and at start, the oldest image files go until the folder is within every limit
// (count, bytes, age). Only regular image files directly in the folder are touched; the
// newest are always the ones kept, so a job's fresh screenshots survive the job's end.
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { scanImageFiles, type ImageFile } from '../../common/image-files.ts';
import type { Logger } from '../../common/logger.ts';

export interface RetentionLimits {
  maxCount: number;
  maxBytes: number;
  maxAgeMs: number;
}

/** The files to remove, oldest first, so that the rest is within every limit. Pure. */
export function toPrune(files: readonly ImageFile[], limits: RetentionLimits, nowMs: number): string[] {
  const byAge = [...files].sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
  let count = byAge.length;
  let bytes = byAge.reduce((sum, f) => sum + f.size, 0);
  const removed: string[] = [];
  for (const f of byAge) {
    const tooOld = nowMs - f.mtimeMs > limits.maxAgeMs;
    if (!tooOld && count <= limits.maxCount && bytes <= limits.maxBytes) break;
    removed.push(f.name);
    count -= 1;
    bytes -= f.size;
  }
  return removed;
}

/** `read`: the folder as the caller just read it (the job's end did), to read it once. */
export async function pruneImages(
  dir: string,
  limits: RetentionLimits,
  log: Logger,
  read?: readonly ImageFile[] | null,
): Promise<{ removed: number; bytes: number }> {
  const done = { removed: 0, bytes: 0 };
  const files = read === undefined ? await scanImageFiles(dir) : read;
  if (files === null) {
    log.warn({ path: dir }, 'could not read the images folder to prune it');
    return done;
  }
  const sizes = new Map(files.map((f) => [f.name, f.size]));
  for (const name of toPrune(files, limits, Date.now())) {
    try {
      await unlink(path.join(dir, name));
      done.removed += 1;
      done.bytes += sizes.get(name) ?? 0;
    } catch {
      // gone already
    }
  }
  if (done.removed > 0) log.info({ path: dir, removedCount: done.removed, removedBytes: done.bytes }, 'pruned old images');
  return done;
}
