// Talks to the supervisor over its Unix socket (HTTP/JSON, common/protocol.ts). Every call
// has a deadline: an absent, dead or frozen supervisor becomes SupervisorUnavailable
// within `timeoutMs`, never a hung request. Long waits use the protocol's long-poll route.
import http from 'node:http';
import type { StreamedEvent } from '../../common/events.ts';
import {
  JOB_ID_HEADER,
  MAX_LOOKUP_IDS,
  MAX_WAIT_MS,
  ROUTES,
  type ApiStartResponse,
  type JobView,
  type LookupResponse,
  type StartJobRequest,
  type SupervisorStatus,
} from '../../common/protocol.ts';

/** The supervisor could not be reached or did not answer in time. */
export class SupervisorUnavailable extends Error {
  constructor(readonly detail: string) {
    super(`supervisor unavailable: ${detail}`);
    this.name = 'SupervisorUnavailable';
  }
}

/** The supervisor answered with an error body (`{error, message, ...}`). */
export class SupervisorError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'SupervisorError';
  }
}

/** The call was abandoned by the caller's AbortSignal (shutdown, client gone). */
export class WaitAborted extends Error {
  constructor() {
    super('wait aborted');
    this.name = 'WaitAborted';
  }
}

export interface SupervisorClientOptions {
  socketPath: string;
  /** Deadline for connecting and for any quick call's answer. */
  timeoutMs: number;
  /** Longest single long-poll; the supervisor caps it at MAX_WAIT_MS. */
  waitSliceMs?: number;
  /** How long a wait on a job rides out an unreachable supervisor (s6 restarts it). */
  reconnectMs?: number;
}

/**
 * A start gets this long beyond its deadline to be answered: the supervisor checks the
 * deadline before it records and spawns the job, so a start it accepts is answered well
 * within it, and a start answered 503 here never runs (docs/api.md, "A 503 means...").
 */
export const START_GRACE_MS = 1000;
/**
 * A start's deadline also allows for its size: the supervisor has to read and parse the
 * whole body before it can check the deadline. At 10 MB/s, far below what a socket and
 * JSON.parse do here, 25 MiB of images get ~2.6 s more.
 */
export const START_BYTES_PER_MS = 10_000;

/** The time a start of this size may take beyond SUPERVISOR_TIMEOUT_MS. */
export function startAllowanceMs(request: Pick<StartJobRequest, 'prompt' | 'images'>): number {
  let chars = request.prompt.length;
  for (const image of request.images ?? []) chars += image.data.length;
  return Math.ceil(chars / START_BYTES_PER_MS);
}
const RECONNECT_PAUSE_MS = 200;
/** An idle kept-open connection to the supervisor is closed after this long. */
const IDLE_MS = 4000;

interface CallOptions {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** Deadline for the answer once connected (long polls pass their own). */
  answerTimeoutMs?: number;
  signal?: AbortSignal;
  /** A call that may be held open (a long poll, a cancel, a start that waits): on the
   *  agent of such calls, so that they never hold up the quick ones. */
  long?: boolean;
  /** The answer is text (the metrics), not JSON: resolve with it as it is. */
  text?: boolean;
  /**
   * A start that waits (POST /jobs?waitMs): a 2xx status line means the job runs.
   * onStarted gets its id (JOB_ID_HEADER), the answer then has waitMs more, and only from
   * then on does `signal` abort the call.
   */
  started?: { waitMs: number; onStarted: (jobId: string) => void };
}

/** A job's events as the supervisor streams them (GET /jobs/:id/events). */
export interface UpstreamEvents {
  /** Resolves once the stream is over: true when it ended with `end`, false when cut. */
  readonly done: Promise<boolean>;
  close(): void;
}

/** Longest a cancel waits for its answer: the supervisor answers once the tree is gone
 *  (its KILL_GRACE_MS and a drain), which is well within this. */
const CANCEL_ANSWER_MS = MAX_WAIT_MS;

interface PendingLookup {
  id: string;
  resolve: (view: JobView) => void;
  reject: (err: unknown) => void;
}

