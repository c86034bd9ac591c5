// Startup cleanup: a supervisor that died (SIGKILL, OOM, crash) leaves its job's tree
// running. Every process of it carries this instance's marker prefix, so the next
// supervisor on the same socket finds and ends them before taking new jobs.
import { rmdirSync } from 'node:fs';
import type { Logger } from '../../common/logger.ts';
import { staleGroups, type CgroupSupport } from './cgroup.ts';
import { instanceMarkerPrefix } from './marker.ts';
import { terminateTree } from './terminate.ts';
import { ProcessTree } from './tree.ts';

export const LEFTOVER_GRACE_MS = 1000;

export async function killLeftovers(instanceTag: string, cgroups: CgroupSupport | null, log: Logger): Promise<number> {
  const groupPrefix = `agent-cockpit-${instanceTag}-`;
  const groups = cgroups === null ? [] : staleGroups(cgroups, groupPrefix);
  const tree = new ProcessTree({
    marker: instanceMarkerPrefix(instanceTag),
    exactMarker: false,
    cgroupPids: () => groups.flatMap((g) => g.pids),
  });
  const outcome = await terminateTree(tree, { graceMs: LEFTOVER_GRACE_MS });
  for (const g of groups) {
    try {
      rmdirSync(g.dir);
    } catch (err) {
      log.warn({ err, path: g.dir }, 'could not remove a stale job cgroup');
    }
  }
  if (outcome.processesKilled > 0 || groups.length > 0) {
    log.warn({ processesKilled: outcome.processesKilled, cgroups: groups.length }, 'killed leftovers of a previous supervisor');
  } else {
    log.info({ processesKilled: 0 }, 'no leftovers of a previous supervisor');
  }
  return outcome.processesKilled;
}
