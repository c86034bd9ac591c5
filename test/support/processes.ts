// Finding processes from /proc as a test sees them (root on the host sees the container's
// too): by a needle in their command line, or by their working directory. Used to prove
// "nothing is left" whatever a process did to its environment, session or cgroup.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  cmdline: string;
  cwd: string | null;
}

/** Every process whose command line contains `needle`, or whose cwd is inside `dir`. */
export function findProcesses(match: { needle?: string; cwdInside?: string }): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    let cwd: string | null;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      cwd = null;
    }
    const byNeedle = match.needle !== undefined && cmdline.includes(match.needle);
    const byCwd = match.cwdInside !== undefined && cwd !== null && (cwd === match.cwdInside || cwd.startsWith(`${match.cwdInside}/`));
    if (byNeedle || byCwd) found.push({ pid, cmdline, cwd });
  }
  return found;
}

