// Records what the pinned CLI prints (stream-json lines, byte for byte) for the cases the
// reader's tests need, against the Messages API stand-in, with the supervisor's own argv,
// environment defaults and stdin lines. Run after moving the pin:
//   node --import tsx test/support/record-stream-json.ts
// It writes test/fixtures/claude-stream-json/<installed version>/*.jsonl and checks each
// recording has what its tests read; a case that came out otherwise is tried again.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCliArgs } from '../../supervisor/src/claude/cli-args.ts';
import { cliEnv } from '../../supervisor/src/claude/cli-env.ts';
import { interruptLine, userMessageLine } from '../../supervisor/src/claude/stream-json-input.ts';
import { NO_LIMITS, type JobLimits } from '../../supervisor/src/job/limits.ts';
import { bash, startMessagesApi, type Turn } from './messages-api.ts';
import { installedCliVersion, streamJsonFixtures } from './pinned-cli.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CLAUDE = path.join(root, 'node_modules', '.bin', 'claude');
/** resume-unknown asks for this session, which exists nowhere. */
export const UNKNOWN_SESSION = '3f0c2f6e-1111-4222-8333-444455556666';
const INTERRUPT_GAP_MS = 600;

interface Case {
  prompt: string;
  turns: Turn[];
  limits?: JobLimits;
  sessionId?: string;
  retries?: number;
  /** Send the interrupt this long after the main request arrived. */
  interruptAfterMs?: number;
  /** What the recording must hold to be kept. */
  check: (lines: Array<Record<string, unknown>>) => boolean;
}

const resultOf = (lines: Array<Record<string, unknown>>): Record<string, unknown> | undefined => lines.find((l) => l.type === 'result');

const CASES: Record<string, Case> = {
  plain: { prompt: 'What is 2+2?', turns: [{ text: 'Four.' }], check: (l) => resultOf(l)?.result === 'Four.' },
  'bash-tool': {
    prompt: 'Say hello',
    turns: [{ text: 'Running it.', tools: [bash('echo hello-$((6*7)); id -u', 'Print a greeting')] }, { text: 'It printed hello-42.' }],
    check: (l) => resultOf(l)?.result === 'It printed hello-42.' && resultOf(l)?.num_turns === 2,
  },
  'api-500': { prompt: 'anything', turns: [{ error: { status: 500 } }], retries: 0, check: (l) => resultOf(l)?.api_error_status === 500 },
  // One retry: the CLI's own words then, and an api_retry event.
  'api-401': { prompt: 'anything', turns: [{ error: { status: 401 } }, { error: { status: 401 } }], retries: 1, check: (l) => resultOf(l)?.api_error_status === 401 },
  'resume-unknown': { prompt: 'hello again', turns: [], sessionId: UNKNOWN_SESSION, check: (l) => resultOf(l)?.subtype === 'error_during_execution' },
  interrupted: {
    prompt: 'Tell a long story',
    turns: [{ textChunks: { chunks: ['Part one. ', 'Part two. ', 'Part three. ', 'Part four. ', 'Part five. '], gapMs: INTERRUPT_GAP_MS } }],
    interruptAfterMs: INTERRUPT_GAP_MS * 1.5,
    check: (l) =>
      resultOf(l)?.subtype === 'error_during_execution' &&
      l.some((e) => e.type === 'assistant' && JSON.stringify(e).includes('"text":"Part one. Part two. "')),
  },
  'max-turns': {
    prompt: 'Use a tool',
    turns: [{ text: 'Tool.', tools: [bash('echo hi', 'Say hi')] }, { text: 'never reached' }],
    limits: { maxTurns: 1, maxBudgetUsd: null },
    check: (l) => resultOf(l)?.subtype === 'error_max_turns',
  },
  budget: {
    prompt: 'Think hard',
    turns: [{ text: 'Expensive.', usage: { inputTokens: 100_000, outputTokens: 50_000 }, tools: [bash('echo hi', 'Say hi')] }, { text: 'never reached' }],
    limits: { maxTurns: null, maxBudgetUsd: 0.01 },
    check: (l) => resultOf(l)?.subtype === 'error_max_budget_usd',
  },
};

async function record(name: string, c: Case): Promise<Buffer> {
  const api = await startMessagesApi({ turns: c.turns });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `record-${name}-`));
  const [ws, home, images] = ['ws', 'home', 'images'].map((d) => path.join(dir, d)) as [string, string, string];
  for (const d of [ws, home, images]) fs.mkdirSync(d);
  try {
    const args = buildCliArgs({ sessionId: c.sessionId }, c.limits ?? NO_LIMITS, { imagesDir: images });
    const env = cliEnv({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      LANG: 'C.UTF-8',
      ANTHROPIC_BASE_URL: api.url,
      ANTHROPIC_API_KEY: 'sk-ant-record-not-a-real-key',
      CLAUDE_CODE_MAX_RETRIES: String(c.retries ?? 0),
      ...(process.getuid?.() === 0 ? { IS_SANDBOX: '1' } : {}),
    });
    const child = spawn(CLAUDE, args, { cwd: ws, env, stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    let sawResult = false;
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // As the supervisor does: stdin closes once the result is out.
      if (!sawResult && Buffer.concat(chunks).includes('"type":"result"')) {
        sawResult = true;
        child.stdin.end();
      }
    });
    child.stdin.write(userMessageLine(c.prompt));
    if (c.interruptAfterMs !== undefined) {
      while (api.mainRequests().length === 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, c.interruptAfterMs));
      child.stdin.write(interruptLine('req_1'));
    }
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(killer);
    return Buffer.concat(chunks);
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const version = installedCliVersion();
  const out = streamJsonFixtures(version);
  fs.mkdirSync(out, { recursive: true });
  for (const [name, c] of Object.entries(CASES)) {
    let kept = false;
    for (let attempt = 1; attempt <= 3 && !kept; attempt++) {
      const data = await record(name, c);
      const lines = data.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      kept = c.check(lines);
      if (kept) fs.writeFileSync(path.join(out, `${name}.jsonl`), data);
      console.log(`${version} ${name}: ${lines.map((l) => `${String(l.type)}${l.subtype === undefined ? '' : `/${String(l.subtype)}`}`).join(' ')}${kept ? '' : ' (not as expected, again)'}`);
    }
    if (!kept) throw new Error(`${name}: three recordings, none as expected`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
