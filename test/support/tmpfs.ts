// A small tmpfs for a test (a full disk, a file system remounted read-only): mounted at a
// new folder, unmounted and removed after the test. Needs root; otherwise, or where mount
// fails, it says why, for the test to skip with that reason.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export async function tmpfs(t: TestContext, size: string, mode = '0700'): Promise<{ mnt: string } | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: 'needs root to mount a tmpfs' };
  const mnt = await mkdtemp(path.join(tmpdir(), 'store-mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=${mode}`, 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    await rm(mnt, { recursive: true, force: true });
    return { skip: `mount -t tmpfs failed here: ${(err as Error).message.split('\n')[0]}` };
  }
  t.after(async () => {
    execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
    await rm(mnt, { recursive: true, force: true });
  });
  return { mnt };
}
