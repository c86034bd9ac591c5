// Shutdown as one small function (close-with-grace style): the first signal runs the
// close function under a deadline and exits 0; a second signal, or the deadline, exits
// at once with a non-zero code and says why.
import { constants } from 'node:os';
import { exitAfterLogs, type Logger } from '../../common/logger.ts';

export interface ShutdownOptions {
  signals: readonly NodeJS.Signals[];
  log: Logger;
  /** Ends the job, answers waiters, closes the socket. */
  close: (signal: NodeJS.Signals) => Promise<void>;
  /** Last resort before a forced exit: SIGKILL what is left, synchronously. */
  forceKill: () => number;
  /** Also called on the second signal, before forceKill: skip the grace period. */
  hurry: () => void;
  deadlineMs: number;
  /** Exits once the logs are out, waiting at most `logsMs` for stdout. */
  exit?: (code: number, logsMs: number) => void;
}

/** A clean exit waits this long at most for stdout to take the last log lines. */
export const EXIT_LOGS_MS = 500;
/** A forced exit (second signal, deadline) hardly waits. */
const FORCED_EXIT_LOGS_MS = 100;

export function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

export function installShutdown(options: ShutdownOptions): void {
  const exit = options.exit ?? exitAfterLogs;
  const { log } = options;
  let closing = false;

  const force = (why: string, code: number): void => {
    options.hurry();
    const killed = options.forceKill();
    log.error({ processesKilled: killed }, why);
    exit(code, FORCED_EXIT_LOGS_MS);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      force(`second signal (${signal}): exiting now`, exitCodeFor(signal));
      return;
    }
    closing = true;
    log.info({ signal }, 'shutdown');
    const deadline = setTimeout(() => force(`shutdown took longer than ${options.deadlineMs} ms: exiting now`, 1), options.deadlineMs);
    options.close(signal).then(
      () => {
        clearTimeout(deadline);
        log.info({ signal }, 'shutdown complete');
        exit(0, EXIT_LOGS_MS);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        log.error({ err }, 'error');
        force('shutdown failed: exiting now', 1);
      },
    );
  };
  for (const signal of options.signals) process.on(signal, onSignal);
}
