// The API process: config, logger, images watcher, supervisor client, listen, signals.
// Shutdown (SIGTERM/SIGINT): stop accepting, answer in-flight /command requests with 503
// shutting_down (the job itself is the supervisor's business), close, exit 0. A second
// signal, or the shutdown deadline passing, exits at once with status 1.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadOrExit } from '../../common/env.ts';
import { createLogger, exitAfterLogs } from '../../common/logger.ts';
import { stopWithLauncher } from '../../common/parent-watch.ts';
import { REPO_ROOT } from '../../common/repo-root.ts';
import { build } from './app.ts';
import { configWarnings, loadConfig } from './config.ts';
import { ImageIndex } from './images/image-index.ts';
import { announceStart } from './metrics/announce.ts';
import { ApiMetrics } from './metrics/registry.ts';
import { createMetricsServer } from './metrics/server.ts';
import { ShutdownState } from './shutdown.ts';
import { SupervisorClient } from './supervisor-client.ts';
import { protectedHardlinks, SystemSampler } from './system-info.ts';

const startedAtMs = Date.now();
const config = loadOrExit(() => loadConfig(process.env), 'api');
const logger = createLogger({ name: 'api', level: config.logLevel });
const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

if (protectedHardlinks() !== true) {
  logger.warn({}, 'fs.protected_hardlinks is not 1: an agent could hard-link a file it cannot read into IMAGES_DIR (GET /images still refuses hard links)');
}
for (const warning of configWarnings(config)) logger.warn(warning.fields, warning.msg);
const images = new ImageIndex({ dir: config.imagesDir, logger });
await images.start();
const shutdown = new ShutdownState();
const supervisor = new SupervisorClient({
  socketPath: config.supervisorSocket,
  timeoutMs: config.supervisorTimeoutMs,
  reconnectMs: config.supervisorReconnectMs,
});
const app = build({
  logger,
  supervisor,
  images,
  system: new SystemSampler(config.imagesDir, config.workspaceDir),
  shutdown,
  apiToken: config.apiToken,
  bodyLimitBytes: config.bodyLimitBytes,
  maxInputImages: config.maxInputImages,
  requestTimeoutMs: config.requestTimeoutMs,
  headersTimeoutMs: config.headersTimeoutMs,
  maxImagesPerAnswer: config.maxImagesPerAnswer,
  eventsHeartbeatMs: config.eventsHeartbeatMs,
  version,
  startedAtMs,
  metrics: config.metrics,
});
const stopAnnouncing = announceStart(supervisor, logger);
const metricsServer = config.metrics === null ? null : createMetricsServer({ metrics: new ApiMetrics({ images, startedAtMs }), supervisor, logger });

async function close(signal: string): Promise<void> {
  logger.info({ signal }, 'shutting down');
  shutdown.begin();
  const deadline = setTimeout(() => {
    logger.error({ durationMs: config.shutdownTimeoutMs }, 'shutdown deadline passed; exiting');
    exitAfterLogs(1, 100);
  }, config.shutdownTimeoutMs);
  deadline.unref();
  stopAnnouncing();
  metricsServer?.closeAllConnections();
  await Promise.all([app.close(), new Promise((resolve) => (metricsServer === null ? resolve(undefined) : metricsServer.close(resolve)))]);
  await images.close();
  supervisor.close();
  logger.info('api stopped');
  // The logs are written asynchronously (common/log-destination.ts): give stdout a moment.
  exitAfterLogs(0);
}

let signalled = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (signalled) {
      logger.warn({ signal }, 'second signal; exiting now');
      exitAfterLogs(1, 100);
      return;
    }
    signalled = true;
    close(signal).catch((err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      exitAfterLogs(1, 100);
    });
  });
}

try {
  await app.listen({ port: config.port, host: config.host });
} catch (err) {
  logger.fatal({ err, port: config.port }, 'cannot listen');
  exitAfterLogs(1);
  await new Promise(() => undefined); // exiting
}
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : config.port;
if (metricsServer !== null && config.metrics !== null) {
  const { port: metricsPort, host: metricsHost } = config.metrics;
  try {
    await new Promise<void>((resolve, reject) => {
      metricsServer.once('error', reject);
      metricsServer.listen(metricsPort, metricsHost, () => {
        metricsServer.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    logger.fatal({ err, port: metricsPort }, 'cannot listen');
    exitAfterLogs(1);
    await new Promise(() => undefined); // exiting
  }
  logger.info({ port: metricsPort, host: metricsHost, path: '/metrics' }, 'metrics listening');
} else {
  logger.info({ metrics: false }, 'metrics off: METRICS_PORT is unset');
}
logger.info({ port, host: config.host, socketPath: config.supervisorSocket, auth: config.apiToken !== undefined }, 'api listening');
stopWithLauncher(process.env, () => {
  logger.warn({}, 'the launcher (npm start) is gone: shutting down');
  process.kill(process.pid, 'SIGTERM');
});
