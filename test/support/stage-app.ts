// The application as another user must see it. The checkout may sit under a folder only
// its owner can enter (a clone in /root, mode 0700), while the image runs the API as
// `api` and the CLI as `agent`: tests that run code as those users use a copy in a temp
// folder everyone can enter. node_modules is hard-linked (instant on one filesystem),
// else copied; dist/ (built first) and package.json are copied.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface Registrar {
  after(fn: () => unknown): void;
}

/** A reachable copy of the built app (dist/, node_modules, package.json); removed after the test. */
export function stageApp(t: Registrar): string {
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'staged-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  execFileSync('cp', ['-a', path.join(root, 'dist'), path.join(dir, 'dist')]);
  const linked = spawnSync('cp', ['-al', path.join(root, 'node_modules'), path.join(dir, 'node_modules')], { stdio: 'ignore' });
  if (linked.status !== 0) {
    rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
    execFileSync('cp', ['-a', path.join(root, 'node_modules'), path.join(dir, 'node_modules')]);
  }
  return dir;
}
