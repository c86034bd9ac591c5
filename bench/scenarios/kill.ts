// 4. Kill latency: a job whose 100-process tree outlives its deadline (COMMAND_TIMEOUT_MS),
// one tree obeying SIGTERM, one ignoring it, each with setsid'd escapees in sessions of
// their own. Latency = from the deadline (the job's startedAt + timeout) to the moment
// the last of the tree's processes is gone, polled in /proc by the fixture's environment
// marker (every ~1 ms, only the PIDs found in the tree). Obey and ignore alternate.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Target, requestJson } from '../lib/http.ts';
import { isAlive, markedPids, readStat } from '../lib/proc.ts';
import type { Section } from '../lib/report.ts';
import { newMark } from '../lib/services.ts';
import { describe, summarize } from '../lib/stats.ts';

export interface KillOptions {
  supervisor: Target;
  timeoutMs: number;
  killGraceMs: number;
  repetitions: number;
  total: number;
  escapees: number;
}

interface Trial {
  latencyMs: number;
  survivors: number;
  /** Zombies whose parent is not PID 1 (the supervisor or the tree): not the init's to reap. */
  zombies: number;
  /** Zombies reparented to PID 1: the machine's init's job to reap. */
  initZombies: number;
  pids: number[];
  treeSize: number;
  reason: string | null;
  processesKilled: number | null;
}

const nowMs = (): number => performance.timeOrigin + performance.now();

async function trial(o: KillOptions, mode: 'obey' | 'ignore'): Promise<Trial> {
  const mark = newMark(`kill-${mode}`);
  const { json: job } = await requestJson<{ id: string; startedAt: string }>(o.supervisor, 'POST', '/jobs', { prompt: `${mode} ${o.total} ${o.escapees} ${mark}` });
  const deadline = Date.parse(job.startedAt) + o.timeoutMs;
  // Learn the tree's PIDs once it is whole (well before the deadline).
  let pids: number[] = [];
  while (nowMs() < deadline - 50) {
    pids = markedPids(mark);
    if (pids.length >= o.total) break;
    await sleep(10);
  }
  const treeSize = pids.length;
  if (treeSize < o.total) throw new Error(`${mode}: only ${treeSize} of ${o.total} processes before the deadline`);
  let alive = pids;
  let lastGone = nowMs();
  while (alive.length > 0) {
    await sleep(1);
    alive = alive.filter(isAlive);
    lastGone = nowMs();
    if (lastGone - deadline > o.killGraceMs + 10_000) break;
  }
  const { json: end } = await requestJson<{ reason: string | null; processesKilled?: number }>(o.supervisor, 'GET', `/jobs/${job.id}/wait?timeoutMs=20000`);
  await sleep(100); // a last look, once the supervisor says the job is over
  const rest = markedPids(mark);
  const zombieStats = pids.map(readStat).filter((st) => st?.state === 'Z');
  return {
    latencyMs: lastGone - deadline,
    survivors: rest.filter(isAlive).length,
    zombies: zombieStats.filter((st) => st?.ppid !== 1).length,
    initZombies: zombieStats.filter((st) => st?.ppid === 1).length,
    pids,
    treeSize,
    reason: end.reason,
    processesKilled: end.processesKilled ?? null,
  };
}

export async function benchKill(o: KillOptions): Promise<Section> {
  const obey: Trial[] = [];
  const ignore: Trial[] = [];
  for (let i = 0; i < o.repetitions; i++) {
    obey.push(await trial(o, 'obey'));
    ignore.push(await trial(o, 'ignore'));
  }
  const so = summarize(obey.map((t) => t.latencyMs));
  const si = summarize(ignore.map((t) => t.latencyMs));
  const survivors = [...obey, ...ignore].reduce((a, t) => a + t.survivors, 0);
  const all = [...obey, ...ignore];
  const zombies = all.reduce((a, t) => a + t.zombies, 0);
  const initZombies = all.reduce((a, t) => a + t.initZombies, 0);
  // Orphans reparented to PID 1 are reaped by the machine's init, not by the supervisor:
  // wait (up to 10 s) to see that they do go.
  const deadline = Date.now() + 10_000;
  const pending = (): number => all.flatMap((t) => t.pids).filter((pid) => readStat(pid)?.state === 'Z').length;
  while (pending() > 0 && Date.now() < deadline) await sleep(100);
  const initZombiesLeft = pending();
  const reasons = [...new Set([...obey, ...ignore].map((t) => t.reason))].join(', ');
  const killed = (ts: Trial[]): string => [...new Set(ts.map((t) => t.processesKilled))].join('/');
  return {
    id: 4,
    title: 'Kill latency',
    method:
      `Supervisor with COMMAND_TIMEOUT_MS=${o.timeoutMs} and KILL_GRACE_MS=${o.killGraceMs} (small, to keep the run short; the default grace is 5000 ms). ` +
      `Fixture bench/fixtures/tree.sh: ${o.total} processes per job, ${o.escapees} of them \`setsid sleep\` escapees. ` +
      `${o.repetitions} jobs per variant, alternating. Deadline = the job's startedAt (from the supervisor) + timeout; ` +
      `"gone" = no /proc entry or a zombie (dead, awaiting its reaper).`,
    figures: [
      ['tree obeying SIGTERM: deadline to last process gone', describe(so, 'ms', 'min-max', 1)],
      ['tree ignoring SIGTERM: deadline to last process gone', describe(si, 'ms', 'min-max', 1)],
      ['tree ignoring SIGTERM, minus KILL_GRACE_MS', describe(summarize(ignore.map((t) => t.latencyMs - o.killGraceMs)), 'ms', 'min-max', 1)],
      ['processes per tree found before the deadline', [...new Set([...obey, ...ignore].map((t) => t.treeSize))].join(', ')],
      ['processesKilled the supervisor reported (obey / ignore)', `${killed(obey)} / ${killed(ignore)}`],
      ['job end reasons reported', reasons],
      ['survivors after the job ended (all trials)', String(survivors)],
      ['zombies not parented to PID 1 among the trees\' PIDs, 100 ms after each job (all trials)', String(zombies)],
      ['orphans reparented to PID 1 still zombies 100 ms after each job (all trials)', `${initZombies}; ${initZombiesLeft} still unreaped 10 s after the last trial`],
    ],
    checks: [
      { target: 'obeying tree gone within 50 ms of the deadline', measured: `median ${so.median.toFixed(1)} ms, max ${so.max.toFixed(1)} ms`, met: so.max <= 50 },
      { target: `ignoring tree gone within KILL_GRACE_MS + 50 = ${o.killGraceMs + 50} ms`, measured: `median ${si.median.toFixed(1)} ms, max ${si.max.toFixed(1)} ms`, met: si.max <= o.killGraceMs + 50 },
      { target: 'zero survivors', measured: `${survivors} survivors, ${zombies} zombies`, met: survivors === 0 && zombies === 0 },
    ],
    notes: [
      'The verdicts use the worst trial (max), not the median.',
      'Orphaned tree members are reparented to PID 1, which reaps them. On this machine PID 1 is the sandbox\'s own init (not ours), which reaps in batches every few seconds; in the image PID 1 is an init that reaps at once. Those zombies are dead processes, so they count as gone, not as survivors; the supervisor\'s own zombies are counted separately.',
    ],
  };
}
