// Supervisor failures -> the API's public errors. Known protocol codes map to ours; any
// other 4xx code is forwarded unchanged (additive: a new supervisor code needs no edit).
import { errors, ForwardedError } from './errors.ts';
import { SupervisorError, SupervisorUnavailable } from './supervisor-client.ts';

/**
 * `extra`: what the relay needs to pick up: `jobId` when a job was started, the
 * `idempotencyKey` a start used (a retry with it can never run the prompt twice).
 */
export function fromSupervisor(err: unknown, extra?: { jobId?: string; idempotencyKey?: string }): unknown {
  const more = extra === undefined || Object.keys(extra).length === 0 ? undefined : extra;
  if (err instanceof SupervisorUnavailable) {
    return errors.supervisorUnavailable(`The supervisor is not reachable (${err.detail})`, more);
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
      return errors.shuttingDown(err.message || undefined, more);
    case 'store_unavailable':
      return errors.storeUnavailable(err.message || undefined, more);
    case 'deadline_exceeded':
      // Only seen when this process waited past its own deadline: nothing ran.
      return errors.supervisorUnavailable('The supervisor answered too late; the command was not started', more);
    default:
      if (err.statusCode >= 400 && err.statusCode < 500) return new ForwardedError(err.statusCode, err.code.toLowerCase(), err.message, err.extra);
      return errors.internal(`The supervisor failed (HTTP ${err.statusCode} ${err.code})`);
  }
}
