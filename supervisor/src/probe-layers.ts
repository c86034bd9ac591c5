// Deciding the ownership layers (ownership/layers.ts) at start, by trying them: the
// reaper starts `sleep` as the agent user, in a group of its own where cgroups work, and
// the supervisor looks at that process as a job's tree scan would (its uid, its environ)
// and notes how it joined the group. Nothing is assumed from the platform.
import type { Logger } from '../../common/logger.ts';
import { isExecutableFile, type SupervisorConfig } from './config.ts';
import { CliProcess } from './job/cli-process.ts';
import { memoryBackstopBytes } from './job/outcome.ts';
import { detectCgroups, JobCgroup, type CgroupJoin } from './ownership/cgroup.ts';
import type { MissingLayers, OwnershipLayers } from './ownership/layers.ts';
import { readEnviron, readUids } from './proc.ts';

const PROBE_TIMEOUT_MS = 5000;

interface ProbeResult {
  /** The reaper started a process as the agent user and reported it. */
  reaperWorks: boolean;
  reaperProblem: string | null;
  /** The probe process's environ was readable (null: no probe process ran). */
  environReadable: boolean | null;
  /** How the probe process joined its cgroup (null: it had none, or did not join). */
  join: CgroupJoin | null;
}

/** Start `sleep` as the agent user (through the reaper when there is one), look at it
 *  from here as a job's tree scan would, and end it. */
async function probe(config: Readonly<SupervisorConfig>, reaperBin: string | null, tag: string, cgroupDir?: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let cli: CliProcess | null = null;
    let join: CgroupJoin | null = null;
    const finish = (partial: Omit<ProbeResult, 'join'>, pid: number | null): void => {
      const result = { ...partial, join };
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
        ...(cgroupDir !== undefined ? { cgroupDir } : {}),
      },
      {
        cgroupJoined: (how) => (join = how),
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
    const group = cgroups !== null ? JobCgroup.create(cgroups, `agent-cockpit-${instanceTag}-probe`, memoryBackstopBytes(config.memoryLimitBytes)) : null;
    result = await probe(config, config.reaperBin, `${instanceTag}:probe`, group?.dir);
    await group?.remove();
    if (result.reaperWorks) reaperBin = config.reaperBin;
    if (cgroups !== null && result.join !== null) cgroups.join = result.join;
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
  log.debug({ agentUid, subreaper: reaperBin !== null, cgroup: cgroups?.kind ?? null, cgroupJoin: cgroups?.join?.how ?? null, environ }, 'ownership layers probed');
  return { layers: { agentUid, reaperBin, cgroups, environ, agentIsSupervisorUser }, missing };
}
