// 3. Sampling cost: CPU the supervisor itself uses (utime+stime from /proc/PID/stat)
// while it samples a 100-process job tree every SAMPLE_INTERVAL_MS, against the same
// supervisor idle. Busy and idle windows alternate, so both see the same machine.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Target, request, requestJson } from '../lib/http.ts';
import { listPids, markedPids, readCpuMs } from '../lib/proc.ts';
import type { Section } from '../lib/report.ts';
import { newMark } from '../lib/services.ts';
import { fmt, summarize } from '../lib/stats.ts';

export interface SamplingOptions {
  supervisor: Target;
  supervisorPid: number;
  windows: number;
  windowMs: number;
  sampleIntervalMs: number;
}

interface Window {
  cpuMs: number;
  wallMs: number;
}

async function measure(pid: number, ms: number): Promise<Window> {
  const cpu0 = readCpuMs(pid);
  const t0 = performance.now();
  await sleep(ms);
  return { cpuMs: readCpuMs(pid) - cpu0, wallMs: performance.now() - t0 };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const pct = (w: Window): number => (100 * w.cpuMs) / w.wallMs;
const total = (ws: Window[]): number => (100 * ws.reduce((a, w) => a + w.cpuMs, 0)) / ws.reduce((a, w) => a + w.wallMs, 0);

export async function benchSampling(o: SamplingOptions): Promise<Section> {
  const idle: Window[] = [];
  const busy: Window[] = [];
  const processCounts: number[] = [];
  const machineProcesses: number[] = [];
  for (let i = 0; i < o.windows; i++) {
    await sleep(1000); // let the previous job's teardown (and the GC after it) finish before an idle window
    idle.push(await measure(o.supervisorPid, o.windowMs));

    const mark = newMark('samp');
    const { json: job } = await requestJson<{ id: string }>(o.supervisor, 'POST', '/jobs', { prompt: `obey 100 0 ${mark}` });
    await waitFor('the 100-process tree', () => markedPids(mark).length >= 100);
    await sleep(o.sampleIntervalMs + 100); // the supervisor has sampled the whole tree at least once
    machineProcesses.push(listPids().length);
    busy.push(await measure(o.supervisorPid, o.windowMs));
    const { json: view } = await requestJson<{ processCount: number; peakProcessCount: number }>(o.supervisor, 'GET', `/jobs/${job.id}`);
    processCounts.push(view.peakProcessCount);
    await request(o.supervisor, 'POST', `/jobs/${job.id}/cancel`, {});
    await requestJson(o.supervisor, 'GET', `/jobs/${job.id}/wait?timeoutMs=10000`);
    await waitFor('the tree to be gone', () => markedPids(mark).length === 0);
  }
  const busyPct = total(busy);
  const idlePct = total(idle);
  const b = summarize(busy.map(pct));
  const i = summarize(idle.map(pct));
  return {
    id: 3,
    title: 'Sampling cost',
    method:
      `The supervisor (SAMPLE_INTERVAL_MS=${o.sampleIntervalMs}) runs a job whose fixture (bench/fixtures/tree.sh) is a tree of 100 processes ` +
      `(a shell and 99 \`sleep\`s). CPU = change in utime+stime of the supervisor process over a ${o.windowMs / 1000} s window, ` +
      `divided by wall time; ${o.windows} busy windows alternate with ${o.windows} idle windows (no job) of the same supervisor. ` +
      `Kernel CPU accounting has a 10 ms tick, i.e. ${fmt(1000 / o.windowMs)}% of a core per window; totals over all windows are finer.`,
    figures: [
      ['busy (100-process job), all windows', `${fmt(busyPct, 3)}% of one core (${fmt(busy.reduce((a, w) => a + w.cpuMs, 0), 0)} ms CPU in ${fmt(busy.reduce((a, w) => a + w.wallMs, 0) / 1000, 1)} s)`],
      ['busy, per window', `${fmt(b.median, 2)}% (min-max ${fmt(b.min, 2)}-${fmt(b.max, 2)}, n=${b.n})`],
      ['idle (no job), all windows', `${fmt(idlePct, 3)}% of one core (${fmt(idle.reduce((a, w) => a + w.cpuMs, 0), 0)} ms CPU in ${fmt(idle.reduce((a, w) => a + w.wallMs, 0) / 1000, 1)} s)`],
      ['idle, per window', `${fmt(i.median, 2)}% (min-max ${fmt(i.min, 2)}-${fmt(i.max, 2)}, n=${i.n})`],
      ['cost of sampling (busy - idle)', `${fmt(busyPct - idlePct, 3)}% of one core`],
      ['peak process count the supervisor reported per job', processCounts.join(', ')],
      ['processes on the whole machine during the busy windows (each sample reads /proc/PID/stat of all of them)', machineProcesses.join(', ')],
    ],
    checks: [{ target: 'under 1% of one core with a 100-process job', measured: `${fmt(busyPct, 3)}%`, met: busyPct < 1 }],
    notes: [],
  };
}
