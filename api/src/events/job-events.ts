// A job's events for a client (GET /jobs/:id/events, POST /command with Accept:
// text/event-stream): the supervisor's stream (common/events.ts) relayed as Server-Sent
// Events, with `image` given its URL and `end` carrying the status and the very body that
// POST /command answers for the job. The supervisor keeps the events; this process keeps
// only a connection per client, so a late client, a resumed one (Last-Event-ID) and one
// after an API restart all get the same ids. A supervisor that restarts mid-stream is
// waited for (SUPERVISOR_RECONNECT_MS) and the stream resumes from the last event sent.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StreamedEvent } from '../../../common/events.ts';
import type { RouteContext } from '../context.ts';
import { imageUrl } from '../images/names.ts';
import { finishedJobReply } from '../job-response.ts';
import { SupervisorUnavailable, type UpstreamEvents } from '../supervisor-client.ts';
import { SseWriter } from './sse.ts';

const RECONNECT_PAUSE_MS = 200;

/** A supervisor event as the client gets it. */
export function clientEvent(event: StreamedEvent, ctx: Pick<RouteContext, 'jobImages'>): { id: string; event: string; data: unknown } {
  const id = String(event.id);
  switch (event.type) {
    case 'image':
      return { id, event: 'image', data: { name: event.data.name, url: imageUrl(event.data.name) } };
    case 'end': {
      const images = ctx.jobImages.forJob(event.data.job);
      const answer = finishedJobReply(event.data.job, images.urls, images.truncated);
      return { id, event: 'end', data: { status: answer.statusCode, body: answer.body } };
    }
    default:
      return { id, event: event.type, data: event.data };
  }
}

/**
 * Relay the events after `after` to this reply as SSE. Throws (before anything is written,
 * so the caller answers its usual JSON error) when the supervisor does not know the job
 * or cannot be reached; after that, the reply is the stream's.
 */
export async function streamJobEvents(ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, jobId: string, after: number, headers: Record<string, string> = {}): Promise<void> {
  const startedMs = Date.now();
  let lastId = after;
  let sent = 0;
  let writer: SseWriter | null = null;
  const early: StreamedEvent[] = [];
  const onEvent = (event: StreamedEvent): void => {
    if (writer === null) {
      early.push(event);
      return;
    }
    forward(writer, event);
  };
  const forward = (w: SseWriter, event: StreamedEvent): void => {
    const e = clientEvent(event, ctx);
    w.send(e.id, e.event, e.data);
    sent += 1;
    if (typeof event.id === 'number') lastId = event.id;
    if (event.type === 'end') w.end();
  };

  let upstream: UpstreamEvents = await ctx.supervisor.openEvents(jobId, after, onEvent);
  reply.hijack();
  const w = new SseWriter(reply.raw, { heartbeatMs: ctx.eventsHeartbeatMs, maxBufferedBytes: ctx.eventsMaxBufferedBytes }, headers);
  writer = w;
  for (const event of early.splice(0)) forward(w, event);
  const onShutdown = (): void => w.end();
  ctx.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
  w.onClose(() => upstream.close());

  let ended = false;
  for (;;) {
    ended = await upstream.done;
    if (ended || w.closed) break;
    // Cut without `end`: the supervisor went away (s6 restarts it) or dropped us.
    const next = await reconnect(ctx, jobId, () => lastId, onEvent, () => w.closed);
    if (next === null) break;
    upstream = next;
    if (w.closed) upstream.close();
  }
  ctx.shutdown.signal.removeEventListener('abort', onShutdown);
  w.end();
  request.log.info(
    { jobId, eventCount: sent, ended, cut: w.wasCut, durationMs: Date.now() - startedMs, url: `/jobs/${jobId}/events` },
    'events stream closed',
  );
}

async function reconnect(
  ctx: RouteContext,
  jobId: string,
  lastId: () => number,
  onEvent: (event: StreamedEvent) => void,
  gone: () => boolean,
): Promise<UpstreamEvents | null> {
  const deadline = Date.now() + ctx.supervisor.reconnectWindowMs;
  while (!gone() && Date.now() < deadline) {
    try {
      return await ctx.supervisor.openEvents(jobId, lastId(), onEvent);
    } catch (err) {
      if (!(err instanceof SupervisorUnavailable)) return null;
      await new Promise((r) => setTimeout(r, RECONNECT_PAUSE_MS));
    }
  }
  return null;
}
