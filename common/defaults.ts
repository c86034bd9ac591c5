// Where the service keeps its socket, the agent's workspace and its images when nothing
// else is set: one folder per user under /tmp, as tmux does (/tmp/tmux-UID). A shared
// name would let another local user create it first and later swap the socket; the
// supervisor also refuses a folder it does not own or that others can write (socket.ts).
// The image sets every one of these paths itself.
import path from 'node:path';

export function defaultRuntimeDir(uid: number = process.getuid?.() ?? 0): string {
  return `/tmp/agent-cockpit-${uid}`;
}

export function defaultPaths(uid?: number): { socketPath: string; workspaceDir: string; imagesDir: string } {
  const dir = defaultRuntimeDir(uid);
  return { socketPath: path.join(dir, 'supervisor.sock'), workspaceDir: path.join(dir, 'workspace'), imagesDir: path.join(dir, 'images') };
}

/**
 * Where the job store lives when DATA_DIR is unset: the user's state folder (XDG
 * $XDG_STATE_HOME, else ~/.local/state), which survives a reboot; without a HOME, the
 * runtime folder. The image sets DATA_DIR=/data/state on its volume.
 */
export function defaultDataDir(env: { HOME?: string; XDG_STATE_HOME?: string }, uid?: number): string {
  if (env.XDG_STATE_HOME !== undefined && path.isAbsolute(env.XDG_STATE_HOME)) return path.join(env.XDG_STATE_HOME, 'agent-cockpit');
  if (env.HOME !== undefined && path.isAbsolute(env.HOME) && env.HOME !== '/') return path.join(env.HOME, '.local', 'state', 'agent-cockpit');
  return path.join(defaultRuntimeDir(uid), 'data');
}
