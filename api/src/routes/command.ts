// POST /command: start a job in the supervisor (or find the one an Idempotency-Key already
// started), wait for its end over the long-poll route, answer with the seed contract.
// Two other ways to be answered, for relays behind proxies that cut a silent request:
// `Accept: text/event-stream` streams the job's events (routes/events.ts) and ends with
// the same answer in `end`; `Prefer: respond-async` answers 202 at once with the URLs of
// the job's events, result and cancel. Both honour Idempotency-Key the same way.
// The job belongs to the supervisor: a relay that disconnects, or this process dying,
// does not stop it; GET /jobs/:id or a retry with the same key picks up its result.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { checkInputImages } from '../images/input-check.ts';
import type { JobView, StartJobRequest } from '../../../common/protocol.ts';
import type { RouteContext } from '../context.ts';
import { errors } from '../errors.ts';
import { streamJobEvents } from '../events/job-events.ts';
import { finishedJobReply } from '../job-response.ts';
import { acceptsExactly, prefers } from '../negotiation.ts';
import { acceptedAnswer, commandBody, commandHeaders, errorResponses, JOB_OUTCOME_ERRORS, jsonOrEventStream, successAnswer, type AcceptedAnswer, type CommandBody } from '../schemas.ts';
import { fromSupervisor } from '../supervisor-errors.ts';
import { SupervisorError, WaitAborted } from '../supervisor-client.ts';

/** On shutdown, how long an in-flight request still waits for its job to end. */
const SHUTDOWN_SETTLE_MS = 1000;

const commandSchema = {
  summary: 'Run a prompt: answer with its result, or stream its events, or answer 202 at once',
  body: commandBody,
  headers: commandHeaders,
  response: {
    200: jsonOrEventStream(successAnswer),
    202: acceptedAnswer,
    ...errorResponses('busy', 'job_not_found', 'supervisor_unavailable', 'store_unavailable', ...JOB_OUTCOME_ERRORS),
  },
} as const;

/** The URLs a relay follows a job by. */
export function jobLinks(jobId: string): { eventsUrl: string; resultUrl: string; cancelUrl: string } {
  const base = `/jobs/${encodeURIComponent(jobId)}`;
  return { eventsUrl: `${base}/events`, resultUrl: base, cancelUrl: `${base}/cancel` };
}

/** Abort when shutdown begins or the client goes away, whichever comes first. */
function waitSignal(ctx: RouteContext, reply: FastifyReply): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onShutdown = (): void => controller.abort();
  const onClose = (): void => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  ctx.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
  reply.raw.on('close', onClose);
  if (ctx.shutdown.closing) controller.abort();
  return {
    signal: controller.signal,
    dispose: () => {
      ctx.shutdown.signal.removeEventListener('abort', onShutdown);
      reply.raw.off('close', onClose);
    },
  };
}

export function commandRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Body: CommandBody; Headers: { 'idempotency-key'?: string; prefer?: string; accept?: string } }>('/command', { schema: commandSchema }, async (request, reply) => {
    const { text, sessionId, images: inputImages, maxTurns, maxBudgetUsd } = request.body;
    // Images are checked here, before the supervisor hears of the job: a bad one runs nothing.
    const imageProblem = checkInputImages(inputImages ?? [], ctx.maxInputImages);
    if (imageProblem !== null) throw errors.badRequest(imageProblem.message);
    // Every start carries a key: the relay's, or one of ours, which a 503 hands back, so a
    // retry with it can never run the prompt twice.
    const key = request.headers['idempotency-key'] ?? `api-${randomUUID()}`;
    const start: Omit<StartJobRequest, 'deadlineMs'> = { prompt: text, idempotencyKey: key };
    if (sessionId !== undefined) start.sessionId = sessionId;
    if (request.body.continue !== undefined) start.continue = request.body.continue;
    if (inputImages !== undefined && inputImages.length > 0) start.images = inputImages;
    if (maxTurns !== undefined) start.maxTurns = maxTurns;
    if (maxBudgetUsd !== undefined) start.maxBudgetUsd = maxBudgetUsd;

    const received = (jobId: string): void => {
      request.log.info({ jobId, promptChars: text.length, imageCount: inputImages?.length ?? 0 }, 'command received');
    };
    const respondAsync = prefers(request.headers.prefer, 'respond-async');
    if (respondAsync || acceptsExactly(request.headers.accept, 'text/event-stream')) {
      let job: JobView;
      try {
        job = await ctx.supervisor.startJob(start);
      } catch (err) {
        throw fromSupervisor(err, { idempotencyKey: key });
      }
      const jobId = job.id;
      received(jobId);
      if (respondAsync) {
        const accepted: AcceptedAnswer = { jobId, state: job.state, idempotencyKey: key, ...jobLinks(jobId) };
        void reply.header('preference-applied', 'respond-async').header('location', accepted.resultUrl);
        return reply.code(202).send(accepted);
      }
      try {
        await streamJobEvents(ctx, request, reply, jobId, 0, { location: jobLinks(jobId).resultUrl });
      } catch (err) {
        if (reply.sent) throw err;
        throw fromSupervisor(err, { jobId });
      }
      return reply;
    }

    // The answer waits for the job: started and waited for in one call to the supervisor,
    // then (a job longer than one wait slice, or a supervisor restarting) long polls.
    let finished: JobView;
    let jobId: string;
    let end: Promise<JobView>;
    const wait = waitSignal(ctx, reply);
    try {
      ({ jobId, end } = await ctx.supervisor.startWaiting(start, wait.signal));
    } catch (err) {
      wait.dispose();
      throw fromSupervisor(err, { idempotencyKey: key });
    }
    received(jobId);
    try {
      finished = await ctx.supervisor.waitForEnd(jobId, wait.signal, end);
    } catch (err) {
      if (err instanceof SupervisorError && err.code.toLowerCase() === 'job_not_found') {
        // Only when the store was replaced (a corrupt file moved aside) while it ran.
        throw errors.supervisorUnavailable('The supervisor lost this job (its job store was replaced)', { jobId });
      }
      if (!(err instanceof WaitAborted)) throw fromSupervisor(err, { jobId });
      if (!ctx.shutdown.closing) {
        // The relay hung up; the job runs on and its result stays fetchable.
        // Nobody reads this answer; it only completes the request's lifecycle.
        request.log.info({ jobId }, 'client went away; job continues');
        return reply.code(202).send({ jobId, state: 'running', idempotencyKey: key, ...jobLinks(jobId) } satisfies AcceptedAnswer);
      }
      // Shutting down. When the supervisor is stopping too it ends the job now: give it
      // a moment, so the answer carries the job's own end (and its partial text).
      const last = await ctx.supervisor.waitOnce(jobId, SHUTDOWN_SETTLE_MS).catch(() => null);
      if (last?.state === 'finished') {
        finished = last;
      } else {
        request.log.info({ jobId, reason: 'shutdown', statusCode: 503 }, 'command done');
        throw errors.shuttingDown('The API is shutting down; fetch the result with GET /jobs/:id or retry with the same Idempotency-Key', {
          text: last?.text ?? null,
          jobId,
        });
      }
    } finally {
      wait.dispose();
    }
    const images = ctx.jobImages.forJob(finished);
    const answer = finishedJobReply(finished, images.urls, images.truncated);
    request.log.info({ jobId, reason: finished.reason, exitCode: finished.exitCode, statusCode: answer.statusCode }, 'command done');
    return reply.code(answer.statusCode).send(answer.body);
  });
}
