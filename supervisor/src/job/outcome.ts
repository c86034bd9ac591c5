// What a finished job comes to, decided purely from what was observed: the answer text,
// the error message in words and the error code callers can act on. Tested without
// processes.
import type { JobErrorCode, JobReason } from '../../../common/protocol.ts';
import type { StreamJsonOutcome } from '../claude/stream-json.ts';

/** The result event's text; else, for a CLI speaking stream-json (killed before its
 *  result), what the agent said so far; else stdout as it is (a plain-text CLI). */
export function answerText<T>(stream: StreamJsonOutcome, stdout: () => T): string | T {
  return stream.resultText ?? (stream.sawEvents ? stream.assistantText : stdout());
}

export interface FailureFacts {
  reason: JobReason | null;
  exitCode: number | null;
  signal: string | null;
  /** Set while the job ran (a spawn error, the memory ceiling): it wins. */
  errorMessage: string | null;
  stream: StreamJsonOutcome;
  stderrText: string;
  timeoutMs: number;
}

/** The job's error message and code once it has ended (both null for a success). */
export function failureOf(facts: FailureFacts): { errorMessage: string | null; errorCode: JobErrorCode | null } {
  let message = facts.errorMessage;
  if (facts.reason === 'exit' && message === null) {
    if (facts.stream.errorMessage !== null) message = facts.stream.errorMessage;
    else if (facts.exitCode !== 0) message = lastLine(facts.stderrText) ?? `Claude Code exited with ${facts.exitCode ?? facts.signal}`;
  }
  return { errorMessage: message ?? reasonMessage(facts.reason, facts.timeoutMs), errorCode: facts.stream.errorCode };
}

export function reasonMessage(reason: JobReason | null, timeoutMs: number): string | null {
  switch (reason) {
    case 'timeout':
      return `The command timed out after ${timeoutMs} ms`;
    case 'cancelled':
      return 'The job was cancelled';
    case 'shutdown':
      return 'The supervisor is shutting down';
    case 'interrupted':
      return 'The supervisor stopped (a crash, a kill or a power loss) while this job ran, and it did not finish; it will not run again for this Idempotency-Key';
    default:
      return null;
  }
}

/** The last non-empty line of a text, trimmed. */
export function lastLine(text: string): string | null {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.at(-1) ?? null;
}

/** The cgroup v1 limit: a kernel backstop above the sampled ceiling, so the kernel only
 *  catches a tree that grows faster than the sampler can follow. */
export function memoryBackstopBytes(memoryLimitBytes: number): number {
  return Math.floor(memoryLimitBytes * 1.5);
}

/** The peak to report: the sampler's, or the cgroup's where the kernel saw more. */
export function peakBytes(sampled: number, cgroupPeak: number | null): number {
  return cgroupPeak === null ? sampled : Math.max(sampled, cgroupPeak);
}
