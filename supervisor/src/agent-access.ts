// At start, as the agent user and the way a job would start (through the reaper when
// there is one): can it run CLAUDE_BIN and work in WORKSPACE_DIR and IMAGES_DIR? A
// checkout under /root (0700) with AGENT_USER=agent otherwise failed every job with
// `spawn ... EACCES`; now the supervisor exits 1 at start, naming the path.
import type { SupervisorConfig } from './config.ts';
import { CliProcess } from './job/cli-process.ts';

const CHECK_TIMEOUT_MS = 5000;

/** `sh` as the agent: prints which of its arguments it cannot use, and exits 1. */
const CHECK_SCRIPT = [
  'bin=$(command -v -- "$1" 2>/dev/null) && [ -f "$bin" ] && [ -x "$bin" ] || { echo "CLAUDE_BIN $1 cannot be executed"; exit 1; }',
  'for v in WORKSPACE_DIR:"$2" IMAGES_DIR:"$3"; do d=${v#*:}',
  '  [ -d "$d" ] && [ -w "$d" ] && [ -x "$d" ] || { echo "${v%%:*} $d is not a folder it can write to"; exit 1; }',
  'done',
].join('\n');

/** Null when the agent can run the CLI and use its folders; else what it cannot, in words. */
export function checkAgentAccess(config: Readonly<SupervisorConfig>, reaperBin: string | null, tag: string): Promise<string | null> {
  const who = config.agentUser === null ? 'the supervisor\'s own user' : `AGENT_USER ${config.agentUser.name}`;
  return new Promise((resolve) => {
    let out = '';
    let settled = false;
    const finish = (problem: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void cli.release().then(() => resolve(problem));
    };
    const timer = setTimeout(() => finish(`the check as ${who} did not finish within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
    const cli = new CliProcess(
      {
        bin: '/bin/sh',
        args: ['-c', CHECK_SCRIPT, 'agent-access', config.claudeBin, config.workspaceDir, config.imagesDir],
        cwd: '/',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        agentUser: config.agentUser,
        reaperBin,
        tag,
      },
      {
        started: () => undefined,
        spawnFailed: (err) => finish(`cannot start a process as ${who}: ${err.message}`),
        ended: (end) => {
          // The output may still be on its way: wait for the pipe's end.
          const verdict = (): void => finish(end.exitCode === 0 ? null : `${out.trim() || `the check exited with ${end.signal ?? end.exitCode}`} as ${who}`);
          if (cli.stdout.readableEnded) verdict();
          else cli.stdout.once('end', verdict);
        },
        warning: () => undefined,
      },
    );
    cli.stdin.end();
    cli.stderr.resume();
    cli.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  });
}
