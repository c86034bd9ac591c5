// Helpers for the restart tests: a seeded generator for kill moments (printed, so a
// failing run replays with DURABLE_SEED), and the fixture CLI's run counts per tag.
import { readFile } from 'node:fs/promises';
import type { TestContext } from 'node:test';

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** CLI runs per tag, from the fixture's runs file (`<pid> <tag>` per run). */
export async function runsByTag(file: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return counts;
  }
  for (const line of text.split('\n')) {
    const tag = line.split(' ')[1];
    if (tag !== undefined) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  return counts;
}


/** The run's seed: DURABLE_SEED, or a new one; printed either way. */
export function seedFor(t: TestContext): () => number {
  const seed = Number(process.env.DURABLE_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (DURABLE_SEED=${seed} replays it)`);
  return seeded(seed);
}
