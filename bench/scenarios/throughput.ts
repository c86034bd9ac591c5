// 2. Throughput while a job runs: autocannon against /health and /status of our API and
// /health of peer (b), 20 and 100 connections, each server with a long job in flight (the
// fixture sleeping). Rounds alternate ours/peer so load from elsewhere hits both; the
// load generator runs on the same 2 cores as the servers (it costs both alike).
import autocannon from 'autocannon';
import type { Result } from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Target, request } from '../lib/http.ts';
import { markedPids } from '../lib/proc.ts';
import type { Section } from '../lib/report.ts';
import { newMark } from '../lib/services.ts';
import { fmt, summarize } from '../lib/stats.ts';

export interface ThroughputOptions {
  apiPort: number;
  api: Target;
  peerPort: number;
  peer: Target;
  supervisor: Target;
  connections: readonly number[];
  rounds: number;
  seconds: number;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function cannon(url: string, connections: number, seconds: number): Promise<Run> {
  const r: Result = await autocannon({ url, connections, duration: seconds });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export async function benchThroughput(o: ThroughputOptions): Promise<Section> {
  const mark = newMark('tp');
  // The long jobs: both servers hold an open POST /command while the fixture sleeps.
  const oursJob = request(o.api, 'POST', '/command', { text: `sleep 300 ${mark}-ours` }, 600_000).catch((err: unknown) => err);
  const peerJob = request(o.peer, 'POST', '/command', { text: `sleep 300 ${mark}-peer` }, 600_000).catch((err: unknown) => err);
  await waitFor('both long jobs', () => markedPids(`${mark}-ours`).length === 1 && markedPids(`${mark}-peer`).length === 1);

  const urls = {
    oursHealth: `http://127.0.0.1:${o.apiPort}/health`,
    oursStatus: `http://127.0.0.1:${o.apiPort}/status`,
    peerHealth: `http://127.0.0.1:${o.peerPort}/health`,
  };
  // Warm-up (JIT, connection set-up), not recorded.
  for (const url of Object.values(urls)) await cannon(url, 10, 1);

  const figures: Array<[string, string]> = [];
  const checks: Section['checks'] = [];
  // One connection: the time one /status takes, without queueing behind other requests.
  const single = await cannon(urls.oursStatus, 1, o.seconds);
  figures.push(['ours /status, 1 connection (no queueing)', `${fmt(single.rps, 0)} req/s; latency p50 ${fmt(single.p50)} ms, p99 ${fmt(single.p99)} ms; errors/non-2xx ${single.errors}`]);
  const statusP99s: Array<[number, number]> = [];
  let jobStillRunning = true;
  for (const c of o.connections) {
    const runs: Record<keyof typeof urls, Run[]> = { oursHealth: [], oursStatus: [], peerHealth: [] };
    for (let round = 0; round < o.rounds; round++) {
      const order: Array<keyof typeof urls> = round % 2 === 0 ? ['oursHealth', 'peerHealth', 'oursStatus'] : ['peerHealth', 'oursStatus', 'oursHealth'];
      for (const k of order) runs[k].push(await cannon(urls[k], c, o.seconds));
    }
    const rps = (k: keyof typeof urls): ReturnType<typeof summarize> => summarize(runs[k].map((r) => r.rps));
    const worst = (k: keyof typeof urls, f: 'p50' | 'p99'): number => Math.max(...runs[k].map((r) => r[f]));
    const errs = (k: keyof typeof urls): number => runs[k].reduce((a, r) => a + r.errors, 0);
    const line = (k: keyof typeof urls): string => {
      const s = rps(k);
      return `${fmt(s.median, 0)} req/s (min-max ${fmt(s.min, 0)}-${fmt(s.max, 0)} over ${s.n} runs of ${o.seconds} s); latency p50 ${fmt(worst(k, 'p50'))} ms, p99 ${fmt(worst(k, 'p99'))} ms (worst run); errors/non-2xx ${errs(k)}`;
    };
    figures.push([`ours /health, ${c} connections`, line('oursHealth')]);
    figures.push([`(b) /health, ${c} connections`, line('peerHealth')]);
    figures.push([`ours /status, ${c} connections`, line('oursStatus')]);
    const ratio = rps('oursHealth').median / rps('peerHealth').median;
    figures.push([`ours /health / (b) /health, ${c} connections`, `${fmt(ratio)}x`]);
    checks.push({ target: `/health at least 1.5x (b)'s, ${c} connections`, measured: `${fmt(ratio)}x (${fmt(rps('oursHealth').median, 0)} vs ${fmt(rps('peerHealth').median, 0)} req/s)`, met: ratio >= 1.5 });
    statusP99s.push([c, worst('oursStatus', 'p99')]);
    // The job must have run through all of it, or this measured an idle server.
    const st = await request(o.supervisor, 'GET', '/status');
    jobStillRunning &&= (JSON.parse(st.body) as { job: unknown }).job !== null;
  }
  for (const [c, p99] of statusP99s) {
    checks.push({ target: `/status p99 under 10 ms, ${c} connections`, measured: `${fmt(p99)} ms (worst run)`, met: p99 < 10 });
  }

  // End the long jobs: cancel ours through the supervisor, SIGTERM peer (b)'s child.
  const st = JSON.parse((await request(o.supervisor, 'GET', '/status')).body) as { job: { id: string } | null };
  if (st.job !== null) await request(o.supervisor, 'POST', `/jobs/${st.job.id}/cancel`, {});
  for (const pid of markedPids(`${mark}-peer`)) process.kill(pid, 'SIGTERM');
  await Promise.all([oursJob, peerJob]);

  return {
    id: 2,
    title: 'Throughput while a job runs',
    method:
      `autocannon (programmatic API, keep-alive, pipelining 1), ${o.rounds} rounds x ${o.seconds} s per endpoint and connection count, ` +
      `ours and (b) alternating, after a 1 s warm-up each. During all of it each server had one \`POST /command\` in flight ` +
      `whose fixture was sleeping (ours: API long-polling the supervisor; (b): its busy flag set). ` +
      `Our /status asks the supervisor over its socket (concurrent requests share one call); (b) has no /status. autocannon reports latency in whole milliseconds.`,
    figures,
    checks,
    notes: [
      `The long job was still running at the end of every connection count: ${jobStillRunning ? 'yes' : 'NO (figures measured an idle server)'}.`,
      'With N connections in a closed loop, latency is about N / throughput (Little\'s law): at 100 connections a p99 under 10 ms needs well over 10,000 req/s, which is a throughput figure on 2 shared cores rather than a latency one.',
    ],
  };
}
