// The API's settings, read once from the environment into one frozen object. Units are in
// the names. A bad value throws ConfigError naming the variable (main.ts exits 1 on it).
import { defaultPaths } from '../../common/defaults.ts';
import { ConfigError, readInt, readOptional, readPath, readString, type Env } from '../../common/env.ts';
import { bodyBytesFor, DEFAULT_MAX_INPUT_IMAGES, MAX_BODY_LIMIT_BYTES, MAX_INPUT_IMAGES_CAP } from '../../common/input-images.ts';

export interface ApiConfig {
  port: number;
  host: string;
  supervisorSocket: string;
  /** Longest wait to connect to the supervisor and for a quick (non-wait) answer from it. */
  supervisorTimeoutMs: number;
  /** How long a request waiting on its job rides out an unreachable supervisor. */
  supervisorReconnectMs: number;
  /** Bearer token required on every route but /health; undefined = no auth. */
  apiToken: string | undefined;
  /** Largest request body; by default room for the prompt and `maxInputImages` images. */
  bodyLimitBytes: number;
  /** Most images a POST /command may carry (0: none are taken). */
  maxInputImages: number;
  imagesDir: string;
  workspaceDir: string;
  logLevel: string;
  /** Longest the API waits for in-flight requests on SIGTERM before exiting anyway. */
  shutdownTimeoutMs: number;
  /** Longest a client may take to send a whole request (headers and body); not the answer. */
  requestTimeoutMs: number;
  /** Longest a client may take to send the headers. */
  headersTimeoutMs: number;
  /** Most images one answer lists (the newest are kept; `imagesTruncated` says so). */
  maxImagesPerAnswer: number;
  /** A comment line this often on an event stream, so proxies that cut idle connections keep it. */
  eventsHeartbeatMs: number;
  /** Where GET /metrics (Prometheus) is served, apart from the relay's port; null: off. */
  metrics: MetricsListen | null;
}

export interface MetricsListen {
  port: number;
  host: string;
}

/** Loopback only: what a server without a token may listen on. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env, uid: number = process.getuid?.() ?? 0): ApiConfig {
  // No Claude credential here: the supervisor checks them, and only the CLI gets them.
  const apiToken = readOptional(env, 'API_TOKEN');
  if (apiToken !== undefined && apiToken.length < 16) {
    throw new ConfigError('API_TOKEN', 'at least 16 characters (or unset to disable auth)', apiToken);
  }
  const logLevel = readString(env, 'LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, logLevel);
  // Without a token anyone who reaches the port runs the agent: loopback only, then.
  const hostRaw = readOptional(env, 'HOST');
  const host = hostRaw ?? (apiToken === undefined ? '127.0.0.1' : '0.0.0.0');
  if (apiToken === undefined && !isLoopbackHost(host)) {
    throw new ConfigError(
      'HOST',
      'a loopback address (127.0.0.1, ::1, localhost) while API_TOKEN is unset: without a token anyone who can reach the port can run the agent; set API_TOKEN to listen elsewhere',
      hostRaw,
    );
  }
  const defaults = defaultPaths(uid);
  const maxInputImages = readInt(env, 'MAX_INPUT_IMAGES', DEFAULT_MAX_INPUT_IMAGES, 0, MAX_INPUT_IMAGES_CAP);
  const requestTimeoutMs = readInt(env, 'REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000);
  const headersTimeoutMs = readInt(env, 'HEADERS_TIMEOUT_MS', 10_000, 1000, 600_000);
  if (headersTimeoutMs > requestTimeoutMs) throw new ConfigError('HEADERS_TIMEOUT_MS', 'at most REQUEST_TIMEOUT_MS', env.HEADERS_TIMEOUT_MS);
  const port = readInt(env, 'PORT', 3001, 0, 65535);
  return Object.freeze({
    port,
    host,
    supervisorSocket: readPath(env, 'SUPERVISOR_SOCKET', defaults.socketPath),
    supervisorTimeoutMs: readInt(env, 'SUPERVISOR_TIMEOUT_MS', 900, 50, 60_000),
    supervisorReconnectMs: readInt(env, 'SUPERVISOR_RECONNECT_MS', 10_000, 0, 600_000),
    apiToken,
    bodyLimitBytes: readInt(env, 'BODY_LIMIT_BYTES', bodyBytesFor(maxInputImages), 1024, MAX_BODY_LIMIT_BYTES),
    maxInputImages,
    imagesDir: readPath(env, 'IMAGES_DIR', defaults.imagesDir),
    workspaceDir: readPath(env, 'WORKSPACE_DIR', defaults.workspaceDir),
    logLevel,
    shutdownTimeoutMs: readInt(env, 'API_SHUTDOWN_TIMEOUT_MS', 5000, 100, 300_000),
    requestTimeoutMs,
    headersTimeoutMs,
    maxImagesPerAnswer: readInt(env, 'MAX_IMAGES_PER_ANSWER', 20, 1, 1000),
    eventsHeartbeatMs: readInt(env, 'EVENTS_HEARTBEAT_MS', 15_000, 100, 60_000),
    metrics: metricsListen(env, port),
  });
}

/**
 * METRICS_PORT unset: no metrics listener. Never the relay's port: the metrics carry no
 * secret, but they are served without a token, so they live on a port of their own that
 * only the scraper reaches (Fly's private network; the loopback by default).
 */
function metricsListen(env: Env, port: number): MetricsListen | null {
  if (readOptional(env, 'METRICS_PORT') === undefined) return null;
  const metricsPort = readInt(env, 'METRICS_PORT', 0, 1, 65535);
  if (metricsPort === port) throw new ConfigError('METRICS_PORT', 'a port other than PORT (the relay\'s port never serves /metrics)', env.METRICS_PORT);
  return Object.freeze({ port: metricsPort, host: readString(env, 'METRICS_HOST', '127.0.0.1') });
}

/**
 * What the operator should hear at start about these settings: a BODY_LIMIT_BYTES too small
 * for MAX_INPUT_IMAGES images of the largest size would refuse them with a 413.
 */
export function configWarnings(config: Pick<ApiConfig, 'bodyLimitBytes' | 'maxInputImages'>): Array<{ fields: Record<string, number>; msg: string }> {
  const neededBytes = bodyBytesFor(config.maxInputImages);
  if (config.maxInputImages === 0 || config.bodyLimitBytes >= neededBytes) return [];
  return [
    {
      fields: { bodyLimitBytes: config.bodyLimitBytes, maxInputImages: config.maxInputImages, neededBytes },
      msg: 'BODY_LIMIT_BYTES is below what MAX_INPUT_IMAGES images of the largest size need: such requests are refused with 413 payload_too_large',
    },
  ];
}
