// The API's error registry. Codes are public API (the relay branches on them): never
// rename or reuse one. Every error body is `{ error: <code>, message, ...extra }`.
import createError, { type FastifyError } from '@fastify/error';
import { MAX_IMAGE_SIZE_WORDS } from '../../common/input-images.ts';

/** Code -> HTTP status, the one table the docs mirror. */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  job_not_found: 404,
  session_not_found: 404,
  timeout: 408,
  request_timeout: 408,
  busy: 409,
  cancelled: 409,
  payload_too_large: 413,
  max_turns: 422,
  budget_exceeded: 422,
  headers_too_large: 431,
  execution_error: 500,
  memory_limit: 500,
  interrupted: 500,
  internal_error: 500,
  shutting_down: 503,
  supervisor_unavailable: 503,
  store_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error the API answers with on purpose; `extra` fields are merged into the body. */
export interface ApiError extends FastifyError {
  code: ErrorCode;
  statusCode: number;
  extra?: Record<string, unknown>;
}

function define(code: ErrorCode, message: string) {
  // captureStackTrace off: these are answers, not bugs, and no stack ever reaches a client.
  const Ctor = createError(code, message, ERROR_STATUS[code], Error, false);
  return (detail?: string, extra?: Record<string, unknown>): ApiError => {
    const err = new Ctor() as ApiError;
    // @fastify/error upper-cases codes; ours are public and lower-case.
    err.code = code;
    if (detail !== undefined) err.message = detail;
    if (extra !== undefined) err.extra = extra;
    return err;
  };
}

export const errors = {
  badRequest: define('bad_request', 'Bad request'),
  unauthorized: define('unauthorized', 'Missing or wrong API token'),
  notFound: define('not_found', 'Not found'),
  jobNotFound: define('job_not_found', 'No job with that id'),
  busy: define('busy', 'A command is already in progress'),
  cancelled: define('cancelled', 'The command was cancelled'),
  payloadTooLarge: define('payload_too_large', 'Request body is too large'),
  internal: define('internal_error', 'Internal error'),
  shuttingDown: define('shutting_down', 'The service is shutting down'),
  supervisorUnavailable: define('supervisor_unavailable', 'The supervisor is not reachable'),
  storeUnavailable: define('store_unavailable', 'The job store cannot record new jobs'),
};

const CODES = new Set<string>(Object.keys(ERROR_STATUS));

/**
 * A client error the supervisor chose (a 4xx code this registry does not list, e.g. one a
 * later CLI feature adds) forwarded as it is, so new codes need no change here.
 */
export class ForwardedError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ForwardedError';
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof Error && typeof (err as ApiError).code === 'string' && CODES.has((err as ApiError).code);
}

export interface ErrorReply {
  statusCode: number;
  body: { error: string; message: string; [extra: string]: unknown };
}

/**
 * Any thrown thing -> the public answer. Framework errors (bad JSON, wrong content type,
 * body too large, bad URL encoding, schema validation) keep their status class but get
 * our codes; anything unexpected is a bare internal_error with no detail.
 */
export function toErrorReply(err: unknown): ErrorReply {
  if (isApiError(err)) {
    return { statusCode: err.statusCode, body: { error: err.code, message: err.message, ...err.extra } };
  }
  if (err instanceof ForwardedError) {
    return { statusCode: err.statusCode, body: { ...err.extra, error: err.code, message: err.message } };
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown; validationContext?: string };
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (fe.validation !== undefined) {
    const message = fe.validationContext === 'body' ? bodyValidationMessage(fe.validation, fe.message) : `Invalid request (${fe.message ?? 'invalid'})`;
    return { statusCode: 400, body: { error: 'bad_request', message } };
  }
  if (status === 413) return { statusCode: 413, body: { error: 'payload_too_large', message: 'Request body is too large' } };
  if (status === 415) return { statusCode: 400, body: { error: 'bad_request', message: 'Request body must be JSON (Content-Type: application/json)' } };
  if (status === 404) return { statusCode: 404, body: { error: 'not_found', message: 'Not found' } };
  if (status === 401) return { statusCode: 401, body: { error: 'unauthorized', message: 'Missing or wrong API token' } };
  if (status === 503) return { statusCode: 503, body: { error: 'shutting_down', message: 'The service is shutting down' } };
  if (status >= 400 && status < 500) {
    // Fastify's own messages for these (bad JSON, bad URL) are safe and useful.
    return { statusCode: 400, body: { error: 'bad_request', message: fe.message ?? 'Bad request' } };
  }
  return { statusCode: 500, body: { error: 'internal_error', message: 'Internal error' } };
}

interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/**
 * The sentence for a body that fails the schema, naming the field that failed (the first
 * issue's instancePath): `images[1].mediaType must be equal to one of the allowed values`.
 * The field's value is never repeated (it may be megabytes of base64).
 */
export function bodyValidationMessage(validation: unknown, fallback = 'invalid'): string {
  const issue: ValidationIssue | undefined = Array.isArray(validation) ? (validation[0] as ValidationIssue | undefined) : undefined;
  const parts = (issue?.instancePath ?? '').split('/').slice(1);
  const top = parts[0] ?? '';
  if (issue === undefined || top === '' || top === 'text') return `Request body must be a JSON object with a non-empty string 'text' field (${fallback})`;
  // `/images/1/data` -> `images[1].data`.
  const field = parts.map((p, i) => (i > 0 && /^\d+$/.test(p) ? `[${p}]` : i > 0 ? `.${p}` : p)).join('');
  if (top === 'images' && issue.keyword === 'maxLength' && parts[2] === 'data') {
    return `images[${parts[1]}]: the data is over the limit of ${MAX_IMAGE_SIZE_WORDS}`;
  }
  if (top === 'images' && issue.keyword === 'maxItems') return `images: at most ${String(issue.params?.limit)} images may be sent with a prompt`;
  const allowed = Array.isArray(issue.params?.allowedValues) ? ` (${issue.params.allowedValues.join(', ')})` : '';
  return `Request body field ${field} ${issue.message ?? 'is invalid'}${allowed}`;
}
