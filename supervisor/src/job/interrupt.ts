// The gentle part of a stop (cancel, timeout, shutdown): ask the CLI to end its turn on
// stdin, wait for its result event, close stdin and let it exit by itself, all within one
// budget of time (INTERRUPT_GRACE_MS, never more than KILL_GRACE_MS). What is left after
// that is the tree kill's (ownership/terminate.ts). A second shutdown signal cuts it short.
import type { CliInput } from './cli-input.ts';

export interface InterruptParties {
  input: CliInput;
  /** Resolves when the CLI's result event has been read. */
  resultRead: Promise<void>;
  /** Has it been? */
  answered: () => boolean;
  /** Resolves when the CLI has exited (or failed to start). */
  exited: Promise<void>;
  waitMs: number;
  abort: AbortSignal;
}

export interface InterruptOutcome {
  /** The interrupt was written (stdin was open). */
  sent: boolean;
  /** The CLI printed its result in time. */
  answered: boolean;
  durationMs: number;
}

export async function interruptCli(p: InterruptParties): Promise<InterruptOutcome> {
  const startedMs = Date.now();
  if (p.waitMs <= 0 || p.abort.aborted || !p.input.interrupt()) {
    p.input.close();
    return { sent: false, answered: p.answered(), durationMs: 0 };
  }
  const deadline = startedMs + p.waitMs;
  const aborted = new Promise<void>((resolve) => p.abort.addEventListener('abort', () => resolve(), { once: true }));
  await withTimeout(Promise.race([p.resultRead, p.exited, aborted]), p.waitMs);
  const answered = p.answered();
  // With its result out the CLI exits once stdin closes: 2.1.332 in 20-50 ms after a
  // streamed answer, 0.1-1.5 s after an interrupted Bash tool (2.1.197: ~25 ms).
  p.input.close();
  if (answered) await withTimeout(Promise.race([p.exited, aborted]), deadline - Date.now());
  return { sent: true, answered, durationMs: Date.now() - startedMs };
}

/** Wait for `promise`, at most `ms` (at once when `ms` <= 0). */
export async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  if (ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
