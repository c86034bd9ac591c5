// The supervisor's control protocol: HTTP/JSON over a Unix socket. Both processes import
// this module, so the supervisor's answers and the API's reading of them cannot drift.
// Each shape is defined once, as a TypeBox schema: that schema is the JSON schema the
// supervisor's Fastify routes validate and serialize with (and the OpenAPI document
// shows, descriptions included), and the TypeScript type is derived from it with
// Static<>. Never write a type for a shape by hand next to its schema.
import { inputImagesSchema } from './input-images.ts';
import { Kind, Type, type SchemaOptions, type Static, type TObject, type TProperties, type TSchema, type TUnsafe } from '@sinclair/typebox';

// ---- Helpers: JSON schemas without anyOf ----
// fast-json-stringify serializes an anyOf by validating each branch in turn, so a nullable
// field is `{ type: [T, 'null'] }` here, never TypeBox's Union([T, Null]).

/** `schema` or null, as `{ ...schema, type: [schema.type, 'null'] }`. */
function Nullable<T extends TSchema & { type: string }>(schema: T, options?: SchemaOptions): TUnsafe<Static<T> | null> {
  // The result is no longer what the Kind said (a String does not accept null): drop it.
  const { [Kind]: _kind, ...json } = schema;
  return Type.Unsafe<Static<T> | null>({ ...json, ...options, type: [schema.type, 'null'] });
}

/** One of `values`, as `{ type: 'string', enum: values }`. */
function StringEnum<const T extends readonly string[]>(values: T, options?: SchemaOptions): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

/** One of `values` or null, as `{ type: ['string', 'null'], enum: [...values, null] }`. */
function NullableEnum<const T extends readonly string[]>(values: T, options?: SchemaOptions): TUnsafe<T[number] | null> {
  return Type.Unsafe<T[number] | null>({ ...options, type: ['string', 'null'], enum: [...values, null] });
}

/** An object that admits properties besides `properties` (`additionalProperties: true`), typed to match. */
function OpenObject<T extends TProperties>(properties: T, options?: SchemaOptions): TUnsafe<Static<TObject<T>> & { [extra: string]: unknown }> {
  // Unsafe keeps the Kind of the object it is given: at run time this is still a TypeBox Object.
  return Type.Unsafe<Static<TObject<T>> & { [extra: string]: unknown }>(Type.Object(properties, { ...options, additionalProperties: true }));
}

// ---- Constants ----

/**
 * Why a job ended: exactly one, the first cause wins. `interrupted`: the supervisor found
 * the job still recorded as running when it started (it had crashed or been killed).
 */
export const JOB_REASONS = ['exit', 'timeout', 'memory_limit', 'cancelled', 'shutdown', 'spawn_error', 'interrupted'] as const;
export type JobReason = (typeof JOB_REASONS)[number];

const jobStateSchema = StringEnum(['running', 'finished']);
export type JobState = Static<typeof jobStateSchema>;

/** A failure the CLI reported that callers can act on; the API maps each to its own code. */
export const JOB_ERROR_CODES = ['session_not_found', 'max_turns', 'budget_exceeded'] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

/** A Claude Code session id is a UUID; nothing else is passed to `--resume`. */
export const SESSION_ID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

export const JOB_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

/** The kinds of per-job cgroup the supervisor can use. */
const CGROUP_KINDS = ['v1-memory', 'v2'] as const;
/** How a job's CLI gets into its cgroup (supervisor/native/reaper.c). */
const CGROUP_JOINS = ['clone3', 'write'] as const;

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
  /** GET: the supervisor's Prometheus metrics, as text (the API serves them on METRICS_PORT). */
  metrics: '/metrics',
  /** POST { startId }: an API started; counted once per startId, kept in the job store. */
  apiStarts: '/api-starts',
} as const;

export const MAX_LOOKUP_IDS = 100;

/** Longest a single `wait` call holds the connection before answering the job as it is. */
export const MAX_WAIT_MS = 60_000;

