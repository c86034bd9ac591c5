// `npm start`: both processes on one machine, the way s6 runs them in the image.
// The supervisor first; the API once the supervisor's socket answers GET /health.
// SIGTERM/SIGINT are forwarded once to both; if either dies on its own, the other gets
// SIGTERM and we exit 1; after a signal-driven shutdown where both exit 0, we exit 0. If
// this launcher dies however it dies (SIGKILL too), both services notice and stop.
//
// The children run in their own process groups (detached): a signal sent to our whole
// group (Ctrl-C in a terminal, `kill -TERM -PGID`) reaches only us, and each child gets
// exactly one SIGTERM from us, since a second signal means "exit now" to both of them.
//
// `npm start` runs this bundled (dist/start.mjs, by scripts/build.mjs) and it starts the
// bundles dist/supervisor.mjs and dist/api.mjs under plain node; run as TypeScript
// (`node --import tsx scripts/start.ts`), it starts the .ts sources through tsx.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { loadOrExit, readInt } from '../common/env.ts';
import { SERVICE_NODE_FLAGS, withServiceEnv } from '../common/node-flags.ts';
import { REPO_ROOT as ROOT, RUNNING_BUILT } from '../common/repo-root.ts';
import { loadConfig } from '../api/src/config.ts';
import { SupervisorClient } from '../api/src/supervisor-client.ts';

const STARTUP_TIMEOUT_MS = 30_000;

// Validate the API's settings before starting anything (a bad HOST or API_TOKEN exits 1 here);
// the supervisor checks its own, the Claude credentials among them, and exits 1 on its own.
const apiConfig = loadOrExit(() => loadConfig(process.env), 'start');
const killGraceMs = loadOrExit(() => readInt(process.env, 'KILL_GRACE_MS', 5000, 0, 300_000), 'start');

interface Managed {
  name: string;
  child: ChildProcess;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
}

const children: Managed[] = [];
let stopping = false;
let failed = false;

function say(message: string): void {
  process.stderr.write(`start: ${message}\n`);
}

/** node's argv for one service: its bundle when we run bundled, else its .ts through tsx. */
function serviceArgv(name: 'supervisor' | 'api'): string[] {
  if (RUNNING_BUILT) return [...SERVICE_NODE_FLAGS, path.join(ROOT, 'dist', `${name}.mjs`)];
  return ['--import', 'tsx', path.join(ROOT, name, 'src', 'main.ts')];
}

/** Never in a service's environment that does not need it: the supervisor has no use for
 *  the API's token, the API none for the Claude credentials (only the CLI does). */
const NOT_FOR: Record<'supervisor' | 'api', readonly string[]> = {
  supervisor: ['API_TOKEN'],
  api: ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_AUTH_TOKEN'],
};

function serviceEnv(name: 'supervisor' | 'api'): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...withServiceEnv(process.env), AGENT_COCKPIT_LAUNCHER_PID: String(process.pid) };
  for (const key of NOT_FOR[name]) delete env[key];
  return env;
}

function launch(name: 'supervisor' | 'api'): Managed {
  const child = spawn(process.execPath, serviceArgv(name), {
    cwd: ROOT,
    // Each service stops by itself when this launcher is gone (common/parent-watch.ts).
    env: serviceEnv(name),
    stdio: 'inherit',
    detached: true,
  });
  const managed: Managed = { name, child, exit: null };
  children.push(managed);
  child.on('error', (err) => {
    say(`${name} could not start: ${err.message}`);
    managed.exit ??= { code: null, signal: null };
    onExit(managed);
  });
  child.on('exit', (code, signal) => {
    managed.exit = { code, signal };
    onExit(managed);
  });
  return managed;
}

function signalAll(signal: NodeJS.Signals): void {
  for (const m of children) {
    if (m.exit === null) {
      try {
        m.child.kill(signal);
      } catch {
        // already gone
      }
    }
  }
}

function onExit(m: Managed): void {
  const how = m.exit?.signal ? `signal ${m.exit.signal}` : `code ${m.exit?.code ?? 'unknown'}`;
  if (!stopping) {
    say(`${m.name} exited unexpectedly (${how}); stopping the rest`);
    failed = true;
    beginStop('SIGTERM');
  } else if (m.exit?.code !== 0) {
    say(`${m.name} exited with ${how}`);
    failed = true;
  }
  if (children.every((c) => c.exit !== null)) {
    say(`stopped (exit ${failed ? 1 : 0})`);
    process.exit(failed ? 1 : 0);
  }
}

function beginStop(signal: NodeJS.Signals): void {
  stopping = true;
  signalAll(signal);
  // Both children bound their own shutdown; this only catches one that hangs anyway.
  const deadline = setTimeout(() => {
    say('children still running after the shutdown deadline; killing them');
    signalAll('SIGKILL');
    process.exit(1);
  }, killGraceMs + 10_000);
  deadline.unref();
}

// Under `npm start`, one `kill -TERM -PGID` reaches us twice: directly, and forwarded by
// npm. Repeats within this window are that echo, not an operator insisting.
const SIGNAL_ECHO_MS = 1000;
let firstSignalAt: number | null = null;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (firstSignalAt === null) {
      firstSignalAt = Date.now();
      say(`${signal}: stopping the api and the supervisor`);
      beginStop('SIGTERM');
    } else if (Date.now() - firstSignalAt > SIGNAL_ECHO_MS) {
      // A second signal: pass it on; the children treat it as "exit now".
      say(`${signal} again: telling the api and the supervisor to exit now`);
      signalAll('SIGTERM');
    }
    if (children.length === 0) process.exit(0);
  });
}

async function waitForSupervisor(client: SupervisorClient, sup: Managed): Promise<boolean> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (stopping || sup.exit !== null) return false;
    try {
      await client.health();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return false;
}

const supervisor = launch('supervisor');
const client = new SupervisorClient({ socketPath: apiConfig.supervisorSocket, timeoutMs: 500 });
if (await waitForSupervisor(client, supervisor)) {
  if (!stopping) launch('api');
} else if (!stopping) {
  say(`the supervisor did not answer on ${apiConfig.supervisorSocket} within ${STARTUP_TIMEOUT_MS} ms`);
  failed = true;
  beginStop('SIGTERM');
}
