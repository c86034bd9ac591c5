// The control socket: created owner-only (0600) or group-only (0660) with no instant of
// wider access (umask set around listen), in a folder nobody else can write to (checked,
// as ssh-agent and tmux do), a stale file from a dead supervisor replaced, a live
// supervisor on the same path never displaced.
import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';

export class SocketInUseError extends Error {
  constructor(readonly socketPath: string) {
    super(`another supervisor is listening on ${socketPath}`);
    this.name = 'SocketInUseError';
  }
}

/** The socket's folder could let someone else swap the socket (and receive every prompt). */
export class UnsafeSocketDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeSocketDirError';
  }
}

/**
 * The folder must be a real directory (not a link) owned by us or root, writable by no one
 * else: another local user who made it first could later replace the socket with their own.
 */
export function checkSocketDir(dir: string, ownUid: number = process.getuid?.() ?? 0): void {
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new UnsafeSocketDirError(`${dir} is not a directory (a symbolic link?): refusing to put the control socket there`);
  if (st.uid !== ownUid && st.uid !== 0) {
    throw new UnsafeSocketDirError(
      `${dir} belongs to uid ${st.uid}, not to the supervisor (uid ${ownUid}) or root: whoever made it could swap the socket and receive every prompt; remove it or set SUPERVISOR_SOCKET elsewhere`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafeSocketDirError(`${dir} is writable by its group or by others (mode ${(st.mode & 0o777).toString(8)}): refusing to put the control socket there`);
  }
}

/** Does something accept connections on this socket path? */
function probe(path: string): Promise<'live' | 'stale' | 'missing'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve('stale');
      else if (err.code === 'ENOENT') resolve('missing');
      else reject(err);
    });
  });
}

/**
 * Make the socket's directory if missing (0711: others may pass through to the default
 * workspace below it, not list it; the socket's own mode is the guard), check it, and
 * clear a stale socket file. Throws SocketInUseError when a supervisor is live there,
 * UnsafeSocketDirError when the folder is not safe.
 * Returns whether a stale socket was removed.
 */
export async function prepareSocketPath(path: string, gid: number | null): Promise<boolean> {
  const dir = dirname(path);
  const created = mkdirSync(dir, { recursive: true, mode: 0o711 });
  if (created !== undefined && gid !== null) chownSync(dir, -1, gid);
  checkSocketDir(dir);
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return false;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  const state = await probe(path);
  if (state === 'live') throw new SocketInUseError(path);
  if (state === 'stale') {
    unlinkSync(path);
    return true;
  }
  return false;
}

/** Run listen() under a umask that keeps the socket private from its first instant,
 *  then set its final mode and group. */
export async function listenPrivately(listen: () => Promise<unknown>, path: string, gid: number | null): Promise<void> {
  const previous = process.umask(gid === null ? 0o177 : 0o117);
  try {
    await listen();
  } finally {
    process.umask(previous);
  }
  if (gid !== null) chownSync(path, -1, gid);
  chmodSync(path, gid === null ? 0o600 : 0o660);
}

export function removeSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
