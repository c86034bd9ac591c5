// Requests Node's HTTP parser rejects before Fastify sees them (a bad chunk size, both
// Content-Length and Transfer-Encoding, a NUL byte, an unknown method, headers over the
// limit, a client too slow to send its request): answered in the documented shape
// `{ error, message }` where the connection still allows an answer, then closed.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ERROR_STATUS, type ErrorCode } from './errors.ts';

type ClientError = Error & { code?: string };

const REASONS: Record<string, string> = {
  HPE_INVALID_CHUNK_SIZE: 'invalid chunk size',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'both Content-Length and Transfer-Encoding',
  HPE_INVALID_TRANSFER_ENCODING: 'invalid Transfer-Encoding',
  HPE_INVALID_CONTENT_LENGTH: 'invalid Content-Length',
  HPE_INVALID_METHOD: 'unknown method',
  HPE_INVALID_HEADER_TOKEN: 'invalid character in a header',
  HPE_INVALID_URL: 'invalid request target',
  HPE_INVALID_VERSION: 'invalid HTTP version',
  HPE_LF_EXPECTED: 'malformed line ending',
};

/** The answer for a parser-level error, or null when there is nothing to answer (a reset). Pure. */
export function clientErrorReply(err: ClientError): { code: ErrorCode; message: string } | null {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return null;
  if (err.code === 'HPE_HEADER_OVERFLOW') return { code: 'headers_too_large', message: 'The request headers are larger than the server accepts' };
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { code: 'request_timeout', message: 'The request was not received in time (REQUEST_TIMEOUT_MS, HEADERS_TIMEOUT_MS)' };
  const reason = (err.code !== undefined ? REASONS[err.code] : undefined) ?? 'malformed HTTP request';
  return { code: 'bad_request', message: `The request could not be parsed: ${reason}` };
}

/** Fastify's `clientErrorHandler`: Node's own behaviour (answer if nothing was sent yet, then close) with our body. */
export function answerClientError(this: FastifyInstance, err: ClientError, socket: Socket): void {
  const reply = clientErrorReply(err);
  const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (reply !== null && !socket.destroyed && socket.writable && inProgress?.headersSent !== true) {
    const status = ERROR_STATUS[reply.code];
    const body = JSON.stringify({ error: reply.code, message: reply.message });
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
    this.log.debug({ err, statusCode: status }, 'client error');
  }
  socket.destroy();
}
