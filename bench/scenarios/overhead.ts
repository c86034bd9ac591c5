// 1. Request overhead: one trivial command through our API (API -> supervisor socket ->
// spawn -> wait), against (a) spawning the fixture directly from this process and (b)
// the seed plan's Express server. The three variants are interleaved in a rotating order
// in every iteration, so a noisy moment on this shared machine hits all three. Where the
// machine has both cgroup v1 and v2 (hybrid, like this one), a second pair of ours runs
// with the v1 memory controller hidden, so on cgroup v2 as on a Fly Machine, interleaved
// with the rest: the CLI is born in its group there (clone3), not moved in.
import { setTimeout as sleep } from 'node:timers/promises';
import { runDirect } from '../direct.ts';
import { type Target, request } from '../lib/http.ts';
import { jobPhases } from '../lib/logs.ts';
import type { Section } from '../lib/report.ts';
import { describe, fmt, summarize } from '../lib/stats.ts';

export interface OverheadOptions {
  api: Target;
  peer: Target;
  fixture: string;
  args: readonly string[];
  iterations: number;
  warmup: number;
  /** The supervisor's log file, read back for where its share of the time went. */
  supervisorLog?: string;
  /** Ours again with its supervisor on cgroup v2 only (v1 hidden), when the machine has both. */
  oursV2?: Target;
  /** The log of that pair's supervisor. */
  supervisorV2Log?: string;
  /** How `ours` joins its job cgroups (its /status), for the labels. */
  oursCgroup?: string;
}

type Variant = 'direct' | 'peer' | 'ours' | 'oursV2';

/**
 * A pause before every request, whatever its variant. A job's after-work (the supervisor
 * prepares the next job's launch: a fork, and on cgroup v1 a cgroup move that stalls every
 * fork and exit on the machine for an RCU grace period, ~8 ms) is off its own answer's
 * path, but without a pause it lands in the next variant's measurement: in the rotation
 * that was mostly ours on v2 (p90 21.8 ms vs 14.0 on v1 in one run). Real jobs come
 * seconds apart.
 */
export const SETTLE_MS = 25;

