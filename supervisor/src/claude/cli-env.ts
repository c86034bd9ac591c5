// The CLI's environment: the supervisor's own minus its secrets and settings, the agent
// user's HOME/USER/LOGNAME, the job's marker, and the flags that keep the CLI quiet.
import type { Env } from '../../../common/env.ts';
import { MARKER_VAR } from '../ownership/marker.ts';
import type { UserEntry } from '../users.ts';

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

/**
 * Variables the CLI should run with, on top of the job's environment: no auto-update, no
 * telemetry or error reporting, no non-essential traffic (each checked against the CLI's
 * docs and binary, 2.1.197). A value the operator set in the environment wins.
 */
export const CLI_ENV_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  DISABLE_AUTOUPDATER: '1',
  DISABLE_TELEMETRY: '1',
  DISABLE_ERROR_REPORTING: '1',
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
});

export function cliEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const [key, value] of Object.entries(CLI_ENV_DEFAULTS)) env[key] ??= value;
  return env;
}
