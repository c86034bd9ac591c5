// A supervisor JobView -> the relay's HTTP answer. Pure: every (reason, exit, result)
// combination is decided here and tested without processes. The seed contract's fields
// come first; extra fields (jobId, truncated, sessionId...) only ever get added.
import type { JobView } from '../../common/protocol.ts';
import { ERROR_STATUS } from './errors.ts';

export interface JobReply {
  statusCode: number;
  body: Record<string, unknown>;
  /** What the job came to, for logs and /status: `ok` or the error code. */
  outcome: string;
}

/** How much of stderr goes into an execution_error message. */
const STDERR_MESSAGE_CHARS = 2000;

function stderrTail(view: JobView): string {
  const tail = view.stderrTail.trim();
  return tail.length > STDERR_MESSAGE_CHARS ? tail.slice(-STDERR_MESSAGE_CHARS) : tail;
}

/** Session facts from the CLI's result event, when it printed one (additive fields). */
function sessionFields(view: JobView): Record<string, unknown> {
  const r = view.result;
  if (r === null) return {};
  const out: Record<string, unknown> = {};
  if (r.sessionId !== null) out.sessionId = r.sessionId;
  if (r.costUsd !== null) out.costUsd = r.costUsd;
  if (r.numTurns !== null) out.numTurns = r.numTurns;
  return out;
}

function partialText(view: JobView): string | null {
  return view.text !== null && view.text !== '' ? view.text : null;
}

function failureMessage(view: JobView): string {
  if (view.errorMessage !== null && view.errorMessage !== '') return view.errorMessage;
  const tail = stderrTail(view);
  if (tail !== '') return tail;
  if (view.result?.isError === true) return partialText(view) ?? 'Claude Code reported an error';
  if (view.signal !== null) return `Claude Code was ended by ${view.signal}`;
  return `Claude Code exited with code ${view.exitCode ?? 'unknown'}`;
}

/** True when the job is a success in the seed contract's sense. */
export function isSuccess(view: JobView): boolean {
  return view.reason === 'exit' && view.exitCode === 0 && view.result?.isError !== true;
}

/** The error codes of a job that was stopped, or stopped itself, part way: each answers
 *  what the agent had said and made so far (and its session, where the CLI printed one). */
type PartialCode = 'timeout' | 'memory_limit' | 'shutting_down' | 'interrupted' | 'cancelled' | 'max_turns' | 'budget_exceeded';

/** The answer of a job that ended part way, with `code` (and `message` unless the view has one). */
function partialAnswer(
  code: PartialCode,
  message: string,
  view: JobView,
  parts: { images: string[]; more: Record<string, unknown>; durationMs: number; extra?: Record<string, unknown> },
): JobReply {
  return {
    statusCode: ERROR_STATUS[code],
    outcome: code,
    body: {
      error: code,
      message: view.errorMessage ?? message,
      text: partialText(view),
      images: parts.images,
      ...parts.more,
      ...parts.extra,
      durationMs: parts.durationMs,
      jobId: view.id,
      ...sessionFields(view),
    },
  };
}

/** The answer for a finished job (POST /command and GET /jobs/:id alike). */
export function finishedJobReply(view: JobView, images: string[], imagesTruncated = false): JobReply {
  const jobId = view.id;
  const durationMs = Math.round(view.durationMs);
  // Only the newest MAX_IMAGES_PER_ANSWER images are listed; the flag says more were made.
  const more = imagesTruncated ? { imagesTruncated: true } : {};
  const parts = { images, more, durationMs };
  // The job ran into the limit its request set (maxTurns, maxBudgetUsd): never a success,
  // whatever the exit code; its session lets the conversation go on.
  if (view.errorCode === 'max_turns') return partialAnswer('max_turns', 'The command reached its maximum number of turns', view, parts);
  if (view.errorCode === 'budget_exceeded') return partialAnswer('budget_exceeded', 'The command reached its budget', view, parts);
  if (isSuccess(view)) {
    return {
      statusCode: 200,
      outcome: 'ok',
      body: {
        text: view.text ?? '',
        images,
        ...more,
        exitCode: 0,
        durationMs,
        jobId,
        truncated: view.stdoutTruncated,
        ...sessionFields(view),
      },
    };
  }
  if (view.errorCode === 'session_not_found') {
    return {
      statusCode: ERROR_STATUS.session_not_found,
      outcome: 'session_not_found',
      body: { error: 'session_not_found', message: view.errorMessage ?? 'No conversation found with that sessionId', durationMs, jobId },
    };
  }
  switch (view.reason) {
    case 'timeout':
      return partialAnswer('timeout', `Command timed out after ${durationMs}ms`, view, parts);
    case 'memory_limit':
      return partialAnswer('memory_limit', 'Command exceeded the memory limit', view, { ...parts, extra: { peakRssBytes: view.peakRssBytes } });
    case 'shutdown':
      // A job stopped gently keeps its session: a follow-up can continue it.
      return partialAnswer('shutting_down', 'The service shut down while the command ran', view, parts);
    case 'interrupted':
      // The supervisor died (crash, SIGKILL, power loss) while the job ran. It never runs
      // again for this key; the agent may have changed files before it stopped.
      return partialAnswer('interrupted', 'The service restarted while the command ran; it did not finish', view, parts);
    case 'cancelled':
      // POST /jobs/:id/cancel (the user said "stop"): what the agent had said and made.
      return partialAnswer('cancelled', 'The command was cancelled', view, parts);
    default:
      // 'exit' (non-zero, by a signal, or an error result), 'spawn_error', or null.
      return {
        statusCode: ERROR_STATUS.execution_error,
        outcome: 'execution_error',
        body: {
          error: 'execution_error',
          message: failureMessage(view),
          exitCode: view.exitCode,
          text: partialText(view),
          durationMs,
          jobId,
          ...sessionFields(view),
        },
      };
  }
}

/** The answer for a job still running (GET /jobs/:id): 202 with its live state. */
export function runningJobReply(view: JobView, images: string[], imagesTruncated = false): JobReply {
  return {
    statusCode: 202,
    outcome: 'running',
    body: {
      state: 'running',
      jobId: view.id,
      startedAt: view.startedAt,
      durationMs: Math.round(view.durationMs),
      text: partialText(view),
      images,
      ...(imagesTruncated ? { imagesTruncated: true } : {}),
      progress: view.progress,
    },
  };
}

export function jobReply(view: JobView, images: string[], imagesTruncated = false): JobReply {
  return view.state === 'finished' ? finishedJobReply(view, images, imagesTruncated) : runningJobReply(view, images, imagesTruncated);
}

/** Outcome label for a job summary in /status (one module with the supervisor's metrics). */
export { outcomeOf } from '../../common/job-outcome.ts';
