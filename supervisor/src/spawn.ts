// Starting the CLI: argv array (no shell), its own session, the agent user's identity,
// an environment without the service's secrets, and the prompt on stdin.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { Env } from '../../common/env.ts';
import { MARKER_VAR } from './marker.ts';
import type { UserEntry } from './users.ts';

/** Never passed to the CLI: the API's bearer token and the supervisor's own settings. */
const SECRET_VARS = new Set(['API_TOKEN']);
const OWN_PREFIXES = ['SUPERVISOR_'];

export function buildChildEnv(parent: Env, agentUser: UserEntry | null, markerValue: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(parent)) {
    if (value === undefined || SECRET_VARS.has(key) || key === MARKER_VAR) continue;
    if (OWN_PREFIXES.some((p) => key.startsWith(p))) continue;
    env[key] = value;
  }
  if (agentUser !== null) {
    env.HOME = agentUser.home;
    env.USER = agentUser.name;
    env.LOGNAME = agentUser.name;
  }
  env[MARKER_VAR] = markerValue;
  return env;
}

export interface SpawnCliOptions {
  bin: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  agentUser: UserEntry | null;
}

export type CliProcess = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * Spawn the CLI in its own session (detached): a signal to the supervisor's process
 * group (Ctrl-C, an init signalling the group) must not reach the CLI behind our back;
 * we end its tree ourselves. ENOENT/EACCES arrive later as the child's 'error' event.
 */
export function spawnCli(options: SpawnCliOptions): CliProcess {
  return spawn(options.bin, options.args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.agentUser !== null ? { uid: options.agentUser.uid, gid: options.agentUser.gid } : {}),
  });
}

/** Harmless stdin errors: the CLI exited (or closed stdin) without reading the prompt. */
export function isHarmlessStdinError(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' || err.code === 'ECONNRESET';
}

/** Write the prompt and close stdin. The stream buffers what the pipe cannot take yet
 *  (backpressure is handled by the stream; a 5 MB prompt arrives whole). */
export function writePrompt(stdin: Writable, prompt: string, onError: (err: NodeJS.ErrnoException) => void): void {
  stdin.on('error', (err: NodeJS.ErrnoException) => {
    if (!isHarmlessStdinError(err)) onError(err);
  });
  stdin.end(prompt, 'utf8');
}
