// A job's events for one client (GET /jobs/:id/events, POST /command with Accept:
// text/event-stream): the job's hub (job-hub.ts) and a stream of it from after `after`
// (sse.ts). The supervisor keeps the events; so a late client, a resumed one
// (Last-Event-ID) and one after an API restart all get the same ids.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RouteContext } from '../context.ts';
import { SseClient } from './sse.ts';

/**
 * Stream the job's events after `after` to this reply. Throws before anything is written
 * (so the caller answers its usual JSON error) when the supervisor does not know the job
 * or cannot be reached; after that, the reply is the stream's.
 */
export async function streamJobEvents(ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, jobId: string, after: number, headers: Record<string, string> = {}): Promise<void> {
  const hub = await ctx.eventHubs.get(jobId);
  const startedMs = Date.now();
  reply.hijack();
  const client = new SseClient(
    reply.raw,
    hub.log,
    after,
    { heartbeatMs: ctx.eventsHeartbeatMs, maxBufferedBytes: ctx.eventsMaxBufferedBytes, stallMs: ctx.eventsStallMs },
    headers,
  );
  hub.attach(client);
  // Shutdown ends the streams (not the jobs): clients resume once the API is back.
  const onShutdown = (): void => client.close();
  ctx.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
  if (ctx.shutdown.closing) client.close();
  client.onClose(() => {
    ctx.shutdown.signal.removeEventListener('abort', onShutdown);
    request.log.info(
      {
        jobId,
        eventCount: client.sent,
        ended: client.ended,
        cut: client.wasCut,
        peakBufferedBytes: client.peakBufferedBytes,
        durationMs: Date.now() - startedMs,
        url: `/jobs/${jobId}/events`,
      },
      'events stream closed',
    );
  });
}
