// 10. Live events: (a) latency from the CLI writing a stream-json line to an SSE client
// parsing the event it became (the fixture stamps each line with the wall-clock time it
// writes it; the client subtracts that from its own clock), through the supervisor, its
// socket and the API; (b) CPU that 100 idle subscribers of a running job cost the API and
// the supervisor (utime+stime from /proc/PID/stat), windows with and without them
// alternating within one job, so both see the same machine.
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { userMessageLine } from '../../supervisor/src/claude/stream-json-input.ts';
import { type Target, request } from '../lib/http.ts';
import { readCpuMs } from '../lib/proc.ts';
import type { Section } from '../lib/report.ts';
import { type SseStream, openSse } from '../lib/sse.ts';
import { fmt, summarize } from '../lib/stats.ts';

export interface EventsBenchOptions {
  apiPort: number;
  api: Target;
  apiPid: number;
  supervisorPid: number;
  /** bench/fixtures/events.mjs, also spawned directly for scale. */
  fixture: string;
  /** (a) Stamped lines in the job, gapMs apart; the first `warmup` are not counted. */
  stamps: number;
  gapMs: number;
  warmup: number;
  /** (b) Subscribers, and the length of each window with and without them. */
  subscribers: number;
  windowMs: number;
  /** Pairs of windows; the order within a pair alternates. */
  rounds: number;
  /** Before the first window, for the services' GC and compilation after (a) to die down. */
  quietMs: number;
  /** The services' settings, for the method (the bench sets them). */
  sampleIntervalMs: number;
  heartbeatMs: number;
}

interface Window {
  apiMs: number;
  supervisorMs: number;
  benchMs: number;
  wallMs: number;
  /** Events the subscribers received in the window, all of them together. */
  events: number;
  /** Subscribers that received nothing in the window. */
  silent: number;
}

/**
 * How far this process's performance.timeOrigin + performance.now() is from Date.now(), in
 * ms: read at the edge of a Date.now() millisecond, the least of 10 readings (being
 * descheduled between the two reads only ever adds). A few µs here, unless the wall clock
 * was stepped since the process started (slewing moves both clocks alike). The fixture
 * measures its own the same way and reports it in its result.
 */
function clockOffsetMs(): number {
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    const d0 = Date.now();
    let d = d0;
    while (d === d0) d = Date.now();
    samples.push(performance.timeOrigin + performance.now() - d);
  }
  return Math.min(...samples);
}

function pct(cpuMs: number, wallMs: number): number {
  return (cpuMs / wallMs) * 100;
}

async function jobState(api: Target, jobId: string): Promise<string> {
  const r = await request(api, 'GET', `/jobs/${jobId}`);
  if (r.status === 202) return (JSON.parse(r.body) as { state: string }).state;
  return `finished (HTTP ${r.status})`;
}

interface Latency {
  /** Per counted text event, in ms. */
  ms: number[];
  received: number;
  endStatus: number | null;
  offsetMs: number;
  cliOffsetMs: number;
}

/** Both sides on Date.now()'s clock: (arrival - offsetMs) - (stamp - cliOffsetMs); the first `warmup` left out. */
function latencies(arrivals: ReadonlyArray<[string, number]>, warmup: number, offsetMs: number, cliOffsetMs: number): number[] {
  return arrivals.slice(warmup).map(([stamp, at]) => at - offsetMs - (Number(stamp) - cliOffsetMs));
}

async function latency(o: EventsBenchOptions): Promise<Latency> {
  const offsetMs = clockOffsetMs();
  const delayMs = 1000;
  const script = { delayMs, stamps: o.stamps, gapMs: o.gapMs };
  const started = await request(o.api, 'POST', '/command', { text: JSON.stringify(script) }, 10_000, { prefer: 'respond-async' });
  if (started.status !== 202) throw new Error(`POST /command (respond-async): HTTP ${started.status} ${started.body.slice(0, 300)}`);
  const t0 = performance.now();
  const jobId = (JSON.parse(started.body) as { jobId: string }).jobId;
  const arrivals: Array<[string, number]> = [];
  let endStatus: number | null = null;
  let cliOffsetMs = Number.NaN;
  const sse = await openSse({
    port: o.apiPort,
    path: `/jobs/${jobId}/events`,
    keep: false,
    onEvent: (e) => {
      if (e.event === 'text') arrivals.push([(e.data as { text: string }).text, e.atMs]);
      else if (e.event === 'end') {
        const end = e.data as { status: number; body: { text?: string } };
        endStatus = end.status;
        cliOffsetMs = (JSON.parse(end.body.text ?? '{}') as { clockOffsetMs?: number }).clockOffsetMs ?? Number.NaN;
      }
    },
  });
  const connectMs = performance.now() - t0;
  if (connectMs > delayMs) throw new Error(`the SSE client took ${fmt(connectMs, 0)} ms to connect, past the fixture's ${delayMs} ms delay`);
  await sse.done;
  if (!Number.isFinite(cliOffsetMs)) throw new Error(`the job ended (status ${endStatus}) without the fixture's clock offset`);
  return { ms: latencies(arrivals, o.warmup, offsetMs, cliOffsetMs), received: arrivals.length, endStatus, offsetMs, cliOffsetMs };
}

