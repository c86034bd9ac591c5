// The Claude Code CLI's command line for one job. The prompt is never an argument: it goes
// on stdin as the first stream-json user message (stream-json-input.ts), which also
// carries its images and, later, an interrupt. Nothing from the request reaches argv but a
// session id that is a UUID and the job's limits, as numbers.
import { SESSION_ID_PATTERN } from '../../../common/protocol.ts';
import type { StartJobRequest } from '../../../common/protocol.ts';
import type { JobLimits } from '../job/limits.ts';
import { imagesSystemPrompt } from './system-prompt.ts';

const SESSION_ID = new RegExp(SESSION_ID_PATTERN);

export interface CliArgsOptions {
  imagesDir: string;
  /** The Playwright CLI the agent is told to use; defaults to the installed one. */
  playwrightCli?: string;
}

export function isSessionId(value: string): boolean {
  return SESSION_ID.test(value);
}

/**
 * `-p` print mode; `--output-format stream-json` needs `--verbose` in print mode, and
 * `--input-format stream-json` needs both. `--resume <uuid>` / `--continue` find a session
 * only with the same cwd and config dir.
 */
export function buildCliArgs(
  request: Pick<StartJobRequest, 'sessionId' | 'continue'>,
  limits: JobLimits,
  options: CliArgsOptions,
): string[] {
  const args = ['-p', '--dangerously-skip-permissions', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose'];
  if (request.sessionId !== undefined) {
    // The protocol schema already checks this; argv gets no surprise either way.
    if (!isSessionId(request.sessionId)) throw new TypeError('sessionId must be a UUID');
    args.push('--resume', request.sessionId);
  } else if (request.continue === true) {
    args.push('--continue');
  }
  if (limits.maxTurns !== null) args.push('--max-turns', String(positive(limits.maxTurns, 'maxTurns')));
  if (limits.maxBudgetUsd !== null) args.push('--max-budget-usd', String(positive(limits.maxBudgetUsd, 'maxBudgetUsd')));
  args.push('--append-system-prompt', imagesSystemPrompt(options));
  return args;
}

/** A finite number above 0 (the schema checks it; argv gets no surprise either way). */
function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a number above 0`);
  return value;
}
