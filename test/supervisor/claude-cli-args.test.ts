// The CLI's argv and environment for a job, and the links that give Playwright the
// system Chromium. Pure functions and a temp folder; the real CLI runs in test/e2e.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildCliArgs as buildArgs, isSessionId } from '../../supervisor/src/claude/cli-args.ts';
import { interruptLine, userMessageLine } from '../../supervisor/src/claude/stream-json-input.ts';
import { jobLimitsOf, NO_LIMITS, type JobLimits } from '../../supervisor/src/job/limits.ts';
import { CLI_ENV_DEFAULTS, cliEnv } from '../../supervisor/src/claude/cli-env.ts';
import { imagesSystemPrompt } from '../../supervisor/src/claude/system-prompt.ts';
import { linkSystemChromium, playwrightCliPath } from '../../supervisor/src/claude/system-chromium.ts';

const SESSION = '3f0c2f6e-1111-4222-8333-444455556666';
const options = { imagesDir: '/tmp/images', playwrightCli: '/app/node_modules/playwright/cli.js' };
const buildCliArgs = (request: Parameters<typeof buildArgs>[0], opts = options, limits: JobLimits = NO_LIMITS): string[] => buildArgs(request, limits, opts);
const HEAD = ['-p', '--dangerously-skip-permissions', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose'];

void test('print mode with stream-json in and out needs --verbose; the prompt is never an argument', () => {
  const args = buildCliArgs({}, options);
  assert.deepEqual(args.slice(0, HEAD.length), HEAD);
  assert.equal(args.at(-2), '--append-system-prompt');
  assert.ok(!args.includes('-'), '`-p -` would take "-" as the prompt');
  assert.ok(!args.includes('--resume') && !args.includes('--continue'));
});

void test('a session id resumes that session; continue resumes the latest; the id wins over continue', () => {
  const resume = buildCliArgs({ sessionId: SESSION }, options);
  assert.deepEqual(resume.slice(HEAD.length, HEAD.length + 2), ['--resume', SESSION]);
  assert.deepEqual(buildCliArgs({ continue: true }, options).slice(HEAD.length, HEAD.length + 1), ['--continue']);
  const both = buildCliArgs({ sessionId: SESSION, continue: true }, options);
  assert.ok(both.includes('--resume') && !both.includes('--continue'));
  assert.ok(!buildCliArgs({ continue: false }, options).includes('--continue'));
});

void test('only a UUID reaches --resume', () => {
  assert.equal(isSessionId(SESSION), true);
  assert.equal(isSessionId(SESSION.toUpperCase()), true);
  for (const bad of ['', 'latest', '--help', `${SESSION} x`, `${SESSION}\n`, '../../etc/passwd', SESSION.slice(1)]) {
    assert.equal(isSessionId(bad), false, JSON.stringify(bad));
    assert.throws(() => buildCliArgs({ sessionId: bad }, options), TypeError);
  }
});

void test('limits become --max-turns and --max-budget-usd, as numbers; none by default', () => {
  const args = buildCliArgs({}, options, { maxTurns: 3, maxBudgetUsd: 0.25 });
  assert.deepEqual(args.slice(HEAD.length, HEAD.length + 4), ['--max-turns', '3', '--max-budget-usd', '0.25']);
  assert.ok(!buildCliArgs({}).some((a) => a.startsWith('--max-')));
  assert.throws(() => buildCliArgs({}, options, { maxTurns: Number.NaN, maxBudgetUsd: null }), TypeError);
  assert.throws(() => buildCliArgs({}, options, { maxTurns: null, maxBudgetUsd: -1 }), TypeError);
});

void test("a request's limits stay within the settings; the settings apply when it sets none", () => {
  const settings = { maxTurns: 10, maxBudgetUsd: 2 };
  assert.deepEqual(jobLimitsOf({}, settings), { limits: settings });
  assert.deepEqual(jobLimitsOf({ maxTurns: 3, maxBudgetUsd: 0.5 }, settings), { limits: { maxTurns: 3, maxBudgetUsd: 0.5 } });
  assert.deepEqual(jobLimitsOf({ maxTurns: 11 }, settings), { error: "maxTurns (11) is over this service's limit, MAX_TURNS=10" });
  assert.deepEqual(jobLimitsOf({ maxBudgetUsd: 2.01 }, settings), { error: "maxBudgetUsd (2.01) is over this service's limit, MAX_BUDGET_USD=2" });
  assert.deepEqual(jobLimitsOf({ maxTurns: 500, maxBudgetUsd: 99 }, NO_LIMITS), { limits: { maxTurns: 500, maxBudgetUsd: 99 } });
});

void test('stdin gets one user message line (images first, then the text) and interrupt requests', () => {
  const line = userMessageLine('look at "this"\n', [{ mediaType: 'image/png', data: 'iVBORw0KGgo=' }]);
  assert.ok(line.endsWith('\n') && line.indexOf('\n') === line.length - 1, 'exactly one line');
  assert.deepEqual(JSON.parse(line), {
    type: 'user',
    message: {
      role: 'user',
      content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        { type: 'text', text: 'look at "this"\n' },
      ],
    },
    parent_tool_use_id: null,
    session_id: '',
  });
  assert.deepEqual(JSON.parse(interruptLine('r1')), { type: 'control_request', request_id: 'r1', request: { subtype: 'interrupt' } });
});

