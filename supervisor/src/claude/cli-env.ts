// The CLI's environment is an allow-list: what the CLI needs, and nothing else the service
// happened to have. Everything the agent runs inherits it, so `NODE_ENV=production` would
// break the agent's `npm install` of dev dependencies and `PORT`/`HOST` would steer its
// own dev server onto the API's port. docs/claude-cli.md lists what passes and why.
import type { Env } from '../../../common/env.ts';
import { MARKER_VAR } from '../ownership/marker.ts';
import type { UserEntry } from '../users.ts';

/** Passed by exact name, when the supervisor has them. */
export const AGENT_ENV_NAMES: readonly string[] = Object.freeze([
  // The basics of any process, and the locale.
  'PATH', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'TMPDIR',
  // The CLI refuses to skip permissions as root unless this is set.
  'IS_SANDBOX',
  // The CLI's own knobs without a prefix of their own.
  'API_TIMEOUT_MS', 'MAX_THINKING_TOKENS',
  // Pull requests from the agent's work (the original plan), with git or gh.
  'GITHUB_TOKEN', 'GH_TOKEN',
  // Behind a proxy, the CLI and the agent's tools need the same way out.
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy',
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
]);

/** Passed by prefix: locale categories, Anthropic's and the CLI's settings (credentials
 *  included), its feature switches, its Bash tool and MCP settings, Playwright's. */
export const AGENT_ENV_PREFIXES: readonly string[] = Object.freeze(['LC_', 'ANTHROPIC_', 'CLAUDE_', 'DISABLE_', 'ENABLE_', 'BASH_', 'MCP_', 'PLAYWRIGHT_']);

/** Our own settings that a prefix above would let through. */
const OWN_SETTINGS = new Set(['CLAUDE_BIN']);

export function isAllowedForAgent(name: string): boolean {
  if (OWN_SETTINGS.has(name) || name === MARKER_VAR) return false;
  return AGENT_ENV_NAMES.includes(name) || AGENT_ENV_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * The job's environment: the allowed part of ours, the variables AGENT_ENV names, the
 * agent user's identity (or ours), and the job marker. `API_TOKEN` and `SUPERVISOR_*`
 * can never be in it (config.ts refuses them in AGENT_ENV).
 */
export function buildChildEnv(parent: Env, agentUser: UserEntry | null, markerValue: string, extra: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(parent)) {
    if (value !== undefined && (isAllowedForAgent(key) || extra.includes(key))) env[key] = value;
  }
  if (agentUser !== null) {
    env.HOME = agentUser.home;
    env.USER = agentUser.name;
    env.LOGNAME = agentUser.name;
    if (agentUser.shell !== undefined && agentUser.shell !== '') env.SHELL = agentUser.shell;
  } else {
    for (const key of ['HOME', 'USER', 'LOGNAME', 'SHELL']) if (parent[key] !== undefined) env[key] = parent[key]!;
  }
  env[MARKER_VAR] = markerValue;
  return env;
}

/**
 * Variables the CLI should run with, on top of the job's environment: no auto-update, no
 * telemetry or error reporting, no non-essential traffic (each checked against the CLI's
 * docs and binary, 2.1.197 and 2.1.332). A value the operator set in the environment wins.
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
