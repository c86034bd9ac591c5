// The supervisor process: config, logger, startup cleanup, the socket, signals.
import { chownSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadOrExit } from '../../common/env.ts';
import { createLogger, exitAfterLogs, type Logger } from '../../common/logger.ts';
import { stopWithLauncher } from '../../common/parent-watch.ts';
import { checkAgentAccess } from './agent-access.ts';
import { build } from './app.ts';
import { pruneImages } from './images-retention.ts';
import { budgetWarnings } from './job/limits.ts';
import { SupervisorMetrics } from './metrics.ts';
import { linkSystemChromium } from './claude/system-chromium.ts';
import { loadConfig, type SupervisorConfig } from './config.ts';
import { ownershipStatus, ownershipWarnings, type LayerName } from './ownership/layers.ts';
import { instanceTagFor } from './ownership/marker.ts';
import { sweepLeftovers } from './ownership/sweep.ts';
import { PID1_EXTRA_SIGNALS, pid1Warnings, zombieCount } from './pid1.ts';
import { detectLayers } from './probe-layers.ts';
import { JobRunner } from './runner.ts';
import { StartCounts } from './start-counts.ts';
import { notWritableWarning, openStoreAtStart } from './store/startup.ts';
import { installShutdown } from './shutdown.ts';
import { listenPrivately, prepareSocketPath, removeSocket, SocketInUseError, UnsafeSocketDirError } from './socket.ts';

const VERSION = '0.1.0';
/** Headroom beyond KILL_GRACE_MS for the SIGKILL rounds, draining pipes, closing the socket. */
const SHUTDOWN_SLACK_MS = 1500;
/** Retention runs after every job and at least this often. */
const MAINTAIN_INTERVAL_MS = 3600_000;

/** Directories the agent writes to: created if missing, and then owned by the agent user. */
function ensureAgentDir(path: string, config: Readonly<SupervisorConfig>, log: Logger): void {
  const created = mkdirSync(path, { recursive: true });
  const user = config.agentUser;
  if (user === null) return;
  if (created !== undefined) chownSync(path, user.uid, user.gid);
  else if (statSync(path).uid !== user.uid) log.warn({ path, agentUser: user.name }, 'directory exists and is not owned by the agent user');
}

/**
 * The CLI's environment: ours, plus PLAYWRIGHT_BROWSERS_PATH pointing the Playwright CLI at
 * the system Chromium when nobody set it (the image sets it; `npm start` on a machine does
 * not, and without it the agent's screenshot command fails with "Executable doesn't exist").
 */
async function screenshotEnv(config: Readonly<SupervisorConfig>, log: Logger): Promise<NodeJS.ProcessEnv> {
  if (process.env.PLAYWRIGHT_BROWSERS_PATH !== undefined) return process.env;
  const browsersPath = path.join(path.dirname(config.workspaceDir), 'ms-playwright');
  try {
    await linkSystemChromium(browsersPath);
    log.info({ path: browsersPath }, 'Playwright CLI linked to the system Chromium');
    return { ...process.env, PLAYWRIGHT_BROWSERS_PATH: browsersPath };
  } catch (err) {
    log.warn({ err }, 'no system Chromium: the agent cannot take screenshots');
    return process.env;
  }
}

