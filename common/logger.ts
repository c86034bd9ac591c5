// One logger for both processes: pino JSON on stdout, pretty only when a person is
// watching a terminal. Field vocabulary (use these names, nothing else, for these facts):
//   servicePid (the logging process) jobId pid (the CLI) reason exitCode signal durationMs rssBytes peakRssBytes cpuPercent
//   processCount processesKilled leftoversKilled promptChars outputBytes truncated
//   socketPath port statusCode method url err
// The prompt text and secrets never appear at info level or above.
import pino, { type Logger } from 'pino';

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
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      level,
      base,
      redact,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ level, base, redact });
}
