// `npm run build` (and the first step of `npm start`, `npm test`, the image build):
// bundles the supervisor, the API and the launcher into dist/*.mjs, run by plain `node`,
// and compiles the per-job reaper. Running the TypeScript through tsx instead costs ~45 MB RSS per process (its
// hooks run on a second isolate; docs/benchmarks.md section 6), and the supervisor forks
// once per job, at a cost that grows with its RSS. Tests still run the .ts through tsx.
//
// Plain JS so it runs before anything is compiled. The packages are bundled in too,
// whitespace and syntax minified (identifiers kept): one module of each service's own code and
// its libraries instead of hundreds, whose sources V8 keeps in the heap (the supervisor
// held 4 MiB of source strings); docs/benchmarks.md section 6. Outside the bundle stay what
// is found on disk at run time: libsql (a native addon), pino and its transports (worker
// threads load them by file), Playwright (its browsers.json and CLI), the Claude CLI.
// Linked source maps let `node --enable-source-maps` point stack traces at the .ts.
// Each file is written beside its final name and renamed over it, so a process starting
// while another build runs (tests, a second `npm start`) never reads half a bundle.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Packages loaded from node_modules at run time, not bundled (see above). */
const EXTERNAL = ['libsql', '@libsql/*', 'pino', 'pino-pretty', 'thread-stream', 'playwright', 'playwright-core', '@anthropic-ai/claude-code'];
const started = process.hrtime.bigint();

const result = await build({
  absWorkingDir: root,
  entryPoints: [
    { in: 'supervisor/src/main.ts', out: 'supervisor' },
    { in: 'api/src/main.ts', out: 'api' },
    { in: 'scripts/start.ts', out: 'start' },
  ],
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: EXTERNAL,
  // The bundled CommonJS packages call require(): give the ES module one.
  banner: { js: "import { createRequire as __agentCockpitRequire } from 'node:module'; const require = __agentCockpitRequire(import.meta.url);" },
  // Not keepNames: identifiers are not minified, so names stay; its __name() wrappers on
  // every function expression cost 30-60% more CPU per /health request (side by side).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  write: false,
});
mkdirSync(path.join(root, 'dist'), { recursive: true });
for (const file of result.outputFiles) {
  const temp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temp, file.contents);
  renameSync(temp, file.path);
}

// The per-job reaper (supervisor/native/reaper.c) is C: holding a job's orphans takes
// prctl(PR_SET_CHILD_SUBREAPER) and waitpid(-1), which Node has neither of. Without a
// compiler the supervisor runs without that layer and says so (docs/supervisor.md); the
// image builds it in a stage of its own and copies it here.
const reaper = path.join(root, 'dist', 'agent-cockpit-reaper');
const cc = process.env.CC ?? 'cc';
const reaperTemp = `${reaper}.${process.pid}.tmp`;
const compiled = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-o', reaperTemp, path.join(root, 'supervisor/native/reaper.c')], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
let reaperNote;
if (compiled.status === 0) {
  renameSync(reaperTemp, reaper);
  reaperNote = 'dist/agent-cockpit-reaper';
} else {
  rmSync(reaperTemp, { force: true });
  if (compiled.error?.code !== 'ENOENT') {
    process.stderr.write(`build: ${cc} failed on supervisor/native/reaper.c\n`);
    process.exit(1);
  }
  reaperNote = existsSync(reaper)
    ? 'no C compiler: kept the existing dist/agent-cockpit-reaper'
    : `no C compiler (${cc}): dist/agent-cockpit-reaper not built, jobs run without the subreaper layer`;
}

const ms = Number(process.hrtime.bigint() - started) / 1e6;
process.stderr.write(`build: dist/{supervisor,api,start}.mjs and ${reaperNote} in ${ms.toFixed(0)} ms\n`);
