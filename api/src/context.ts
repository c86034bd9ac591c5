// What the API's route modules share: the app's dependencies, built once per app (app.ts),
// and small helpers. Routes import this, never app.ts, so nothing imports in a circle.
import type { Logger } from '../../common/logger.ts';
import type { JobHubs } from './events/job-hub.ts';
import type { ImageIndex } from './images/image-index.ts';
import type { JobImages } from './job-images.ts';
import type { ShutdownState } from './shutdown.ts';
import type { SupervisorClient } from './supervisor-client.ts';
import type { SystemSampler } from './system-info.ts';

export interface AppDeps {
  logger: Logger;
  supervisor: SupervisorClient;
  images: ImageIndex;
  system: SystemSampler;
  shutdown: ShutdownState;
  /** Bearer token for every route but /health; undefined disables auth. */
  apiToken: string | undefined;
  bodyLimitBytes: number;
  /** Most images a POST /command may carry (MAX_INPUT_IMAGES); DEFAULT_MAX_INPUT_IMAGES when absent. */
  maxInputImages?: number;
  /** Longest a client may take to send a whole request, and its headers (not the answer). */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /** Most images one answer lists. */
  maxImagesPerAnswer: number;
  version: string;
  startedAtMs: number;
  /** A comment line this often keeps an event stream through proxies that cut idle connections. */
  eventsHeartbeatMs?: number;
  /** An event stream whose client leaves more than this unread is cut (it resumes with Last-Event-ID). */
  eventsMaxBufferedBytes?: number;
  /** Longest an event-stream client may stay over that bound before it is cut. */
  eventsStallMs?: number;
  /** Where GET /metrics is served (METRICS_PORT, METRICS_HOST); null or absent: off. For /status. */
  metrics?: { port: number; host: string } | null;
}

/** Everything the route modules need, built once per app. */
export interface RouteContext extends AppDeps {
  jobImages: JobImages;
  maxInputImages: number;
  eventsHeartbeatMs: number;
  eventsMaxBufferedBytes: number;
  eventsStallMs: number;
  eventHubs: JobHubs;
}

/** The path without the query string: the query never reaches logs. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

