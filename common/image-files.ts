// The image files directly in a folder, with their times and sizes: one read of the folder
// (links and anything but regular files left out), the stats a few dozen at a time. The
// supervisor prunes and attributes images from it, the API's index refreshes from it.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { imageContentType } from './image-types.ts';

export interface ImageFile {
  name: string;
  mtimeMs: number;
  size: number;
}

const STAT_BATCH = 64;

/** null when the folder cannot be read or is not a folder (e.g. swapped for a link). */
export async function scanImageFiles(dir: string, accept: (name: string) => boolean = (n) => imageContentType(n) !== null): Promise<ImageFile[] | null> {
  let names: string[];
  try {
    if (!(await lstat(dir)).isDirectory()) return null;
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile() && accept(d.name)).map((d) => d.name);
  } catch {
    return null;
  }
  const files: ImageFile[] = [];
  for (let i = 0; i < names.length; i += STAT_BATCH) {
    const batch = names.slice(i, i + STAT_BATCH);
    const stats = await Promise.all(batch.map((name) => lstat(path.join(dir, name)).catch(() => null)));
    stats.forEach((st, k) => {
      if (st?.isFile() === true) files.push({ name: batch[k]!, mtimeMs: st.mtimeMs, size: st.size });
    });
  }
  return files;
}
