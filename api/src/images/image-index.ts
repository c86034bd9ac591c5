// What is in IMAGES_DIR, kept current by a chokidar watcher (depth 0, links not followed,
// awaitWriteFinish so a half-written file is not listed): a running job's images so far
// and /status's figures come from here. A finished job's list is the supervisor's, stored
// with the job (api/src/job-images.ts). State is bounded by maxEntries: past it the oldest
// entries are forgotten, never the new ones (a job's fresh screenshot is always listed).
// The supervisor prunes the folder itself (IMAGES_MAX_COUNT and co.).
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { scanImageFiles, type ImageFile } from '../../../common/image-files.ts';
import type { Logger } from '../../../common/logger.ts';
import { checkPlainName, imageContentType, imageUrl } from './names.ts';

export type ImageEntry = ImageFile;

export interface ImageIndexOptions {
  dir: string;
  logger: Logger;
  /** Most files remembered (and scanned at job end). */
  maxEntries?: number;
  /** Whether to run chokidar (off in pure route tests). */
  watch?: boolean;
  /** How long a file must stay the same size before it counts as written. */
  stabilityMs?: number;
}

export function isListableName(name: string): boolean {
  return checkPlainName(name).ok && imageContentType(name) !== null;
}

/** Entries whose mtime lies in [fromMs, toMs], oldest first, as URLs. Pure. */
export function imagesInWindow(entries: Iterable<ImageEntry>, fromMs: number, toMs: number): string[] {
  const hits: ImageEntry[] = [];
  for (const e of entries) if (e.mtimeMs >= fromMs && e.mtimeMs <= toMs) hits.push(e);
  hits.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return hits.map((e) => imageUrl(e.name));
}

export class ImageIndex {
  readonly dir: string;
  /** Real path of the folder, fixed at start: files are only ever served from here. */
  rootReal: string;
  private readonly files = new Map<string, ImageEntry>();
  private readonly maxEntries: number;
  private readonly logger: Logger;
  private readonly useWatcher: boolean;
  private readonly stabilityMs: number;
  private watcher: FSWatcher | null = null;
  private capped = false;

  constructor(options: ImageIndexOptions) {
    this.dir = options.dir;
    this.rootReal = options.dir;
    this.logger = options.logger;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.useWatcher = options.watch ?? true;
    this.stabilityMs = options.stabilityMs ?? 300;
  }

  /** Create the folder if needed, resolve it, and start watching. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.rootReal = await realpath(this.dir);
    if (!this.useWatcher) {
      await this.scan();
      return;
    }
    const root = this.rootReal;
    const watcher = watch(root, {
      depth: 0,
      followSymlinks: false,
      ignoreInitial: false,
      alwaysStat: true,
      awaitWriteFinish: { stabilityThreshold: this.stabilityMs, pollInterval: 50 },
      ignored: (p: string) => p !== root && !isListableName(path.basename(p)),
    });
    this.watcher = watcher;
    watcher.on('add', (p, st) => this.remember(p, st));
    watcher.on('change', (p, st) => this.remember(p, st));
    watcher.on('unlink', (p) => this.files.delete(path.basename(p)));
    watcher.on('error', (err) => this.logger.warn({ err }, 'images watcher error'));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    this.watcher = null;
  }

  stats(): { dir: string; count: number; bytes: number; capped: boolean } {
    let bytes = 0;
    for (const e of this.files.values()) bytes += e.size;
    return { dir: this.dir, count: this.files.size, bytes, capped: this.capped };
  }

  /** Images of a window from memory only (running jobs, /status). */
  listFromMemory(fromMs: number, toMs: number): string[] {
    return imagesInWindow(this.files.values(), fromMs, toMs);
  }

  /** The `count` files written last, newest first (the map keeps the order they were written in). */
  newest(count: number): ImageEntry[] {
    const all = [...this.files.values()];
    return all.slice(Math.max(0, all.length - count)).reverse();
  }

  /** Re-read the folder: regular image files directly inside it (links are not listed). */
  async scan(): Promise<void> {
    // The agent can write where the folder lives: if it swapped the folder for a link,
    // list nothing from wherever that link leads (scanImageFiles answers null).
    const entries = await scanImageFiles(this.rootReal, isListableName);
    if (entries === null) {
      this.files.clear();
      return;
    }
    // Oldest first, and only the newest maxEntries: the map's order is then its age.
    entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
    this.capped = entries.length > this.maxEntries;
    this.files.clear();
    for (const e of entries.slice(Math.max(0, entries.length - this.maxEntries))) this.files.set(e.name, e);
  }

  private remember(p: string, st: { isFile(): boolean; mtimeMs: number; size: number } | undefined): void {
    const name = path.basename(p);
    if (path.dirname(p) !== this.rootReal || st === undefined || !st.isFile() || !isListableName(name)) return;
    // Re-inserted at the end: the map stays in the order files were (re)written.
    this.files.delete(name);
    if (this.files.size >= this.maxEntries) {
      this.capped = true;
      const oldest = this.files.keys().next();
      if (oldest.done !== true) this.files.delete(oldest.value);
    }
    this.files.set(name, { name, mtimeMs: st.mtimeMs, size: st.size });
  }
}