async function main(): Promise<void> {
  const config = loadOrExit(() => loadConfig(process.env), 'supervisor');
  const log = createLogger({ name: 'supervisor', level: config.logLevel });
  const startedAt = Date.now();
  const isPid1 = process.pid === 1;
  const instanceTag = instanceTagFor(config.socketPath);

  try {
    if (await prepareSocketPath(config.socketPath, config.socketGid)) {
      log.warn({ socketPath: config.socketPath }, 'removed a stale socket');
    }
  } catch (err) {
    if (err instanceof SocketInUseError) {
      log.fatal({ socketPath: config.socketPath }, 'another supervisor is live on this socket: refusing to start');
    } else if (err instanceof UnsafeSocketDirError) {
      log.fatal({ socketPath: config.socketPath }, err.message);
    } else {
      log.fatal({ err, socketPath: config.socketPath }, 'cannot use the socket path');
    }
    exitAfterLogs(1);
    return;
  }
  ensureAgentDir(config.workspaceDir, config, log);
  ensureAgentDir(config.imagesDir, config, log);
  await pruneImages(config.imagesDir, config.imagesRetention, log);

  const { layers, missing } = await detectLayers(config, instanceTag, log);
  const ownership = ownershipStatus(layers);
  for (const [layer, why] of Object.entries(missing) as [LayerName, string][]) {
    log.warn({ layer }, `ownership layer ${layer} missing: ${why}`);
  }
  const access = await checkAgentAccess(config, layers.reaperBin, `${instanceTag}:access`);
  if (access !== null) {
    log.fatal({ agentUser: config.agentUser?.name ?? null }, `refusing to start: ${access}`);
    exitAfterLogs(1);
    return;
  }
  if (layers.cgroups !== null) log.info({ cgroup: layers.cgroups.kind, path: layers.cgroups.parentDir, cgroupJoin: layers.cgroups.join?.how ?? null }, 'per-job cgroups enabled');
  await sweepLeftovers(instanceTag, layers, log);
  // After the sweep: the jobs the last run left as running have no process left.
  const { store, warnings: storeWarnings, interrupted } = openStoreAtStart(config, log);

  const runner = new JobRunner({
    config,
    log,
    instanceTag,
    layers,
    env: await screenshotEnv(config, log),
    store,
    // Called at a job's end, long after `metrics` below exists.
    onJobFinished: (view) => metrics.jobFinished(view),
  });
  const metrics = new SupervisorMetrics({ running: () => runner.runningSummary(), startedAtMs: startedAt, storeWritable: () => store.isWritable });
  for (const job of interrupted) metrics.jobFinished(job);
  const starts = new StartCounts(store, (totals) => metrics.setStarts(totals));
  setInterval(() => runner.maintain(), MAINTAIN_INTERVAL_MS).unref();
  const limits = {
    timeoutMs: config.commandTimeoutMs,
    memoryLimitBytes: config.memoryLimitBytes,
    maxOutputBytes: config.maxOutputBytes,
    killGraceMs: config.killGraceMs,
    interruptGraceMs: Math.min(config.interruptGraceMs, config.killGraceMs),
    sampleIntervalMs: config.sampleIntervalMs,
    maxTurns: config.maxTurns,
    maxBudgetUsd: config.maxBudgetUsd,
  };
  const warnings = [
    ...pid1Warnings(isPid1, layers.reaperBin !== null),
    ...ownershipWarnings(layers),
    ...budgetWarnings(config.maxBudgetUsd, process.env),
  ];
  const app = build({
    runner,
    log,
    metrics,
    starts,
    status: () => ({
      pid: process.pid,
      pid1: isPid1,
      uptimeMs: Date.now() - startedAt,
      version: VERSION,
      zombies: isPid1 ? zombieCount() : 0,
      warnings: [...warnings, ...storeWarnings, ...(store.isWritable ? [] : [notWritableWarning(store.lastError)])],
      cgroup: { enabled: layers.cgroups !== null, path: layers.cgroups?.parentDir ?? null, kind: layers.cgroups?.kind ?? null, join: layers.cgroups?.join?.how ?? null },
      ownership,
      nextJob: runner.nextJob(),
      store: store.status(runner.unsavedCount),
      limits,
    }),
  });

  // The first job's launch (its cgroup, its reaper waiting in it) before the first request.
  runner.prepareNext();
  await listenPrivately(() => app.listen({ path: config.socketPath }), config.socketPath, config.socketGid);
  log.info(
    {
      socketPath: config.socketPath,
      limits,
      pid1: isPid1,
      agentUser: config.agentUser?.name ?? null,
      claudeBin: config.claudeBin,
      instanceTag,
      ownership,
      starts: starts.totals.supervisor,
    },
    'startup',
  );
  for (const w of warnings) log.warn({ pid1: isPid1 }, w);

  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', ...(isPid1 ? PID1_EXTRA_SIGNALS : [])];
  installShutdown({
    signals,
    log,
    deadlineMs: config.killGraceMs + SHUTDOWN_SLACK_MS,
    hurry: () => runner.hurry(),
    forceKill: () => {
      const n = runner.killNow();
      removeSocket(config.socketPath);
      return n;
    },
    close: async () => {
      await runner.shutdown();
      await app.close();
      store.close();
      removeSocket(config.socketPath);
    },
  });

  const crash = (err: unknown): void => {
    log.fatal({ err }, 'error');
    runner.killNow();
    removeSocket(config.socketPath);
    exitAfterLogs(1, 100);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  stopWithLauncher(process.env, () => {
    log.warn({}, 'the launcher (npm start) is gone: shutting down');
    process.kill(process.pid, 'SIGTERM');
  });
}

await main();