/**
 * `POST /jobs?waitMs=N` starts the job and waits for its end in the same call: the status
 * line and headers go out as soon as the job is recorded and started (this header names
 * it), the body (its `JobView`) once it has finished or after min(N, MAX_WAIT_MS) ms. One
 * request per command instead of a start and a long poll.
 */
export const JOB_ID_HEADER = 'x-job-id';

// ---- Shapes (Fastify validates requests and serializes responses with these) ----

export const startJobRequestSchema = Type.Object(
  {
    prompt: Type.String({ minLength: 1 }),
    /** Repeats of the same key get the first job instead of a new run (webhook retries). */
    idempotencyKey: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Repeats of the same key get the first job instead of a new run (webhook retries).',
      }),
    ),
    /** Resume this Claude Code session (`--resume`). */
    sessionId: Type.Optional(Type.String({ pattern: SESSION_ID_PATTERN, description: 'Resume this Claude Code session (`--resume`).' })),
    /** Continue the most recent session (`--continue`). */
    continue: Type.Optional(Type.Boolean({ description: 'Continue the most recent session (`--continue`).' })),
    /** Images for the model, beside the prompt, in the first user message. */
    images: Type.Optional(inputImagesSchema),
    /** At most this many turns (`--max-turns`); at most MAX_TURNS when that is set. */
    maxTurns: Type.Optional(Type.Integer({ minimum: 1, description: 'At most this many turns (`--max-turns`); at most MAX_TURNS when that is set.' })),
    /** Stop once the CLI's cost estimate passes this (`--max-budget-usd`); at most MAX_BUDGET_USD when that is set. */
    maxBudgetUsd: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description: "Stop once the CLI's cost estimate passes this (`--max-budget-usd`); at most MAX_BUDGET_USD when that is set.",
      }),
    ),
    /**
     * Epoch ms after which the caller no longer waits for this answer: a start read later
     * (the supervisor was frozen or overloaded) is refused with `deadline_exceeded` and
     * never runs.
     */
    deadlineMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Epoch ms after which the caller no longer waits for this answer: a start read later ' +
          '(the supervisor was frozen or overloaded) is refused with `deadline_exceeded` and never runs.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Body of `POST /jobs`.' },
);
/** Body of `POST /jobs`. */
export type StartJobRequest = Static<typeof startJobRequestSchema>;

export const jobResultSchema = Type.Object(
  {
    sessionId: Nullable(Type.String()),
    costUsd: Nullable(Type.Number()),
    numTurns: Nullable(Type.Integer()),
    isError: Type.Boolean(),
    subtype: Nullable(Type.String()),
  },
  { additionalProperties: false, description: "What the CLI's final stream-json `result` event said, when it printed one." },
);
/** What the CLI's final stream-json `result` event said, when it printed one. */
export type JobResult = Static<typeof jobResultSchema>;

export const jobProgressSchema = Type.Object(
  {
    turns: Type.Integer(),
    /** The tool in use now (e.g. `Bash`), or null between tools. */
    tool: Nullable(Type.String(), { description: 'The tool in use now (e.g. `Bash`), or null between tools.' }),
    /** For Bash, the description the model gave the command; never the command itself. */
    toolDescription: Nullable(Type.String(), {
      description: 'For Bash, the description the model gave the command; never the command itself.',
    }),
  },
  { additionalProperties: false, description: "Live progress read from the CLI's stream-json events." },
);
/** Live progress read from the CLI's stream-json events. */
export type JobProgress = Static<typeof jobProgressSchema>;

