// The supervisor's settings: every variable is read and validated here, once, into a
// frozen object with units in the names. A bad value throws ConfigError naming the
// variable; main.ts turns that into one line on stderr and exit 1.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ConfigError, type Env, readBool, readInt, readOptional, readPath, readString } from '../../common/env.ts';
import { defaultDataDir, defaultPaths } from '../../common/defaults.ts';
import { REPO_ROOT } from '../../common/repo-root.ts';
import { defaultReaperBin } from './ownership/reaper.ts';
import { MEMORY_STORE } from './store/db.ts';
import { lookupGroupId, lookupUser, type UserEntry } from './users.ts';

export const MIB = 1024 * 1024;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface SupervisorConfig {
  socketPath: string;
  /** Group that may use the socket (mode 0660); null: owner only (0600). */
  socketGid: number | null;
  claudeBin: string;
  workspaceDir: string;
  imagesDir: string;
  /** The user the CLI runs as; null: the supervisor's own user. */
  agentUser: UserEntry | null;
  /** AGENT_USER runs nothing but jobs: every process of its uid is the job's or a leftover. */
  agentUserDedicated: boolean;
  /** The per-job reaper (supervisor/native/reaper.c); used when it works here. */
  reaperBin: string;
  /** The job store's folder (jobs.db), or `:memory:` (nothing survives a restart). */
  dataDir: string;
  /** Finished jobs kept in the store: the newest maxJobs, none older than maxAgeMs. */
  jobsRetention: { maxJobs: number; maxAgeMs: number };
  /** IMAGES_DIR is pruned to these after each job and at start, oldest first. */
  imagesRetention: { maxCount: number; maxBytes: number; maxAgeMs: number };
  /** More variables of our environment to give the agent (AGENT_ENV), beyond the allow-list. */
  agentEnv: readonly string[];
  isSandbox: boolean;
  maxOutputBytes: number;
  killGraceMs: number;
  /** A stop first asks the CLI to interrupt its turn and waits this long for its result
   *  (part of killGraceMs: the tree is gone within killGraceMs all the same). */
  interruptGraceMs: number;
  /** Limits every job gets unless its request asks for less; null: none from settings. */
  maxTurns: number | null;
  maxBudgetUsd: number | null;
  commandTimeoutMs: number;
  memoryLimitBytes: number;
  sampleIntervalMs: number;
  logLevel: string;
}

export interface ConfigHost {
  uid: number;
  passwdFile?: string;
  groupFile?: string;
  repoRoot?: string;
  /** Is this an executable file? (injected by tests) */
  isExecutable?: (path: string) => boolean;
}

/** Is this an executable file (for us)? */
export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The pinned CLI in node_modules, else `claude` found on PATH, else plain `claude` (spawn then fails with ENOENT). */
function defaultClaudeBin(env: Env, repoRoot: string, isExecutable: (p: string) => boolean): string {
  const pinned = join(repoRoot, 'node_modules', '.bin', 'claude');
  if (isExecutable(pinned)) return pinned;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, 'claude'))) return join(dir, 'claude');
  }
  return 'claude';
}

/** Never given to the agent, even when AGENT_ENV names them. */
const NEVER_FOR_THE_AGENT = /^(API_TOKEN|SUPERVISOR_.*)$/;

/** MAX_BUDGET_USD: a positive number of dollars, or unset. */
function readBudget(env: Env): number | null {
  const raw = readOptional(env, 'MAX_BUDGET_USD');
  if (raw === undefined) return null;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !(value > 0) || value > 1_000_000) throw new ConfigError('MAX_BUDGET_USD', 'a number of dollars above 0 (e.g. 2.50), or unset', raw);
  return value;
}

