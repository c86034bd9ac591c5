// The Claude Code CLI this checkout pins: the exact version in package.json, the package
// npm installed in node_modules, and the folder of stream-json lines recorded from it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_PACKAGE = '@anthropic-ai/claude-code';
const root = fileURLToPath(new URL('../../', import.meta.url));

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** The version package.json pins (an exact version; test/deploy/static.test.ts checks that). */
export function pinnedCliVersion(): string {
  const dependencies = readJson(path.join(root, 'package.json')).dependencies as Record<string, string>;
  const version = dependencies[CLI_PACKAGE];
  if (version === undefined) throw new Error(`package.json has no ${CLI_PACKAGE}`);
  return version;
}

/** The version of the package npm put in node_modules. */
export function installedCliVersion(): string {
  return String(readJson(path.join(root, 'node_modules', CLI_PACKAGE, 'package.json')).version);
}

/** What `claude --version` prints for a version (2.1.197 and 2.1.332 alike). */
export function versionLine(version: string): string {
  return `${version} (Claude Code)`;
}

/** The stream-json lines recorded from one CLI version (test/support/record-stream-json.ts). */
export function streamJsonFixtures(version: string = pinnedCliVersion()): string {
  return path.join(root, 'test', 'fixtures', 'claude-stream-json', version);
}