export const jobViewSchema = Type.Object(
  {
    id: Type.String(),
    state: jobStateSchema,
    idempotencyKey: Nullable(Type.String()),
    pid: Nullable(Type.Integer()),
    promptChars: Type.Integer(),
    startedAt: Type.String(),
    endedAt: Nullable(Type.String()),
    /** Elapsed so far while running; total once finished. */
    durationMs: Type.Number({ description: 'Elapsed so far while running; total once finished.' }),
    exitCode: Nullable(Type.Integer()),
    signal: Nullable(Type.String()),
    reason: NullableEnum(JOB_REASONS),
    /** Why the job failed, in words: spawn error, the CLI's own error message, the limit hit. */
    errorMessage: Nullable(Type.String(), {
      description: "Why the job failed, in words: spawn error, the CLI's own error message, the limit hit.",
    }),
    /** Set when the CLI's error is one of JOB_ERROR_CODES (e.g. `--resume` of an unknown session). */
    errorCode: Type.Optional(
      NullableEnum(JOB_ERROR_CODES, {
        description: "Set when the CLI's error is one of JOB_ERROR_CODES (e.g. `--resume` of an unknown session).",
      }),
    ),
    /** The answer: the result event's text, or stdout as it is when there was none. */
    text: Nullable(Type.String(), { description: "The answer: the result event's text, or stdout as it is when there was none." }),
    /** The last few KiB of stderr, for error messages. */
    stderrTail: Type.String({ description: 'The last few KiB of stderr, for error messages.' }),
    /** stdout was longer than MAX_OUTPUT_BYTES; `text` (when it is stdout) holds its head. */
    stdoutTruncated: Type.Boolean({ description: 'stdout was longer than MAX_OUTPUT_BYTES; `text` (when it is stdout) holds its head.' }),
    /** stderr was longer than `stderrTail` (the supervisor keeps only the tail). */
    stderrTruncated: Type.Boolean({ description: 'stderr was longer than `stderrTail` (the supervisor keeps only the tail).' }),
    /** Image files (names in IMAGES_DIR, oldest first) the job wrote; set once it has finished. */
    images: Type.Array(Type.String(), {
      description: 'Image files (names in IMAGES_DIR, oldest first) the job wrote; set once it has finished.',
    }),
    result: Nullable(jobResultSchema),
    progress: jobProgressSchema,
    cpuMs: Type.Number(),
    cpuPercent: Type.Number(),
    rssBytes: Type.Integer(),
    peakRssBytes: Type.Integer(),
    processCount: Type.Integer(),
    peakProcessCount: Type.Integer(),
    /** Processes the supervisor had to signal to end the job (timeout, limit, cancel...). */
    processesKilled: Type.Integer({ description: 'Processes the supervisor had to signal to end the job (timeout, limit, cancel...).' }),
    /** Processes left running after the CLI exited on its own, swept at job end. */
    leftoversKilled: Type.Integer({ description: 'Processes left running after the CLI exited on its own, swept at job end.' }),
  },
  { additionalProperties: false, description: 'A job as the supervisor reports it, running or finished. Sizes in bytes, times in ms.' },
);
/** A job as the supervisor reports it, running or finished. Sizes in bytes, times in ms. */
export type JobView = Static<typeof jobViewSchema>;

export const jobSummarySchema = Type.Omit(jobViewSchema, ['text', 'stderrTail'], {
  additionalProperties: false,
  description: 'A job without its output, as `/status` lists it.',
});
/** A job without its output, as `/status` lists it. */
export type JobSummary = Static<typeof jobSummarySchema>;

export const lookupRequestSchema = Type.Object(
  { ids: Type.Array(Type.String({ pattern: JOB_ID_PATTERN }), { minItems: 1, maxItems: MAX_LOOKUP_IDS }) },
  { additionalProperties: false, description: 'Body of `POST /jobs/lookup`: the ids of the jobs wanted.' },
);
/** Body of `POST /jobs/lookup`. */
export type LookupRequest = Static<typeof lookupRequestSchema>;

export const lookupResponseSchema = Type.Object(
  // No anyOf here: fast-json-stringify would validate every item to choose a branch.
  { jobs: Type.Array(jobViewSchema), missing: Type.Array(Type.String()) },
  { additionalProperties: false, description: 'Answer of `POST /jobs/lookup`: the jobs found, and the ids of those not found.' },
);
/** Answer of `POST /jobs/lookup`: the jobs found, and the ids of those not found. */
export type LookupResponse = Static<typeof lookupResponseSchema>;

