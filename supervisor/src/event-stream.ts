// GET /jobs/:id/events on the control socket: a job's events as NDJSON, one per line, the
// recorded ones after `after` and then, while the job runs, each as it is recorded, until
// `end` (common/events.ts). Nothing here waits on a reader: a new event that finds more
// than MAX_PENDING_BYTES unread on the connection cuts it instead (the API reconnects from
// its last event id), so a reader that stalls costs a bounded buffer and never slows the
// job. The API reads eagerly (it keeps its own copy for its clients), so only an API that
// is stuck is ever cut.
import type { FastifyReply } from 'fastify';
import type { BoundedEventLog } from '../../common/event-log.ts';
import type { Logger } from '../../common/logger.ts';

export const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export function streamEvents(reply: FastifyReply, log: BoundedEventLog, after: number, logger: Logger, jobId: string): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  let cursor = after;
  let done = false;
  const pump = (): void => {
    if (done) return;
    if (res.writableLength > MAX_PENDING_BYTES) {
      done = true;
      unsubscribe();
      logger.info({ jobId, pendingBytes: res.writableLength }, 'events reader cut: too far behind');
      res.destroy();
      return;
    }
    let chunk = '';
    for (let e = log.next(cursor); e !== null; e = log.next(cursor)) {
      chunk += `${e.frame}\n`;
      cursor = e.id;
    }
    if (log.ended) {
      done = true;
      unsubscribe();
      res.end(`${chunk}${log.end!}\n`);
    } else if (chunk !== '') res.write(chunk);
  };
  const unsubscribe = log.subscribe(pump);
  res.once('close', () => {
    done = true;
    unsubscribe();
  });
  pump();
}
