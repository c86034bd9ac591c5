// GET /jobs/:id/events: a job's events as Server-Sent Events, from its start (or after
// Last-Event-ID) to `end`; a finished job's stream replays them and ends. A client that
// resumes after `end` gets 204, which tells an EventSource to stop reconnecting.
import type { FastifyInstance } from 'fastify';
import { END_EVENT_ID, parseEventId } from '../../../common/events.ts';
import type { RouteContext } from '../context.ts';
import { errors } from '../errors.ts';
import { streamJobEvents } from '../events/job-events.ts';
import { errorResponses, eventsHeaders, eventStreamOnly, jobIdParams } from '../schemas.ts';
import { fromSupervisor } from '../supervisor-errors.ts';

export const eventsRouteSchema = {
  summary: "A job's events as Server-Sent Events, from its start (or after Last-Event-ID) to `end`",
  params: jobIdParams,
  headers: eventsHeaders,
  response: {
    200: eventStreamOnly,
    204: { type: 'null', description: 'Last-Event-ID was `end`: nothing more (an EventSource stops reconnecting)' },
    ...errorResponses('job_not_found', 'supervisor_unavailable'),
  },
} as const;

export function eventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Params: { id: string }; Headers: { 'last-event-id'?: string } }>('/jobs/:id/events', { schema: eventsRouteSchema }, async (request, reply) => {
    const after = parseEventId(request.headers['last-event-id']);
    if (after === null) throw errors.badRequest(`Last-Event-ID must be an event id (a number, or ${END_EVENT_ID})`);
    const jobId = request.params.id;
    if (after === END_EVENT_ID) {
      // Only a job that exists has had an end.
      await ctx.supervisor.getJob(jobId).catch((err: unknown) => {
        throw fromSupervisor(err, { jobId });
      });
      return reply.code(204).send();
    }
    try {
      await streamJobEvents(ctx, request, reply, jobId, after);
    } catch (err) {
      if (reply.sent) throw err;
      throw fromSupervisor(err, { jobId });
    }
    return reply;
  });
}
