// Makes the Playwright CLI use the system's Chromium (Debian's /usr/bin/chromium) with no
// browser download. `playwright screenshot` has no executable-path option; it looks for
// its own build under PLAYWRIGHT_BROWSERS_PATH as `<name>-<revision>/<dir>/<binary>`.
// Links named that way to the system binary are all it needs (checked with Playwright
// 1.65: headless-shell for `screenshot`, the full build for headed/`--channel chromium`).
// The revision is read from the installed playwright-core, so a Playwright bump follows.
// Chromium runs as root too: Playwright passes --no-sandbox unless chromiumSandbox is set.
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from '../../../common/repo-root.ts';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export interface SystemChromium {
  /** Give this to every process that runs Playwright as PLAYWRIGHT_BROWSERS_PATH. */
  browsersPath: string;
  executable: string;
  revision: string;
}

// Resolved from the app folder, whether this runs as .ts or bundled in dist/.
const require = createRequire(path.join(REPO_ROOT, 'package.json'));

let playwrightCli: string | undefined;

/** The Playwright CLI's entry point (run it with node, or directly: it has a shebang).
 *  Resolved once: every job's system prompt names it, and a resolve is a walk of stats. */
export function playwrightCliPath(): string {
  playwrightCli ??= path.join(path.dirname(require.resolve('playwright/package.json')), 'cli.js');
  return playwrightCli;
}

/** Build dirs Playwright expects per browser on this machine's arch. */
function layout(arch: string): Array<{ name: string; dir: string; binary: string }> {
  const arm = arch === 'arm64';
  return [
    { name: 'chromium', dir: arm ? 'chrome-linux-arm64' : 'chrome-linux64', binary: 'chrome' },
    {
      name: 'chromium-headless-shell',
      dir: arm ? 'chrome-headless-shell-linux-arm64' : 'chrome-headless-shell-linux64',
      binary: 'chrome-headless-shell',
    },
  ];
}

async function playwrightRevisions(): Promise<Map<string, string>> {
  const browsersJson = path.join(path.dirname(require.resolve('playwright-core/package.json')), 'browsers.json');
  const parsed = JSON.parse(await fs.readFile(browsersJson, 'utf8')) as { browsers: Array<{ name: string; revision: string }> };
  return new Map(parsed.browsers.map((b) => [b.name, b.revision]));
}

/**
 * Creates (or refreshes) links under browsersPath to the system Chromium, readable by
 * everyone so a non-root agent can use them. Throws when the executable is missing.
 */
export async function linkSystemChromium(browsersPath: string, executable = DEFAULT_CHROMIUM): Promise<SystemChromium> {
  await fs.access(executable, fs.constants.X_OK);
  const revisions = await playwrightRevisions();
  let revision = '';
  await fs.mkdir(browsersPath, { recursive: true, mode: 0o755 });
  for (const { name, dir, binary } of layout(process.arch)) {
    const rev = revisions.get(name);
    if (rev === undefined) continue;
    revision = rev;
    const browserDir = path.join(browsersPath, `${name.replace(/-/g, '_')}-${rev}`);
    await fs.mkdir(path.join(browserDir, dir), { recursive: true, mode: 0o755 });
    const link = path.join(browserDir, dir, binary);
    await fs.rm(link, { force: true });
    await fs.symlink(executable, link);
    // Playwright re-checks host libraries when this marker is missing or 30 days old and
    // then writes it; a fresh one keeps a read-only folder working for a non-root agent.
    await fs.writeFile(path.join(browserDir, 'DEPENDENCIES_VALIDATED'), '');
    await fs.writeFile(path.join(browserDir, 'INSTALLATION_COMPLETE'), '');
  }
  if (revision === '') throw new Error('playwright-core lists no chromium build');
  return { browsersPath, executable, revision };
}