export async function benchOverhead(o: OverheadOptions): Promise<Section> {
  const VARIANTS: readonly Variant[] = o.oursV2 === undefined ? ['direct', 'peer', 'ours'] : ['direct', 'peer', 'ours', 'oursV2'];
  const prompt = 'say ok';
  const once = async (v: Variant): Promise<number> => {
    if (v === 'direct') {
      const r = await runDirect(o.fixture, o.args, prompt);
      if (r.code !== 0) throw new Error(`direct spawn exited ${r.code}`);
      return r.ms;
    }
    const r = await request(v === 'ours' ? o.api : v === 'oursV2' ? o.oursV2! : o.peer, 'POST', '/command', { text: prompt });
    if (r.status !== 200) throw new Error(`${v}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    return r.ms;
  };
  for (let i = 0; i < o.warmup; i++) for (const v of VARIANTS) await once(v);

  const ms: Record<Variant, number[]> = { direct: [], peer: [], ours: [], oursV2: [] };
  const oursMinusDirect: number[] = [];
  const oursMinusPeer: number[] = [];
  const v2MinusDirect: number[] = [];
  for (let i = 0; i < o.iterations; i++) {
    const got: Partial<Record<Variant, number>> = {};
    for (let k = 0; k < VARIANTS.length; k++) {
      const v = VARIANTS[(i + k) % VARIANTS.length]!;
      await sleep(SETTLE_MS);
      got[v] = await once(v);
      ms[v].push(got[v]);
    }
    oursMinusDirect.push(got.ours! - got.direct!);
    oursMinusPeer.push(got.ours! - got.peer!);
    if (got.oursV2 !== undefined) v2MinusDirect.push(got.oursV2 - got.direct!);
  }
  const s = { direct: summarize(ms.direct), peer: summarize(ms.peer), ours: summarize(ms.ours) };
  const gapDirect = s.ours.median - s.direct.median;
  const d = summarize(oursMinusDirect);
  const p = summarize(oursMinusPeer);
  const v2 = o.oursV2 === undefined ? null : { s: summarize(ms.oursV2), d: summarize(v2MinusDirect) };
  const oursLabel = `ours: API + supervisor${o.oursCgroup !== undefined ? ` (${o.oursCgroup})` : ''}`;
  const inside: Array<[string, string]> = [];
  if (o.supervisorLog !== undefined) {
    const phases = jobPhases(o.supervisorLog);
    inside.push(
      ['inside the supervisor (its log, 1 ms resolution): request received -> CLI spawned', describe(summarize(phases.receivedToSpawnMs), 'ms', 'p10-p90', 1)],
      ['inside the supervisor: CLI spawned -> job done (fixture run, end-of-job sweep)', describe(summarize(phases.spawnToDoneMs), 'ms', 'p10-p90', 1)],
    );
  }
  if (o.supervisorV2Log !== undefined) {
    const phases = jobPhases(o.supervisorV2Log);
    inside.push(
      ['on cgroup v2, inside the supervisor: request received -> CLI spawned', describe(summarize(phases.receivedToSpawnMs), 'ms', 'p10-p90', 1)],
      ['on cgroup v2, inside the supervisor: CLI spawned -> job done', describe(summarize(phases.spawnToDoneMs), 'ms', 'p10-p90', 1)],
    );
  }
  return {
    id: 1,
    title: 'Request overhead',
    method:
      `\`POST /command\` with the trivial fixture (bench/fixtures/trivial.sh: reads the prompt, prints one stream-json result line), ` +
      `${o.iterations} iterations per variant after ${o.warmup} warm-up rounds, one request at a time, the three variants interleaved ` +
      `in a rotating order, each request after a ${SETTLE_MS} ms pause (so no variant is measured while another's after-work runs). Round-trip time measured by the bench's HTTP client (keep-alive, same client for both servers). ` +
      `(a) = spawn the same fixture with the same argv from the bench process, write stdin, wait for \`close\`. ` +
      `(b) = bench/peer-express.ts, the seed plan's single-process Express server.`,
    figures: [
      ['(a) direct spawn', describe(s.direct, 'ms')],
      ['(b) Express peer, POST /command', describe(s.peer, 'ms')],
      [`${oursLabel}, POST /command`, describe(s.ours, 'ms')],
      ['ours - (a), paired per iteration', describe(d, 'ms')],
      ...(v2 === null
        ? []
        : ([
            ['ours on cgroup v2 only (v1 memory hidden; the CLI born in its group by clone3), POST /command', describe(v2.s, 'ms')],
            ['ours on cgroup v2 - (a), paired per iteration', describe(v2.d, 'ms')],
          ] as Array<[string, string]>)),
      ['ours - (b), paired per iteration', describe(p, 'ms')],
      ['ours / (b), ratio of medians', `${fmt(s.ours.median / s.peer.median)}x`],
      ...inside,
    ],
    checks: [
      { target: 'median within 2 ms of direct spawn', measured: `+${fmt(gapDirect)} ms (${fmt(s.ours.median)} vs ${fmt(s.direct.median)} ms)`, met: gapDirect <= 2 },
      { target: 'no slower than (b)', measured: `${fmt(s.ours.median)} vs ${fmt(s.peer.median)} ms median`, met: s.ours.median <= s.peer.median },
      { target: 'issue 14: median at most 5 ms over a direct spawn (paired)', measured: `+${fmt(d.median)} ms${o.oursCgroup !== undefined ? ` (${o.oursCgroup})` : ''}`, met: d.median <= 5 },
      ...(v2 === null ? [] : [{ target: 'issue 14, on cgroup v2 (as on a Fly Machine): median at most 5 ms over a direct spawn (paired)', measured: `+${fmt(v2.d.median)} ms`, met: v2.d.median <= 5 }]),
    ],
    notes: [],
  };
}
