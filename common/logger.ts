// One logger for both processes: pino JSON on stdout (through log-destination.ts, which
// never lets stdout hold a process up), pretty only when a person is watching a terminal.
// Field vocabulary (use these names, nothing else, for these facts):
//   servicePid (the logging process) jobId pid (the CLI) reaperPid (a job's reaper) reason exitCode signal durationMs rssBytes peakRssBytes cpuPercent
//   processCount processesKilled leftoversKilled promptChars outputBytes truncated
//   socketPath port host statusCode method url err path layer (an ownership layer) agentUser
//   removedCount removedBytes (pruned images) droppedLines (logs stdout could not take)
// The prompt text and secrets never appear at info level or above.
import pino, { type Logger } from 'pino';
import { isatty } from 'node:tty';
import { prettyFactory } from 'pino-pretty';
import { LogDestination } from './log-destination.ts';

export type { Logger };

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Force pretty output on/off; default: pretty when stdout is a TTY. */
  pretty?: boolean;
  /** Write here instead of stdout (tests read the lines back as JSON). */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  // `pid` is the vocabulary's word for a job's CLI; the logging process is `servicePid`.
  const base = { name: options.name, servicePid: process.pid };
  const redact = {
    paths: ['req.headers.authorization', 'headers.authorization', 'prompt', 'env', '*.env'],
    censor: '[redacted]',
  };
  if (options.destination) return pino({ level, base, redact }, options.destination);
  // pino-pretty in this thread (no transport worker), through the same bounded writer.
  const pretty = options.pretty ?? isatty(1);
  const format = pretty ? prettyFactory({ colorize: true, translateTime: 'SYS:HH:MM:ss.l' }) : undefined;
  const destination = new LogDestination(1, format);
  destinations.push(destination);
  return pino({ level, base, redact }, destination);
}

const destinations: LogDestination[] = [];

/** Before process.exit(): let stdout take what is queued, but never wait past `deadlineMs`. */
export async function flushLogs(deadlineMs = 500): Promise<void> {
  await Promise.all(destinations.map((d) => d.flush(deadlineMs)));
}

/** Exit once the logs are out, or after `deadlineMs` if stdout will not take them. */
export function exitAfterLogs(code: number, deadlineMs = 500): void {
  void flushLogs(deadlineMs).then(() => process.exit(code));
}
