// Diagnostics behind the overhead figures, measured in this process each run so the
// explanation can be rerun with the numbers: (1) what one spawn() costs as the parent's
// resident memory grows (fork copies its page tables), (2) what moving a process into a
// cgroup costs when the previous move was long ago versus just now (a write to
// cgroup.procs takes cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
// period unless one just passed), (3) what reading every /proc/PID/stat, /status and
// /environ costs on this machine, and (4) what starting a job through the per-job reaper
// adds to a direct spawn.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../common/repo-root.ts';
import { userMessageLine } from '../../supervisor/src/claude/stream-json-input.ts';
import { defaultReaperBin } from '../../supervisor/src/ownership/reaper.ts';
import { listPids, readStat } from '../lib/proc.ts';
import type { Section } from '../lib/report.ts';
import { fmt, percentile } from '../lib/stats.ts';

// Run in a fresh plain `node` (no tsx, no bench state), grown with Buffers step by step,
// so the parent's RSS is the only thing that changes between the three figures.
const SPAWN_COST_PROGRAM = `
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
const ballast = [];
const out = [];
for (const extraMiB of [0, 64, 128]) {
  while (ballast.length < extraMiB) ballast.push(Buffer.alloc(1 << 20, 1));
  const ms = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    const child = spawn('/bin/true', [], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    ms.push(performance.now() - t);
    await new Promise((resolve) => child.once('close', resolve));
  }
  const rssKb = Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  out.push({ rssKb, ms });
}
process.stdout.write(JSON.stringify(out));
`;

async function spawnCost(): Promise<Array<{ rssKb: number; ms: number[] }>> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SPAWN_COST_PROGRAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`spawn-cost program exited ${code}`);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<{ rssKb: number; ms: number[] }>;
}

function memoryCgroupDir(): string | null {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
    if (line === undefined) return null;
    return join('/sys/fs/cgroup/memory', line.slice(line.lastIndexOf(':') + 1));
  } catch {
    return null;
  }
}

/**
 * Median ms of one cgroup.procs write moving a `sleep` between two fresh memory groups,
 * with `gapMs` between moves; null without a writable v1 memory cgroup.
 */
async function cgroupMoveCost(parent: string, n: number, gapMs: number): Promise<number | null> {
  const dirs = [join(parent, `bench-diag-${process.pid}-a`), join(parent, `bench-diag-${process.pid}-b`)];
  const child = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
  const ms: number[] = [];
  try {
    for (const d of dirs) mkdirSync(d);
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      writeFileSync(join(dirs[i % 2]!, 'cgroup.procs'), String(child.pid));
      ms.push(performance.now() - t);
      if (gapMs > 0) await sleep(gapMs);
    }
  } catch {
    // not writable here: no figure
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    for (const d of dirs) {
      for (let k = 0; k < 50; k++) {
        try {
          rmdirSync(d);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          await sleep(5);
        }
      }
    }
  }
  return ms.length === 0 ? null : percentile(ms, 0.5);
}

/** ms to read /proc/PID/<file> of every pid once (gone or unreadable ones count too). */
function timeReads(pids: number[], file: string): number {
  const t = performance.now();
  for (const pid of pids) {
    try {
      readFileSync(`/proc/${pid}/${file}`);
    } catch {
      // gone or not readable
    }
  }
  return performance.now() - t;
}

/** One run of `fixture` to its exit: directly, or through the reaper (released at the CLI's end). */
function runOnce(fixture: string, reaper: string | null): Promise<number> {
  const t = performance.now();
  return new Promise((resolve) => {
    const child =
      reaper === null
        ? spawn(fixture, [], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
        : spawn(reaper, ['--tag', 'bench:diag', '--', fixture], { detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
    child.stdout!.resume();
    child.stderr!.resume();
    child.stdin!.end(userMessageLine('say ok'));
    if (reaper !== null) {
      let status = '';
      child.stdio[3]!.on('data', (c: Buffer) => {
        status += c.toString('latin1');
        if (/^(exit|signal) /m.test(status)) (child.stdio[4] as NodeJS.WritableStream).end();
      });
    }
    child.once('exit', () => resolve(performance.now() - t));
  });
}

/** Median ms of a trivial job through the reaper and directly, interleaved; null without the reaper. */
async function reaperCost(fixture: string, n: number): Promise<{ reaper: number; direct: number } | null> {
  const reaper = defaultReaperBin(REPO_ROOT);
  try {
    await runOnce(fixture, reaper);
  } catch {
    return null;
  }
  const via: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const useReaper of i % 2 === 0 ? [true, false] : [false, true]) {
      (useReaper ? via : direct).push(await runOnce(fixture, useReaper ? reaper : null));
    }
  }
  return { reaper: percentile(via, 0.5), direct: percentile(direct, 0.5) };
}

export async function diagnostics(fixture: string): Promise<Section> {
  const figures: Array<[string, string]> = [];
  for (const { rssKb, ms } of await spawnCost()) {
    figures.push([`spawn() of /bin/true from a plain node parent of ${fmt(rssKb / 1024, 0)} MiB RSS`, `${fmt(percentile(ms, 0.5))} ms median (p90 ${fmt(percentile(ms, 0.9))})`]);
  }
  const parent = memoryCgroupDir();
  const cold = parent === null ? null : await cgroupMoveCost(parent, 15, 40);
  const warm = parent === null ? null : await cgroupMoveCost(parent, 15, 0);
  figures.push(['moving a process into a new memory cgroup, 40 ms after the previous move (as every real job)', cold === null ? 'no writable v1 memory cgroup here' : `${fmt(cold)} ms median`]);
  figures.push(['the same, moves back to back (no gap)', warm === null ? 'no writable v1 memory cgroup here' : `${fmt(warm)} ms median`]);
  const pids = listPids();
  const t = performance.now();
  for (const pid of pids) readStat(pid);
  const statMs = performance.now() - t;
  const environMs = timeReads(pids, 'environ');
  const statusMs = timeReads(pids, 'status');
  figures.push([`reading /proc/PID/stat of all ${pids.length} processes, once`, `${fmt(statMs)} ms (${fmt((1000 * statMs) / pids.length, 0)} us each)`]);
  figures.push([`reading /proc/PID/environ of all ${pids.length} processes, once`, `${fmt(environMs)} ms`]);
  figures.push([`reading /proc/PID/status of all ${pids.length} processes, once (the agent-uid layer, for processes it has not seen)`, `${fmt(statusMs)} ms`]);
  const cost = await reaperCost(fixture, 100);
  figures.push([
    'the trivial fixture run to its exit through the per-job reaper vs spawned directly (100 each, interleaved)',
    cost === null ? 'no reaper built here' : `${fmt(cost.reaper)} vs ${fmt(cost.direct)} ms median (+${fmt(cost.reaper - cost.direct)} ms)`,
  ]);
  return {
    id: 8,
    title: 'Diagnostics (what the overhead is made of)',
    method:
      'Measured by the bench, outside the services: what the system calls the supervisor makes per job cost on this machine. ' +
      'spawn() forks the parent (libuv on Linux), so its cost grows with the parent\'s resident memory: a fresh plain node process is grown with Buffers between the figures.',
    figures,
    checks: [],
    notes: [],
  };
}
