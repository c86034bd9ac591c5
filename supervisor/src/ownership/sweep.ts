// The startup sweep: a supervisor that died (SIGKILL, OOM, crash) may leave its job's tree
// running. Its job's reaper normally ends that tree itself the moment the supervisor dies
// (its control pipe closes); whatever is left is found here through every layer there is
// (reapers by their command line, the dedicated agent uid, the instance's marker, stale
// job cgroups) and ended before the first new job starts.
import { rmdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../common/logger.ts';
import { liveStartTime } from '../proc.ts';
import { staleGroups } from './cgroup.ts';
import type { OwnershipLayers } from './layers.ts';
import { instanceMarkerPrefix } from './marker.ts';
import { findReapers } from './reaper.ts';
import { signalProcess, terminateTree } from './terminate.ts';
import { ProcessTree, type ProcRef } from './tree.ts';

const LEFTOVER_GRACE_MS = 1000;
/** A predecessor's reaper exits by itself once nothing is below it. */
const REAPER_EXIT_MS = 1000;

export async function sweepLeftovers(instanceTag: string, layers: OwnershipLayers, log: Logger): Promise<number> {
  const groupPrefix = `agent-cockpit-${instanceTag}-`;
  const groups = layers.cgroups === null ? [] : staleGroups(layers.cgroups, groupPrefix);
  const reapers = findReapers(instanceTag, process.getuid?.() ?? -1);
  const tree = new ProcessTree({
    reapers,
    notBefore: 0,
    marker: layers.environ ? { entry: instanceMarkerPrefix(instanceTag), exact: false } : undefined,
    agentUid: layers.agentUid ?? undefined,
    cgroupPids: () => groups.flatMap((g) => g.pids),
  });
  const outcome = await terminateTree(tree, { graceMs: LEFTOVER_GRACE_MS });
  const reapersKilled = await endReapers(reapers);
  for (const g of groups) {
    try {
      rmdirSync(g.dir);
    } catch (err) {
      log.warn({ err, path: g.dir }, 'could not remove a stale job cgroup');
    }
  }
  if (outcome.processesKilled > 0 || groups.length > 0 || reapers.length > 0) {
    log.warn(
      { processesKilled: outcome.processesKilled, reapers: reapers.length, reapersKilled, cgroups: groups.length },
      'killed leftovers of a previous supervisor',
    );
  } else {
    log.info({ processesKilled: 0 }, 'no leftovers of a previous supervisor');
  }
  return outcome.processesKilled;
}

/** Wait for the old reapers (nothing is below them now) to exit; SIGKILL the stragglers. */
async function endReapers(reapers: ProcRef[]): Promise<number> {
  const deadline = Date.now() + REAPER_EXIT_MS;
  let alive = reapers;
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(20);
    alive = alive.filter((r) => liveStartTime(r.pid) === r.startTime);
  }
  return alive.filter((r) => signalProcess(r, 'SIGKILL')).length;
}
