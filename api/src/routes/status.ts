// GET /status: one look for an operator. Built from the supervisor's /status (one quick
// socket call), the images index in memory and the cached system sample: no per-request
// scan, no secrets, no environment, no prompt text.
import type { FastifyInstance } from 'fastify';
import type { JobSummary, SupervisorStatus } from '../../../common/protocol.ts';
import type { RouteContext } from '../context.ts';
import { errorResponses, statusAnswer } from '../schemas.ts';
import { outcomeOf } from '../job-response.ts';
import type { SystemInfo } from '../system-info.ts';

export interface StatusInput {
  api: { pid: number; uptimeMs: number; version: string };
  supervisor: SupervisorStatus | null;
  system: SystemInfo;
  images: { dir: string; count: number; bytes: number; capped: boolean };
  imagesOf: (job: JobSummary) => string[];
}

/** The /status body. Pure: tests feed it a supervisor status and check the shape. */
export function statusBody(input: StatusInput): Record<string, unknown> {
  const s = input.supervisor;
  const job = s?.job ?? null;
  return {
    api: input.api,
    supervisor:
      s === null
        ? { reachable: false, pid: null, pid1: null, uptimeMs: null, version: null, shuttingDown: null, warnings: [], zombies: null, cgroup: null, ownership: null, store: null }
        : {
            reachable: true,
            pid: s.pid,
            pid1: s.pid1,
            uptimeMs: Math.round(s.uptimeMs),
            version: s.version,
            shuttingDown: s.shuttingDown,
            warnings: s.warnings,
            zombies: s.zombies,
            cgroup: s.cgroup,
            ownership: s.ownership,
            store: s.store,
          },
    job:
      job === null
        ? null
        : {
            id: job.id,
            pid: job.pid,
            startedAt: job.startedAt,
            elapsedMs: Math.round(job.durationMs),
            cpuPercent: job.cpuPercent,
            rssBytes: job.rssBytes,
            peakRssBytes: job.peakRssBytes,
            processCount: job.processCount,
            promptChars: job.promptChars,
            progress: job.progress,
            images: input.imagesOf(job),
          },
    recentJobs: (s?.recentJobs ?? []).map((j) => ({
      id: j.id,
      startedAt: j.startedAt,
      durationMs: Math.round(j.durationMs),
      outcome: outcomeOf(j),
      exitCode: j.exitCode,
      peakRssBytes: j.peakRssBytes,
      images: input.imagesOf(j),
      leftoversKilled: j.leftoversKilled,
    })),
    limits: s?.limits ?? null,
    system: input.system,
    images: input.images,
  };
}

export function statusRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/status', { schema: { summary: 'For operators: supervisor, running job, recent jobs, limits, machine', response: { 200: statusAnswer, ...errorResponses() } } }, async () => {
    const [supervisor, system] = await Promise.all([ctx.supervisor.status().catch(() => null), ctx.system.get()]);
    return statusBody({
      api: { pid: process.pid, uptimeMs: Date.now() - ctx.startedAtMs, version: ctx.version },
      supervisor,
      system,
      images: ctx.images.stats(),
      imagesOf: (j) => ctx.jobImages.forJob(j).urls,
    });
  });
}
