// 6. Footprint: resident memory of the supervisor and the API, idle (just started) and
// after benchmarks 1-2 (hundreds of commands and a few hundred thousand health/status
// requests). VmRSS now and VmHWM (the peak) from /proc/PID/status.
import { readMemory } from '../lib/proc.ts';
import type { Section } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';

export interface Footprint {
  supervisor: { rssKb: number; hwmKb: number };
  api: { rssKb: number; hwmKb: number };
  peer: { rssKb: number; hwmKb: number };
}

export function takeFootprint(pids: { supervisor: number; api: number; peer: number }): Footprint {
  return { supervisor: readMemory(pids.supervisor), api: readMemory(pids.api), peer: readMemory(pids.peer) };
}

const mb = (kb: number): string => `${fmt((kb * 1024) / 1e6, 1)} MB`;

export function footprintSection(idle: Footprint, after: Footprint, loader?: { plainKb: number; tsxKb: number }): Section {
  const sum = (f: Footprint): number => f.supervisor.rssKb + f.api.rssKb;
  const peakSum = after.supervisor.hwmKb + after.api.hwmKb;
  const worst = Math.max(sum(idle), sum(after));
  return {
    id: 6,
    title: 'Footprint',
    method: 'VmRSS (resident now) and VmHWM (peak since start) of each process; 1 MB = 10^6 bytes. "Idle" is 1 s after start-up; "after load" follows benchmarks 1-2 with no job running.',
    figures: [
      ['supervisor idle / after load (peak)', `${mb(idle.supervisor.rssKb)} / ${mb(after.supervisor.rssKb)} (${mb(after.supervisor.hwmKb)})`],
      ['API idle / after load (peak)', `${mb(idle.api.rssKb)} / ${mb(after.api.rssKb)} (${mb(after.api.hwmKb)})`],
      ['together idle / after load (sum of peaks)', `${mb(sum(idle))} / ${mb(sum(after))} (${mb(peakSum)})`],
      ['(b) Express peer idle / after load (peak), for contrast', `${mb(idle.peer.rssKb)} / ${mb(after.peer.rssKb)} (${mb(after.peer.hwmKb)})`],
    ],
    checks: [{ target: 'supervisor + API at most 150 MB, idle and after load', measured: `${mb(sum(idle))} idle, ${mb(sum(after))} after load`, met: worst * 1024 <= 150e6 }],
    notes: [
      'Both run as esbuild bundles (dist/*.mjs, scripts/build.mjs) under plain `node`, as `npm run start:*` and the image run them; no TypeScript loader is part of the figure.',
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
