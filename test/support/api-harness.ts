// Helpers for the API's tests: an in-process app for inject tests, and the API as a real
// process (`node --import tsx api/src/main.ts`) with its JSON log lines collected.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../common/logger.ts';
import { build } from '../../api/src/app.ts';
import { ImageIndex } from '../../api/src/images/image-index.ts';
import { ShutdownState } from '../../api/src/shutdown.ts';
import { SupervisorClient } from '../../api/src/supervisor-client.ts';
import { SystemSampler } from '../../api/src/system-info.ts';
import { collectLogLines } from './log-lines.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export async function tempDir(t: TestContext, prefix = 'api-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestApp {
  app: FastifyInstance;
  images: ImageIndex;
  shutdown: ShutdownState;
  logs: Record<string, unknown>[];
}

export interface TestAppOptions {
  imagesDir: string;
  socketPath?: string;
  apiToken?: string;
  bodyLimitBytes?: number;
  watch?: boolean;
  supervisorTimeoutMs?: number;
  maxImagesPerAnswer?: number;
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  eventsHeartbeatMs?: number;
  eventsMaxBufferedBytes?: number;
  eventsStallMs?: number;
  supervisorReconnectMs?: number;
  /** The client's longest single wait (SupervisorClient waitSliceMs). */
  supervisorWaitSliceMs?: number;
}

/** The app built in-process (never listening unless the test calls listen). */
export async function buildTestApp(t: TestContext, options: TestAppOptions): Promise<TestApp> {
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ name: 'api', level: 'debug', destination });
  const images = new ImageIndex({ dir: options.imagesDir, logger, watch: options.watch ?? false, stabilityMs: 100 });
  await images.start();
  const shutdown = new ShutdownState();
  const app = build({
    logger,
    supervisor: new SupervisorClient({
      socketPath: options.socketPath ?? path.join(options.imagesDir, 'no-supervisor.sock'),
      timeoutMs: options.supervisorTimeoutMs ?? 900,
      ...(options.supervisorReconnectMs !== undefined ? { reconnectMs: options.supervisorReconnectMs } : {}),
      ...(options.supervisorWaitSliceMs !== undefined ? { waitSliceMs: options.supervisorWaitSliceMs } : {}),
    }),
    images,
    system: new SystemSampler(options.imagesDir, options.imagesDir),
    shutdown,
    apiToken: options.apiToken,
    bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
    maxImagesPerAnswer: options.maxImagesPerAnswer ?? 20,
    ...(options.eventsHeartbeatMs !== undefined ? { eventsHeartbeatMs: options.eventsHeartbeatMs } : {}),
    ...(options.eventsMaxBufferedBytes !== undefined ? { eventsMaxBufferedBytes: options.eventsMaxBufferedBytes } : {}),
    ...(options.eventsStallMs !== undefined ? { eventsStallMs: options.eventsStallMs } : {}),
    version: '0.0.0-test',
    startedAtMs: Date.now(),
  });
  t.after(async () => {
    await app.close();
    await images.close();
  });
  return { app, images, shutdown, logs };
}

export interface RawResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json: () => Record<string, unknown>;
}

/** A real HTTP request with the path sent byte for byte (no client-side normalisation). */
export function request(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; host?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: options.host ?? '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) as Record<string, unknown> });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface ApiProcess {
  child: ChildProcess;
  port: number;
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `api/src/main.ts` as a real process on a free port; resolves once it listens. */
export async function startApiProcess(t: TestContext, env: Record<string, string>): Promise<ApiProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`api did not listen within 20 s; stderr: ${stderr}`)), 20_000);
    collectLogLines(child.stdout!, (entry) => {
      logs.push(entry);
      if (entry.msg === 'api listening') {
        clearTimeout(timer);
        resolve(entry.port as number);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`api exited before listening (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
  return { child, port, logs, exited };
}
