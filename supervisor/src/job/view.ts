// A job as the protocol shows it (JobSummary for /status, JobView with its output for
// /jobs/:id), read from the job's record. No effects.
import type { JobSummary } from '../../../common/protocol.ts';
import type { HeldText, HeldView } from './answer-text.ts';
import type { Job } from './job.ts';

export function summaryOf(job: Job, now = Date.now()): JobSummary {
  const r = job.record;
  const finished = job.isFinished;
  return {
    id: job.id,
    state: finished ? 'finished' : 'running',
    idempotencyKey: job.idempotencyKey,
    pid: r.pid,
    promptChars: job.promptChars,
    startedAt: new Date(job.startedAtMs).toISOString(),
    endedAt: r.endedAtMs === null ? null : new Date(r.endedAtMs).toISOString(),
    durationMs: (r.endedAtMs ?? now) - job.startedAtMs,
    exitCode: r.exitCode,
    signal: r.signal,
    reason: finished ? job.reason : null,
    errorMessage: finished ? r.errorMessage : null,
    errorCode: r.errorCode,
    stdoutTruncated: job.output.stdoutTruncated,
    stderrTruncated: job.output.stderrTruncated,
    result: finished ? job.output.result : null,
    progress: { ...job.output.progress },
    cpuMs: r.cpuMs,
    cpuPercent: r.cpuPercent,
    rssBytes: finished ? 0 : r.rssBytes,
    peakRssBytes: r.peakRssBytes,
    processCount: finished ? 0 : r.processCount,
    peakProcessCount: r.peakProcessCount,
    processesKilled: r.processesKilled,
    leftoversKilled: r.leftoversKilled,
    images: finished ? r.images : [],
  };
}

export function heldViewOf(job: Job, now = Date.now()): HeldView {
  // A running job shows its text so far: a relay answered 503 at shutdown, or one that
  // polls GET /jobs/:id, still gets what the agent had said.
  const text = job.isFinished ? job.record.text : job.record.pid === null ? null : nonEmpty(job.output.heldText());
  return { ...summaryOf(job, now), text, stderrTail: job.output.stderrTail() };
}

function nonEmpty(text: HeldText): HeldText {
  return text === null || text.length === 0 ? null : text;
}
