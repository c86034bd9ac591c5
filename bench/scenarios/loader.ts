// For benchmark 6: what running TypeScript through tsx costs in resident memory, measured
// on an idle script that does nothing, with and without `--import tsx`, side by side.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readMemory } from '../lib/proc.ts';
import { REPO_ROOT } from '../lib/services.ts';

export async function loaderCost(): Promise<{ plainKb: number; tsxKb: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-loader-'));
  const script = join(dir, 'idle.ts');
  await writeFile(script, 'setInterval(() => {}, 1000);\n');
  const plain = spawn(process.execPath, [script], { stdio: 'ignore', cwd: REPO_ROOT });
  const tsx = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'ignore', cwd: REPO_ROOT });
  try {
    await sleep(1500);
    return { plainKb: readMemory(plain.pid!).rssKb, tsxKb: readMemory(tsx.pid!).rssKb };
  } finally {
    plain.kill('SIGKILL');
    tsx.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
