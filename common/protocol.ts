// The supervisor's control protocol: HTTP/JSON over a Unix socket. Both processes import
// this module, so the supervisor's answers and the API's reading of them cannot drift.
// The JSON schemas here are the ones the supervisor's Fastify routes validate and
// serialize with; the TypeScript types are written to match them.

/**
 * Why a job ended: exactly one, the first cause wins. `interrupted`: the supervisor found
 * the job still recorded as running when it started (it had crashed or been killed).
 */
export const JOB_REASONS = ['exit', 'timeout', 'memory_limit', 'cancelled', 'shutdown', 'spawn_error', 'interrupted'] as const;
export type JobReason = (typeof JOB_REASONS)[number];

export type JobState = 'running' | 'finished';

/** A failure the CLI reported that callers can act on; the API maps each to its own code. */
export const JOB_ERROR_CODES = ['session_not_found'] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

/** A Claude Code session id is a UUID; nothing else is passed to `--resume`. */
export const SESSION_ID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** Body of `POST /jobs`. */
export interface StartJobRequest {
  prompt: string;
  /** Repeats of the same key get the first job instead of a new run (webhook retries). */
  idempotencyKey?: string;
  /** Resume this Claude Code session (`--resume`). */
  sessionId?: string;
  /** Continue the most recent session (`--continue`). */
  continue?: boolean;
  /**
   * Epoch ms after which the caller no longer waits for this answer: a start read later
   * (the supervisor was frozen or overloaded) is refused with `deadline_exceeded` and
   * never runs.
   */
  deadlineMs?: number;
}

/** What the CLI's final stream-json `result` event said, when it printed one. */
export interface JobResult {
  sessionId: string | null;
  costUsd: number | null;
  numTurns: number | null;
  isError: boolean;
  subtype: string | null;
}

/** Live progress read from the CLI's stream-json events. */
export interface JobProgress {
  turns: number;
  /** The tool in use now (e.g. `Bash`), or null between tools. */
  tool: string | null;
  /** For Bash, the description the model gave the command; never the command itself. */
  toolDescription: string | null;
}

/** A job as the supervisor reports it, running or finished. Sizes in bytes, times in ms. */
export interface JobView {
  id: string;
  state: JobState;
  idempotencyKey: string | null;
  pid: number | null;
  promptChars: number;
  startedAt: string;
  endedAt: string | null;
  /** Elapsed so far while running; total once finished. */
  durationMs: number;
  exitCode: number | null;
  signal: string | null;
  reason: JobReason | null;
  /** Why the job failed, in words: spawn error, the CLI's own error message, the limit hit. */
  errorMessage: string | null;
  /** Set when the CLI's error is one of JOB_ERROR_CODES (e.g. `--resume` of an unknown session). */
  errorCode?: JobErrorCode | null;
  /** The answer: the result event's text, or stdout as it is when there was none. */
  text: string | null;
  /** The last few KiB of stderr, for error messages. */
  stderrTail: string;
  /** stdout was longer than MAX_OUTPUT_BYTES; `text` (when it is stdout) holds its head. */
  stdoutTruncated: boolean;
  /** stderr was longer than `stderrTail` (the supervisor keeps only the tail). */
  stderrTruncated: boolean;
  /** Image files (names in IMAGES_DIR, oldest first) the job wrote; set once it has finished. */
  images: string[];
  result: JobResult | null;
  progress: JobProgress;
  cpuMs: number;
  cpuPercent: number;
  rssBytes: number;
  peakRssBytes: number;
  processCount: number;
  peakProcessCount: number;
  /** Processes the supervisor had to signal to end the job (timeout, limit, cancel...). */
  processesKilled: number;
  /** Processes left running after the CLI exited on its own, swept at job end. */
  leftoversKilled: number;
}

export interface Limits {
  timeoutMs: number;
  memoryLimitBytes: number;
  maxOutputBytes: number;
  killGraceMs: number;
  sampleIntervalMs: number;
}

/**
 * How this deployment tells a job's processes from the rest (docs/supervisor.md, "Ownership
 * layers"), decided at start. `contained`: no process of a job can outlive it here.
 */
