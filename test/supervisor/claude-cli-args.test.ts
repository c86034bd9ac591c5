// The CLI's argv and environment for a job, and the links that give Playwright the
// system Chromium. Pure functions and a temp folder; the real CLI runs in test/e2e.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildCliArgs, isSessionId } from '../../supervisor/src/claude/cli-args.ts';
import { CLI_ENV_DEFAULTS, cliEnv } from '../../supervisor/src/claude/cli-env.ts';
import { imagesSystemPrompt } from '../../supervisor/src/claude/system-prompt.ts';
import { linkSystemChromium, playwrightCliPath } from '../../supervisor/src/claude/system-chromium.ts';

const SESSION = '3f0c2f6e-1111-4222-8333-444455556666';
const options = { imagesDir: '/tmp/images', playwrightCli: '/app/node_modules/playwright/cli.js' };

void test('print mode with stream-json needs --verbose; the prompt is never an argument', () => {
  const args = buildCliArgs({}, options);
  assert.deepEqual(args.slice(0, 5), ['-p', '--dangerously-skip-permissions', '--output-format', 'stream-json', '--verbose']);
  assert.equal(args.at(-2), '--append-system-prompt');
  assert.ok(!args.includes('-'), '`-p -` would take "-" as the prompt');
  assert.ok(!args.includes('--resume') && !args.includes('--continue'));
});

void test('a session id resumes that session; continue resumes the latest; the id wins over continue', () => {
  const resume = buildCliArgs({ sessionId: SESSION }, options);
  assert.deepEqual(resume.slice(5, 7), ['--resume', SESSION]);
  assert.deepEqual(buildCliArgs({ continue: true }, options).slice(5, 6), ['--continue']);
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
