// build(deps) -> the API's Fastify app, routes and hooks wired, never listening (main.ts
// listens; tests call inject). Every answer that is not a success is `{error, message}`.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { DEFAULT_MAX_INPUT_IMAGES } from '../../common/input-images.ts';
import { BASIC_CHALLENGE, BEARER_CHALLENGE, countHeader, credentialsMatch, crossSiteBasic, isBasic } from './auth.ts';
import { answerClientError } from './client-errors.ts';
import { errors, toErrorReply } from './errors.ts';
import { pathOf, type AppDeps, type RouteContext } from './context.ts';
import { JobHubs } from './events/job-hub.ts';
import { JobImages } from './job-images.ts';
import { prefersHtml } from './negotiation.ts';
import { openApi } from './openapi.ts';
import { errorResponses, healthAnswer } from './schemas.ts';
import { commandRoutes } from './routes/command.ts';
import { eventRoutes } from './routes/events.ts';
import { imageRoutes } from './routes/images.ts';
import { jobRoutes } from './routes/jobs.ts';
import { statusRoutes } from './routes/status.ts';

export type { AppDeps, RouteContext } from './context.ts';

/** Defaults of the event streams' settings (config.ts reads EVENTS_HEARTBEAT_MS). */
export const EVENTS_HEARTBEAT_MS = 15_000;
export const EVENTS_MAX_BUFFERED_BYTES = 256 * 1024;
export const EVENTS_STALL_MS = 30_000;

export function build(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One 'request' line per request comes from the onResponse hook below instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes,
    // New requests during shutdown get our own 503 body (hook below), not Fastify's.
    return503OnClosing: false,
    // Types are checked, never coerced: `{"text": 1}` is a 400, not the prompt "1".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    routerOptions: { maxParamLength: 1000 },
    // A client that trickles its request in is cut off (408 request_timeout); the answer
    // itself may take minutes (POST /command waits for the job), which these do not limit.
    requestTimeout: deps.requestTimeoutMs,
    // Only createServer takes these two; Fastify sets requestTimeout on the server itself.
    http: { headersTimeout: deps.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    clientErrorHandler: answerClientError,
    // Errors raised before routing (an undecodable URL) get the same body as any other.
    frameworkErrors: (err, _request, reply) => {
      const { statusCode, body } = toErrorReply(err);
      void (reply as FastifyReply).code(statusCode).send(body);
    },
  });
  const jobImages = new JobImages(deps.images, deps.maxImagesPerAnswer);
  const ctx: RouteContext = {
    ...deps,
    jobImages,
    maxInputImages: deps.maxInputImages ?? DEFAULT_MAX_INPUT_IMAGES,
    eventHubs: new JobHubs({ supervisor: deps.supervisor, jobImages, logger: deps.logger }),
    eventsHeartbeatMs: deps.eventsHeartbeatMs ?? EVENTS_HEARTBEAT_MS,
    eventsMaxBufferedBytes: deps.eventsMaxBufferedBytes ?? EVENTS_MAX_BUFFERED_BYTES,
    eventsStallMs: deps.eventsStallMs ?? EVENTS_STALL_MS,
  };

  app.addHook('onRequest', async (request) => {
    const path = pathOf(request.url);
    if (path === '/health') return;
    // Node keeps the first of several Authorization headers: a second, wrong one must not ride along.
    if (countHeader(request.raw.rawHeaders, 'authorization') > 1) throw errors.badRequest('More than one Authorization header');
    if (deps.apiToken !== undefined) {
      const authorization = request.headers.authorization;
      if (!credentialsMatch(deps.apiToken, authorization)) throw errors.unauthorized();
      if (isBasic(authorization) && crossSiteBasic(request.method, request.headers)) {
        throw errors.unauthorized("Basic credentials do not count for another site's requests (use a bearer token)");
      }
    }
    if (deps.shutdown.closing) throw errors.shuttingDown();
  });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: pathOf(request.url), statusCode: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 },
      'request',
    );
  });

  app.setErrorHandler(async (err, request, reply) => {
    const { statusCode, body } = toErrorReply(err);
    if (statusCode === 500 && body.error === 'internal_error') request.log.error({ err }, 'unexpected error');
    // A browser asking for a page is asked for Basic credentials (it prompts); programs keep Bearer.
    if (statusCode === 401) reply.header('www-authenticate', prefersHtml(request.headers.accept) ? BASIC_CHALLENGE : BEARER_CHALLENGE).header('vary', 'Accept');
    return reply.code(statusCode).send(body);
  });

  app.setNotFoundHandler(async (_request, reply) => {
    return reply.code(404).send({ error: 'not_found', message: 'No such route' });
  });

  // The document first, then the routes (a plugin, so they load after it and it sees them).
  openApi(app, deps.version);
  void app.register(async (routes) => {
    routes.get('/health', { schema: { summary: 'Liveness (no auth)', security: [], response: { 200: healthAnswer } } }, async () => ({ status: 'ok' as const }));
    routes.get('/openapi.json', { schema: { summary: 'This document', response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses() } } }, async () =>
      app.swagger(),
    );
    commandRoutes(routes, ctx);
    jobRoutes(routes, ctx);
    eventRoutes(routes, ctx);
    statusRoutes(routes, ctx);
    imageRoutes(routes, ctx);
  });
  return app;
}
