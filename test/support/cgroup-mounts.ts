// The cgroup hierarchies mounted here, and a wrapper that hides the v1 memory controller
// from a command (a mount namespace of its own), so that on a hybrid machine like this one
// the supervisor takes cgroup v2, as on a Fly Machine. Used by tests and by the bench.
import { readFileSync } from 'node:fs';

interface MountLine {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function mounts(): MountLine[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - '))
    .map((l) => {
      const [pre, post] = l.split(' - ');
      const [fsType, , superOptions] = post!.split(' ');
      return { mountPoint: pre!.split(' ')[4]!, fsType: fsType!, superOptions: (superOptions ?? '').split(',') };
    });
}

/** Mount points of the cgroup v1 memory controller. */
export const v1MemoryMounts = (): string[] => mounts().filter((m) => m.fsType === 'cgroup' && m.superOptions.includes('memory')).map((m) => m.mountPoint);

export const hasCgroupV2 = (): boolean => mounts().some((m) => m.fsType === 'cgroup2');

/** Prefix a command with this to run it without the v1 memory controller (needs root). */
export function v2OnlyWrapper(): string[] {
  // The mount points go in as arguments, never into the script text.
  const script = 'while [ "$1" != -- ]; do umount "$1" || exit 1; shift; done; shift; exec "$@"';
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'v2-only', ...v1MemoryMounts(), '--'];
}
