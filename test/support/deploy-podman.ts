// Podman on this kind of machine (FINDINGS.md, "Containers here"): no Docker engine, no
// registry to pull from. A containers.conf with the two settings this kernel needs, and a
// base image made here: Debian bookworm (debootstrap, from the mirror apt already uses)
// plus a node of the Dockerfile's major version (baseImageNode) and this machine's npm,
// where the official Node image keeps them (/usr/local/bin/node,
// /usr/local/lib/node_modules/npm). It is cached by name between runs.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

/** The version of the npm on PATH, for the base image's name. */
export function npmVersion(): string {
  return (JSON.parse(readFileSync(path.join(npmRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The Node major version of the Dockerfile's default base (ARG BASE_IMAGE=node:22-bookworm). */
export function dockerfileNodeMajor(dockerfile: string): number {
  const major = /^ARG\s+BASE_IMAGE=node:(\d+)[.-]/m.exec(readFileSync(dockerfile, 'utf8'))?.[1];
  if (major === undefined) throw new Error(`${dockerfile}: no ARG BASE_IMAGE=node:<major>-…`);
  return Number(major);
}

export interface BaseNode {
  /** The node binary copied into the base image. */
  bin: string;
  /** Its `node --version`, e.g. v22.23.5. */
  version: string;
}

/** Where .ci/run installs the image's Node (node-v<version>/bin/node). */
export const CI_NODE_DIR = '/opt/agent-cockpit';

function nodeVersion(bin: string): string | null {
  const result = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

const majorOf = (version: string): number => Number(/^v(\d+)\./.exec(version)?.[1]);

/**
 * The node for the base image, which must be the Dockerfile's major version: the binary
 * CONTAINER_TEST_NODE names (an error if it is another major), else the node running this
 * test if it is that major, else the newest of that major under CI_NODE_DIR. A string
 * says why there is none.
 */
export function baseImageNode(major: number, env: NodeJS.ProcessEnv = process.env): BaseNode | string {
  const named = env.CONTAINER_TEST_NODE;
  if (named !== undefined && named !== '') {
    const version = nodeVersion(named);
    if (version === null) throw new Error(`CONTAINER_TEST_NODE=${named}: \`--version\` did not run`);
    if (majorOf(version) !== major) throw new Error(`CONTAINER_TEST_NODE=${named} is ${version}; the image runs Node ${major} (docker/Dockerfile)`);
    return { bin: realpathSync(named), version };
  }
  if (majorOf(process.version) === major) return { bin: realpathSync(process.execPath), version: process.version };
  const installed = (existsSync(CI_NODE_DIR) ? readdirSync(CI_NODE_DIR) : [])
    .map((dir) => ({ dir, v: /^node-v(\d+)\.(\d+)\.(\d+)$/.exec(dir)?.slice(1).map(Number) }))
    .filter((d): d is { dir: string; v: number[] } => d.v !== undefined && d.v[0] === major)
    .sort((a, b) => b.v[1]! - a.v[1]! || b.v[2]! - a.v[2]!);
  for (const { dir } of installed) {
    const bin = path.join(CI_NODE_DIR, dir, 'bin/node');
    const version = nodeVersion(bin);
    if (version !== null && majorOf(version) === major) return { bin, version };
  }
  return `the image runs Node ${major} (docker/Dockerfile) and this is ${process.version}: set CONTAINER_TEST_NODE to a Node ${major} binary (.ci/run installs one under ${CI_NODE_DIR})`;
}

/**
 * A `FROM`-able stand-in for node:22-bookworm, made here with the given node. Returns
 * how long it took (0 when the cached image was reused).
 */
export async function ensureBaseImage(podman: Podman, name: string, node: BaseNode, log: (line: string) => void): Promise<number> {
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
    log(`base image ${name}: node ${node.version} from ${node.bin}`);
    cpSync(node.bin, path.join(rootfs, 'usr/local/bin/node'));
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
