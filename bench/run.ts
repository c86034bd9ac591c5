// `npm run bench`: starts the processes under test with fixture CLIs in place of Claude,
// runs the ten benchmarks, and writes docs/benchmarks.md. Each benchmark gets the
// supervisor configuration it needs (its own instance), so one's leftovers cannot
// colour another's figures. Never part of `npm test`: these are measurements, not tests.
// BENCH_QUICK=1 shortens every benchmark (for working on the bench itself; the report
// says so). BENCH_ONLY=1,4 runs a subset.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCliArgs } from '../supervisor/src/claude/cli-args.ts';
import { NO_LIMITS } from '../supervisor/src/job/limits.ts';
import { hasCgroupV2, v1MemoryMounts, v2OnlyWrapper } from '../test/support/cgroup-mounts.ts';
import type { SupervisorStatus } from '../common/protocol.ts';
import { FINDINGS } from './findings.ts';
import { heapSnapshotNodeOptions } from './lib/heap.ts';
import { request } from './lib/http.ts';
import { pidsWithEnv } from './lib/proc.ts';
import { type Section, describeMachine, renderReport } from './lib/report.ts';
import { FIXTURES, REPO_ROOT, RUN_TAG, type Service, startApi, startPeer, startSupervisor } from './lib/services.ts';
import { diagnostics } from './scenarios/diagnostics.ts';
import { benchEndurance } from './scenarios/endurance.ts';
import { type Footprint, footprintSection, takeFootprint } from './scenarios/footprint.ts';
import { benchEvents } from './scenarios/events.ts';
import { benchKill } from './scenarios/kill.ts';
import { loaderCost } from './scenarios/loader.ts';
import { benchOutput } from './scenarios/output.ts';
import { benchOverhead } from './scenarios/overhead.ts';
import { benchSampling } from './scenarios/sampling.ts';
import { benchStore, fillStore } from './scenarios/store.ts';
import { benchThroughput } from './scenarios/throughput.ts';

const quick = process.env.BENCH_QUICK === '1';
const only = new Set((process.env.BENCH_ONLY ?? '1,2,3,4,5,6,7,8,9,10').split(',').map(Number));
const fixture = (name: string): string => join(FIXTURES, name);
const MAX_OUTPUT_BYTES = 10 * 1024 * 1024;

const started = performance.now();
const machine = describeMachine();
const dir = await mkdtemp(join(tmpdir(), 'bench-'));
const running: Service[] = [];
const sections: Section[] = [];

function log(message: string): void {
  console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
}

/** Run one benchmark; a failure becomes a section saying what failed, and the run goes on. */
async function attempt(id: number, title: string, fn: () => Promise<Section>): Promise<void> {
  if (!only.has(id)) return;
  log(`${id}. ${title}`);
  try {
    const section = await fn();
    sections.push(section);
    for (const c of section.checks) log(`   ${c.met === true ? 'met   ' : c.met === false ? 'MISSED' : '?     '} ${c.target}: ${c.measured}`);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`   FAILED: ${message}`);
    sections.push({ id, title, method: 'The benchmark failed before it could measure.', figures: [], checks: [{ target: '(see below)', measured: 'failed', met: null }], notes: [`Error: ${message.split('\n').join(' / ')}`] });
  }
}

async function stop(...services: Array<Service | undefined>): Promise<void> {
  for (const s of services) {
    if (s === undefined) continue;
    await s.stop();
    running.splice(running.indexOf(s), 1);
  }
}

async function track<T extends Service>(p: Promise<T>): Promise<T> {
  const s = await p;
  running.push(s);
  return s;
}

