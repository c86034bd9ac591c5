// Opening an image for GET /images/:name without ever following a link out of the folder.
// The checks are made on the opened descriptor itself (fstat, /proc/self/fd), so a file
// swapped for a symlink or a folder swapped for a link between check and read changes
// nothing: what is read is exactly what was checked. A hard link is refused, and so is a
// name swapped around the open (a hard link to a file elsewhere opened, then the name put
// back): the descriptor must still be that name's file, with one link, at a path that is
// neither moved nor "(deleted)", checked again once no rename in the folder is under way.
// No agent can hard-link a file it does not own under
// fs.protected_hardlinks=1, which the API checks at start (docs/api.md).
import { randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { imageContentType } from './names.ts';

export interface OpenedImage {
  handle: FileHandle;
  size: number;
  contentType: string;
  mtimeMs: number;
}

export type OpenResult = { ok: true; image: OpenedImage } | { ok: false; reason: 'missing' | 'refused' | 'not_image' };

/**
 * Open `name` (already checked by checkPlainName) inside `rootReal` (the images folder's
 * real path). A symlink is accepted only when it resolves to a regular file directly in
 * the folder; anything leading elsewhere is refused without being opened.
 */
export async function openImage(rootReal: string, name: string): Promise<OpenResult> {
  const contentType = imageContentType(name);
  if (contentType === null) return { ok: false, reason: 'not_image' };
  const requested = path.join(rootReal, name);
  let target = requested;
  let linkStat: Stats;
  try {
    linkStat = await lstat(requested);
  } catch {
    return { ok: false, reason: 'missing' };
  }
  if (linkStat.isSymbolicLink()) {
    let real: string;
    try {
      real = await realpath(requested);
    } catch {
      return { ok: false, reason: 'missing' };
    }
    if (path.dirname(real) !== rootReal || imageContentType(path.basename(real)) === null) return { ok: false, reason: 'refused' };
    target = real;
  } else if (!linkStat.isFile()) {
    return { ok: false, reason: 'missing' };
  }
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: a link put in place after the check fails to open (ELOOP);
    // O_NONBLOCK: a FIFO put in place cannot hang the request.
    handle = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return { ok: false, reason: (err as NodeJS.ErrnoException).code === 'ELOOP' ? 'refused' : 'missing' };
  }
  try {
    let st = await isPlainHere(handle, target);
    // A rename over the name, in flight, can show the opened file's link count already
    // dropped while its old name is still in place (the filesystem drops it, the name goes
    // after): a hard link to a file elsewhere looked plain once in 2000 swaps here. Wait
    // for the folder to settle and look again.
    if (st !== null) {
      await settle(path.dirname(target));
      st = await isPlainHere(handle, target);
    }
    if (st === null) {
      await handle.close();
      return { ok: false, reason: 'refused' };
    }
    return { ok: true, image: { handle, size: st.size, contentType, mtimeMs: st.mtimeMs } };
  } catch {
    await handle.close().catch(() => undefined);
    return { ok: false, reason: 'missing' };
  }
}

/** The opened file's stat, if it is a plain file of this folder: one link (a hard link is
 *  a file that also lives elsewhere), the descriptor's path still `target`, and `target`
 *  still that file. Checked after the fstat: a swap at any moment before shows in the
 *  descriptor's path or in the name's identity now. */
async function isPlainHere(handle: FileHandle, target: string): Promise<Stats | null> {
  const st = await handle.stat();
  if (!st.isFile() || st.nlink !== 1) return null;
  return (await pathIs(handle.fd, target)) && (await sameFile(target, st)) ? st : null;
}

/**
 * Returns once no rename in `dir` is under way: looking up a name that is not there
 * (a fresh one each time, so it is never in the dentry cache) takes the folder's lock,
 * which a rename holds from start to end.
 */
async function settle(dir: string): Promise<void> {
  await lstat(path.join(dir, `.agent-cockpit-settle-${randomUUID()}`)).catch(() => undefined);
}

/** The open descriptor's path (Linux /proc) is exactly `target`: not moved, not "(deleted)". */
async function pathIs(fd: number, target: string): Promise<boolean> {
  try {
    return (await readlink(`/proc/self/fd/${fd}`)) === target;
  } catch {
    return false; // no /proc: refuse rather than guess
  }
}

/** `target` names the very file that was opened (same device and inode). */
async function sameFile(target: string, opened: Stats): Promise<boolean> {
  try {
    const now = await lstat(target);
    return now.dev === opened.dev && now.ino === opened.ino;
  } catch {
    return false;
  }
}
