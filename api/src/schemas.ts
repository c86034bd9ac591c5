// The API's public shapes, each defined once as a TypeBox schema: the routes validate
// requests and serialize answers with them, the OpenAPI document (/openapi.json) is built
// from them, and the TypeScript types are derived from them (Static<>). Answers only ever
// gain fields, so every answer object admits more than it lists (additionalProperties).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { JOB_EVENT_TYPES } from '../../common/events.ts';
import { inputImagesSchema } from '../../common/input-images.ts';
import { JOB_ID_PATTERN, SESSION_ID_PATTERN, startJobRequestSchema } from '../../common/protocol.ts';
import { ERROR_STATUS, type ErrorCode } from './errors.ts';

/** `{ type: [T, 'null'] }`: fast-json-stringify serializes anyOf slowly. */
function Nullable<T extends TSchema & { type: string }>(schema: T): TSchema & { static: Static<T> | null } {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

const open = { additionalProperties: true } as const;

export const jobIdParams = Type.Object({ id: Type.String({ pattern: JOB_ID_PATTERN, description: 'A job id, as answers give it (`jobId`).' }) });

export const commandBody = Type.Object(
  {
    text: Type.String({ minLength: 1, pattern: '\\S', description: 'The prompt: non-empty, not only whitespace.' }),
    sessionId: Type.Optional(Type.String({ pattern: SESSION_ID_PATTERN, description: "Resume this Claude Code session (an earlier answer's sessionId)." })),
    continue: Type.Optional(Type.Boolean({ description: 'Continue the most recent session.' })),
    // The protocol's own definitions: one source for each shape, so the two processes agree.
    images: Type.Optional(inputImagesSchema),
    maxTurns: startJobRequestSchema.properties.maxTurns,
    maxBudgetUsd: startJobRequestSchema.properties.maxBudgetUsd,
  },
  { description: 'POST /command body.' },
);
export type CommandBody = Static<typeof commandBody>;

export const commandHeaders = Type.Object({
  // WhatsApp message ids and UUIDs fit; the protocol caps keys at 200 characters.
  'idempotency-key': Type.Optional(
    Type.String({ pattern: '^[\\x21-\\x7e]{1,200}$', description: 'Repeats of the same key get the first job instead of a new run.' }),
  ),
  prefer: Type.Optional(Type.String({ description: '`respond-async`: answer 202 at once with the URLs of the job.' })),
  accept: Type.Optional(Type.String({ description: '`text/event-stream`: stream the job\'s events, ending with `end`.' })),
});

const images = Type.Array(Type.String(), { description: "URLs (/images/<name>) of the images the job wrote, oldest first; the newest MAX_IMAGES_PER_ANSWER." });
const session = {
  sessionId: Type.Optional(Type.String({ description: 'The Claude Code session, for `sessionId` in a follow-up.' })),
  costUsd: Type.Optional(Type.Number({ description: "The CLI's estimate of the job's cost." })),
  numTurns: Type.Optional(Type.Integer()),
};

export const successAnswer = Type.Object(
  {
    text: Type.String({ description: "The agent's answer." }),
    images,
    imagesTruncated: Type.Optional(Type.Boolean({ description: 'The job wrote more images than are listed.' })),
    exitCode: Type.Integer(),
    durationMs: Type.Integer(),
    jobId: Type.String(),
    truncated: Type.Boolean({ description: 'stdout was longer than MAX_OUTPUT_BYTES.' }),
    ...session,
  },
  { ...open, description: 'A job that succeeded (POST /command, GET /jobs/:id, the body of `end`).' },
);
export type SuccessAnswer = Static<typeof successAnswer>;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export const errorBody = Type.Object(
  {
    error: Type.Unsafe<ErrorCode>({ type: 'string', enum: ERROR_CODES, description: 'A stable code to branch on (docs/api.md).' }),
    message: Type.String({ description: 'A sentence for humans.' }),
    jobId: Type.Optional(Type.String({ description: 'The job this is about, when one was started.' })),
    idempotencyKey: Type.Optional(Type.String({ description: 'The key of a start that was not run: a retry with it is safe.' })),
    text: Type.Optional(Nullable(Type.String({ description: 'What the agent had said, when the job ran.' }))),
    images: Type.Optional(images),
    imagesTruncated: Type.Optional(Type.Boolean()),
    exitCode: Type.Optional(Nullable(Type.Integer())),
    durationMs: Type.Optional(Type.Integer()),
    peakRssBytes: Type.Optional(Type.Integer()),
    ...session,
  },
  { ...open, description: 'Every answer that is not a success.' },
);
export type ErrorBody = Static<typeof errorBody>;

export const progress = Type.Object(
  {
    turns: Type.Integer(),
    tool: Nullable(Type.String()),
    toolDescription: Nullable(Type.String({ description: 'The description the model gave the tool call; never the command.' })),
  },
  open,
);

export const runningAnswer = Type.Object(
  {
    state: Type.Literal('running'),
    jobId: Type.String(),
    startedAt: Type.String(),
    durationMs: Type.Integer(),
    text: Nullable(Type.String({ description: 'What the agent has said so far.' })),
    images,
    imagesTruncated: Type.Optional(Type.Boolean()),
    progress,
  },
  { ...open, description: 'A job still running (GET /jobs/:id, 202).' },
);
export type RunningAnswer = Static<typeof runningAnswer>;

export const acceptedAnswer = Type.Object(
  {
    jobId: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('finished')]),
    idempotencyKey: Type.String(),
    eventsUrl: Type.String({ description: 'GET: the job\'s events (text/event-stream).' }),
    resultUrl: Type.String({ description: 'GET: its result (202 while it runs; ?waitMs= long-polls).' }),
    cancelUrl: Type.String({ description: 'POST: stop it.' }),
  },
  { ...open, description: 'POST /command with Prefer: respond-async (202): the job started (or the one its key started).' },
);
export type AcceptedAnswer = Static<typeof acceptedAnswer>;

