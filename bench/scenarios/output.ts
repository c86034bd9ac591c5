// 5. Output: a job that writes 64 MiB to stdout. Capture throughput, and the supervisor's
// peak RSS growth: VmHWM is reset to the current RSS (clear_refs) before each job, so
// VmHWM after the job minus VmRSS before it is the job's peak growth. The supervisor is
// fresh (started for this benchmark only). Peer (b), which buffers all of stdout, is
// measured the same way as a contrast.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Target, request, requestJson } from '../lib/http.ts';
import { readMemory, resetPeak } from '../lib/proc.ts';
import type { Section } from '../lib/report.ts';
import { fmt, summarize } from '../lib/stats.ts';

export const FLOOD_BYTES = 64 * 1024 * 1024;
const MIB = 1024 * 1024;

export interface OutputOptions {
  supervisor: Target;
  supervisorPid: number;
  maxOutputBytes: number;
  runs: number;
  peer?: { target: Target; pid: number };
}

interface Run {
  kind: 'result' | 'raw';
  mbPerS: number;
  /** Peak growth once the job finished, before anyone read its answer. */
  captureGrowthMiB: number;
  /** Peak growth after the answer (JobView with the kept text) was sent. */
  growthMiB: number;
  truncated: boolean | null;
  textBytes: number | null;
}

export async function benchOutput(o: OutputOptions): Promise<Section> {
  const ours: Run[] = [];
  const notes: string[] = [];
  // A job without a result event (a CLI that died mid-stream: the answer is the kept stdout
  // itself) comes first, on the fresh supervisor, and again last; between them jobs that end
  // with one (as the CLI's do: the answer is its short text).
  const kinds: Array<'result' | 'raw'> = ['raw', ...Array.from({ length: o.runs }, () => 'result' as const), 'raw'];
  for (const kind of kinds) {
    const before = readMemory(o.supervisorPid);
    if (!resetPeak(o.supervisorPid)) notes.push('VmHWM could not be reset (clear_refs): growth is measured against the start-up peak.');
    const t0 = performance.now();
    const { json: job } = await requestJson<{ id: string }>(o.supervisor, 'POST', '/jobs', { prompt: kind === 'raw' ? 'raw' : 'flood' });
    // /status lists jobs without their text: poll it until the job is over, so the first
    // peak is capture alone, and the second adds serializing the kept text into an answer.
    for (;;) {
      const { json: st } = await requestJson<{ job: { id: string } | null }>(o.supervisor, 'GET', '/status');
      if (st.job === null || st.job.id !== job.id) break;
      await sleep(5);
    }
    const captureWallMs = performance.now() - t0;
    const captured = readMemory(o.supervisorPid);
    const { json: end } = await requestJson<{ state: string; stdoutTruncated: boolean; text: string | null; reason: string | null; durationMs: number }>(o.supervisor, 'GET', `/jobs/${job.id}/wait?timeoutMs=60000`);
    if (end.state !== 'finished') throw new Error('flood job did not finish within 60 s');
    const after = readMemory(o.supervisorPid);
    ours.push({
      kind,
      mbPerS: FLOOD_BYTES / MIB / (captureWallMs / 1000),
      captureGrowthMiB: (captured.hwmKb - before.rssKb) / 1024,
      growthMiB: (after.hwmKb - before.rssKb) / 1024,
      truncated: end.stdoutTruncated,
      textBytes: end.text === null ? null : Buffer.byteLength(end.text),
    });
  }
  const peerRuns: Run[] = [];
  if (o.peer !== undefined) {
    const before = readMemory(o.peer.pid);
    resetPeak(o.peer.pid);
    const r = await request(o.peer.target, 'POST', '/command', { text: 'flood' });
    const after = readMemory(o.peer.pid);
    peerRuns.push({ kind: 'result', mbPerS: FLOOD_BYTES / MIB / (r.ms / 1000), captureGrowthMiB: Number.NaN, growthMiB: (after.hwmKb - before.rssKb) / 1024, truncated: null, textBytes: null });
  }
  const capMiB = o.maxOutputBytes / MIB;
  const limit = capMiB + 16;
  const growth = summarize(ours.map((r) => r.growthMiB));
  const speed = summarize(ours.map((r) => r.mbPerS));
  const list = (rs: Run[], f: (r: Run) => string): string => rs.map(f).join(', ');
  const withResult = ours.filter((r) => r.kind === 'result');
  const raw = ours.filter((r) => r.kind === 'raw');
  const figures: Array<[string, string]> = [
    ['capture throughput (POST /jobs to job over, 5 ms polls of /status)', `${fmt(speed.median, 0)} MiB/s (min-max ${fmt(speed.min, 0)}-${fmt(speed.max, 0)}, n=${speed.n})`],
    ['jobs ending with a result event: peak RSS growth, capture only', `${list(withResult, (r) => fmt(r.captureGrowthMiB, 1))} MiB`],
    ['jobs ending with a result event: peak RSS growth, capture + answer', `${list(withResult, (r) => fmt(r.growthMiB, 1))} MiB (answer: ${list(withResult, (r) => `${r.textBytes ?? 'null'} B`)})`],
    ['job without a result event: peak RSS growth, capture only / capture + answer', `${list(raw, (r) => fmt(r.captureGrowthMiB, 1))} / ${list(raw, (r) => fmt(r.growthMiB, 1))} MiB (the first on a fresh supervisor; answer: the kept stdout, ${list(raw, (r) => `${r.textBytes ?? 'null'} B`)})`],
    ['stdoutTruncated', list(ours, (r) => String(r.truncated))],
  ];
  for (const r of peerRuns) {
    figures.push(['(b) Express peer: throughput, peak RSS growth', `${fmt(r.mbPerS, 0)} MiB/s, ${fmt(r.growthMiB, 1)} MiB (it keeps all of stdout, then copies it into the answer)`]);
  }
  return {
    id: 5,
    title: 'Output',
    method:
      `Fixture bench/fixtures/flood.sh writes 64 MiB of 128-byte text lines (\`yes | head -c\`), then a stream-json result line; ` +
      `MAX_OUTPUT_BYTES=${o.maxOutputBytes} (${fmt(capMiB, 0)} MiB, the default). One job without a result event (prompt "raw") on the fresh supervisor, ` +
      `then ${o.runs} that end with one, then one without again, straight to the supervisor's socket, one after another. ` +
      `Throughput = 64 MiB / time from POST /jobs until /status shows the job over. The first peak is read then (capture alone); ` +
      `the second after \`GET /jobs/:id/wait\` returned the job with its kept text (capture + building and sending the answer).`,
    figures,
    checks: [{ target: `peak RSS growth at most the cap + 16 MiB = ${fmt(limit, 0)} MiB`, measured: `worst job ${fmt(growth.max, 1)} MiB (the first, without a result event, on a fresh supervisor: ${fmt(ours[0]!.growthMiB, 1)} MiB)`, met: growth.max <= limit }],
    notes,
  };
}
