// 6. Footprint: resident memory of the supervisor and the API, idle (just started) and
// after benchmarks 1-2 (hundreds of commands and a few hundred thousand health/status
// requests). VmRSS now and VmHWM (the peak) from /proc/PID/status.
import { machineFootprintKb, readMemory } from '../lib/proc.ts';
import type { Section } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';

export interface Footprint {
  supervisor: { rssKb: number; hwmKb: number };
  api: { rssKb: number; hwmKb: number };
  peer: { rssKb: number; hwmKb: number };
  /** The supervisor and the API together, shared pages once (machineFootprintKb). */
  pairKb: number;
}

export function takeFootprint(pids: { supervisor: number; api: number; peer: number }): Footprint {
  return {
    supervisor: readMemory(pids.supervisor),
    api: readMemory(pids.api),
    peer: readMemory(pids.peer),
    pairKb: machineFootprintKb([pids.supervisor, pids.api]),
  };
}

const mb = (kb: number): string => `${fmt((kb * 1024) / 1e6, 1)} MB`;

export function footprintSection(idle: Footprint, after: Footprint, loader?: { plainKb: number; tsxKb: number }): Section {
  const sum = (f: Footprint): number => f.supervisor.rssKb + f.api.rssKb;
  const peakSum = after.supervisor.hwmKb + after.api.hwmKb;
  return {
    id: 6,
    title: 'Footprint',
    method:
      'VmRSS (resident now) and VmHWM (peak since start) of each process; 1 MB = 10^6 bytes. "Idle" is 1 s after start-up; "after load" follows benchmarks 1-2 with no job running. ' +
      '"The pair on the machine": the private pages of both (Private_Clean + Private_Dirty, /proc/PID/smaps) plus their shared pages once (per mapping, the larger of the two): ' +
      "node's binary and libraries are file pages the kernel holds once, which a sum of VmRSS counts twice (about 40 MB).",
    figures: [
      ['supervisor idle / after load (peak)', `${mb(idle.supervisor.rssKb)} / ${mb(after.supervisor.rssKb)} (${mb(after.supervisor.hwmKb)})`],
      ['API idle / after load (peak)', `${mb(idle.api.rssKb)} / ${mb(after.api.rssKb)} (${mb(after.api.hwmKb)})`],
      ['together, sum of VmRSS, idle / after load (sum of peaks)', `${mb(sum(idle))} / ${mb(sum(after))} (${mb(peakSum)})`],
      ['together, the pair on the machine (shared pages once), idle / after load', `${mb(idle.pairKb)} / ${mb(after.pairKb)}`],
      ['(b) Express peer idle / after load (peak), for contrast', `${mb(idle.peer.rssKb)} / ${mb(after.peer.rssKb)} (${mb(after.peer.hwmKb)})`],
    ],
    checks: [
      {
        target: 'supervisor + API at most 110 MB idle and 140 MB after load (the pair on the machine)',
        measured: `${mb(idle.pairKb)} idle, ${mb(after.pairKb)} after load`,
        met: idle.pairKb * 1024 <= 110e6 && after.pairKb * 1024 <= 140e6,
      },
      {
        target: 'the same as a sum of VmRSS (node binary counted twice)',
        measured: `${mb(sum(idle))} idle, ${mb(sum(after))} after load`,
        met: sum(idle) * 1024 <= 110e6 && sum(after) * 1024 <= 140e6,
      },
    ],
    notes: [
      'Both run as esbuild bundles (dist/*.mjs, scripts/build.mjs: their libraries bundled in, minified) under plain `node` with SERVICE_NODE_FLAGS and SERVICE_ENV (common/node-flags.ts: --max-semi-space-size=1 --optimize-for-size, MALLOC_ARENA_MAX=1), as `npm start` and the image run them; no TypeScript loader is part of the figure.',
      ...(loader === undefined
        ? []
        : [
            `What running the .ts through tsx instead would cost, side by side on an idle script: plain \`node\` ${mb(loader.plainKb)}, \`node --import tsx\` ${mb(loader.tsxKb)}: ` +
              `tsx adds ${mb(loader.tsxKb - loader.plainKb)} per process (${process.version}: its hooks run a second V8 isolate on a loader thread), ` +
              `${mb(2 * (loader.tsxKb - loader.plainKb))} for the pair.`,
          ]),
    ],
  };
}
