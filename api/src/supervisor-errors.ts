// Supervisor failures -> the API's public errors. Known protocol codes map to ours; any
// other 4xx code is forwarded unchanged (additive: a new supervisor code needs no edit).
import { errors, ForwardedError } from './errors.ts';
import { SupervisorError, SupervisorUnavailable } from './supervisor-client.ts';

/** `jobId`: the job the request was about, when one was started (the relay can look it up). */
export function fromSupervisor(err: unknown, jobId?: string): unknown {
  if (err instanceof SupervisorUnavailable) {
    return errors.supervisorUnavailable(`The supervisor is not reachable (${err.detail})`, jobId === undefined ? undefined : { jobId });
  }
  if (!(err instanceof SupervisorError)) return err;
  // Lower-cased: @fastify/error upper-cases codes unless the sender resets them.
  switch (err.code.toLowerCase()) {
    case 'busy':
      return errors.busy(undefined, typeof err.extra.jobId === 'string' ? { jobId: err.extra.jobId } : undefined);
    case 'bad_request':
      return errors.badRequest(err.message || undefined);
    case 'job_not_found':
      return errors.jobNotFound(err.message || undefined);
    case 'shutting_down':
      return errors.shuttingDown(err.message || undefined);
    default:
      if (err.statusCode >= 400 && err.statusCode < 500) return new ForwardedError(err.statusCode, err.code.toLowerCase(), err.message, err.extra);
      return errors.internal(`The supervisor failed (HTTP ${err.statusCode} ${err.code})`);
  }
}
