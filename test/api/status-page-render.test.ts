// The status page as markup: every value escaped (hostile job ids, tool names,
// descriptions, warnings, paths, image names), exactly the page's own style and script
// under the response's nonce, the script valid JavaScript; and GET /status's answers by
// Accept: the page with its headers, JSON otherwise, HEAD alike, Vary: Accept on both.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import type { JobSummary, SupervisorStatus } from '../../common/protocol.ts';
import { statusBody } from '../../api/src/routes/status.ts';
import { CLIENT_SCRIPT } from '../../api/src/status-page/client-script.ts';
import { escapeHtml, html, rawText, SafeHtml } from '../../api/src/status-page/html.ts';
import { renderStatusPage } from '../../api/src/status-page/page.ts';
import { buildTestApp, tempDir } from '../support/api-harness.ts';

const EVIL = `<script>alert('x')</script>"><img src=x onerror=alert(1)>&amp;</style></main>`;

void test('escapeHtml and html`` escape every value; only SafeHtml passes as markup', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  assert.equal(escapeHtml('&amp;'), '&amp;amp;', 'escaped once more, never taken as an entity');
  const name = '<b>"bold"</b>';
  assert.equal(html`<p title="${name}">${name}</p>`.markup, '<p title="&lt;b&gt;&quot;bold&quot;&lt;/b&gt;">&lt;b&gt;&quot;bold&quot;&lt;/b&gt;</p>');
  assert.equal(html`${[name, html`<i>${name}</i>`, null, undefined, false, 3]}`.markup, '&lt;b&gt;&quot;bold&quot;&lt;/b&gt;<i>&lt;b&gt;&quot;bold&quot;&lt;/b&gt;</i>3');
  assert.equal(html`${new SafeHtml('<br>')}`.markup, '<br>');
  assert.throws(() => rawText('x</script><script>alert(1)'), /end its element/);
  assert.throws(() => rawText('a</STYLE>'), /end its element/);
  assert.throws(() => rawText('<!-- x'), /end its element/);
});

function hostileStatus(): SupervisorStatus {
  const job: JobSummary = {
    id: `job${EVIL}`,
    state: 'running',
    idempotencyKey: EVIL,
    pid: 4242,
    promptChars: 12,
    startedAt: new Date(Date.now() - 5000).toISOString(),
    endedAt: null,
    durationMs: 5000,
    exitCode: null,
    signal: null,
    reason: null,
    errorMessage: EVIL,
    stdoutTruncated: false,
    stderrTruncated: false,
    images: [],
    result: null,
    progress: { turns: 2, tool: `Bash${EVIL}`, toolDescription: `describe ${EVIL}` },
    cpuMs: 100,
    cpuPercent: 12.5,
    rssBytes: 50 * 1024 * 1024,
    peakRssBytes: 60 * 1024 * 1024,
    processCount: 3,
    peakProcessCount: 4,
    processesKilled: 0,
    leftoversKilled: 0,
  };
  const finished: JobSummary = {
    ...job,
    id: `old${EVIL}`,
    state: 'finished',
    endedAt: new Date().toISOString(),
    reason: 'exit',
    exitCode: 0,
    images: [`${EVIL}.png`],
    result: { sessionId: null, costUsd: 0.0123, numTurns: 1, isError: false, subtype: 'success' },
    leftoversKilled: 2,
  };
  return {
    pid: 1,
    pid1: false,
    uptimeMs: 1000,
    version: `1.0${EVIL}`,
    shuttingDown: false,
    zombies: 0,
    warnings: [`warning ${EVIL}`],
    cgroup: { enabled: true, path: `/sys/fs/cgroup/${EVIL}`, kind: 'v2' },
    ownership: { agentUid: 1001, subreaper: true, cgroup: 'v2', environ: true, contained: true },
    nextJob: { prepared: true, reaperPid: 4242 },
    store: { path: `/data/${EVIL}`, writable: false, error: `disk ${EVIL}`, jobs: 2, bytes: 1000, unsaved: 1, maxJobs: 100, maxAgeDays: 7 },
    limits: { timeoutMs: 300_000, memoryLimitBytes: 2 ** 31, maxOutputBytes: 10 << 20, killGraceMs: 5000, interruptGraceMs: 2000, sampleIntervalMs: 1000, maxTurns: null, maxBudgetUsd: 1.5 },
    job,
    recentJobs: [finished],
  };
}

function hostileBody() {
  return statusBody({
    api: { pid: 2, uptimeMs: 3000, version: `api${EVIL}`, metrics: { host: `h${EVIL}`, port: 9091 } },
    supervisor: hostileStatus(),
    system: {
      memory: { totalBytes: 8 << 30, availableBytes: 4 << 30 },
      protectedHardlinks: false,
      loadAverage: [0.5, 0.4, 0.3],
      cpus: 2,
      disks: { images: { path: `/img/${EVIL}`, totalBytes: 100 << 20, freeBytes: 50 << 20 }, workspace: { path: `/ws/${EVIL}`, totalBytes: null, freeBytes: null } },
      sampledAt: new Date().toISOString(),
    },
    images: { dir: `/img/${EVIL}`, count: 1, bytes: 10, capped: false },
    latestImages: [{ name: `${EVIL}.png`, mtimeMs: Date.now(), size: 10 }],
    imagesOf: (j) => j.images.map((n) => `/images/${encodeURIComponent(n)}`),
  });
}

