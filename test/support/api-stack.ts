// The API (in-process, listening on a free port) in front of a REAL supervisor process
// whose CLI is a fixture (test/fixtures/api-cli.mjs by default: its prompt is a JSON
// script). `post(script)` runs the script as POST /command's text, with `runs` (a file
// each CLI run appends to) and `imagesDir` filled in.
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { buildTestApp, request, tempDir, type RawResponse, type TestAppOptions } from './api-harness.ts';
import type { ShutdownState } from '../../api/src/shutdown.ts';
import { fixture, startSupervisor, type Supervisor } from './supervisor-harness.ts';

export interface Stack {
  sup: Supervisor;
  port: number;
  imagesDir: string;
  runs: string;
  logs: Record<string, unknown>[];
  shutdown: ShutdownState;
  post: (script: Record<string, unknown> | string, headers?: Record<string, string>) => Promise<RawResponse>;
  get: (p: string) => Promise<RawResponse>;
}

export async function startStack(
  t: TestContext,
  env: Record<string, string> = {},
  claudeBin = fixture('api-cli.mjs'),
  appOptions: Partial<TestAppOptions> = {},
): Promise<Stack> {
  const sup = await startSupervisor(t, { claudeBin, env: { KILL_GRACE_MS: '300', SAMPLE_INTERVAL_MS: '50', ...env } });
  const imagesDir = path.join(sup.dir, 'images');
  const { app, logs, shutdown } = await buildTestApp(t, { imagesDir, socketPath: sup.socketPath, watch: true, ...appOptions });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const runs = path.join(await tempDir(t), 'runs');
  return {
    sup,
    port,
    imagesDir,
    runs,
    logs,
    shutdown,
    post: (script, headers = {}) =>
      request(port, {
        method: 'POST',
        path: '/command',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ text: typeof script === 'string' ? script : JSON.stringify({ runs, imagesDir, ...script }) }),
      }),
    get: (p) => request(port, { path: p }),
  };
}

export async function runCount(runs: string): Promise<number> {
  try {
    return (await readFile(runs, 'utf8')).split('\n').filter((l) => l !== '').length;
  } catch {
    return 0;
  }
}

export async function waitForRunningJob(stack: Stack): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const status = (await stack.get('/status')).json() as { job: { id: string } | null };
    if (status.job !== null) return status.job.id;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no job started');
}
