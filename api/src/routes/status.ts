// GET /status: one look for an operator. Built from the supervisor's /status (one quick
// socket call), the images index in memory and the cached system sample: no per-request
// scan, no secrets, no environment, no prompt text. The same body answers as JSON, or,
// for an Accept that prefers text/html, rendered as the status page (../status-page/).
import type { FastifyInstance } from 'fastify';
import type { JobSummary, SupervisorStatus } from '../../../common/protocol.ts';
import type { RouteContext } from '../context.ts';
import { errorResponses, jsonOrHtml, statusAnswer, statusHeaders } from '../schemas.ts';
import { prefersHtml } from '../negotiation.ts';
import { newNonce, pageHeaders } from '../status-page/csp.ts';
import { ICON_HEADERS, ICON_PATH, ICON_SVG } from '../status-page/icon.ts';
import { renderStatusPage } from '../status-page/page.ts';
import { outcomeOf } from '../job-response.ts';
import type { SystemInfo } from '../system-info.ts';
import type { ImageEntry } from '../images/image-index.ts';
import { imageUrl } from '../images/names.ts';

export interface StatusInput {
  /** `metrics`: where GET /metrics is served (METRICS_PORT), null when it is off. */
  api: { pid: number; uptimeMs: number; version: string; metrics?: { host: string; port: number } | null };
  supervisor: SupervisorStatus | null;
  system: SystemInfo;
  images: { dir: string; count: number; bytes: number; capped: boolean };
  /** The files written last in IMAGES_DIR, newest first (the page's thumbnails). */
  latestImages: readonly ImageEntry[];
  imagesOf: (job: JobSummary) => string[];
}

/** How many of the newest images /status lists. */
export const LATEST_IMAGES = 8;

/** The /status body. Pure: tests feed it a supervisor status and check the shape. */
export function statusBody(input: StatusInput) {
  const s = input.supervisor;
  const job = s?.job ?? null;
  return {
    api: { ...input.api, metrics: input.api.metrics ?? null },
    supervisor:
      s === null
        ? { reachable: false, pid: null, pid1: null, uptimeMs: null, version: null, shuttingDown: null, warnings: [], zombies: null, cgroup: null, ownership: null, nextJob: null, store: null }
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
            nextJob: s.nextJob,
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
      costUsd: j.result?.costUsd ?? null,
    })),
    limits: s?.limits ?? null,
    system: input.system,
    images: { ...input.images, latest: input.latestImages.map((e) => ({ url: imageUrl(e.name), name: e.name, modifiedAt: new Date(e.mtimeMs).toISOString() })) },
  };
}

/** What GET /status answers, as JSON or as the page. */
export type StatusBody = ReturnType<typeof statusBody>;

const PAGE =
  'The status page: one self-contained HTML document (inline style and script under a per-response CSP nonce, nothing from elsewhere) that keeps itself current from the running job\'s events and GET /status.';

export function statusRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Headers: { accept?: string } }>(
    '/status',
    {
      schema: {
        summary: 'For operators: supervisor, running job, recent jobs, limits, machine; as a page for a browser',
        headers: statusHeaders,
        response: { 200: jsonOrHtml(statusAnswer, PAGE), ...errorResponses() },
      },
    },
    async (request, reply) => {
      const [supervisor, system] = await Promise.all([ctx.supervisor.status().catch(() => null), ctx.system.get()]);
      const body = statusBody({
        api: { pid: process.pid, uptimeMs: Date.now() - ctx.startedAtMs, version: ctx.version, metrics: ctx.metrics ?? null },
        supervisor,
        system,
        images: ctx.images.stats(),
        latestImages: ctx.images.newest(LATEST_IMAGES),
        imagesOf: (j) => ctx.jobImages.forJob(j).urls,
      });
      // The same URL answers two representations: caches must key on Accept.
      void reply.header('vary', 'Accept');
      if (!prefersHtml(request.headers.accept)) return body;
      const nonce = newNonce();
      return reply.headers(pageHeaders(nonce)).send(renderStatusPage(body, nonce));
    },
  );
  app.get(
    ICON_PATH,
    { schema: { summary: "The status page's icon (SVG)", response: { 200: { description: 'An SVG image', content: { 'image/svg+xml': { schema: { type: 'string' } } } }, ...errorResponses() } } },
    async (_request, reply) => reply.headers(ICON_HEADERS).send(ICON_SVG),
  );
}