void test('the page escapes every value from outside: hostile ids, tool, description, warnings, paths and image names stay text', () => {
  const nonce = 'bm9uY2Utb2YtdGhlLXRlc3Q=';
  const page = renderStatusPage(hostileBody(), nonce);
  const markup = page.slice(0, page.indexOf('<script'));
  assert.ok(!page.includes(EVIL), 'the hostile string never appears unescaped');
  assert.ok(!page.includes('<img src=x'), 'no injected element');
  assert.ok(!page.includes("<script>alert('x')"));
  // Exactly the page's own <style>, <script> and <main>, each under the nonce.
  assert.equal(page.match(/<script\b/gi)?.length, 1);
  assert.equal(page.match(/<\/script/gi)?.length, 1);
  assert.equal(page.match(/<style\b/gi)?.length, 1);
  assert.equal(page.match(/<\/style/gi)?.length, 1);
  // The script cuts a fresh page at the first <main and the first </main> after it.
  assert.equal(markup.match(/<main\b/gi)?.length, 1);
  assert.equal(markup.match(/<\/main>/gi)?.length, 1);
  assert.ok(markup.trimEnd().endsWith('</main>'));
  assert.ok(page.includes(`<script nonce="${nonce}">`) && page.includes(`<style nonce="${nonce}">`));
  // The tags are the renderer's own (a value's '<' is escaped): none has a style
  // attribute (the CSP allows none) or an event handler.
  const tags = markup.match(/<[a-z][^>]*>/gi) ?? [];
  assert.ok(tags.length > 50, `${tags.length} tags`);
  // (Values are double-quoted and hold no raw '"': what is left outside quotes are names.)
  for (const tag of tags) assert.ok(!/\s(style|on[a-z]+)\s*=/i.test(tag.replace(/"[^"]*"/g, '""')), tag);
  // The escaped text is there, to be shown.
  const escaped = escapeHtml(EVIL);
  for (const shown of [`Bash${escaped}`, `describe ${escaped}`, `warning ${escaped}`, `disk ${escaped}`, `job${escaped}`, `old${escaped}`]) assert.ok(page.includes(shown), shown);
  assert.ok(page.includes(`src="/images/${escapeHtml(encodeURIComponent(`${EVIL}.png`))}"`), 'the image URL is encoded, then escaped');
  // What the operator must see.
  assert.ok(page.includes('fs.protected_hardlinks is off'));
  assert.ok(page.includes('The job store cannot record new jobs'));
  assert.match(page, /\$0\.01/, 'the recent job\u2019s cost');
  assert.match(page, /Contained: no process of a job can outlive it here/);
});

void test('the page script is valid JavaScript and cannot end its element', () => {
  assert.doesNotThrow(() => new vm.Script(CLIENT_SCRIPT, { filename: 'status-page-client.js' }));
  assert.doesNotThrow(() => rawText(CLIENT_SCRIPT));
  assert.ok(!/innerHTML|outerHTML\s*=|insertAdjacentHTML|document\.write|eval\(|new Function/.test(CLIENT_SCRIPT), 'no text becomes markup in the browser');
});

void test('GET /status: the page for a browser, JSON for every other Accept; HEAD alike; Vary: Accept', async (t) => {
  const { app } = await buildTestApp(t, { imagesDir: await tempDir(t) });
  const nonces = new Set<string>();
  for (const accept of ['text/html', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8']) {
    const res = await app.inject({ url: '/status', headers: { accept } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers.vary, 'Accept');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const csp = String(res.headers['content-security-policy']);
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]{24})'/.exec(csp)?.[1];
    assert.ok(nonce !== undefined, csp);
    assert.equal(
      csp,
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    assert.ok(res.body.includes(`<script nonce="${nonce}">`) && res.body.includes(`<style nonce="${nonce}">`));
    assert.ok(res.body.startsWith('<!doctype html>'));
    assert.match(res.body, /The supervisor is not reachable/);
    nonces.add(nonce);
  }
  assert.equal(nonces.size, 2, 'a fresh nonce per answer');
  for (const headers of [{}, { accept: '*/*' }, { accept: 'application/json' }, { accept: 'text/*' }, { accept: 'text/html;q=0.5, application/json' }, { accept: 'text/plain' }]) {
    const res = await app.inject({ url: '/status', headers });
    assert.equal(res.statusCode, 200, JSON.stringify(headers));
    assert.match(String(res.headers['content-type']), /^application\/json/, JSON.stringify(headers));
    assert.equal(res.headers.vary, 'Accept');
    assert.equal(res.headers['content-security-policy'], undefined);
    const body = res.json() as { supervisor: { reachable: boolean }; images: { latest: unknown[] } };
    assert.equal(body.supervisor.reachable, false);
    assert.deepEqual(body.images.latest, []);
  }
  const head = await app.inject({ method: 'HEAD', url: '/status', headers: { accept: 'text/html' } });
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(String(head.headers['content-security-policy']), /^default-src 'none'/);
  assert.equal(head.headers.vary, 'Accept');
  assert.equal(head.body, '');
  const headJson = await app.inject({ method: 'HEAD', url: '/status' });
  assert.match(String(headJson.headers['content-type']), /^application\/json/);
  assert.equal(headJson.body, '');

  const icon = await app.inject({ url: '/status/icon.svg' });
  assert.equal(icon.statusCode, 200);
  assert.equal(icon.headers['content-type'], 'image/svg+xml');
  assert.match(icon.body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
});