export interface OwnershipStatus {
  /** The dedicated agent user's uid: every process of it is the job's or a leftover. */
  agentUid: number | null;
  /** A per-job subreaper keeps every orphan of the job in its tree. */
  subreaper: boolean;
  cgroup: 'v1-memory' | 'v2' | null;
  /** The job marker in /proc/PID/environ is readable for the agent's processes. */
  environ: boolean;
  contained: boolean;
}

/** The job store (SQLite in DATA_DIR): where finished jobs and idempotency keys live. */
export interface StoreStatus {
  /** The database file, or `:memory:` (nothing survives a restart). */
  path: string;
  /** New jobs are accepted only while the store can record them. */
  writable: boolean;
  /** Why not, when it is not. */
  error: string | null;
  /** Jobs stored, running ones included. */
  jobs: number;
  /** Size of the database file and its write-ahead log. */
  bytes: number;
  /** Finished jobs whose record could not be written yet (kept in memory, retried). */
  unsaved: number;
  /** Retention: the newest `maxJobs` finished jobs of at most `maxAgeDays` are kept. */
  maxJobs: number;
  maxAgeDays: number;
}

/** Answer of `GET /status`. */
export interface SupervisorStatus {
  pid: number;
  pid1: boolean;
  uptimeMs: number;
  version: string;
  shuttingDown: boolean;
  /** Zombie children of the supervisor right now (only grows when it runs as PID 1). */
  zombies: number;
  /** Operator-facing warnings, e.g. running as PID 1 without an init that reaps orphans. */
  warnings: string[];
  /** Per-job cgroups: `v1-memory` (kernel memory backstop + OOM detection), `v2` (membership, cgroup.kill), or none. */
  cgroup: { enabled: boolean; path: string | null; kind?: 'v1-memory' | 'v2' | null };
  ownership: OwnershipStatus;
  store: StoreStatus;
  limits: Limits;
  job: JobSummary | null;
  /** The last finished jobs, newest first. */
  recentJobs: JobSummary[];
}

/** A job without its output, as `/status` lists it. */
export type JobSummary = Omit<JobView, 'text' | 'stderrTail'>;

/** Every error body, here and in the API: a stable code and a sentence for humans. */
export interface ErrorBody {
  error: string;
  message: string;
  [extra: string]: unknown;
}

/** Routes of the control protocol. `:id` is a job id. */
export const ROUTES = {
  health: '/health',
  status: '/status',
  jobs: '/jobs',
  job: '/jobs/:id',
  /** POST { ids }: several jobs in one call, and the ids it does not know (the API batches GETs). */
  lookup: '/jobs/lookup',
  wait: '/jobs/:id/wait',
  cancel: '/jobs/:id/cancel',
  /** GET ?after=N: the job's events (common/events.ts) as NDJSON, live until `end`. */
  events: '/jobs/:id/events',
} as const;

/** Answer of `GET /health`. */
export interface HealthResponse {
  status: 'ok';
}

/** Body and answer of `POST /jobs/lookup`: the jobs found, and the ids of those not found. */
export interface LookupRequest {
  ids: string[];
}
export interface LookupResponse {
  jobs: JobView[];
  missing: string[];
}
export const MAX_LOOKUP_IDS = 100;

/** Longest a single `wait` call holds the connection before answering the job as it is. */
export const MAX_WAIT_MS = 60_000;

// ---- JSON schemas (Fastify validates requests and serializes responses with these) ----

const nullableString = { type: ['string', 'null'] } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;

export const startJobRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt'],
  properties: {
    prompt: { type: 'string', minLength: 1 },
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 },
    sessionId: { type: 'string', pattern: SESSION_ID_PATTERN },
    continue: { type: 'boolean' },
    deadlineMs: { type: 'integer', minimum: 0 },
  },
} as const;