export const healthAnswer = Type.Object({ status: Type.Literal('ok') });

export const statusAnswer = Type.Object(
  {
    api: Type.Object({}, open),
    supervisor: Type.Object({}, open),
    job: Type.Unsafe({ type: ['object', 'null'], additionalProperties: true }),
    recentJobs: Type.Array(Type.Object({}, open)),
    limits: Type.Unsafe({ type: ['object', 'null'], additionalProperties: true }),
    system: Type.Object({}, open),
    images: Type.Object({}, open),
  },
  { ...open, description: 'For operators: the supervisor, the running job, recent jobs, limits, the machine (docs/api.md, "GET /status").' },
);

export const statusHeaders = Type.Object({
  accept: Type.Optional(
    Type.String({ description: '`text/html` (preferred to JSON: a browser\'s navigation) answers the status page; anything else, or none, JSON.' }),
  ),
});

export const getJobQuery = Type.Object(
  { waitMs: Type.Optional(Type.String({ pattern: '^\\d{1,5}$', description: 'Wait up to this many ms (at most 60000) for the job to end.' })) },
  { additionalProperties: false },
);

export const eventsHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 20, description: 'Resume after this event id (`end`: 204, nothing more).' })),
});

/** The events of GET /jobs/:id/events, for the document (they are SSE frames, not JSON answers). */
export const jobEvent = Type.Object(
  {
    id: Type.String({ description: 'Counts up from 1 within the job; the last event is `end`.' }),
    event: Type.Unsafe({ type: 'string', enum: [...JOB_EVENT_TYPES] }),
    data: Type.Object({}, { ...open, description: 'progress {turn, tool, description}; text {turn, text, truncated}; image {name, url}; usage {cpuMs, cpuPercent, rssBytes, processCount, elapsedMs}; end {status, body}.' }),
  },
  { description: 'One Server-Sent Event: `id:`, `event:` and a JSON `data:` line.' },
);

/** What any route may answer, whatever it does: auth, limits of the request, shutdown. */
const ANY_ROUTE: ErrorCode[] = ['bad_request', 'unauthorized', 'request_timeout', 'payload_too_large', 'headers_too_large', 'internal_error', 'shutting_down'];

/** What a job's own end can answer (job-response.ts). */
export const JOB_OUTCOME_ERRORS: ErrorCode[] = [
  'session_not_found',
  'timeout',
  'cancelled',
  'max_turns',
  'budget_exceeded',
  'execution_error',
  'memory_limit',
  'interrupted',
  'shutting_down',
];

/** `responses` entries for the error codes a route can answer (and any route's), grouped by status. */
export function errorResponses(...codes: ErrorCode[]): Record<number, TSchema> {
  codes = [...new Set([...ANY_ROUTE, ...codes])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  const out: Record<number, TSchema> = {};
  for (const [status, list] of byStatus) out[status] = { ...errorBody, 'x-response-description': `error: ${list.join(', ')}` };
  return out;
}

const eventStream = { schema: { type: 'string', description: `Server-Sent Events, one per job event (${JOB_EVENT_TYPES.join(', ')}): ${jobEvent.description ?? ''}` } };

/** A 200 that is JSON, or with Accept: text/event-stream the job's events. */
export function jsonOrEventStream(json: TSchema): Record<string, unknown> {
  return { description: json.description, content: { 'application/json': { schema: json }, 'text/event-stream': eventStream } };
}

/** A 200 that is JSON, or with Accept: text/html (preferred to JSON) a page for a browser. */
export function jsonOrHtml(json: TSchema, page: string): Record<string, unknown> {
  return { description: json.description, content: { 'application/json': { schema: json }, 'text/html': { schema: { type: 'string', description: page } } } };
}

/** A 200 that is the job's events. */
export const eventStreamOnly = { description: "The job's events, then `end`", content: { 'text/event-stream': eventStream } };