export const errorBodySchema = OpenObject(
  { error: Type.String(), message: Type.String() },
  { description: 'Every error body, here and in the API: a stable code and a sentence for humans.' },
);
/** Every error body, here and in the API: a stable code and a sentence for humans. */
export type ErrorBody = Static<typeof errorBodySchema>;

export const apiStartRequestSchema = Type.Object(
  {
    /** Made once per API process; its retries repeat it, so one start counts once. */
    startId: Type.String({ pattern: JOB_ID_PATTERN, description: 'Made once per API process; its retries repeat it, so one start counts once.' }),
  },
  { additionalProperties: false, description: 'Body of `POST /api-starts`: an API tells the supervisor it started.' },
);
/** Body of `POST /api-starts`. */
export type ApiStartRequest = Static<typeof apiStartRequestSchema>;

export const apiStartResponseSchema = Type.Object(
  { apiStarts: Type.Integer({ description: 'API starts counted on this job store, this one included.' }) },
  { additionalProperties: false, description: 'Answer of `POST /api-starts`.' },
);
/** Answer of `POST /api-starts`. */
export type ApiStartResponse = Static<typeof apiStartResponseSchema>;

export const healthResponseSchema = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false, description: 'Answer of `GET /health`.' });
/** Answer of `GET /health`. */
export type HealthResponse = Static<typeof healthResponseSchema>;

export const limitsSchema = Type.Object(
  {
    timeoutMs: Type.Integer(),
    memoryLimitBytes: Type.Integer(),
    maxOutputBytes: Type.Integer(),
    killGraceMs: Type.Integer(),
    /** A stop first waits this long for the CLI to end its turn (part of killGraceMs). */
    interruptGraceMs: Type.Integer({ description: 'A stop first waits this long for the CLI to end its turn (part of killGraceMs).' }),
    sampleIntervalMs: Type.Integer(),
    /** MAX_TURNS: every job's turn limit unless its request asks for fewer; null: none. */
    maxTurns: Nullable(Type.Integer(), { description: "MAX_TURNS: every job's turn limit unless its request asks for fewer; null: none." }),
    /** MAX_BUDGET_USD: every job's cost limit (the CLI's estimate) unless its request asks for less; null: none. */
    maxBudgetUsd: Nullable(Type.Number(), {
      description: "MAX_BUDGET_USD: every job's cost limit (the CLI's estimate) unless its request asks for less; null: none.",
    }),
  },
  { additionalProperties: false },
);
export type Limits = Static<typeof limitsSchema>;

export const ownershipSchema = Type.Object(
  {
    /** The dedicated agent user's uid: every process of it is the job's or a leftover. */
    agentUid: Nullable(Type.Integer(), { description: "The dedicated agent user's uid: every process of it is the job's or a leftover." }),
    /** A per-job subreaper keeps every orphan of the job in its tree. */
    subreaper: Type.Boolean({ description: 'A per-job subreaper keeps every orphan of the job in its tree.' }),
    cgroup: NullableEnum(CGROUP_KINDS),
    /** The job marker in /proc/PID/environ is readable for the agent's processes. */
    environ: Type.Boolean({ description: "The job marker in /proc/PID/environ is readable for the agent's processes." }),
    contained: Type.Boolean(),
  },
  {
    additionalProperties: false,
    description:
      'How this deployment tells a job\'s processes from the rest (docs/supervisor.md, "Ownership layers"), ' +
      'decided at start. `contained`: no process of a job can outlive it here.',
  },
);
/**
 * How this deployment tells a job's processes from the rest (docs/supervisor.md, "Ownership
 * layers"), decided at start. `contained`: no process of a job can outlive it here.
 */
export type OwnershipStatus = Static<typeof ownershipSchema>;

