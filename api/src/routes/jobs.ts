// GET /jobs/:id: a job's result (same mapping as POST /command) once it has finished, or
// 202 with its live state while it runs. For a relay whose connection broke, and for
// anyone after a restart: all job state lives in the supervisor's store.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../app.ts';
import { jobReply } from '../job-response.ts';
import { fromSupervisor } from '../supervisor-errors.ts';

const jobParamsSchema = {
  params: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
  },
} as const;

export function jobRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Params: { id: string } }>('/jobs/:id', { schema: jobParamsSchema }, async (request, reply) => {
    let view;
    try {
      view = await ctx.supervisor.getJob(request.params.id);
    } catch (err) {
      throw fromSupervisor(err, { jobId: request.params.id });
    }
    const images = ctx.jobImages.forJob(view);
    const answer = jobReply(view, images.urls, images.truncated);
    return reply.code(answer.statusCode).send(answer.body);
  });
}
