// GET /status as a page, in a real browser: Debian's Chromium (headless, driven by
// Playwright) opens it with Basic credentials against the API and a REAL supervisor whose
// fixture CLI runs a tool and writes a screenshot, then sleeps. The page must load with no
// failed request, no answer >= 400 after the login, no console error, no page error and
// no CSP violation; show the running job, its tool (a hostile description shown as text),
// a chart that grows from the job's live usage events, thumbnails that loaded; refresh
// itself; and once the job is cancelled, reload into the idle page with the job listed.
// A screenshot is kept in test-artifacts/status-page.png.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright';
import { REPO_ROOT, request, tempDir } from '../support/api-harness.ts';
import { startStack, type Stack } from '../support/api-stack.ts';
import { fixture } from '../support/supervisor-harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'status-page-token-0123456789';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const HOSTILE = '<script>alert("description")</script><img src=x onerror=alert(1)>';
const HOSTILE_IMAGE = '<img src=x onerror=alert(2)>.png';

const bearer = { authorization: `Bearer ${TOKEN}` };

function start(s: Stack, script: Record<string, unknown>, headers: Record<string, string> = {}) {
  return request(s.port, {
    method: 'POST',
    path: '/command',
    headers: { 'content-type': 'application/json', ...bearer, ...headers },
    body: JSON.stringify({ text: JSON.stringify({ imagesDir: s.imagesDir, ...script }) }),
  });
}

