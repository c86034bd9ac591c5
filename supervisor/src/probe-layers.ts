// Deciding the ownership layers (ownership/layers.ts) at start, by trying them: the
// reaper starts `sleep` as the agent user, and the supervisor looks at that process as a
// job's tree scan would (its uid, its environ). Nothing is assumed from the platform.
import type { Logger } from '../../common/logger.ts';
import { isExecutableFile, type SupervisorConfig } from './config.ts';
import { CliProcess } from './job/cli-process.ts';
import { detectCgroups } from './ownership/cgroup.ts';
import type { MissingLayers, OwnershipLayers } from './ownership/layers.ts';
import { readEnviron, readUids } from './proc.ts';

const PROBE_TIMEOUT_MS = 5000;

interface ProbeResult {
  /** The reaper started a process as the agent user and reported it. */
  reaperWorks: boolean;
  reaperProblem: string | null;
  /** The probe process's environ was readable (null: no probe process ran). */
  environReadable: boolean | null;
}

/** Start `sleep` as the agent user (through the reaper when there is one), look at it
 *  from here as a job's tree scan would, and end it. */
async function probe(config: Readonly<SupervisorConfig>, reaperBin: string | null, tag: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let cli: CliProcess | null = null;
    const finish = (result: ProbeResult, pid: number | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (reaperBin === null && pid !== null) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      void (cli?.release() ?? Promise.resolve()).then(() => resolve(result));
    };
    const timer = setTimeout(() => finish({ reaperWorks: false, reaperProblem: `no answer within ${PROBE_TIMEOUT_MS} ms`, environReadable: null }, null), PROBE_TIMEOUT_MS);
    cli = new CliProcess(
      {
        bin: 'sleep',
        args: ['30'],
        cwd: '/',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        agentUser: config.agentUser,
        reaperBin,
        tag,
      },
      {
        started: (pid) => {
          const uids = readUids(pid);
          const expected = config.agentUser?.uid ?? process.getuid?.();
          const dropped = uids !== null && uids[0] === expected;
          finish(
            {
              reaperWorks: reaperBin !== null && dropped,
              reaperProblem: dropped ? null : `the probe ran with uids ${uids?.join(',') ?? 'unknown'}`,
              environReadable: readEnviron(pid) !== null,
            },
            pid,
          );
        },
        spawnFailed: (err) => finish({ reaperWorks: false, reaperProblem: err.message, environReadable: null }, null),
        ended: (end) => finish({ reaperWorks: false, reaperProblem: `the probe ended early (${end.signal ?? end.exitCode})`, environReadable: null }, null),
        warning: () => undefined,
      },
    );
    cli.stdin.end();
    cli.stdout.resume();
    cli.stderr.resume();
  });
}

/** Decide the layers once, at start. */
export async function detectLayers(
  config: Readonly<SupervisorConfig>,
  instanceTag: string,
  log: Logger,
): Promise<{ layers: OwnershipLayers; missing: MissingLayers }> {
  const missing: MissingLayers = {};
  const ownUid = process.getuid?.() ?? -1;
  const agentIsSupervisorUser = (config.agentUser?.uid ?? ownUid) === ownUid;
  const cgroups = detectCgroups(`agent-cockpit-${instanceTag}-probe`);
  if (cgroups === null) missing.cgroup = 'no writable cgroup v1 memory controller or cgroup v2 hierarchy (containers mount them read-only)';

  const agentUid = config.agentUserDedicated && config.agentUser !== null ? config.agentUser.uid : null;
  if (agentUid === null) {
    missing.agentUid = config.agentUser === null ? 'AGENT_USER is unset' : `AGENT_USER_DEDICATED is off for ${config.agentUser.name}`;
  }

  let reaperBin: string | null = null;
  let result: ProbeResult | null = null;
  if (!isExecutableFile(config.reaperBin)) {
    missing.subreaper = `${config.reaperBin} is missing or not executable (npm run build makes it; it needs a C compiler)`;
  } else {
    result = await probe(config, config.reaperBin, `${instanceTag}:probe`);
    if (result.reaperWorks) reaperBin = config.reaperBin;
    else missing.subreaper = `${config.reaperBin} does not work here: ${result.reaperProblem ?? 'unknown'}`;
  }
  if (result?.environReadable == null) result = await probe(config, null, `${instanceTag}:probe`);
  const environ = result.environReadable === true;
  if (!environ) {
    missing.environ =
      result.environReadable === false
        ? "the agent's /proc/PID/environ is unreadable here (no CAP_SYS_PTRACE for another uid)"
        : `the probe could not start: ${result.reaperProblem ?? 'unknown'}`;
  }
  log.debug({ agentUid, subreaper: reaperBin !== null, cgroup: cgroups?.kind ?? null, environ }, 'ownership layers probed');
  return { layers: { agentUid, reaperBin, cgroups, environ, agentIsSupervisorUser }, missing };
}