try {
  const cliArgs = buildCliArgs({}, NO_LIMITS, { imagesDir: join(dir, 'images') });

  // Benchmarks 1, 2 and 6 share one supervisor + API + peer (b), all running trivial.sh.
  if (only.has(1) || only.has(2) || only.has(6)) {
    const sup = await track(startSupervisor('sup-main', { dir, claudeBin: fixture('trivial.sh') }));
    const api = await track(startApi('api-main', dir, sup.socketPath));
    const peer = await track(startPeer('peer-main', dir, fixture('trivial.sh')));
    await sleep(1000);
    const idle: Footprint = takeFootprint({ supervisor: sup.pid, api: api.pid, peer: peer.pid });
    const cgroupOf = async (s: Service): Promise<string> => {
      const st = JSON.parse((await request(s.target, 'GET', '/status')).body) as SupervisorStatus;
      return st.cgroup.kind === null || st.cgroup.kind === undefined ? 'no cgroup' : `cgroup ${st.cgroup.kind}, join by ${st.cgroup.join ?? '?'}`;
    };
    // A hybrid machine (v1 memory and v2, like this one): ours once more on v2 only, as on Fly.
    const hybrid = process.getuid?.() === 0 && hasCgroupV2() && v1MemoryMounts().length > 0;
    const supV2 = hybrid ? await track(startSupervisor('sup-v2', { dir, claudeBin: fixture('trivial.sh'), wrapper: v2OnlyWrapper() })) : undefined;
    const apiV2 = supV2 !== undefined ? await track(startApi('api-v2', dir, supV2.socketPath)) : undefined;
    await attempt(1, 'Request overhead', async () =>
      benchOverhead({
        api: api.target,
        peer: peer.target,
        fixture: fixture('trivial.sh'),
        args: cliArgs,
        iterations: quick ? 30 : 200,
        warmup: quick ? 5 : 20,
        supervisorLog: sup.logFile,
        oursCgroup: await cgroupOf(sup),
        ...(apiV2 !== undefined ? { oursV2: apiV2.target, supervisorV2Log: supV2!.logFile } : {}),
      }),
    );
    await stop(apiV2, supV2);
    await attempt(2, 'Throughput while a job runs', () =>
      benchThroughput({ apiPort: api.port, api: api.target, peerPort: peer.port, peer: peer.target, supervisor: sup.target, connections: [20, 100], rounds: quick ? 1 : 2, seconds: quick ? 1 : 3 }),
    );
    await sleep(1000);
    const after = takeFootprint({ supervisor: sup.pid, api: api.pid, peer: peer.pid });
    await attempt(6, 'Footprint', async () => footprintSection(idle, after, await loaderCost()));
    await stop(peer, api, sup);
  }

  await attempt(3, 'Sampling cost', async () => {
    const sup = await track(startSupervisor('sup-sampling', { dir, claudeBin: fixture('tree.sh'), env: { SAMPLE_INTERVAL_MS: '1000' } }));
    try {
      await sleep(1000);
      return await benchSampling({ supervisor: sup.target, supervisorPid: sup.pid, windows: quick ? 1 : 3, windowMs: quick ? 3000 : 5000, sampleIntervalMs: 1000 });
    } finally {
      await stop(sup);
    }
  });

  await attempt(4, 'Kill latency', async () => {
    const timeoutMs = 1500;
    const killGraceMs = 1000;
    const sup = await track(startSupervisor('sup-kill', { dir, claudeBin: fixture('tree.sh'), env: { COMMAND_TIMEOUT_MS: String(timeoutMs), KILL_GRACE_MS: String(killGraceMs) } }));
    try {
      return await benchKill({ supervisor: sup.target, timeoutMs, killGraceMs, repetitions: quick ? 2 : 6, total: 100, escapees: 10 });
    } finally {
      await stop(sup);
    }
  });

  await attempt(5, 'Output', async () => {
    const sup = await track(startSupervisor('sup-output', { dir, claudeBin: fixture('flood.sh'), env: { MAX_OUTPUT_BYTES: String(MAX_OUTPUT_BYTES) } }));
    const peer = await track(startPeer('peer-output', dir, fixture('flood.sh')));
    try {
      await sleep(500);
      return await benchOutput({ supervisor: sup.target, supervisorPid: sup.pid, maxOutputBytes: MAX_OUTPUT_BYTES, runs: quick ? 1 : 3, peer: { target: peer.target, pid: peer.pid } });
    } finally {
      await stop(peer, sup);
    }
  });

  await attempt(7, 'Endurance', async () => {
    const timeoutMs = 200;
    const heapDir = join(dir, 'heap');
    await mkdir(heapDir, { recursive: true });
    const nodeOptions = { NODE_OPTIONS: heapSnapshotNodeOptions(heapDir) };
    const sup = await track(startSupervisor('sup-endurance', { dir, claudeBin: fixture('trivial.sh'), env: { COMMAND_TIMEOUT_MS: String(timeoutMs), KILL_GRACE_MS: '1000', ...nodeOptions } }));
    const api = await track(startApi('api-endurance', dir, sup.socketPath, nodeOptions));
    try {
      return await benchEndurance({ api: api.target, apiPid: api.pid, supervisorPid: sup.pid, supervisorSocket: sup.socketPath, timeoutMs, warmup: quick ? 20 : 200, jobs: quick ? 100 : 1000, timeouts: quick ? 10 : 100, checkpoints: 4, heapDir });
    } finally {
      await stop(api, sup);
    }
  });
  await attempt(8, 'Diagnostics (what the overhead is made of)', () => diagnostics(fixture('trivial.sh')));

  await attempt(9, 'Job store', async () => {
    const storedJobs = 10_000;
    const storedIds = fillStore(join(dir, 'sup-store-10k', 'data'), storedJobs);
    const disk = await track(startSupervisor('sup-store-disk', { dir, claudeBin: fixture('trivial.sh') }));
    const memory = await track(startSupervisor('sup-store-memory', { dir, claudeBin: fixture('trivial.sh'), env: { DATA_DIR: ':memory:' } }));
    const stored = await track(startSupervisor('sup-store-10k', { dir, claudeBin: fixture('trivial.sh'), env: { JOBS_MAX_COUNT: String(storedJobs * 2) } }));
    const apiDisk = await track(startApi('api-store-disk', dir, disk.socketPath));
    const apiMemory = await track(startApi('api-store-memory', dir, memory.socketPath));
    const apiStored = await track(startApi('api-store-10k', dir, stored.socketPath));
    try {
      await sleep(500);
      return await benchStore({
        disk: apiDisk.target,
        memory: apiMemory.target,
        iterations: quick ? 30 : 200,
        warmup: quick ? 5 : 20,
        storedPort: apiStored.port,
        storedIds,
        seconds: quick ? 2 : 5,
      });
    } finally {
      await stop(apiStored, apiMemory, apiDisk, stored, memory, disk);
    }
  });

  await attempt(10, 'Live events', async () => {
    const sampleIntervalMs = 1000;
    const heartbeatMs = 15_000;
    const sup = await track(startSupervisor('sup-events', { dir, claudeBin: fixture('events.mjs'), env: { SAMPLE_INTERVAL_MS: String(sampleIntervalMs) } }));
    const api = await track(startApi('api-events', dir, sup.socketPath, { EVENTS_HEARTBEAT_MS: String(heartbeatMs) }));
    try {
      await sleep(500);
      return await benchEvents({
        apiPort: api.port,
        api: api.target,
        apiPid: api.pid,
        supervisorPid: sup.pid,
        fixture: fixture('events.mjs'),
        stamps: quick ? 100 : 400,
        gapMs: 20,
        warmup: quick ? 10 : 20,
        subscribers: 100,
        windowMs: quick ? 4000 : 8000,
        rounds: quick ? 1 : 4,
        quietMs: quick ? 5000 : 10_000,
        sampleIntervalMs,
        heartbeatMs,
      });
    } finally {
      await stop(api, sup);
    }
  });
} finally {
  for (const s of [...running].reverse()) await s.stop().catch(() => {});
  // Anything a fixture of this run left behind (only on a failed benchmark).
  for (const pid of pidsWithEnv(`BENCH_MARK=${RUN_TAG}`)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (process.env.BENCH_KEEP !== '1') await rm(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
}

sections.sort((a, b) => a.id - b.id);
const totalSeconds = (performance.now() - started) / 1000;
const preface = [
  'Fixture programs (bench/fixtures/) stand in for the Claude CLI, so the figures are the services\' own cost. ' +
    'The machine is shared with other work: figures taken side by side (interleaved) are the ones to compare; absolute figures move between runs.',
];
if (quick) preface.push('**BENCH_QUICK=1: shortened run, fewer iterations; not the published figures.**');
if (only.size < 10) preface.push(`Only benchmarks ${[...only].join(', ')} were run.`);
const out = join(REPO_ROOT, 'docs', 'benchmarks.md');
await writeFile(out, [renderReport(machine, sections, totalSeconds, preface), ...FINDINGS].join('\n'));
log(`wrote ${out} in ${totalSeconds.toFixed(0)} s`);
