// One job as an HTTP answer (a start, GET /jobs/:id, its wait, a cancel). The view is
// serialized by the route's response schema, as every answer is; a large text
// (job/answer-text.ts) is streamed into that JSON a piece at a time, each escaped on its
// own and written with the socket's backpressure, so that no JSON string of the whole
// text is ever made (docs/benchmarks.md, 5). Small texts, nearly every answer, are sent
// whole by Fastify as before.
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { Logger } from '../../common/logger.ts';
import type { JobView } from '../../common/protocol.ts';
import type { JobAnswer } from './job/answer-text.ts';

/** Stands in for the text while the view is serialized; cannot occur in a job's fields. */
const TEXT_MARK = '\u0000answer-text\u0000';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Send a job with `status` (a code the route has a response schema for). */
export async function sendAnswer(reply: FastifyReply, status: number, answer: JobAnswer, log: Logger, headers: Record<string, string> = {}): Promise<void> {
  if (answer.pieces === null) {
    await reply.code(status).headers(headers).send(answer.view);
    return;
  }
  void reply.hijack();
  reply.raw.writeHead(status, { 'content-type': JSON_CONTENT_TYPE, ...headers });
  await endAnswer(reply, status, answer, log);
}

/**
 * Write a job as the body of an answer whose head has gone out (reply hijacked), and end
 * it. A text piece that cannot be read (the store failed, its job was pruned meanwhile)
 * cuts the connection: the caller sees no valid JSON, never a wrong text.
 */
export async function endAnswer(reply: FastifyReply, status: number, answer: JobAnswer, log: Logger): Promise<void> {
  const res = reply.raw;
  if (answer.pieces === null) {
    if (!res.destroyed) res.end(serialize(reply, answer.view, status));
    return;
  }
  const json = serialize(reply, { ...answer.view, text: TEXT_MARK }, status);
  const mark = JSON.stringify(TEXT_MARK);
  const at = json.indexOf(mark);
  try {
    res.write(json.slice(0, at + 1)); // up to the text's opening quote
    for (const piece of answer.pieces) {
      if (res.destroyed) return;
      if (!res.write(JSON.stringify(piece).slice(1, -1))) await drained(res);
    }
    if (!res.destroyed) res.end(json.slice(at + mark.length - 1)); // from its closing quote
  } catch (err) {
    log.error({ jobId: answer.view.id, err }, 'error');
    res.destroy();
  }
}

/** As the route's response schema for `status` serializes it (what reply.send() does). */
function serialize(reply: FastifyReply, view: JobView, status: number): string {
  return reply.serializeInput(view, String(status)) as string;
}

/** Resolves once the socket takes more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
