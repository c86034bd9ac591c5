// Reading settings from the environment: each reader names the variable and what it
// accepts when a value is bad, so a misconfigured service says exactly what to fix. The
// value itself is never repeated: a secret pasted into the wrong variable must not reach
// a log.

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  /** `value` only tells whether the variable was set; it is neither kept nor shown. */
  constructor(
    readonly variable: string,
    readonly accepts: string,
    value: string | undefined,
  ) {
    super(`${variable}: expected ${accepts}${value === undefined ? ', but it is unset' : ' (the value given is not shown)'}`);
    this.name = 'ConfigError';
  }
}

/** A whole number in [min, max]; the default when unset or empty. */
export function readInt(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `a whole number from ${min} to ${max}`, raw);
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `a whole number from ${min} to ${max}`, raw);
  }
  return value;
}

/** A non-empty string, or the fallback when unset or empty. */
export function readString(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

/** An optional non-empty string: undefined when unset or empty. */
export function readOptional(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** `1/true/yes/on` or `0/false/no/off`; the fallback when unset. */
export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, 'one of 1, true, yes, on, 0, false, no, off', raw);
}

/** An absolute path. */
export function readPath(env: Env, name: string, fallback: string): string {
  const value = readString(env, name, fallback);
  if (!value.startsWith('/')) throw new ConfigError(name, 'an absolute path', value);
  return value;
}

/**
 * Run a config loader; on a ConfigError print one line naming the variable and exit 1.
 * Used only by the processes' main modules.
 */
export function loadOrExit<T>(load: () => T, processName: string): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${processName}: invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
