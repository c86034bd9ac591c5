// Screenshots outside the image: with no PLAYWRIGHT_BROWSERS_PATH set, the supervisor
// points the agent's Playwright CLI at the system Chromium, so the system prompt's
// screenshot command works under a plain `npm start`.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { fixture, startSupervisor } from '../support/supervisor-harness.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

void test('the agent can take a screenshot with the Playwright CLI when nobody set PLAYWRIGHT_BROWSERS_PATH', async (t) => {
  if (!existsSync('/usr/bin/chromium')) {
    t.skip('no /usr/bin/chromium on this machine (apt-get install chromium)');
    return;
  }
  const sup = await startSupervisor(t, { claudeBin: fixture('cli-screenshot.sh'), env: { PLAYWRIGHT_BROWSERS_PATH: undefined } });
  const out = join(sup.dir, 'images', 'page.png');
  const started = await sup.startJob({ prompt: out });
  const job = await sup.waitJob(started.body.id, 30_000);
  assert.equal(job.reason, 'exit');
  assert.match(job.text ?? '', /^screenshot ok browsers=\//);
  assert.deepEqual(readFileSync(out).subarray(0, 8), PNG_SIGNATURE);
});
