// The Claude Code CLI's command line and environment for one job. The prompt is never an
// argument: it goes on stdin (`claude -p` reads it there; `-p -` would take "-" as prompt
// text). Nothing from the request reaches argv but a session id that is a UUID.
import { SESSION_ID_PATTERN } from '../../../common/protocol.ts';
import type { StartJobRequest } from '../../../common/protocol.ts';
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
 * `-p` print mode; `--output-format stream-json` needs `--verbose` in print mode.
 * `--resume <uuid>` / `--continue` find a session only with the same cwd and config dir.
 */
export function buildCliArgs(request: Pick<StartJobRequest, 'sessionId' | 'continue'>, options: CliArgsOptions): string[] {
  const args = ['-p', '--dangerously-skip-permissions', '--output-format', 'stream-json', '--verbose'];
  if (request.sessionId !== undefined) {
    // The protocol schema already checks this; argv gets no surprise either way.
    if (!isSessionId(request.sessionId)) throw new TypeError('sessionId must be a UUID');
    args.push('--resume', request.sessionId);
  } else if (request.continue === true) {
    args.push('--continue');
  }
  args.push('--append-system-prompt', imagesSystemPrompt(options));
  return args;
}
