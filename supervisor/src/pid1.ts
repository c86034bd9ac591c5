// Running as PID 1 (a container without --init): the kernel gives PID 1 no default
// signal actions, and orphans are reparented to it. Node reaps only its own children, so
// without the per-job reaper (which reaps the job's orphans itself) orphans of the agent's
// tools stay zombies. We handle the signals and say so loudly.
import { countZombieChildren } from './proc.ts';

/** Signals whose default action (terminate) PID 1 does not get: handled explicitly. */
export const PID1_EXTRA_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGQUIT'];

export const PID1_WARNING =
  'Running as PID 1: orphaned processes are reparented to the supervisor, which cannot reap them (they stay zombies). ' +
  'Run it under an init: tini, `docker run --init`, or s6-svscan.';

export const PID1_REAPED_WARNING =
  "Running as PID 1: each job's reaper reaps the job's orphans, but any other orphan stays a zombie. " +
  'Run it under an init: tini, `docker run --init`, or s6-svscan.';

export function pid1Warnings(isPid1: boolean, subreaper: boolean): string[] {
  if (!isPid1) return [];
  return [subreaper ? PID1_REAPED_WARNING : PID1_WARNING];
}

/** Zombies whose parent is us: only orphans reparented to PID 1 accumulate here. */
export function zombieCount(): number {
  return countZombieChildren(process.pid);
}
