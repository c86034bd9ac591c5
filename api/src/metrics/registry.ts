// The API's own Prometheus metrics (prom-client, a registry of its own): Node's process
// metrics, its uptime, the images IMAGES_DIR holds (from the watcher's index, no scan),
// and whether the supervisor answered this scrape. The job figures are the supervisor's
// (supervisor/src/metrics.ts): server.ts appends its text to this registry's.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { EVENT_LOOP_PRECISION_MS } from '../../../common/metrics.ts';
import type { ImageIndex } from '../images/image-index.ts';

export const METRICS_PREFIX = 'agent_cockpit_api_';

export interface ApiMetricsSources {
  images: Pick<ImageIndex, 'stats'>;
  startedAtMs: number;
}

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly supervisorUp: Gauge;

  constructor(sources: ApiMetricsSources) {
    const registers = [this.registry];
    const name = (n: string): string => `${METRICS_PREFIX}${n}`;
    collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
    new Gauge({
      name: name('uptime_seconds'),
      help: 'Seconds since this API process started.',
      registers,
      collect() {
        this.set((Date.now() - sources.startedAtMs) / 1000);
      },
    });
    new Gauge({
      name: name('images_stored'),
      help: 'Image files in IMAGES_DIR, as the API\'s watcher lists them (at most its 10000 newest).',
      registers,
      collect() {
        this.set(sources.images.stats().count);
      },
    });
    new Gauge({
      name: name('images_bytes'),
      help: 'Bytes of the image files in IMAGES_DIR, as the API\'s watcher lists them.',
      registers,
      collect() {
        this.set(sources.images.stats().bytes);
      },
    });
    this.supervisorUp = new Gauge({
      name: name('supervisor_up'),
      help: "Whether the supervisor answered this scrape (1; its agent_cockpit_supervisor_ metrics follow) or not (0; they are missing).",
      registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** This registry's text, with supervisor_up saying whether the supervisor's text came along. */
  text(supervisorUp: boolean): Promise<string> {
    this.supervisorUp.set(supervisorUp ? 1 : 0);
    return this.registry.metrics();
  }
}
