// 7. Endurance: 1,000 sequential commands, then 100 that time out, through the API and a
// supervisor with a short COMMAND_TIMEOUT_MS. Between phases: RSS and open fds of both
// processes, the supervisor's descendants, zombies, and any process still carrying the
// supervisor's job marker (AGENT_COCKPIT_JOB=<instance>:...) or the fixture's.
import { setTimeout as sleep } from 'node:timers/promises';
import { instanceMarkerPrefix, instanceTagFor } from '../../supervisor/src/ownership/marker.ts';
import type { SupervisorStatus } from '../../common/protocol.ts';
import { type Target, request, requestJson, socketTarget } from '../lib/http.ts';
import { allStats, commandLine, countFds, descendants, isAlive, markedPids, pidsWithEnv, readMemory } from '../lib/proc.ts';
import { liveHeapMiB } from '../lib/heap.ts';
import type { Section } from '../lib/report.ts';
import { newMark } from '../lib/services.ts';
import { describe, fmt, summarize } from '../lib/stats.ts';

export interface EnduranceOptions {
  api: Target;
  apiPid: number;
  supervisorPid: number;
  supervisorSocket: string;
  timeoutMs: number;
  warmup: number;
  jobs: number;
  timeouts: number;
  checkpoints: number;
  /** The services were started with heapSnapshotNodeOptions(heapDir): live heap is measured. */
  heapDir?: string;
}

interface Snapshot {
  label: string;
  supRssMiB: number;
  apiRssMiB: number;
  supFds: number;
  apiFds: number;
  descendants: number;
  zombies: number;
  leftovers: number;
  /** The next job's reaper and its child, waiting. */
  waiting: number;
}

