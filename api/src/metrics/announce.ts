// At start the API tells the supervisor it started (POST /api-starts), which counts it in
// the job store: the API keeps no state of its own, and its restarts must survive it. The
// supervisor may not be up yet (npm start, s6 restarting it): tried again every few
// seconds until it answers. One id per process: a retry whose answer was lost counts once.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../../common/logger.ts';
import type { SupervisorClient } from '../supervisor-client.ts';

const RETRY_MS = 2000;

/** Starts announcing; returns a function that stops trying (shutdown). */
export function announceStart(supervisor: Pick<SupervisorClient, 'apiStarted'>, logger: Logger, retryMs = RETRY_MS): () => void {
  const startId = randomUUID();
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const attempt = (): void => {
    supervisor.apiStarted(startId).then(
      ({ apiStarts }) => logger.debug({ apiStarts }, 'start counted by the supervisor'),
      () => {
        if (stopped) return;
        timer = setTimeout(attempt, retryMs);
        timer.unref();
      },
    );
  };
  attempt();
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
  };
}
