// The ways this deployment can tell a job's processes from the rest, decided once at start
// and never assumed: each is probed, logged at warn when missing, and shown in /status.
//   agentUid   the agent is a dedicated user (AGENT_USER_DEDICATED): every process of its
//              uid is the running job's, or a leftover. Needs no privilege.
//   subreaper  the per-job reaper runs here: nothing the agent orphans leaves the tree.
//   cgroup     a per-job cgroup can be made (membership; v1: memory backstop; v2: kill).
//   environ    the agent's /proc/PID/environ is readable, so the job marker works (in a
//              container without CAP_SYS_PTRACE it is not, for another uid).
// This module is the pure part (what /status says, which warnings); probe-layers.ts
// decides them at start.
import type { OwnershipStatus } from '../../../common/protocol.ts';
import type { CgroupSupport } from './cgroup.ts';

export interface OwnershipLayers {
  /** The dedicated agent uid, when every process of it is the job's. */
  agentUid: number | null;
  /** The per-job reaper to start the CLI through; null: the CLI is spawned directly. */
  reaperBin: string | null;
  cgroups: CgroupSupport | null;
  /** Whether the environ marker can be read from the agent's processes. */
  environ: boolean;
  /** The CLI runs as the supervisor's own uid: it can signal the supervisor and its reapers. */
  agentIsSupervisorUser: boolean;
}

export type LayerName = 'agentUid' | 'subreaper' | 'cgroup' | 'environ';

/** Why each missing layer is missing, for one warn line each at start. */
export type MissingLayers = Partial<Record<LayerName, string>>;

/** What /status shows (pure): the layers, and whether a job's tree can escape here. */
export function ownershipStatus(layers: OwnershipLayers): OwnershipStatus {
  return {
    agentUid: layers.agentUid,
    subreaper: layers.reaperBin !== null,
    cgroup: layers.cgroups?.kind ?? null,
    environ: layers.environ,
    contained: isContained(layers),
  };
}

/**
 * No process of a job can outlive it: either everything the agent starts stays below a
 * reaper the agent cannot signal, or the agent's uid names all of its processes.
 * A cgroup alone does not do (a root agent can move out of it), nor the marker (a
 * process can clear its environment).
 */
export function isContained(layers: OwnershipLayers): boolean {
  if (layers.agentIsSupervisorUser) return false;
  return layers.reaperBin !== null || layers.agentUid !== null;
}

/** Operator-facing warnings for /status and the startup log (pure). */
export function ownershipWarnings(layers: OwnershipLayers): string[] {
  const warnings: string[] = [];
  if (layers.agentIsSupervisorUser) {
    warnings.push(
      "The agent runs as the supervisor's own user: it can signal the supervisor and the job's reaper, read their " +
        "environment (API_TOKEN included, under npm start) and use the control socket, so a job's processes can escape. " +
        'Set AGENT_USER to a user of its own.',
    );
  } else if (!isContained(layers)) {
    warnings.push(notContainedWarning(layers));
  }
  const join = layers.cgroups?.join;
  if (layers.cgroups?.kind === 'v2' && join?.how === 'write') {
    warnings.push(
      `clone3 with CLONE_INTO_CGROUP is refused here (${join.refused ?? 'unknown'}; a seccomp profile or a kernel before 5.7): ` +
        "each job's CLI moves into its cgroup after it forks, and a move waits for an RCU grace period (~8 ms measured) before the CLI runs.",
    );
  }
  return warnings;
}

function notContainedWarning(layers: OwnershipLayers): string {
  return (
    'No per-job reaper and no dedicated agent uid here: a process the agent double-forks with a cleared environment ' +
    `can outlive its job (layers: cgroup ${layers.cgroups?.kind ?? 'none'}, environ marker ${layers.environ ? 'readable' : 'unreadable'}). ` +
    'Build the reaper (npm run build, needs a C compiler) or set AGENT_USER_DEDICATED=1 for a user that runs nothing else.'
  );
}