/** For scale: the same fixture spawned by the bench and read straight from its stdout pipe (one hop, one Node reader). */
async function directPipe(o: EventsBenchOptions): Promise<number[]> {
  const offsetMs = clockOffsetMs();
  const child = spawn(o.fixture, [], { stdio: ['pipe', 'pipe', 'ignore'] });
  const arrivals: Array<[string, number]> = [];
  let cliOffsetMs = Number.NaN;
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const at = performance.timeOrigin + performance.now();
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = JSON.parse(buffer.slice(0, nl)) as { type: string; result?: string; message?: { content: Array<{ text: string }> } };
      buffer = buffer.slice(nl + 1);
      if (line.type === 'assistant') arrivals.push([line.message!.content[0]!.text, at]);
      else if (line.type === 'result') cliOffsetMs = (JSON.parse(line.result!) as { clockOffsetMs: number }).clockOffsetMs;
    }
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.stdin.end(userMessageLine(JSON.stringify({ stamps: o.stamps, gapMs: o.gapMs })));
  await closed;
  if (!Number.isFinite(cliOffsetMs)) throw new Error('the fixture, spawned directly, printed no result');
  return latencies(arrivals, o.warmup, offsetMs, cliOffsetMs);
}

async function measure(o: EventsBenchOptions, streams: readonly SseStream[]): Promise<Window> {
  const before = streams.map((x) => x.count);
  const bench0 = process.cpuUsage();
  const api0 = readCpuMs(o.apiPid);
  const sup0 = readCpuMs(o.supervisorPid);
  const t0 = performance.now();
  await sleep(o.windowMs);
  const bench = process.cpuUsage(bench0);
  return {
    apiMs: readCpuMs(o.apiPid) - api0,
    supervisorMs: readCpuMs(o.supervisorPid) - sup0,
    benchMs: (bench.user + bench.system) / 1000,
    wallMs: performance.now() - t0,
    events: streams.reduce((acc, x, i) => acc + x.count - before[i]!, 0),
    silent: streams.filter((x, i) => x.count === before[i]).length,
  };
}

