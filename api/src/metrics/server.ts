// GET /metrics on METRICS_PORT: a listener of its own (plain node:http), never the
// relay's port. It answers the API's registry and the supervisor's text, fetched over the
// control socket at each scrape: one endpoint for both processes. A supervisor that does
// not answer within SUPERVISOR_TIMEOUT_MS leaves the API's figures with supervisor_up 0,
// never an error. Anything but GET /metrics is a 404.
import http from 'node:http';
import type { Logger } from '../../../common/logger.ts';
import { tidyExposition } from '../../../common/metrics.ts';
import { pathOf } from '../context.ts';
import type { SupervisorClient } from '../supervisor-client.ts';
import type { ApiMetrics } from './registry.ts';

export const METRICS_PATH = '/metrics';

export interface MetricsServerDeps {
  metrics: ApiMetrics;
  supervisor: Pick<SupervisorClient, 'metrics'>;
  logger: Logger;
}

/**
 * Both processes' metrics as one exposition text: the API's, then the supervisor's (their
 * prefixes keep the names apart), tidied (common/metrics.ts): every line a comment or a sample.
 */
export async function scrape(deps: Pick<MetricsServerDeps, 'metrics' | 'supervisor'>): Promise<string> {
  const supervisor = await deps.supervisor.metrics().catch(() => null);
  const own = await deps.metrics.text(supervisor !== null);
  const lines = [...tidyExposition(own), ...tidyExposition(supervisor ?? '')];
  return `${lines.join('\n')}\n`;
}

export function createMetricsServer(deps: MetricsServerDeps): http.Server {
  // Scrapes at the same moment share one: one call to the supervisor, one consistent supervisor_up.
  let inFlight: Promise<string> | null = null;
  const shared = (): Promise<string> =>
    (inFlight ??= scrape(deps).finally(() => {
      inFlight = null;
    }));
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || pathOf(request.url ?? '') !== METRICS_PATH) {
      response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: 'not_found', message: 'No such route' }));
      return;
    }
    shared().then(
      (text) => response.writeHead(200, { 'content-type': deps.metrics.contentType }).end(text),
      (err: unknown) => {
        deps.logger.error({ err }, 'metrics failed');
        response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: 'internal_error', message: 'Internal error' }));
      },
    );
  });
  // A scraper that trickles its request in is cut off, as on the relay's port.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return server;
}