export async function benchEndurance(o: EnduranceOptions): Promise<Section> {
  const mark = newMark('endu');
  const instancePrefix = instanceMarkerPrefix(instanceTagFor(o.supervisorSocket)).toString();
  const snapshots: Snapshot[] = [];
  const seen = new Map<string, number>(); // descendants and leftovers by command line, for the report
  const snap = async (label: string): Promise<void> => {
    await sleep(500); // let the last job's teardown and any sweep finish
    const stats = allStats();
    // The next job's reaper and its child wait for their request (docs/supervisor.md, "The
    // per-job reaper"): the next job's, not a leftover of the last; counted apart.
    const { json: status } = await requestJson<SupervisorStatus>(socketTarget(o.supervisorSocket), 'GET', '/status');
    const waitingReaper = status.nextJob.reaperPid;
    const waiting = new Set(waitingReaper === null ? [] : [waitingReaper, ...descendants([waitingReaper], stats).map((k) => k.pid)]);
    const kids = descendants([o.supervisorPid, o.apiPid], stats).filter((k) => !waiting.has(k.pid));
    const leftovers = new Set([...pidsWithEnv(instancePrefix), ...markedPids(mark)].filter((pid) => isAlive(pid) && !waiting.has(pid)));
    for (const pid of new Set([...kids.map((k) => k.pid), ...leftovers])) {
      const cmd = commandLine(pid);
      seen.set(cmd, (seen.get(cmd) ?? 0) + 1);
    }
    snapshots.push({
      label,
      supRssMiB: readMemory(o.supervisorPid).rssKb / 1024,
      apiRssMiB: readMemory(o.apiPid).rssKb / 1024,
      supFds: countFds(o.supervisorPid),
      apiFds: countFds(o.apiPid),
      descendants: kids.filter((s) => s.state !== 'Z').length,
      zombies: kids.filter((s) => s.state === 'Z').length,
      leftovers: leftovers.size,
      waiting: waiting.size,
    });
  };

  // Warm up to a steady heap (JIT, V8 heap sizing, Fastify's caches) before the baseline.
  for (let i = 0; i < o.warmup; i++) await request(o.api, 'POST', '/command', { text: 'warm up' });
  // Live heap first (its snapshot bumps RSS once), then the baseline point.
  const heapBefore = o.heapDir === undefined ? null : [await liveHeapMiB(o.supervisorPid, o.heapDir), await liveHeapMiB(o.apiPid, o.heapDir)];
  await snap(`after ${o.warmup} warm-up jobs (baseline)`);
  const jobMs: number[] = [];
  const statuses = new Map<number, number>();
  const every = Math.max(1, Math.floor(o.jobs / o.checkpoints));
  const t0 = performance.now();
  for (let i = 1; i <= o.jobs; i++) {
    const r = await request(o.api, 'POST', '/command', { text: `job ${i}` });
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    jobMs.push(r.ms);
    if (i % every === 0) await snap(`after ${i} jobs`);
  }
  const jobsSeconds = (performance.now() - t0) / 1000;
  const timeoutStatuses = new Map<number, number>();
  const timeoutMs: number[] = [];
  const everyT = Math.max(1, Math.floor(o.timeouts / 2));
  for (let i = 1; i <= o.timeouts; i++) {
    const r = await request(o.api, 'POST', '/command', { text: `sleep 30 ${mark}` });
    timeoutStatuses.set(r.status, (timeoutStatuses.get(r.status) ?? 0) + 1);
    timeoutMs.push(r.ms);
    if (i % everyT === 0) await snap(`after ${i} timeouts`);
  }

  const heapAfter = o.heapDir === undefined ? null : [await liveHeapMiB(o.supervisorPid, o.heapDir), await liveHeapMiB(o.apiPid, o.heapDir)];
  const first = snapshots[0]!;
  const last = snapshots[snapshots.length - 1]!;
  const supGrowth = last.supRssMiB - first.supRssMiB;
  const apiGrowth = last.apiRssMiB - first.apiRssMiB;
  const fdGrowth = last.supFds - first.supFds + (last.apiFds - first.apiFds);
  const maxZombies = Math.max(...snapshots.map((s) => s.zombies));
  const maxLeft = Math.max(...snapshots.map((s) => s.leftovers + s.descendants));
  // "Noise": RSS of a Node process moves with when the GC last ran; allow 10 MiB or 15%.
  const rssOk = (growth: number, base: number): boolean => growth <= Math.max(10, base * 0.15);
  const fmtMap = (m: Map<number, number>): string => [...m].map(([k, v]) => `${v} x HTTP ${k}`).join(', ');
  const table = [
    '| Point | supervisor RSS MiB | API RSS MiB | supervisor fds (without its kept /proc/PID/stat) | API fds | descendants | zombies | leftover marked processes | the next job\'s, waiting |',
    '|---|---|---|---|---|---|---|---|---|',
    ...snapshots.map(
      (s) => `| ${s.label} | ${fmt(s.supRssMiB, 1)} | ${fmt(s.apiRssMiB, 1)} | ${s.supFds} | ${s.apiFds} | ${s.descendants} | ${s.zombies} | ${s.leftovers} | ${s.waiting} |`,
    ),
  ];
  return {
    id: 7,
    title: 'Endurance',
    method:
      `A fresh supervisor (COMMAND_TIMEOUT_MS=${o.timeoutMs}, fixture trivial.sh) and API. ${o.jobs} sequential \`POST /command\` ` +
      `through the API after ${o.warmup} warm-up jobs, then ${o.timeouts} whose fixture sleeps 30 s and is killed at the timeout. Each point is taken 0.5 s after the last ` +
      `request. Live heap: sum of a V8 heap snapshot's self sizes (the snapshot runs a full GC), taken after the warm-up and at the end. Descendants and zombies: processes whose parent chain leads to the supervisor or the API. Leftovers: live processes ` +
      `carrying the supervisor's job marker or the fixture's. Neither counts the next job's reaper and its child, which wait for their request (/status \`nextJob.reaperPid\`): they are the last column.`,
    figures: [
      [`${o.jobs} sequential jobs: round trip`, `${describe(summarize(jobMs), 'ms')}, ${fmt(jobsSeconds, 1)} s in all; ${fmtMap(statuses)}`],
      [`${o.timeouts} timeouts: round trip`, `${describe(summarize(timeoutMs), 'ms')}; ${fmtMap(timeoutStatuses)}`],
      ['supervisor RSS growth, first to last point', `${fmt(supGrowth, 1)} MiB (${fmt(first.supRssMiB, 1)} -> ${fmt(last.supRssMiB, 1)})`],
      ['API RSS growth, first to last point', `${fmt(apiGrowth, 1)} MiB (${fmt(first.apiRssMiB, 1)} -> ${fmt(last.apiRssMiB, 1)})`],
      ...(heapBefore === null || heapAfter === null
        ? []
        : ([
            ['supervisor live JS heap (after a full GC), baseline -> end', `${fmt(heapBefore[0]!)} -> ${fmt(heapAfter[0]!)} MiB (${fmt((1024 * (heapAfter[0]! - heapBefore[0]!)) / (o.jobs + o.timeouts), 2)} KiB per job)`],
            ['API live JS heap (after a full GC), baseline -> end', `${fmt(heapBefore[1]!)} -> ${fmt(heapAfter[1]!)} MiB (${fmt((1024 * (heapAfter[1]! - heapBefore[1]!)) / (o.jobs + o.timeouts), 2)} KiB per job)`],
          ] as Array<[string, string]>)),
    ],
    checks: [
      { target: 'RSS: no growth beyond noise (10 MiB or 15%, whichever is larger)', measured: `supervisor ${fmt(supGrowth, 1)} MiB, API ${fmt(apiGrowth, 1)} MiB`, met: rssOk(supGrowth, first.supRssMiB) && rssOk(apiGrowth, first.apiRssMiB) },
      ...(heapBefore === null || heapAfter === null
        ? []
        : [
            {
              target: 'live JS heap: no growth beyond noise (2 MiB, i.e. about 2 KiB per job)',
              measured: `supervisor ${fmt(heapAfter[0]! - heapBefore[0]!)} MiB, API ${fmt(heapAfter[1]! - heapBefore[1]!)} MiB`,
              met: heapAfter[0]! - heapBefore[0]! <= 2 && heapAfter[1]! - heapBefore[1]! <= 2,
            },
          ]),
      { target: 'open fds: no growth', measured: `supervisor ${first.supFds} -> ${last.supFds}, API ${first.apiFds} -> ${last.apiFds}`, met: fdGrowth <= 0 },
      { target: 'zero zombies', measured: `${maxZombies} at worst`, met: maxZombies === 0 },
      { target: 'zero leftover processes', measured: `${maxLeft} at worst`, met: maxLeft === 0 },
    ],
    notes: seen.size === 0 ? [] : [`Processes seen at the points (command line: times seen): ${[...seen].map(([c, n]) => `\`${c}\`: ${n}`).join('; ')}.`],
    extra: table,
  };
}
