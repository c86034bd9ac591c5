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
