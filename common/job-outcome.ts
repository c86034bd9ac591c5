// What a finished job came to, in one word: `ok` or the API's error code for it. The API
// labels /status's recent jobs with it, and the supervisor's job counters carry it as a
// label (supervisor/src/metrics.ts), so both speak the same bounded vocabulary.
import type { JobView } from './protocol.ts';

/** Every outcome a finished job can have: a bounded set (metric label values). */
export const JOB_OUTCOMES = [
  'ok',
  'execution_error',
  'timeout',
  'memory_limit',
  'cancelled',
  'shutting_down',
  'interrupted',
  'session_not_found',
  'max_turns',
  'budget_exceeded',
] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** The outcome of a job (`running` while it runs). Pure. */
export function outcomeOf(view: Pick<JobView, 'state' | 'reason' | 'exitCode' | 'result' | 'errorCode'>): JobOutcome | 'running' {
  if (view.state === 'running') return 'running';
  if (view.errorCode === 'max_turns' || view.errorCode === 'budget_exceeded') return view.errorCode;
  if (view.reason === 'exit' && view.exitCode === 0 && view.result?.isError !== true) return 'ok';
  if (view.errorCode === 'session_not_found') return 'session_not_found';
  switch (view.reason) {
    case 'timeout':
      return 'timeout';
    case 'memory_limit':
      return 'memory_limit';
    case 'shutdown':
      return 'shutting_down';
    case 'cancelled':
      return 'cancelled';
    case 'interrupted':
      return 'interrupted';
    default:
      return 'execution_error';
  }
}
