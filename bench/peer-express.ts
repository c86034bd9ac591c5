// Peer (b): the seed plan's single-file Express server (vm-server.js), reduced to what
// the bench compares: one process, `spawn` in the request handler, a boolean busy flag,
// stdout collected in memory. It spawns the same fixture with the same argv the
// supervisor uses, so the comparison measures the servers, not the programs they run.
// Env: PORT, CLAUDE_BIN, COMMAND_TIMEOUT_MS, IMAGES_DIR.
import { spawn } from 'node:child_process';
import express from 'express';
import { buildCliArgs } from '../supervisor/src/claude/cli-args.ts';
import { userMessageLine } from '../supervisor/src/claude/stream-json-input.ts';
import { NO_LIMITS } from '../supervisor/src/job/limits.ts';

const port = Number(process.env.PORT ?? '3002');
const claudeBin = process.env.CLAUDE_BIN ?? 'claude';
const timeoutMs = Number(process.env.COMMAND_TIMEOUT_MS ?? '300000');
const args = buildCliArgs({}, NO_LIMITS, { imagesDir: process.env.IMAGES_DIR ?? '/tmp/images' });

const app = express();
let busy = false;
let activeChild: ReturnType<typeof spawn> | null = null;

app.use(express.json());

app.post('/command', (req, res) => {
  const text = (req.body as { text?: unknown } | undefined)?.text;
  if (typeof text !== 'string' || text.trim() === '') {
    res.status(400).json({ error: 'bad_request', message: "Request body must include a non-empty 'text' field" });
    return;
  }
  if (busy) {
    res.status(409).json({ error: 'busy', message: 'A command is already in progress' });
    return;
  }
  busy = true;
  const start = Date.now();
  const stdoutChunks: Buffer[] = [];
  const stderrChunks: Buffer[] = [];
  const child = spawn(claudeBin, args, { env: { ...process.env } });
  activeChild = child;
  let timedOut = false;
  // The seed's log lines, kept: logging per request is part of its cost, as ours is.
  console.log(`[COMMAND] Received prompt (${text.length} chars)`);
  console.log(`[SPAWN]   Claude Code PID ${child.pid}`);
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill();
  }, timeoutMs);
  child.stdin.on('error', () => {}); // a child that exits before reading stdin
  // The argv is the supervisor's (`--input-format stream-json`): the prompt goes as its
  // user message line, then stdin ends (the seed wrote the raw text).
  child.stdin.end(userMessageLine(text));
  child.stdout.on('data', (c: Buffer) => stdoutChunks.push(c));
  child.stderr.on('data', (c: Buffer) => stderrChunks.push(c));
  child.on('error', (err) => {
    clearTimeout(timer);
    busy = false;
    activeChild = null;
    res.status(500).json({ error: 'execution_error', message: err.message, exitCode: null, durationMs: Date.now() - start });
  });
  child.on('close', (code) => {
    clearTimeout(timer);
    busy = false;
    activeChild = null;
    const durationMs = Date.now() - start;
    const out = Buffer.concat(stdoutChunks).toString();
    if (timedOut) {
      console.log(`[TIMEOUT] Killed PID ${child.pid} after ${durationMs}ms`);
      res.status(408).json({ error: 'timeout', message: `Command timed out after ${timeoutMs}ms`, text: out || null, images: [], durationMs });
      return;
    }
    if (code !== 0) {
      res.status(500).json({ error: 'execution_error', message: Buffer.concat(stderrChunks).toString() || `Process exited with code ${code}`, exitCode: code, durationMs });
      return;
    }
    console.log(`[DONE]    Exit 0, ${durationMs}ms, ${out.length} chars output`);
    res.json({ text: out, images: [], exitCode: 0, durationMs });
  });
});

app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});

process.on('SIGTERM', () => {
  activeChild?.kill();
  process.exit(0);
});

app.listen(port, '127.0.0.1', () => {
  console.log(`peer-express listening on ${port}`);
});
