// The CLI the tests and the supervisor run is the one package.json pins: a checkout whose
// node_modules holds another release (an `npm install` that moved it, a stale folder)
// would test and run behaviour docs/claude-cli.md does not describe.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfig } from '../../supervisor/src/config.ts';
import { installedCliVersion, pinnedCliVersion, streamJsonFixtures, versionLine } from '../support/pinned-cli.ts';

void test('node_modules holds the pinned CLI package', () => {
  assert.equal(installedCliVersion(), pinnedCliVersion(), 'run `npm ci`: node_modules is not what package-lock.json pins');
});

void test("the supervisor's default CLI prints the pinned version", () => {
  // CLAUDE_BIN unset: what every e2e test runs (the pinned binary in node_modules).
  const { claudeBin } = loadConfig({ PATH: '/usr/bin:/bin', ANTHROPIC_API_KEY: 'sk-ant-unused', IS_SANDBOX: '1' });
  assert.match(claudeBin, /\/node_modules\/\.bin\/claude$/);
  const printed = execFileSync(claudeBin, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', DISABLE_AUTOUPDATER: '1' }, timeout: 30_000 });
  assert.equal(printed.trim(), versionLine(pinnedCliVersion()));
});

void test('stream-json lines recorded from the pinned version are in the repository', () => {
  // The reader's tests read them (test/supervisor/claude-stream-json.test.ts); a new pin
  // needs `node --import tsx test/support/record-stream-json.ts` first.
  assert.ok(existsSync(streamJsonFixtures()), `no ${streamJsonFixtures()}`);
});
