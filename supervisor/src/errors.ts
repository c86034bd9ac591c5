// The supervisor's error codes: public API of the socket protocol (the API process maps
// them to its own answers). Every error body is { error: <code>, message } plus the
// documented extras (busy: jobId). Codes are never reused for another meaning.
import createError from '@fastify/error';

export const BadRequest = createError('bad_request', '%s', 400);
/** A job is already running; the body also carries its `jobId`. */
export const Busy = createError('busy', 'A job is already running (%s)', 409);
export const JobNotFound = createError('job_not_found', 'No job with id %s', 404);
export const ShuttingDown = createError('shutting_down', 'The supervisor is shutting down', 503);
export const NotFound = createError('not_found', 'No route %s %s', 404);
export const Internal = createError('internal_error', 'Internal error', 500);
/** The job store cannot record a new job (read-only, full disk, corrupt and not replaced). */
export const StoreUnavailable = createError('store_unavailable', 'The job store is not available (%s)', 503);
/** A start read after the caller's deadline (`deadlineMs`): it was refused and never runs. */
export const DeadlineExceeded = createError('deadline_exceeded', 'The start request arrived after its deadline; the job was not started', 503);

/** Codes this process answers with, for the docs and tests. */
export const ERROR_CODES = [
  'bad_request',
  'busy',
  'job_not_found',
  'shutting_down',
  'not_found',
  'internal_error',
  'store_unavailable',
  'deadline_exceeded',
] as const;
