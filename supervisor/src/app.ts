// The control protocol (common/protocol.ts ROUTES) as a Fastify app. build() never
// listens: main.ts puts it on the Unix socket, tests call app.inject().
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyError } from 'fastify';
import { BODY_JSON_ALLOWANCE_BYTES, MAX_BODY_LIMIT_BYTES } from '../../common/input-images.ts';
import type { Logger } from '../../common/logger.ts';
import {
  apiStartRequestSchema,
  apiStartResponseSchema,
  JOB_ID_HEADER,
  JOB_ID_PATTERN,
  jobViewSchema,
  lookupRequestSchema,
  lookupResponseSchema,
  MAX_WAIT_MS,
  ROUTES,
  startJobRequestSchema,
  supervisorStatusSchema,
  type ApiStartRequest,
  type ApiStartResponse,
  type HealthResponse,
  type LookupRequest,
  type LookupResponse,
  type StartJobRequest,
  type SupervisorStatus,
} from '../../common/protocol.ts';
import { endAnswer, JSON_CONTENT_TYPE, sendAnswer } from './answer.ts';
import { ERROR_CODES, JobNotFound, NotFound } from './errors.ts';
import { streamEvents } from './event-stream.ts';
import type { SupervisorMetrics } from './metrics.ts';
import type { JobRunner } from './runner.ts';
import type { StartCounts } from './start-counts.ts';

export interface AppDeps {
  runner: JobRunner;
  log: Logger;
  /** Everything /status says besides jobs. */
  status: () => Omit<SupervisorStatus, 'job' | 'recentJobs' | 'shuttingDown'>;
  metrics: Pick<SupervisorMetrics, 'contentType' | 'text'>;
  starts: Pick<StartCounts, 'apiStarted'>;
}

/** Prompts are large (a 5 MB prompt is supported) and so are their images: whatever the
 *  API's largest BODY_LIMIT_BYTES lets through, and the start's own fields. */
export const BODY_LIMIT_BYTES = MAX_BODY_LIMIT_BYTES + BODY_JSON_ALLOWANCE_BYTES;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: JOB_ID_PATTERN } },
} as const;

const waitQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { timeoutMs: { type: 'string', pattern: '^\\d{1,9}$' } },
} as const;

const startQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { waitMs: { type: 'string', pattern: '^\\d{1,9}$' } },
} as const;

const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { after: { type: 'string', pattern: '^\\d{1,15}$' } },
} as const;

const jobResponse = { 200: jobViewSchema };
const ourCodes = new Set<string>(ERROR_CODES);
/** @fastify/error upper-cases codes; the protocol's codes are lower-case. */
const publicCode = (code: string): string => code.toLowerCase();

