// The folder that holds the application's package.json and node_modules: the checkout,
// or /app in the image. Found by walking up from this module to the nearest package.json,
// which is right both from the TypeScript sources (common/) and from the esbuild bundles
// in dist/ (scripts/build.mjs), where this code is inlined and import.meta.url is the bundle's.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder at or above `start` holding a package.json; throws if there is none. */
export function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json at or above ${start}`);
  }
}

export const REPO_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** True when running from the dist/ bundles under plain node, false when tsx runs the .ts sources. */
export const RUNNING_BUILT = !import.meta.url.endsWith('.ts');