void test('the appended system prompt says where images go and how to screenshot', () => {
  const prompt = buildCliArgs({}, options).at(-1)!;
  assert.equal(prompt, imagesSystemPrompt(options));
  assert.match(prompt, /\/tmp\/images/);
  assert.match(prompt, /\/app\/node_modules\/playwright\/cli\.js screenshot --full-page URL \/tmp\/images\/NAME\.png/);
  assert.match(prompt, /do not run `playwright install`/);
});

void test('by default the prompt names the installed Playwright CLI by absolute path', async () => {
  const cli = playwrightCliPath();
  assert.ok(path.isAbsolute(cli));
  await fs.access(cli, fs.constants.X_OK);
  assert.ok(imagesSystemPrompt({ imagesDir: '/x' }).includes(`${cli} screenshot`));
});

void test('the CLI env turns off updates and telemetry unless the operator chose otherwise', () => {
  const base = { PATH: '/usr/bin', DISABLE_TELEMETRY: '0' };
  const env = cliEnv(base);
  assert.equal(env.PATH, '/usr/bin');
  assert.equal(env.DISABLE_AUTOUPDATER, '1');
  assert.equal(env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, '1');
  assert.equal(env.DISABLE_TELEMETRY, '0');
  assert.deepEqual(base, { PATH: '/usr/bin', DISABLE_TELEMETRY: '0' }, 'the input is not changed');
  assert.ok(Object.isFrozen(CLI_ENV_DEFAULTS));
});

void test('linkSystemChromium lays out links where Playwright looks for its builds', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pw-browsers-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const fake = path.join(dir, 'fake-chromium');
  await fs.writeFile(fake, '#!/bin/sh\n', { mode: 0o755 });
  const browsers = path.join(dir, 'browsers');
  const linked = await linkSystemChromium(browsers, fake);
  assert.match(linked.revision, /^\d+$/);
  const arch = process.arch === 'arm64' ? 'linux-arm64' : 'linux64';
  for (const rel of [
    `chromium_headless_shell-${linked.revision}/chrome-headless-shell-${arch}/chrome-headless-shell`,
    `chromium-${linked.revision}/chrome-${arch}/chrome`,
  ]) {
    assert.equal(await fs.readlink(path.join(browsers, rel)), fake, rel);
  }
  // Idempotent: a second run at startup replaces the links.
  await linkSystemChromium(browsers, fake);
  await assert.rejects(linkSystemChromium(browsers, path.join(dir, 'missing')), { code: 'ENOENT' });
});
