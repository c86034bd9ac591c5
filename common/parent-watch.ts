// `npm start`'s launcher starts both services with AGENT_COCKPIT_LAUNCHER_PID set to its
// own pid. Whenever a service's parent is no longer that process (the launcher was
// SIGKILLed, crashed, or its terminal went away), the service shuts down as on SIGTERM:
// a service outliving its launcher would hold the port and the socket with no one to stop it.
import type { Env } from './env.ts';

const CHECK_MS = 500;

export function stopWithLauncher(env: Env, onGone: () => void, checkMs = CHECK_MS): void {
  const raw = env.AGENT_COCKPIT_LAUNCHER_PID;
  if (raw === undefined || !/^\d+$/.test(raw)) return;
  const launcher = Number(raw);
  const check = (): boolean => {
    if (process.ppid === launcher) return false;
    clearInterval(timer);
    onGone();
    return true;
  };
  const timer = setInterval(check, checkMs);
  timer.unref();
  check();
}
