// Baseline (a): the least any server can do per command. Spawn the fixture from this
// process with the supervisor's argv, write the prompt to stdin as the supervisor does
// (the stream-json user message line; stdin then ends), collect stdout, and wait for
// 'close' (every stdio stream drained and the process reaped).
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { userMessageLine } from '../supervisor/src/claude/stream-json-input.ts';

export function runDirect(bin: string, args: readonly string[], prompt: string): Promise<{ ms: number; stdout: string; code: number | null }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.resume();
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - started, stdout: Buffer.concat(out).toString('utf8'), code }));
    child.stdin.end(userMessageLine(prompt));
  });
}
