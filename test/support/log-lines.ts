// A child's stdout read as pino JSON lines, as they arrive. A line that is not JSON is
// kept as { text } so nothing printed is lost to a failing test's message.
import type { Readable } from 'node:stream';

export type LogLine = Record<string, unknown>;

/** Collects every line into the returned array; onLine sees each one as it comes. */
export function collectLogLines(stream: Readable, onLine?: (line: LogLine) => void): LogLine[] {
  const lines: LogLine[] = [];
  let partial = '';
  stream.setEncoding('utf8').on('data', (s: string) => {
    partial += s;
    const complete = partial.split('\n');
    partial = complete.pop()!;
    for (const text of complete) {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { text };
      }
      lines.push(line);
      onLine?.(line);
    }
  });
  return lines;
}
