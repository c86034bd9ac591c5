// The per-job marker: AGENT_COCKPIT_JOB=<instanceTag>:<jobId> in the CLI's environment.
// Everything the agent starts inherits it, including setsid'd double-fork escapees that
// no parent/child walk can find (FINDINGS). The instance tag is a hash of the socket
// path, so supervisors on different sockets (parallel tests) never touch each other's
// processes, and a restarted supervisor on the same socket recognises its predecessor's.
import { createHash, randomBytes } from 'node:crypto';

export const MARKER_VAR = 'AGENT_COCKPIT_JOB';

export function instanceTagFor(socketPath: string): string {
  return createHash('sha256').update(socketPath).digest('hex').slice(0, 12);
}

/** The marker's value for one job. */
export function markerValue(instanceTag: string, jobId: string): string {
  return `${instanceTag}:${jobId}`;
}

/** The exact environ entry of one job. */
export function jobMarkerEntry(instanceTag: string, jobId: string): Buffer {
  return Buffer.from(`${MARKER_VAR}=${markerValue(instanceTag, jobId)}`);
}

/** The environ entry prefix shared by every job of one supervisor instance. */
export function instanceMarkerPrefix(instanceTag: string): Buffer {
  return Buffer.from(`${MARKER_VAR}=${instanceTag}:`);
}

/** Short, sortable, unguessable enough to not collide: time in base 36 + 4 random bytes.
 *  The time is when the job's launch was made (job/launch.ts), ahead of its request. */
export function newJobId(now = Date.now()): string {
  return `${now.toString(36)}-${randomBytes(4).toString('hex')}`;
}
