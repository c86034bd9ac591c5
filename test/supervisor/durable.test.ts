// Durable jobs under SIGKILL: the supervisor killed at random moments during 200 short
// jobs and started again on the same DATA_DIR each time, as s6 would. The store opens
// every time; every idempotency key maps to one job, and to at most one CLI run (counted
// by the fixture CLI itself); a job is either finished with its result (exactly one run)
// or `interrupted` (at most one: a kill between recording the job and spawning it leaves
// none). Nothing is lost. The kill moments come from a seeded generator, printed.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../common/protocol.ts';
import { runsByTag, seedFor } from '../support/chaos.ts';
import { fixture, startSupervisor, type Supervisor } from '../support/supervisor-harness.ts';

const JOBS = 200;
const ENV = { KILL_GRACE_MS: '300', SAMPLE_INTERVAL_MS: '50' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

void test(`SIGKILL at random moments during ${JOBS} short jobs, restarted each time: one job per key, at most one run, none lost`, async (t) => {
  const rand = seedFor(t);
  let sup: Supervisor = await startSupervisor(t, { claudeBin: fixture('api-cli.mjs'), env: ENV });
  const dir = sup.dir;
  const runs = path.join(dir, 'runs.log');
  const opens: Record<string, unknown>[] = [sup.logs.find((l) => l.msg === 'job store open')!];
  let restarts = 0;
  const killAndRestart = async (): Promise<void> => {
    sup.child.kill('SIGKILL');
    await sup.exited;
    sup = await startSupervisor(t, { dir, claudeBin: fixture('api-cli.mjs'), env: ENV });
    opens.push(sup.logs.find((l) => l.msg === 'job store open')!);
    restarts += 1;
  };

  const seen = new Map<string, JobView>();
  for (let i = 0; i < JOBS; i++) {
    const key = `k${i}`;
    const prompt = JSON.stringify({ runs, tag: key, result: key, sleepMs: Math.floor(rand() * 30) });
    // Somewhere in: the request, recording, spawning, the run, finishing, or just after.
    let killer: Promise<void> | null = rand() < 0.15 ? sleep(Math.floor(rand() * 150)).then(killAndRestart) : null;
    for (let attempt = 0; ; attempt++) {
      assert.ok(attempt < 10, `key ${key}: no answer after 10 attempts`);
      try {
        const started = await sup.startJob({ prompt, idempotencyKey: key });
        assert.ok(started.status === 201 || started.status === 200, `${key}: ${started.status} ${JSON.stringify(started.body)}`);
        const view = started.body.state === 'finished' ? started.body : await sup.waitJob(started.body.id, 15_000);
        if (view.state === 'finished') {
          seen.set(key, view);
          break;
        }
      } catch (err) {
        // The supervisor died under this request: ask again, with the same key, once it is back.
        if (killer === null) throw err;
      }
      if (killer !== null) await killer;
      killer = null;
    }
    if (killer !== null) await killer;
  }

  // Asked once more, every key answers the job it answered before, finished.
  const counts = await runsByTag(runs);
  const reasons = new Map<string, number>();
  for (let i = 0; i < JOBS; i++) {
    const key = `k${i}`;
    const again = await sup.startJob({ prompt: 'not run', idempotencyKey: key });
    assert.equal(again.status, 200, `${key}: the key is known`);
    const first = seen.get(key)!;
    assert.equal(again.body.id, first.id, `${key}: one job per key`);
    assert.equal(again.body.state, 'finished');
    const runsOfKey = counts.get(key) ?? 0;
    reasons.set(String(again.body.reason), (reasons.get(String(again.body.reason)) ?? 0) + 1);
    if (again.body.reason === 'exit') {
      assert.equal(again.body.text, key, `${key}: its own result`);
      assert.equal(runsOfKey, 1, `${key}: finished with exactly one run`);
    } else {
      assert.equal(again.body.reason, 'interrupted', `${key}: finished or interrupted, nothing else`);
      assert.ok(runsOfKey <= 1, `${key}: ${runsOfKey} runs`);
    }
  }
  assert.ok(![...counts.keys()].some((k) => k === 'not'), 'the last round ran nothing');
  for (const open of opens) assert.equal(open.writable, true, 'the store opened writable every time');
  assert.equal(sup.logs.filter((l) => l.msg === 'the job store was corrupt: moved aside, a new one created').length, 0);
  t.diagnostic(`${restarts} restarts; reasons ${JSON.stringify(Object.fromEntries(reasons))}; ${[...counts.values()].reduce((a, b) => a + b, 0)} CLI runs`);
  assert.ok(restarts >= 10, `the supervisor was killed ${restarts} times`);
});
