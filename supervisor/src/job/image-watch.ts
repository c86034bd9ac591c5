// Which of a running job's image files are complete, so each can be announced as soon as
// it is (an `image` event) and not while a browser is still writing it. A file counts as
// complete once two looks in a row, a sample interval apart, saw it with the same non-zero
// size and mtime. At the job's end its final list (job/images.ts) is the truth: whatever
// of it was not announced yet is, then. Pure: the looks are the caller's I/O.
import type { ImageFile } from '../../../common/image-files.ts';

export class ImageWatch {
  private readonly lastLook = new Map<string, { size: number; mtimeMs: number }>();
  private readonly announced = new Set<string>();

  /** The files of one look (the job's window only); returns those complete since, oldest first. */
  observe(files: readonly ImageFile[]): string[] {
    const complete: ImageFile[] = [];
    const present = new Set<string>();
    for (const f of files) {
      present.add(f.name);
      if (this.announced.has(f.name)) continue;
      const before = this.lastLook.get(f.name);
      if (before !== undefined && f.size > 0 && before.size === f.size && before.mtimeMs === f.mtimeMs) complete.push(f);
      else this.lastLook.set(f.name, { size: f.size, mtimeMs: f.mtimeMs });
    }
    for (const name of this.lastLook.keys()) if (!present.has(name)) this.lastLook.delete(name);
    complete.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
    return complete.map((f) => this.announce(f.name));
  }

  /** Files seen that are not announced yet (still being written, or seen only once). */
  get hasPending(): boolean {
    return this.lastLook.size > 0;
  }

  /** The job's final list: the names not announced yet, in its order. */
  rest(finalNames: readonly string[]): string[] {
    return finalNames.filter((n) => !this.announced.has(n)).map((n) => this.announce(n));
  }

  private announce(name: string): string {
    this.announced.add(name);
    this.lastLook.delete(name);
    return name;
  }
}
