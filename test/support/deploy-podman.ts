// Podman on this kind of machine (FINDINGS.md, "Containers here"): no Docker engine, no
// registry to pull from. A containers.conf with the two settings this kernel needs, and a
// base image made here: Debian bookworm (debootstrap, from the mirror apt already uses)
// plus this machine's node and npm where the official Node image keeps them
// (/usr/local/bin/node, /usr/local/lib/node_modules/npm). It is cached by name between runs.
import { spawn, type SpawnOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { which } from './deploy-harness.ts';

/** crun cannot raise RLIMIT_NOFILE here (no CAP_SYS_RESOURCE) and cgroups are hybrid: runc + fixed ulimits. */
export const CONTAINERS_CONF = `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
`;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Runs a command to its end; `input` streams into stdin (tar into podman import). */
export function run(command: string, args: string[], options: SpawnOptions & { input?: NodeJS.ReadableStream } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    if (options.input !== undefined) options.input.pipe(child.stdin!);
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), durationMs: Date.now() - started }),
    );
  });
}

export class Podman {
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly confDir: string) {
    const conf = path.join(confDir, 'containers.conf');
    writeFileSync(conf, CONTAINERS_CONF);
    this.env = { ...process.env, CONTAINERS_CONF: conf };
  }

  run(args: string[], options: { input?: NodeJS.ReadableStream } = {}): Promise<RunResult> {
    return run('podman', args, { env: this.env, ...options });
  }

  /** Like run, but a non-zero exit throws with the tail of the output. */
  async ok(args: string[], options: { input?: NodeJS.ReadableStream } = {}): Promise<RunResult> {
    const result = await this.run(args, options);
    if (result.code !== 0) {
      const tail = `${result.stdout}\n${result.stderr}`.split('\n').slice(-40).join('\n');
      throw new Error(`podman ${args.slice(0, 2).join(' ')} exited ${result.code}:\n${tail}`);
    }
    return result;
  }

  async imageExists(name: string): Promise<boolean> {
    return (await this.run(['image', 'exists', name])).code === 0;
  }
}

/** What podman needs here, or why it cannot run. */
export function podmanSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root: rootless podman is not set up on this machine';
  for (const command of ['podman', 'runc', 'debootstrap', 'tar']) {
    if (which(command) === null) return `${command} is not installed (apt-get install podman runc catatonit debootstrap)`;
  }
  return false;
}

/** The Debian mirror apt uses here (deb822 .sources or a one-line sources.list). */
export function debianMirror(): string {
  const candidates = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri !== undefined && suites.includes('bookworm')) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (line !== null) return line[1]!;
  }
  return 'http://deb.debian.org/debian';
}

/** The npm package folder of the npm on PATH (…/node_modules/npm). */
function npmRoot(): string {
  const npm = which('npm');
  if (npm === null) throw new Error('npm is not on PATH');
  // …/node_modules/npm/bin/npm-cli.js
  return path.dirname(path.dirname(realpathSync(npm)));
}

/**
 * A `FROM`-able stand-in for node:22-bookworm, made here. Returns how long it took
 * (0 when the cached image was reused).
 */
export async function ensureBaseImage(podman: Podman, name: string, log: (line: string) => void): Promise<number> {
  if (await podman.imageExists(name)) {
    log(`base image ${name}: cached`);
    return 0;
  }
  const started = Date.now();
  const work = mkdtempSync(path.join(os.tmpdir(), 'deploy-rootfs-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    const mirror = debianMirror();
    log(`base image ${name}: debootstrap --variant=minbase bookworm from ${mirror}`);
    const boot = await run('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror]);
    if (boot.code !== 0) throw new Error(`debootstrap exited ${boot.code}:\n${boot.stderr.slice(-4000)}${boot.stdout.slice(-4000)}`);
    // Node and npm where the official image has them.
    mkdirSync(path.join(rootfs, 'usr/local/bin'), { recursive: true });
    mkdirSync(path.join(rootfs, 'usr/local/lib/node_modules'), { recursive: true });
    cpSync(process.execPath, path.join(rootfs, 'usr/local/bin/node'));
    cpSync(npmRoot(), path.join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(rootfs, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(rootfs, 'usr/local/bin/npx'));
    // debootstrap leaves its downloaded packages behind.
    rmSync(path.join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(path.join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
    const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await podman.ok(['import', '--change', 'CMD ["node"]', '-', name], { input: tar.stdout });
    log(`base image ${name}: made in ${Math.round((Date.now() - started) / 1000)} s`);
    return Date.now() - started;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
