// The Claude Code CLI's command line for one job. The prompt is never an argument: it
// goes on stdin (`claude -p` reads it there; `-p -` would take "-" as prompt text).
import type { StartJobRequest } from '../../../common/protocol.ts';
import { imagesSystemPrompt } from './system-prompt.ts';

export interface CliArgsOptions {
  imagesDir: string;
}

export function buildCliArgs(request: Pick<StartJobRequest, 'sessionId' | 'continue'>, options: CliArgsOptions): string[] {
  const args = ['-p', '--dangerously-skip-permissions', '--output-format', 'stream-json', '--verbose'];
  if (request.sessionId !== undefined) args.push('--resume', request.sessionId);
  else if (request.continue === true) args.push('--continue');
  args.push('--append-system-prompt', imagesSystemPrompt(options.imagesDir));
  return args;
}