/** What went wrong in the page, as it happened; the test asserts it stays empty. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    // The first answer to the navigation is the 401 that makes the browser log in.
    if (r.status() >= 400 && !(r.status() === 401 && r.request().resourceType() === 'document')) problems.push(`answer ${r.status()}: ${r.url()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return problems;
}

void test('the status page in headless Chromium: the running job, a live chart, thumbnails, no failed request, no console error, CSP enforced', async (t) => {
  if (!existsSync(CHROMIUM)) {
    console.log(`# skipped: ${CHROMIUM} is missing (apt-get install chromium; CI installs it)`);
    t.skip(`${CHROMIUM} is missing`);
    return;
  }
  const s = await startStack(t, { COMMAND_TIMEOUT_MS: '120000', SAMPLE_INTERVAL_MS: '250' }, fixture('api-cli.mjs'), { apiToken: TOKEN });
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.after(() => browser.close());

  // A real screenshot for the job to "take" (a 1×1 PNG would show nothing).
  const shot = path.join(await tempDir(t), 'shot.png');
  const painter = await browser.newPage({ viewport: { width: 480, height: 320 } });
  await painter.setContent('<body style="margin:0;background:#1f6feb;color:#fff;font:40px sans-serif;display:grid;place-items:center;height:100vh">Add task</body>');
  await painter.screenshot({ path: shot });
  await painter.close();

  // One finished job for the recent table (the fixture reports a cost), then one that runs.
  const first = await start(s, { result: 'first answer', png: ['first.png'], pngFrom: shot });
  assert.equal(first.statusCode, 200, first.text);
  const accepted = await start(
    s,
    {
      lines: [{ type: 'assistant', parent_tool_use_id: null, message: { id: 'm1', content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'true', description: HOSTILE } }] } }],
      png: ['running.png', HOSTILE_IMAGE],
      pngFrom: shot,
      sleepMs: 100_000,
      result: 'never',
    },
    { prefer: 'respond-async' },
  );
  assert.equal(accepted.statusCode, 202, accepted.text);
  const jobId = accepted.json().jobId as string;

  const context = await browser.newContext({ httpCredentials: { username: 'operator', password: TOKEN }, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = watchProblems(page);
  // Every CSP violation, also those Chromium would not print.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) => {
      seen.push(`${e.violatedDirective} ${e.blockedURI}`);
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const answer = await page.goto(`http://127.0.0.1:${s.port}/status`);
  assert.equal(answer?.status(), 200);
  const headers = answer.headers();
  assert.match(headers['content-type'] ?? '', /^text\/html/);
  assert.match(headers['content-security-policy'] ?? '', /^default-src 'none'; script-src 'nonce-[A-Za-z0-9+/=]+'/);

  // The running job, its tool, and a chart that grows from live usage events.
  assert.equal(await page.textContent('#job-id'), jobId);
  await page.waitForFunction(() => document.getElementById('job-tool')?.textContent === 'Bash', undefined, { timeout: 15_000 });
  assert.equal(await page.textContent('#job-tool-desc'), HOSTILE, 'the description is shown as text, not run');
  const pointsNow = async (): Promise<number[]> =>
    page.evaluate(() => ['chart-rss', 'chart-cpu'].map((id) => Number(document.getElementById(id)?.getAttribute('data-points'))));
  await page.waitForFunction(() => Number(document.getElementById('chart-rss')?.getAttribute('data-points')) >= 2, undefined, { timeout: 15_000 });
  const before = await pointsNow();
  await page.waitForFunction((n) => Number(document.getElementById('chart-rss')?.getAttribute('data-points')) > n, before[0]!, { timeout: 15_000 });
  const after = await pointsNow();
  assert.ok(after[0]! > before[0]! && after[1]! >= 2, `chart points ${before.join('/')} -> ${after.join('/')}`);
  const line = await page.getAttribute('#chart-rss polyline', 'points');
  assert.ok((line ?? '').split(' ').length >= 2, `rss line: ${line}`);

  // Thumbnails: the running job's two screenshots and the first job's, all loaded.
  await page.waitForFunction(
    () => {
      const imgs = [...document.querySelectorAll<HTMLImageElement>('#thumb-list img')];
      return imgs.length >= 3 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    undefined,
    { timeout: 15_000 },
  );
  const widths = await page.$$eval('#thumb-list img', (imgs) => (imgs as HTMLImageElement[]).map((i) => i.naturalWidth));
  assert.ok(widths.every((w) => w === 480), `thumbnails' natural widths: ${widths.join(', ')}`);
  assert.ok(await page.isVisible(`#thumb-list figure[data-url="/images/${encodeURIComponent(HOSTILE_IMAGE)}"]`), 'the hostile name is a thumbnail like any other');

  // The recent table shows the first job with its outcome and cost; the page refreshed itself.
  const recent = await page.textContent('#recent');
  assert.match(recent ?? '', new RegExp(`${first.json().jobId as string}.*ok.*\\$0\\.0010`, 's'));
  await page.waitForFunction(() => document.getElementById('updated')?.textContent?.startsWith('updated ') === true, undefined, { timeout: 15_000 });
  assert.ok(await page.isVisible('#chart-rss'));

  await mkdir(ARTIFACTS, { recursive: true });
  const artifact = path.join(ARTIFACTS, 'status-page.png');
  await page.screenshot({ path: artifact, fullPage: true });
  console.log(`# status page screenshot: ${artifact}`);

  // The job ends: its end event, then the page reloads itself into the idle page.
  const cancelled = await request(s.port, { method: 'POST', path: `/jobs/${jobId}/cancel`, headers: bearer });
  assert.equal(cancelled.statusCode, 409, cancelled.text);
  await page.waitForFunction(() => document.getElementById('status')?.getAttribute('data-job-id') === '', undefined, { timeout: 20_000 });
  await page.waitForSelector('#job .idle');
  assert.match((await page.textContent('#recent')) ?? '', new RegExp(`${jobId}.*cancelled`, 's'));
  await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#thumb-list img')].every((i) => i.complete && i.naturalWidth > 0));

  assert.deepEqual([...problems], [], 'no failed request, no error answer, no console error, no page error, no dialog');
  assert.deepEqual(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations), []);

  // The CSP is enforced, and a violation would have been caught: an inline script the
  // page did not sign is refused and reported.
  const ran = await page.evaluate(async () => {
    const script = document.createElement('script');
    script.textContent = 'window.unsignedScriptRan = true';
    document.head.append(script);
    await new Promise((r) => setTimeout(r, 200));
    return (window as unknown as { unsignedScriptRan?: boolean }).unsignedScriptRan === true;
  });
  assert.equal(ran, false, 'an unsigned inline script does not run');
  assert.ok(
    problems.some((p) => p.startsWith('console error: CSP violation: script-src')),
    `the violation is caught as a console error: ${JSON.stringify(problems)}`,
  );
  await context.close();
});
