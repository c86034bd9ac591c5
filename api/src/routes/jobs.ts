// GET /jobs/:id: a job's result (same mapping as POST /command) once it has finished, or
// 202 with its live state while it runs; `?waitMs=N` long-polls: it answers as soon as the
// job ends, or with its live state after N ms (at most 60,000). POST /jobs/:id/cancel ends
// a running job (reason `cancelled`) and answers once its whole tree is gone, with the
// job's final answer; for a finished job it is that job's answer, so a second cancel is
// harmless. All job state lives in the supervisor's store.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { MAX_WAIT_MS, type JobView } from '../../../common/protocol.ts';
import type { RouteContext } from '../context.ts';
import { errors } from '../errors.ts';
import { jobReply } from '../job-response.ts';
import { errorResponses, getJobQuery, JOB_OUTCOME_ERRORS, jobIdParams, runningAnswer, successAnswer } from '../schemas.ts';
import { fromSupervisor } from '../supervisor-errors.ts';
import { WaitAborted } from '../supervisor-client.ts';

export const getJobSchema = {
  summary: "A job's result, or its live state while it runs (202); ?waitMs long-polls",
  params: jobIdParams,
  // A string checked by pattern: types are never coerced (config ajv), and `?waitMs=`
  // or `?waitMs=1e3` is a 400, not a silent 0.
  querystring: getJobQuery,
  response: {
    200: successAnswer,
    202: runningAnswer,
    ...errorResponses('job_not_found', 'supervisor_unavailable', ...JOB_OUTCOME_ERRORS),
  },
} as const;

export const cancelJobSchema = {
  summary: 'Stop a running job; answers once its whole tree is gone, with its final answer',
  params: jobIdParams,
  response: { 200: successAnswer, ...errorResponses('job_not_found', 'supervisor_unavailable', ...JOB_OUTCOME_ERRORS) },
} as const;

function send(ctx: RouteContext, reply: FastifyReply, view: JobView): FastifyReply {
  const images = ctx.jobImages.forJob(view);
  const answer = jobReply(view, images.urls, images.truncated);
  return reply.code(answer.statusCode).send(answer.body);
}

export function jobRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Params: { id: string }; Querystring: { waitMs?: string } }>('/jobs/:id', { schema: getJobSchema }, async (request, reply) => {
    const jobId = request.params.id;
    const waitMs = request.query.waitMs === undefined ? 0 : Number(request.query.waitMs);
    if (waitMs > MAX_WAIT_MS) throw errors.badRequest(`waitMs must be at most ${MAX_WAIT_MS}`);
    let view: JobView;
    try {
      view = await ctx.supervisor.getJob(jobId);
      if (view.state === 'running' && waitMs > 0) view = await longPoll(ctx, reply, jobId, waitMs);
    } catch (err) {
      if (err instanceof WaitAborted) return reply;
      throw fromSupervisor(err, { jobId });
    }
    return send(ctx, reply, view);
  });

  app.post<{ Params: { id: string } }>('/jobs/:id/cancel', { schema: cancelJobSchema }, async (request, reply) => {
    const jobId = request.params.id;
    let view: JobView;
    try {
      view = await ctx.supervisor.cancelJob(jobId);
    } catch (err) {
      throw fromSupervisor(err, { jobId });
    }
    request.log.info({ jobId, reason: view.reason }, 'cancel done');
    return send(ctx, reply, view);
  });
}

/** Wait up to waitMs for the job's end; a client that goes away (or shutdown) ends the wait. */
async function longPoll(ctx: RouteContext, reply: FastifyReply, jobId: string, waitMs: number): Promise<JobView> {
  const gone = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableFinished) gone.abort();
  };
  const onShutdown = (): void => gone.abort();
  reply.raw.once('close', onClose);
  ctx.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
  try {
    return await ctx.supervisor.waitOnce(jobId, waitMs, gone.signal);
  } catch (err) {
    // Shutdown: answer the job as it is now rather than nothing.
    if (err instanceof WaitAborted && ctx.shutdown.closing) return ctx.supervisor.getJob(jobId);
    throw err;
  } finally {
    reply.raw.off('close', onClose);
    ctx.shutdown.signal.removeEventListener('abort', onShutdown);
  }
}