export function loadConfig(env: Env, host: ConfigHost = { uid: process.getuid?.() ?? -1 }): Readonly<SupervisorConfig> {
  const isExecutable = host.isExecutable ?? isExecutableFile;
  // The supervisor starts the CLI, so it is the process that needs (and checks) a credential.
  if (readOptional(env, 'ANTHROPIC_API_KEY') === undefined && readOptional(env, 'CLAUDE_CODE_OAUTH_TOKEN') === undefined) {
    throw new ConfigError('ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN', 'one of them to be set (the Claude Code CLI needs a credential)', undefined);
  }
  const agentEnvRaw = readOptional(env, 'AGENT_ENV');
  const agentEnv = agentEnvRaw === undefined ? [] : agentEnvRaw.split(/[\s,]+/).filter((n) => n !== '');
  for (const name of agentEnv) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || NEVER_FOR_THE_AGENT.test(name)) {
      throw new ConfigError('AGENT_ENV', 'variable names separated by commas or spaces, none of them API_TOKEN or SUPERVISOR_*', agentEnvRaw);
    }
  }

  const defaults = defaultPaths(host.uid);
  const socketPath = readPath(env, 'SUPERVISOR_SOCKET', defaults.socketPath);
  // sockaddr_un.sun_path is 108 bytes including the terminating NUL.
  if (Buffer.byteLength(socketPath) > 107) {
    throw new ConfigError('SUPERVISOR_SOCKET', 'an absolute path of at most 107 bytes', socketPath);
  }

  const groupRaw = readOptional(env, 'SUPERVISOR_SOCKET_GROUP');
  let socketGid: number | null = null;
  if (groupRaw !== undefined) {
    const gid = lookupGroupId(groupRaw, host.groupFile);
    if (gid === undefined) throw new ConfigError('SUPERVISOR_SOCKET_GROUP', 'a group name from /etc/group or a numeric gid', groupRaw);
    socketGid = gid;
  }

  const claudeBinRaw = readOptional(env, 'CLAUDE_BIN');
  const claudeBin = claudeBinRaw ?? defaultClaudeBin(env, host.repoRoot ?? REPO_ROOT, isExecutable);

  const userRaw = readOptional(env, 'AGENT_USER');
  let agentUser: UserEntry | null = null;
  if (userRaw !== undefined) {
    const user = lookupUser(userRaw, host.passwdFile);
    if (user === undefined) throw new ConfigError('AGENT_USER', 'a user name or uid listed in /etc/passwd', userRaw);
    if (host.uid !== 0 && user.uid !== host.uid) {
      throw new ConfigError('AGENT_USER', `your own user (uid ${host.uid}) unless the supervisor runs as root`, userRaw);
    }
    agentUser = user;
  }
  const isSandbox = readBool(env, 'IS_SANDBOX', false);
  const agentUserDedicated = readBool(env, 'AGENT_USER_DEDICATED', false);
  // Every process of a dedicated user is killed at job end and at start: never our own
  // uid, never root, and only a user named on purpose.
  if (agentUserDedicated && (agentUser === null || agentUser.uid === host.uid || agentUser.uid === 0)) {
    throw new ConfigError('AGENT_USER_DEDICATED', "1 only with AGENT_USER set to a non-root user other than the supervisor's own", '1');
  }

  // The CLI refuses --dangerously-skip-permissions as root (FINDINGS): fail now, not per job.
  const cliRunsAsRoot = agentUser === null ? host.uid === 0 : agentUser.uid === 0;
  if (cliRunsAsRoot && !isSandbox) {
    throw new ConfigError(
      'AGENT_USER',
      'a non-root user to run the CLI as, because the Claude CLI refuses --dangerously-skip-permissions as root; ' +
        'set AGENT_USER (preferred) or IS_SANDBOX=1',
      userRaw,
    );
  }

  const logLevel = readString(env, 'LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, logLevel);

  return Object.freeze({
    socketPath,
    socketGid,
    claudeBin,
    workspaceDir: readPath(env, 'WORKSPACE_DIR', defaults.workspaceDir),
    imagesDir: readPath(env, 'IMAGES_DIR', defaults.imagesDir),
    agentUser: agentUser === null ? null : Object.freeze(agentUser),
    agentUserDedicated,
    reaperBin: readPath(env, 'REAPER_BIN', defaultReaperBin(host.repoRoot ?? REPO_ROOT)),
    agentEnv: Object.freeze(agentEnv),
    dataDir: env.DATA_DIR === MEMORY_STORE ? MEMORY_STORE : readPath(env, 'DATA_DIR', defaultDataDir(env, host.uid)),
    jobsRetention: Object.freeze({
      maxJobs: readInt(env, 'JOBS_MAX_COUNT', 1000, 1, 10_000_000),
      maxAgeMs: readInt(env, 'JOBS_MAX_AGE_DAYS', 30, 1, 3650) * 24 * 3600_000,
    }),
    imagesRetention: Object.freeze({
      maxCount: readInt(env, 'IMAGES_MAX_COUNT', 1000, 1, 1_000_000),
      maxBytes: readInt(env, 'IMAGES_MAX_MB', 1024, 1, 1024 * 1024) * MIB,
      maxAgeMs: readInt(env, 'IMAGES_MAX_AGE_DAYS', 7, 1, 3650) * 24 * 3600_000,
    }),
    isSandbox,
    maxOutputBytes: readInt(env, 'MAX_OUTPUT_BYTES', 10 * MIB, 1024, 1024 * MIB),
    killGraceMs: readInt(env, 'KILL_GRACE_MS', 5000, 0, 300_000),
    interruptGraceMs: readInt(env, 'INTERRUPT_GRACE_MS', 2000, 0, 300_000),
    maxTurns: readOptional(env, 'MAX_TURNS') === undefined ? null : readInt(env, 'MAX_TURNS', 0, 1, 10_000),
    maxBudgetUsd: readBudget(env),
    commandTimeoutMs: readInt(env, 'COMMAND_TIMEOUT_MS', 300_000, 100, 24 * 3600_000),
    memoryLimitBytes: readInt(env, 'MEMORY_LIMIT_MB', 2048, 16, 1024 * 1024) * MIB,
    sampleIntervalMs: readInt(env, 'SAMPLE_INTERVAL_MS', 1000, 50, 60_000),
    logLevel,
  });
}
