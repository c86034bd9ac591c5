// A job's images: the image files in IMAGES_DIR whose mtime falls in the job's window,
// decided once the job has finished (its tree is gone, so every file is complete) and
// stored with the job, so that every later answer for it lists the same files.
//
// The window. File times come from the kernel's coarse clock (up to one tick, <= 10 ms,
// behind the precise clock startedAt is stamped with), so it opens WINDOW_SLACK_MS early,
// but never before the previous job's end: jobs run one at a time, so a file that old is
// the previous job's.
import type { ImageFile } from '../../../common/image-files.ts';

const WINDOW_SLACK_MS = 10;

/** [from, to] in ms, both ends included. Pure. */
export function jobWindow(startedAtMs: number, endedAtMs: number, previousEndMs: number | null): [number, number] {
  let from = startedAtMs - WINDOW_SLACK_MS;
  // endedAt is kept to the ms: +1 keeps a file written in that last ms out.
  if (previousEndMs !== null && previousEndMs <= startedAtMs && previousEndMs + 1 > from) from = previousEndMs + 1;
  return [from, endedAtMs + WINDOW_SLACK_MS];
}

/** Names of the files in the window, oldest first. Pure. */
export function imagesInWindow(files: readonly ImageFile[], [from, to]: [number, number]): string[] {
  return files
    .filter((f) => f.mtimeMs >= from && f.mtimeMs <= to)
    .sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => f.name);
}
