// What a job needs before its CLI runs and that no request decides: its id and marker, its
// cgroup, the CLI's environment, and (where the reaper layer works) its reaper, forked and
// in the cgroup, waiting for the CLI's arguments (warm-cli.ts). The runner prepares the
// next job's launch once a job has finished and at start (WarmStart), so a request finds
// it made: the cgroup's creation, the supervisor's fork and the cgroup move are off the
// path the relay waits on. A job that finds none ready makes its own, in the same way.
import type { Logger } from '../../../common/logger.ts';
import type { Env } from '../../../common/env.ts';
import { buildChildEnv, cliEnv } from '../claude/cli-env.ts';
import type { SupervisorConfig } from '../config.ts';
import { JobCgroup } from '../ownership/cgroup.ts';
import type { OwnershipLayers } from '../ownership/layers.ts';
import { markerValue, newJobId } from '../ownership/marker.ts';
import { memoryBackstopBytes } from './outcome.ts';
import { WarmCli } from './warm-cli.ts';

export interface LaunchDeps {
  config: Readonly<SupervisorConfig>;
  log: Logger;
  instanceTag: string;
  layers: OwnershipLayers;
  env: Env;
}

export interface JobLaunch {
  jobId: string;
  /** `<instanceTag>:<jobId>`: the environ marker and the reaper's tag. */
  marker: string;
  cgroup: JobCgroup | null;
  /** The CLI's environment (the warm reaper already holds it). */
  env: NodeJS.ProcessEnv;
  /** The reaper waiting for the CLI's arguments; null without the reaper layer (the CLI is
   *  then spawned directly when its job starts). */
  warm: WarmCli | null;
  /** When it was made (Date.now()). */
  preparedAtMs: number;
}

/** Make a job's launch now. Best effort like the layers it uses: a cgroup that cannot be
 *  made is null; a reaper that cannot start fails the job when it runs, as a cold spawn would. */
export function prepareLaunch(deps: LaunchDeps, jobId = newJobId()): JobLaunch {
  const { config, layers } = deps;
  const marker = markerValue(deps.instanceTag, jobId);
  const cgroup =
    layers.cgroups === null ? null : JobCgroup.create(layers.cgroups, `agent-cockpit-${marker.replace(':', '-')}`, memoryBackstopBytes(config.memoryLimitBytes));
  const env = cliEnv(buildChildEnv(deps.env, config.agentUser, marker, config.agentEnv));
  const warm =
    layers.reaperBin === null
      ? null
      : new WarmCli({
          reaperBin: layers.reaperBin,
          bin: config.claudeBin,
          cwd: config.workspaceDir,
          env,
          agentUser: config.agentUser,
          tag: marker,
          ...(cgroup !== null ? { cgroupDir: cgroup.dir } : {}),
        });
  return { jobId, marker, cgroup, env, warm, preparedAtMs: Date.now() };
}

/** A launch no job will use: its reaper's child exits unrun, its cgroup goes. */
export async function discardLaunch(launch: JobLaunch): Promise<boolean> {
  await launch.warm?.discard();
  return launch.cgroup === null ? true : launch.cgroup.remove();
}

/** The next job's launch, made ahead of its request. */
export class WarmStart {
  private ready: JobLaunch | null = null;
  private closed = false;

  constructor(private readonly deps: LaunchDeps) {}

  /** Make the next job's launch now, unless one is ready (or we are closing). */
  prepare(): void {
    if (this.closed || (this.ready !== null && this.isUsable(this.ready))) return;
    this.drop();
    try {
      this.ready = prepareLaunch(this.deps);
      this.deps.log.debug({ jobId: this.ready.jobId, reaperPid: this.ready.warm?.pid ?? null }, 'next job prepared');
    } catch (err) {
      this.deps.log.warn({ err }, 'could not prepare the next job ahead of its request');
    }
  }

  /** The prepared launch if it is still good, else one made now. */
  take(): JobLaunch {
    const ready = this.ready;
    this.ready = null;
    if (ready !== null && this.isUsable(ready)) return ready;
    if (ready !== null) {
      // Its reaper could not start, or something ended it (an operator, the OOM killer): not silently.
      this.deps.log.warn(
        { jobId: ready.jobId, reaperPid: ready.warm?.pid ?? null },
        `the prepared reaper was gone (${ready.warm?.endedHow ?? 'unknown'}); starting the job with a new one`,
      );
      void discardLaunch(ready);
    }
    return prepareLaunch(this.deps);
  }

  /** A launch taken for a job that did not start after all (its record could not be written). */
  putBack(launch: JobLaunch): void {
    if (this.ready === null && !this.closed && this.isUsable(launch)) this.ready = launch;
    else void discardLaunch(launch);
  }

  /** The launch ready for the next job, as /status shows it. */
  status(): { prepared: boolean; reaperPid: number | null } {
    const ready = this.ready !== null && this.isUsable(this.ready) ? this.ready : null;
    return { prepared: ready !== null, reaperPid: ready?.warm?.pid ?? null };
  }

  /** No more launches: discard the one ready (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const ready = this.ready;
    this.ready = null;
    if (ready !== null && !(await discardLaunch(ready))) this.deps.log.warn({ jobId: ready.jobId }, 'could not remove the job cgroup');
  }

  private isUsable(launch: JobLaunch): boolean {
    return launch.warm === null || launch.warm.usable;
  }

  private drop(): void {
    if (this.ready !== null) void discardLaunch(this.ready);
    this.ready = null;
  }
}