export const storeSchema = Type.Object(
  {
    /** The database file, or `:memory:` (nothing survives a restart). */
    path: Type.String({ description: 'The database file, or `:memory:` (nothing survives a restart).' }),
    /** New jobs are accepted only while the store can record them. */
    writable: Type.Boolean({ description: 'New jobs are accepted only while the store can record them.' }),
    /** Why not, when it is not. */
    error: Nullable(Type.String(), { description: 'Why not, when it is not.' }),
    /** Jobs stored, running ones included. */
    jobs: Type.Integer({ description: 'Jobs stored, running ones included.' }),
    /** Size of the database file and its write-ahead log. */
    bytes: Type.Integer({ description: 'Size of the database file and its write-ahead log.' }),
    /** Finished jobs whose record could not be written yet (kept in memory, retried). */
    unsaved: Type.Integer({ description: 'Finished jobs whose record could not be written yet (kept in memory, retried).' }),
    /** Retention: the newest `maxJobs` finished jobs of at most `maxAgeDays` are kept. */
    maxJobs: Type.Integer({ description: 'Retention: the newest `maxJobs` finished jobs of at most `maxAgeDays` are kept.' }),
    maxAgeDays: Type.Integer(),
  },
  { additionalProperties: false, description: 'The job store (SQLite in DATA_DIR): where finished jobs and idempotency keys live.' },
);
/** The job store (SQLite in DATA_DIR): where finished jobs and idempotency keys live. */
export type StoreStatus = Static<typeof storeSchema>;

export const supervisorStatusSchema = Type.Object(
  {
    pid: Type.Integer(),
    pid1: Type.Boolean(),
    uptimeMs: Type.Number(),
    version: Type.String(),
    shuttingDown: Type.Boolean(),
    /** Zombie children of the supervisor right now (only grows when it runs as PID 1). */
    zombies: Type.Integer({ description: 'Zombie children of the supervisor right now (only grows when it runs as PID 1).' }),
    /** Operator-facing warnings, e.g. running as PID 1 without an init that reaps orphans. */
    warnings: Type.Array(Type.String(), {
      description: 'Operator-facing warnings, e.g. running as PID 1 without an init that reaps orphans.',
    }),
    /** Per-job cgroups: `v1-memory` (kernel memory backstop + OOM detection), `v2` (membership, cgroup.kill), or none. */
    cgroup: Type.Object(
      {
        enabled: Type.Boolean(),
        path: Nullable(Type.String()),
        kind: Type.Optional(NullableEnum(CGROUP_KINDS)),
        /** How the CLI joins its group, seen at start: `clone3` (born in it, v2), `write` (moved in after its fork: an RCU grace period, ~8 ms, before it runs). */
        join: Type.Optional(
          NullableEnum(CGROUP_JOINS, {
            description: 'How the CLI joins its group, seen at start: `clone3` (born in it, v2), `write` (moved in after its fork: an RCU grace period, ~8 ms, before it runs).',
          }),
        ),
      },
      {
        additionalProperties: false,
        description: 'Per-job cgroups: `v1-memory` (kernel memory backstop + OOM detection), `v2` (membership, cgroup.kill), or none.',
      },
    ),
    ownership: ownershipSchema,
    /** The next job's launch, made ahead of its request: its reaper waits, forked and in its cgroup, for the CLI's arguments. */
    nextJob: Type.Object(
      {
        prepared: Type.Boolean(),
        /** The waiting reaper (its one child waits too); null when none waits or there is no reaper layer. */
        reaperPid: Nullable(Type.Integer({ description: 'The waiting reaper (its one child waits too); null when none waits or there is no reaper layer.' })),
      },
      {
        additionalProperties: false,
        description: "The next job's launch, made ahead of its request: its reaper waits, forked and in its cgroup, for the CLI's arguments.",
      },
    ),
    store: storeSchema,
    limits: limitsSchema,
    // The one anyOf: a single branch test per /status answer is cheap.
    job: Type.Union([Type.Null(), jobSummarySchema]),
    /** The last finished jobs, newest first. */
    recentJobs: Type.Array(jobSummarySchema, { description: 'The last finished jobs, newest first.' }),
  },
  { additionalProperties: false, description: 'Answer of `GET /status`.' },
);
/** Answer of `GET /status`. */
export type SupervisorStatus = Static<typeof supervisorStatusSchema>;
