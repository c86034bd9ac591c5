// Reading the supervisor's own JSON log (pino, ms timestamps) back after a benchmark, to
// say where inside the supervisor a job's time went: request received -> CLI spawned ->
// job done. Coarse (1 ms), but measured by the process itself, not guessed from outside.
import { readFileSync } from 'node:fs';

export interface JobPhases {
  receivedToSpawnMs: number[];
  spawnToDoneMs: number[];
}

export function jobPhases(logFile: string): JobPhases {
  const jobs = new Map<string, Record<string, number>>();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { jobId?: unknown; msg?: unknown; time?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (typeof entry.jobId !== 'string' || typeof entry.msg !== 'string' || typeof entry.time !== 'number') continue;
    const times = jobs.get(entry.jobId) ?? {};
    times[entry.msg] ??= entry.time;
    jobs.set(entry.jobId, times);
  }
  const out: JobPhases = { receivedToSpawnMs: [], spawnToDoneMs: [] };
  for (const t of jobs.values()) {
    const received = t['command received'];
    const spawned = t.spawn;
    const done = t.done;
    if (received === undefined || spawned === undefined || done === undefined) continue;
    out.receivedToSpawnMs.push(spawned - received);
    out.spawnToDoneMs.push(done - spawned);
  }
  return out;
}
