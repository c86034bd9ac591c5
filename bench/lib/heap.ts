// Live JS heap of a service, from a V8 heap snapshot it writes on SIGUSR2 (the service is
// started with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR). A snapshot runs a full
// GC first, so the sum of its nodes' self sizes is what is really retained: the figure
// that tells a leak from RSS that merely reflects when the GC last ran. Costs ~1 s and a
// transient RSS bump in the service, so it is taken only where the bench says so.
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export function heapSnapshotNodeOptions(dir: string): string {
  return `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
}

async function snapshots(dir: string, pid: number): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.heapsnapshot') && f.includes(`.${pid}.`)).sort();
}

/** Live heap in MiB; the snapshot file is removed afterwards. */
export async function liveHeapMiB(pid: number, dir: string, timeoutMs = 30_000): Promise<number> {
  const before = (await snapshots(dir, pid)).length;
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no heap snapshot from ${pid} within ${timeoutMs} ms`);
    await sleep(100);
    const files = await snapshots(dir, pid);
    if (files.length <= before) continue;
    const file = join(dir, files.at(-1)!);
    const size = (await stat(file)).size;
    await sleep(200);
    if (size === 0 || (await stat(file)).size !== size) continue;
    let parsed: { snapshot: { meta: { node_fields: string[] } }; nodes: number[] };
    try {
      parsed = JSON.parse(await readFile(file, 'utf8')) as typeof parsed;
    } catch {
      continue; // still being written
    }
    await rm(file, { force: true });
    const fields = parsed.snapshot.meta.node_fields;
    const at = fields.indexOf('self_size');
    let total = 0;
    for (let i = at; i < parsed.nodes.length; i += fields.length) total += parsed.nodes[i]!;
    return total / 2 ** 20;
  }
}