export const jobViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'state', 'startedAt', 'durationMs', 'progress', 'images'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: ['running', 'finished'] },
    idempotencyKey: nullableString,
    pid: nullableInteger,
    promptChars: { type: 'integer' },
    startedAt: { type: 'string' },
    endedAt: nullableString,
    durationMs: { type: 'number' },
    exitCode: nullableInteger,
    signal: nullableString,
    reason: { type: ['string', 'null'], enum: [...JOB_REASONS, null] },
    errorMessage: nullableString,
    errorCode: { type: ['string', 'null'], enum: [...JOB_ERROR_CODES, null] },
    text: nullableString,
    stderrTail: { type: 'string' },
    stdoutTruncated: { type: 'boolean' },
    stderrTruncated: { type: 'boolean' },
    images: { type: 'array', items: { type: 'string' } },
    result: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        sessionId: nullableString,
        costUsd: nullableNumber,
        numTurns: nullableInteger,
        isError: { type: 'boolean' },
        subtype: nullableString,
      },
    },
    progress: {
      type: 'object',
      additionalProperties: false,
      properties: {
        turns: { type: 'integer' },
        tool: nullableString,
        toolDescription: nullableString,
      },
    },
    cpuMs: { type: 'number' },
    cpuPercent: { type: 'number' },
    rssBytes: { type: 'integer' },
    peakRssBytes: { type: 'integer' },
    processCount: { type: 'integer' },
    peakProcessCount: { type: 'integer' },
    processesKilled: { type: 'integer' },
    leftoversKilled: { type: 'integer' },
  },
} as const;

const { text: _text, stderrTail: _stderrTail, ...summaryProperties } = jobViewSchema.properties;
export const jobSummarySchema = { ...jobViewSchema, properties: summaryProperties } as const;

export const JOB_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

export const lookupRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: { ids: { type: 'array', minItems: 1, maxItems: MAX_LOOKUP_IDS, items: { type: 'string', pattern: JOB_ID_PATTERN } } },
} as const;

export const lookupResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['jobs', 'missing'],
  // No anyOf here: fast-json-stringify would validate every item to choose a branch.
  properties: { jobs: { type: 'array', items: jobViewSchema }, missing: { type: 'array', items: { type: 'string' } } },
} as const;

export const errorBodySchema = {
  type: 'object',
  required: ['error', 'message'],
  additionalProperties: true,
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

export const limitsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    timeoutMs: { type: 'integer' },
    memoryLimitBytes: { type: 'integer' },
    maxOutputBytes: { type: 'integer' },
    killGraceMs: { type: 'integer' },
    sampleIntervalMs: { type: 'integer' },
  },
} as const;

export const ownershipSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['agentUid', 'subreaper', 'cgroup', 'environ', 'contained'],
  properties: {
    agentUid: nullableInteger,
    subreaper: { type: 'boolean' },
    cgroup: { type: ['string', 'null'], enum: ['v1-memory', 'v2', null] },
    environ: { type: 'boolean' },
    contained: { type: 'boolean' },
  },
} as const;

export const storeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'writable', 'error', 'jobs', 'bytes', 'unsaved', 'maxJobs', 'maxAgeDays'],
  properties: {
    path: { type: 'string' },
    writable: { type: 'boolean' },
    error: nullableString,
    jobs: { type: 'integer' },
    bytes: { type: 'integer' },
    unsaved: { type: 'integer' },
    maxJobs: { type: 'integer' },
    maxAgeDays: { type: 'integer' },
  },
} as const;

export const supervisorStatusSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    pid: { type: 'integer' },
    pid1: { type: 'boolean' },
    uptimeMs: { type: 'number' },
    version: { type: 'string' },
    shuttingDown: { type: 'boolean' },
    zombies: { type: 'integer' },
    warnings: { type: 'array', items: { type: 'string' } },
    cgroup: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, path: nullableString, kind: { type: ['string', 'null'], enum: ['v1-memory', 'v2', null] } },
    },
    ownership: ownershipSchema,
    store: storeSchema,
    limits: limitsSchema,
    job: { anyOf: [{ type: 'null' }, jobSummarySchema] },
    recentJobs: { type: 'array', items: jobSummarySchema },
  },
} as const;