export async function benchEvents(o: EventsBenchOptions): Promise<Section> {
  const loadAtStart = loadavg()[0]!;
  const a = await latency(o);
  if (a.ms.length === 0) throw new Error(`no text events counted (${a.received} received of ${o.stamps})`);
  const s = summarize(a.ms);
  const pipe = summarize(await directPipe(o));
  const spread = (x: ReturnType<typeof summarize>): string => `median ${fmt(x.median)} ms, p90 ${fmt(x.p90)} ms, p99 ${fmt(x.p99)} ms, max ${fmt(x.max)} ms (min ${fmt(x.min)} ms, n=${x.n})`;

  // (b) The long silent job, started without waiting (Prefer: respond-async: nothing in
  // the API follows it until a subscriber comes).
  const settleMs = 2000;
  const sleepMs = o.quietMs + o.rounds * 2 * (o.windowMs + 2 * settleMs) + 15_000;
  const started = await request(o.api, 'POST', '/command', { text: JSON.stringify({ sleepMs }) }, 10_000, { prefer: 'respond-async' });
  if (started.status !== 202) throw new Error(`POST /command (respond-async): HTTP ${started.status} ${started.body.slice(0, 300)}`);
  const jobId = (JSON.parse(started.body) as { jobId: string }).jobId;
  const deadline = Date.now() + 10_000;
  while ((await jobState(o.api, jobId)) !== 'running') {
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not start running`);
    await sleep(50);
  }
  await sleep(o.quietMs); // past the CLI's start-up, and the services' GC and compilation after (a)

  const none: Window[] = [];
  const subscribed: Window[] = [];
  const connect = (): Promise<SseStream[]> =>
    Promise.all(Array.from({ length: o.subscribers }, () => openSse({ port: o.apiPort, path: `/jobs/${jobId}/events`, keep: false })));
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? (['none', 'subscribed'] as const) : (['subscribed', 'none'] as const);
    for (const which of order) {
      if (which === 'none') {
        none.push(await measure(o, []));
        continue;
      }
      const streams = await connect();
      // Past the connections' set-up and the replay of the usage events recorded so far.
      await sleep(settleMs);
      const w = await measure(o, streams);
      for (const x of streams) x.close();
      await Promise.all(streams.map((x) => x.done));
      if (w.silent > 0) throw new Error(`${w.silent} of ${o.subscribers} subscribers received no event in a ${o.windowMs} ms window`);
      subscribed.push(w);
      await sleep(settleMs); // the API lets the hub go once its last client has
    }
  }
  const stateAtEnd = await jobState(o.api, jobId);
  const cancel = await request(o.api, 'POST', `/jobs/${jobId}/cancel`, {});

  const total = (ws: readonly Window[], k: 'apiMs' | 'supervisorMs' | 'benchMs' | 'wallMs' | 'events'): number => ws.reduce((acc, w) => acc + w[k], 0);
  const wallNone = total(none, 'wallMs');
  const wallSub = total(subscribed, 'wallMs');
  const apiNone = pct(total(none, 'apiMs'), wallNone);
  const apiSub = pct(total(subscribed, 'apiMs'), wallSub);
  const supNone = pct(total(none, 'supervisorMs'), wallNone);
  const supSub = pct(total(subscribed, 'supervisorMs'), wallSub);
  const benchNone = pct(total(none, 'benchMs'), wallNone);
  const benchSub = pct(total(subscribed, 'benchMs'), wallSub);
  const diff = apiSub + supSub - (apiNone + supNone);
  const perWindow = (ws: readonly Window[]): string => ws.map((w) => `${fmt(pct(w.apiMs, w.wallMs), 2)} / ${fmt(pct(w.supervisorMs, w.wallMs), 2)}`).join(', ');
  const both = (w: Window): number => pct(w.apiMs + w.supervisorMs, w.wallMs);
  const pairs = summarize(subscribed.map((w, i) => both(w) - both(none[i]!)));
  const signed = (x: number): string => `${x >= 0 ? '+' : ''}${fmt(x, 3)}`;
  const eventsPerSecond = total(subscribed, 'events') / o.subscribers / (wallSub / 1000);
  const windowS = o.windowMs / 1000;

  return {
    id: 10,
    title: 'Live events',
    method:
      `(a) One job (started with \`Prefer: respond-async\`, an SSE client on \`GET /jobs/:id/events\`), its fixture (bench/fixtures/events.mjs) writing, after 1 s, ${o.stamps} stream-json assistant text lines ${o.gapMs} ms apart, ` +
      `each line's text the wall-clock time it was written at (performance.timeOrigin + performance.now(), in ms with fraction). ` +
      `Latency of a text event = the client's own performance.timeOrigin + performance.now() when it has parsed the event's frame, minus the stamp in its data: ` +
      `the CLI's pipe, the supervisor's stream-json reader, its event log and NDJSON socket stream, the API's upstream, its frame and the SSE write, and the client's parse. ` +
      `For scale, the same fixture spawned by the bench itself and read straight from its stdout pipe: the floor of one hop between two processes here. ` +
      `Both processes are on this machine, so both clocks are its wall clock (performance.timeOrigin is the wall-clock time of the process's start, performance.now() the monotonic time since; the two are slewed alike). ` +
      `They agree unless the wall clock was stepped after one of the processes started: the fixture and the bench each measure how far their sum is from Date.now() ` +
      `(at the edge of a Date.now() millisecond, the least of 10 readings) and the latency is corrected by both. The first ${o.warmup} events are warm-up and not counted. ` +
      `(b) One job whose fixture writes nothing for ${fmt(sleepMs / 1000, 0)} s (cancelled after the windows), started with \`Prefer: respond-async\`: CPU time (utime+stime from /proc/PID/stat) of the API and of the supervisor over ` +
      `${o.rounds * 2} windows of ${fmt(windowS, 0)} s (the first ${fmt(o.quietMs / 1000, 1)} s after the start left out), alternately with no subscriber and with ${o.subscribers} SSE clients on \`GET /jobs/:id/events\` ` +
      `(connected, then ${settleMs / 1000} s to settle, then measured; closed after), the order alternating per pair. ` +
      `"Idle" means the job is silent, not the streams: the supervisor samples the job's tree every SAMPLE_INTERVAL_MS (${o.sampleIntervalMs} ms), so each subscriber gets a \`usage\` event per second, ` +
      `plus a keepalive comment every EVENTS_HEARTBEAT_MS (${fmt(o.heartbeatMs / 1000, 0)} s). The sampling itself runs in both kinds of window.`,
    figures: [
      ['(a) latency, CLI line -> SSE client, text events', spread(s)],
      ['(a) for scale: the fixture read straight from its pipe by the bench (no services)', spread(pipe)],
      ['(a) text events received', `${a.received} of ${o.stamps}, end with status ${a.endStatus ?? 'none'}`],
      ['(a) clock offsets corrected for (timeOrigin + now() - Date.now()): bench, fixture', `${fmt(a.offsetMs, 3)} ms, ${fmt(a.cliOffsetMs, 3)} ms`],
      ['(b) API, no subscribers', `${fmt(apiNone, 3)}% of one core (${fmt(total(none, 'apiMs'), 0)} ms CPU in ${fmt(wallNone / 1000, 1)} s)`],
      [`(b) API, ${o.subscribers} subscribers`, `${fmt(apiSub, 3)}% of one core (${fmt(total(subscribed, 'apiMs'), 0)} ms CPU in ${fmt(wallSub / 1000, 1)} s)`],
      ['(b) supervisor, no subscribers', `${fmt(supNone, 3)}% of one core (${fmt(total(none, 'supervisorMs'), 0)} ms CPU in ${fmt(wallNone / 1000, 1)} s)`],
      [`(b) supervisor, ${o.subscribers} subscribers`, `${fmt(supSub, 3)}% of one core (${fmt(total(subscribed, 'supervisorMs'), 0)} ms CPU in ${fmt(wallSub / 1000, 1)} s)`],
      [`(b) difference (${o.subscribers} - none), all windows: API, supervisor, both`, `${signed(apiSub - apiNone)}%, ${signed(supSub - supNone)}%, ${signed(diff)}% of one core`],
      ['(b) difference, API + supervisor, per pair of windows', `median ${signed(pairs.median)}% (min-max ${signed(pairs.min)} to ${signed(pairs.max)}, n=${pairs.n})`],
      ['(b) per window, API / supervisor %: none', perWindow(none)],
      [`(b) per window, API / supervisor %: ${o.subscribers} subscribers`, perWindow(subscribed)],
      ['(b) events per subscriber per second, in the windows', fmt(eventsPerSecond, 2)],
      [`(b) for scale: the bench's own ${o.subscribers} clients (one process, parsing every event)`, `${fmt(benchSub, 2)}% of one core (none: ${fmt(benchNone, 2)}%)`],
    ],
    checks: [
      { target: 'CLI line to SSE client: median under 5 ms', measured: `${fmt(s.median)} ms`, met: s.median < 5 },
      { target: 'CLI line to SSE client: p99 under 20 ms', measured: `${fmt(s.p99)} ms`, met: s.p99 < 20 },
      { target: `${o.subscribers} idle subscribers on a running job: under 5% of one core (API + supervisor)`, measured: `${signed(diff)}% (${o.subscribers} subscribers ${fmt(apiSub + supSub, 3)}%, none ${fmt(apiNone + supNone, 3)}%)`, met: diff < 5 },
    ],
    notes: [
      `The job was still running after the last window: ${stateAtEnd === 'running' ? 'yes' : `NO (${stateAtEnd}: figures measured a finished job)`}; cancel answered HTTP ${cancel.status}.`,
      'CPU time is counted in 10 ms ticks: over these windows a tick is ' + `${fmt(pct(10, o.windowMs), 2)}% of one core per window, finer over all windows together.`,
      `Load average (1 min) when this section started: ${fmt(loadAtStart)} on ${cpus().length} cores.`,
      "The supervisor serves the API one connection per job however many clients watch it (api/src/events/job-hub.ts), so the subscribers' own cost is the API's; " +
        "the supervisor's difference is what one NDJSON reader and the machine's noise come to.",
      `What the services add to the bare pipe, median: ${fmt(s.median - pipe.median)} ms (${fmt(s.median / pipe.median, 1)}x). The path has three hops between processes where the bare pipe has one ` +
        '(CLI -> supervisor on the pipe, supervisor -> API on the Unix socket, API -> client over TCP), each the wake-up of an idle process on a virtual CPU, ' +
        'and the line parsed and re-serialized on the way (stream-json, the NDJSON line, the SSE frame); the wake-ups, not the work, are most of it, and they move with the machine between runs. ' +
        'Each stamped line is a turn of its own, so it becomes two events (`progress`, then `text`) written together.',
      'The machine is shared with other work: absolute figures move between runs, which is why the windows with and without subscribers alternate in one job. ' +
        'The latency depends on how soon four processes (fixture, supervisor, API, client) get one of the cores; ' +
        "the supervisor's sample reads /proc/PID/stat of every process on the machine (section 3), so other work that starts many processes shows in its CPU in both kinds of window.",
    ],
  };
}