export function build(deps: AppDeps) {
  const { runner, log } = deps;
  const app = Fastify({
    logger: false,
    // While closing, requests still get our own answers (503 shutting_down for new jobs).
    return503OnClosing: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Reject what the schema does not allow instead of silently fixing it.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  app.setNotFoundHandler((request, reply) => {
    const err = new NotFound(request.method, request.url);
    void reply.code(404).send({ error: publicCode(err.code), message: err.message });
  });

  app.setErrorHandler((err: FastifyError & { jobId?: string }, _request, reply) => {
    if (err.validation) return reply.code(400).send({ error: 'bad_request', message: err.message });
    const status = err.statusCode ?? 500;
    const code = publicCode(err.code ?? '');
    if (status >= 500 && !ourCodes.has(code)) {
      log.error({ err }, 'error');
      return reply.code(500).send({ error: 'internal_error', message: 'Internal error' });
    }
    if (ourCodes.has(code)) {
      return reply.code(status).send({ error: code, message: err.message, ...(err.jobId ? { jobId: err.jobId } : {}) });
    }
    // Framework errors (bad JSON, wrong content type, body too large) are the caller's.
    return reply.code(status === 413 ? 413 : 400).send({ error: 'bad_request', message: err.message });
  });

  app.get(ROUTES.health, async (): Promise<HealthResponse> => ({ status: 'ok' }));

  app.get(ROUTES.status, { schema: { response: { 200: supervisorStatusSchema } } }, async (): Promise<SupervisorStatus> => {
    const now = Date.now();
    return {
      ...deps.status(),
      shuttingDown: runner.isShuttingDown,
      job: runner.runningSummary(now),
      recentJobs: runner.recent(),
    };
  });

  app.get(ROUTES.metrics, async (_request, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.text()));

  app.post<{ Body: ApiStartRequest }>(
    ROUTES.apiStarts,
    { schema: { body: apiStartRequestSchema, response: { 200: apiStartResponseSchema } } },
    async (request): Promise<ApiStartResponse> => ({ apiStarts: deps.starts.apiStarted(request.body.startId) }),
  );

  app.post<{ Body: StartJobRequest; Querystring: { waitMs?: string } }>(
    ROUTES.jobs,
    { schema: { body: startJobRequestSchema, querystring: startQuery, response: { 200: jobViewSchema, 201: jobViewSchema } } },
    async (request, reply) => {
      const { answer, created } = runner.start(request.body);
      const { view } = answer;
      const status = created ? 201 : 200;
      const waitMs = Math.min(Number(request.query.waitMs ?? 0), MAX_WAIT_MS);
      if (waitMs === 0 || view.state === 'finished') return sendAnswer(reply, status, answer, log, { [JOB_ID_HEADER]: view.id });
      // Started: say so now (the caller's start deadline ends here), the job's end later.
      void reply.hijack();
      const res = reply.raw;
      res.writeHead(status, { 'content-type': JSON_CONTENT_TYPE, [JOB_ID_HEADER]: view.id });
      res.flushHeaders();
      const gone = whileConnected(res);
      try {
        await endAnswer(reply, status, await runner.wait(view.id, waitMs, gone.signal), log);
      } catch (err) {
        // The answer cannot say so any more (its status went out): the caller, cut off,
        // asks for the job by its id and gets the error there.
        log.error({ jobId: view.id, err }, 'error');
        res.destroy();
      } finally {
        gone.dispose();
      }
    },
  );

  app.get<{ Params: { id: string } }>(ROUTES.job, { schema: { params: idParams, response: jobResponse } }, async (request, reply) =>
    sendAnswer(reply, 200, runner.answer(request.params.id), log),
  );

  app.post<{ Body: LookupRequest }>(
    ROUTES.lookup,
    { schema: { body: lookupRequestSchema, response: { 200: lookupResponseSchema } } },
    async (request): Promise<LookupResponse> => {
      const answer: LookupResponse = { jobs: [], missing: [] };
      for (const id of request.body.ids) {
        try {
          answer.jobs.push(runner.get(id));
        } catch (err) {
          if (!(err instanceof JobNotFound)) throw err;
          answer.missing.push(id);
        }
      }
      return answer;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { timeoutMs?: string } }>(
    ROUTES.wait,
    { schema: { params: idParams, querystring: waitQuery, response: jobResponse } },
    async (request, reply) => {
      const asked = request.query.timeoutMs === undefined ? MAX_WAIT_MS : Number(request.query.timeoutMs);
      const gone = whileConnected(reply.raw);
      try {
        await sendAnswer(reply, 200, await runner.wait(request.params.id, Math.min(asked, MAX_WAIT_MS), gone.signal), log);
      } finally {
        gone.dispose();
      }
    },
  );

  app.get<{ Params: { id: string }; Querystring: { after?: string } }>(
    ROUTES.events,
    { schema: { params: idParams, querystring: eventsQuery } },
    async (request, reply) => {
      const { id } = request.params;
      streamEvents(reply, runner.events(id), Number(request.query.after ?? 0), log, id);
    },
  );

  app.post<{ Params: { id: string } }>(ROUTES.cancel, { schema: { params: idParams, response: jobResponse } }, async (request, reply) =>
    sendAnswer(reply, 200, await runner.cancel(request.params.id), log),
  );

  return app;
}
export type SupervisorApp = ReturnType<typeof build>;

/** Aborts when the caller's connection closes: a wait it abandoned holds nothing. */
function whileConnected(res: ServerResponse): { signal: AbortSignal; dispose: () => void } {
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  res.once('close', onClose);
  return { signal: gone.signal, dispose: () => res.off('close', onClose) };
}
