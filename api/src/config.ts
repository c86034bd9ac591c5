// The API's settings, read once from the environment into one frozen object. Units are in
// the names. A bad value throws ConfigError naming the variable (main.ts exits 1 on it).
import { ConfigError, readInt, readOptional, readPath, readString, type Env } from '../../common/env.ts';

/** Where the supervisor listens unless SUPERVISOR_SOCKET says otherwise (same default as the supervisor's). */
export const DEFAULT_SUPERVISOR_SOCKET = '/tmp/agent-cockpit/supervisor.sock';

export interface ApiConfig {
  port: number;
  host: string;
  supervisorSocket: string;
  /** Longest wait to connect to the supervisor and for a quick (non-wait) answer from it. */
  supervisorTimeoutMs: number;
  /** Bearer token required on every route but /health; undefined = no auth. */
  apiToken: string | undefined;
  bodyLimitBytes: number;
  imagesDir: string;
  workspaceDir: string;
  logLevel: string;
  /** Longest the API waits for in-flight requests on SIGTERM before exiting anyway. */
  shutdownTimeoutMs: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env): ApiConfig {
  if (readOptional(env, 'ANTHROPIC_API_KEY') === undefined && readOptional(env, 'CLAUDE_CODE_OAUTH_TOKEN') === undefined) {
    throw new ConfigError('ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN', 'one of them to be set (the Claude Code CLI needs credentials)', undefined);
  }
  const apiToken = readOptional(env, 'API_TOKEN');
  if (apiToken !== undefined && apiToken.length < 16) {
    throw new ConfigError('API_TOKEN', 'at least 16 characters (or unset to disable auth)', '[redacted]');
  }
  const logLevel = readString(env, 'LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, logLevel);
  const host = readString(env, 'HOST', '0.0.0.0');
  return Object.freeze({
    port: readInt(env, 'PORT', 3001, 0, 65535),
    host,
    supervisorSocket: readPath(env, 'SUPERVISOR_SOCKET', DEFAULT_SUPERVISOR_SOCKET),
    supervisorTimeoutMs: readInt(env, 'SUPERVISOR_TIMEOUT_MS', 900, 50, 60_000),
    apiToken,
    bodyLimitBytes: readInt(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    imagesDir: readPath(env, 'IMAGES_DIR', '/tmp/images'),
    workspaceDir: readPath(env, 'WORKSPACE_DIR', '/tmp/agent-cockpit/workspace'),
    logLevel,
    shutdownTimeoutMs: readInt(env, 'API_SHUTDOWN_TIMEOUT_MS', 5000, 100, 300_000),
  });
}