export class SupervisorClient {
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly waitSliceMs: number;
  private readonly reconnectMs: number;
  private statusInFlight: Promise<SupervisorStatus> | null = null;
  private lookups: PendingLookup[] = [];
  /**
   * Quick calls reuse connections (a fresh connection per call halved GET /jobs/:id's rate,
   * docs/benchmarks.md section 9). An idle one is closed after IDLE_MS, well before the
   * supervisor's keep-alive timeout, so a reused connection is never one it is closing.
   */
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16, maxFreeSockets: 8, timeout: IDLE_MS });
  /** Calls held open (CallOptions.long) reuse connections too, as many as they need: a
   *  command's one call does not pay for a connect. */
  private readonly longAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 4, timeout: IDLE_MS });

  constructor(options: SupervisorClientOptions) {
    this.socketPath = options.socketPath;
    this.timeoutMs = options.timeoutMs;
    this.waitSliceMs = Math.min(options.waitSliceMs ?? 25_000, MAX_WAIT_MS);
    this.reconnectMs = options.reconnectMs ?? 10_000;
  }

  /** How long a wait rides out an unreachable supervisor (SUPERVISOR_RECONNECT_MS). */
  get reconnectWindowMs(): number {
    return this.reconnectMs;
  }

  health(): Promise<{ status: string }> {
    return this.call({ method: 'GET', path: '/health' }) as Promise<{ status: string }>;
  }

  /** Concurrent callers share the call in flight: a burst of /status asks the supervisor once. */
  status(): Promise<SupervisorStatus> {
    this.statusInFlight ??= (this.call({ method: 'GET', path: '/status' }) as Promise<SupervisorStatus>).finally(() => {
      this.statusInFlight = null;
    });
    return this.statusInFlight;
  }

  /** The supervisor's Prometheus metrics, as text (its registry's exposition format). */
  metrics(): Promise<string> {
    return this.call({ method: 'GET', path: ROUTES.metrics, text: true }) as Promise<string>;
  }

  /** Tell the supervisor this API started (it keeps the count in its job store). */
  apiStarted(startId: string): Promise<ApiStartResponse> {
    return this.call({ method: 'POST', path: ROUTES.apiStarts, body: { startId } }) as Promise<ApiStartResponse>;
  }

  /** Start a job; the supervisor refuses it (never runs it) once this call has given up. */
  startJob(request: Omit<StartJobRequest, 'deadlineMs'>): Promise<JobView> {
    return this.call({ method: 'POST', path: ROUTES.jobs, ...this.startCall(request) }) as Promise<JobView>;
  }

  /**
   * Start a job and wait for its end in the same call (`POST /jobs?waitMs`, one request
   * per command where a start and a long poll were two). Resolves once the supervisor has
   * started it, or found it by its key, under the same deadline as startJob; `end` then
   * settles with the job once it has finished or after the wait slice (still running), and
   * rejects as waitOnce does. `signal` ends the wait, never the start: a start in flight is
   * answered, so its caller always learns the job's id.
   */
  startWaiting(request: Omit<StartJobRequest, 'deadlineMs'>, signal?: AbortSignal): Promise<{ jobId: string; end: Promise<JobView> }> {
    return new Promise((resolve, reject) => {
      let startedId: string | null = null;
      const end = this.call({
        method: 'POST',
        path: `${ROUTES.jobs}?waitMs=${this.waitSliceMs}`,
        ...this.startCall(request),
        long: true,
        signal,
        started: {
          waitMs: this.waitSliceMs,
          onStarted: (jobId) => {
            startedId = jobId;
            resolve({ jobId, end });
          },
        },
      }) as Promise<JobView>;
      end.catch((err: unknown) => {
        if (startedId === null) reject(err);
      });
    });
  }

  /** A start's body and answer deadline: the supervisor refuses it once the deadline has
   *  passed, and the answer gets START_GRACE_MS beyond. */
  private startCall(request: Omit<StartJobRequest, 'deadlineMs'>): { body: StartJobRequest; answerTimeoutMs: number } {
    const timeoutMs = this.timeoutMs + startAllowanceMs(request);
    return { body: { ...request, deadlineMs: Date.now() + timeoutMs }, answerTimeoutMs: timeoutMs + START_GRACE_MS };
  }

  /**
   * One job. The GETs of one turn of the event loop go to the supervisor as one lookup
   * call: under load, many relay requests share a round trip.
   */
  getJob(id: string): Promise<JobView> {
    return new Promise((resolve, reject) => {
      this.lookups.push({ id, resolve, reject });
      if (this.lookups.length === 1) setImmediate(() => this.flushLookups());
    });
  }

  /** End a running job (reason `cancelled`); resolves with it once its tree is gone. */
  cancelJob(id: string): Promise<JobView> {
    return this.call({ method: 'POST', path: `/jobs/${encodeURIComponent(id)}/cancel`, answerTimeoutMs: CANCEL_ANSWER_MS, long: true }) as Promise<JobView>;
  }

  /**
   * A job's events after `after`, each passed to `onEvent` as it arrives, until `end`.
   * Resolves once the supervisor has answered 200 (a SupervisorError such as
   * job_not_found, or SupervisorUnavailable, rejects instead).
   */
  openEvents(id: string, after: number, onEvent: (event: StreamedEvent) => void): Promise<UpstreamEvents> {
    return new Promise((resolve, reject) => {
      let sawEnd = false;
      let settleDone!: (ended: boolean) => void;
      const done = new Promise<boolean>((r) => (settleDone = r));
      const req = http.request({
        socketPath: this.socketPath,
        method: 'GET',
        path: `/jobs/${encodeURIComponent(id)}/events?after=${after}`,
        agent: false,
        headers: { accept: 'application/x-ndjson' },
      });
      const timer = setTimeout(() => req.destroy(new SupervisorUnavailable(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err instanceof SupervisorUnavailable ? err : new SupervisorUnavailable(err.code ?? err.message));
        settleDone(sawEnd);
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let body: Record<string, unknown> = {};
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            } catch {
              // not JSON: the status says enough
            }
            reject(supervisorError(res.statusCode ?? 0, body));
          });
          return;
        }
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          let nl: number;
          while ((nl = pending.indexOf('\n')) !== -1) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            if (line === '') continue;
            let event: StreamedEvent;
            try {
              event = JSON.parse(line) as StreamedEvent;
            } catch {
              req.destroy();
              return;
            }
            if (event.type === 'end') sawEnd = true;
            onEvent(event);
          }
        });
        res.on('close', () => settleDone(sawEnd));
        resolve({ done, close: () => req.destroy() });
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.longAgent.destroy();
  }

  private flushLookups(): void {
    const batch = this.lookups.splice(0, MAX_LOOKUP_IDS);
    if (this.lookups.length > 0) setImmediate(() => this.flushLookups());
    const ids = [...new Set(batch.map((l) => l.id))];
    (this.call({ method: 'POST', path: '/jobs/lookup', body: { ids } }) as Promise<LookupResponse>).then(
      ({ jobs }) => {
        const byId = new Map(jobs.map((view) => [view.id, view]));
        for (const l of batch) {
          const view = byId.get(l.id);
          if (view !== undefined) l.resolve(view);
          else l.reject(new SupervisorError(404, 'job_not_found', `No job with id ${l.id}`, {}));
        }
      },
      (err: unknown) => {
        for (const l of batch) l.reject(err);
      },
    );
  }

  /** One long poll: the job once it finishes, or as it is after `waitMs`. */
  waitOnce(id: string, waitMs: number, signal?: AbortSignal): Promise<JobView> {
    const ms = Math.max(0, Math.min(Math.floor(waitMs), MAX_WAIT_MS));
    return this.call({
      method: 'GET',
      path: `/jobs/${encodeURIComponent(id)}/wait?timeoutMs=${ms}`,
      answerTimeoutMs: ms + this.timeoutMs,
      signal,
      long: true,
    }) as Promise<JobView>;
  }

  /**
   * Long-poll until the job is finished. A supervisor that goes away meanwhile is waited
   * for up to `reconnectMs` (a restarted one answers from its store: `interrupted`).
   * Rejects with WaitAborted when `signal` fires. `first`: the first slice, already asked
   * for (startWaiting's `end`).
   */
  async waitForEnd(id: string, signal?: AbortSignal, first?: Promise<JobView>): Promise<JobView> {
    let unreachableSince: number | null = null;
    let slice = first;
    for (;;) {
      if (signal?.aborted === true && slice === undefined) throw new WaitAborted();
      let view: JobView;
      try {
        const pending = slice ?? this.waitOnce(id, this.waitSliceMs, signal);
        slice = undefined;
        view = await pending;
      } catch (err) {
        if (!(err instanceof SupervisorUnavailable)) throw err;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince >= this.reconnectMs) throw err;
        await pause(RECONNECT_PAUSE_MS, signal);
        continue;
      }
      unreachableSince = null;
      if (view.state === 'finished') return view;
    }
  }

  private call(options: CallOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted === true && options.started === undefined) {
        reject(new WaitAborted());
        return;
      }
      const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      let settled = false;
      const finish = (err: Error | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(answerTimer);
        options.signal?.removeEventListener('abort', onAbort);
        if (err !== null) {
          req.destroy();
          reject(err);
        } else resolve(value);
      };
      const onAbort = (): void => finish(new WaitAborted());
      const req = http.request({
        socketPath: this.socketPath,
        method: options.method,
        path: options.path,
        agent: options.long === true ? this.longAgent : this.agent,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': payload.length, accept: 'application/json' }
          : { accept: options.text === true ? 'text/plain' : 'application/json' },
      });
      const connectTimer = setTimeout(() => finish(new SupervisorUnavailable(`no connection within ${this.timeoutMs} ms`)), this.timeoutMs);
      let answerTimer: NodeJS.Timeout | undefined;
      const answerWithin = (answerMs: number): void => {
        clearTimeout(answerTimer);
        answerTimer = setTimeout(() => finish(new SupervisorUnavailable(`no answer within ${answerMs} ms`)), answerMs);
      };
      const onConnect = (): void => {
        clearTimeout(connectTimer);
        answerWithin(options.answerTimeoutMs ?? this.timeoutMs);
      };
      req.on('socket', (socket) => {
        if (socket.connecting) socket.once('connect', onConnect);
        else onConnect();
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(new SupervisorUnavailable(err.code ?? err.message)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (options.started !== undefined && status >= 200 && status < 300) {
          const jobId = res.headers[JOB_ID_HEADER];
          if (typeof jobId !== 'string') {
            finish(new SupervisorUnavailable(`a started job without its ${JOB_ID_HEADER} header`));
            return;
          }
          answerWithin(options.started.waitMs + this.timeoutMs);
          options.started.onStarted(jobId);
          if (options.signal?.aborted === true) finish(new WaitAborted());
          else options.signal?.addEventListener('abort', onAbort, { once: true });
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err: NodeJS.ErrnoException) => finish(new SupervisorUnavailable(err.code ?? err.message)));
        res.on('close', () => {
          if (!res.complete) finish(new SupervisorUnavailable('connection closed mid-answer'));
        });
        res.on('end', () => {
          if (options.text === true && status >= 200 && status < 300) {
            finish(null, Buffer.concat(chunks).toString('utf8'));
            return;
          }
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            finish(new SupervisorUnavailable(`unparsable answer (HTTP ${status})`));
            return;
          }
          if (status >= 200 && status < 300) {
            finish(null, body);
            return;
          }
          finish(supervisorError(status, body));
        });
      });
      // A start that waits is aborted only once it is known to have started (above).
      if (options.started === undefined) options.signal?.addEventListener('abort', onAbort, { once: true });
      req.end(payload);
    });
  }
}

/** An error answer (`{error, message, ...extra}`, or anything else) as a SupervisorError. */
function supervisorError(status: number, body: unknown): SupervisorError {
  const { error, message, ...extra } = (body ?? {}) as Record<string, unknown>;
  return new SupervisorError(status, typeof error === 'string' ? error : 'unknown', typeof message === 'string' ? message : '', extra);
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
