// GET /jobs/:id/events on the control socket: a job's events as NDJSON, one per line, the
// recorded ones after `after` and then, while the job runs, each as it is recorded, until
// `end` (common/events.ts). Nothing here waits on a reader: a connection whose unread
// output passes MAX_PENDING_BYTES is cut (the API reconnects from its last event id), so a
// reader that stalls costs a bounded buffer and never slows the job.
import type { FastifyReply } from 'fastify';
import type { JobEvents } from './runner.ts';

export const MAX_PENDING_BYTES = 1024 * 1024;

export function streamEvents(reply: FastifyReply, events: JobEvents): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  // Each write flushes at once: an event is on the socket within the turn it was recorded.
  res.socket?.setNoDelay(true);
  if (events.lines.length > 0) res.write(`${events.lines.join('\n')}\n`);
  const log = events.follow;
  if (log === null) {
    res.end();
    return;
  }
  const unsubscribe = log.subscribe((line, last) => {
    res.write(`${line}\n`);
    if (last) res.end();
    else if (res.writableLength > MAX_PENDING_BYTES) {
      unsubscribe();
      res.destroy();
    }
  });
  res.once('close', unsubscribe);
}
