// The README's relay example ("For the relay author") runs as written, against the real
// API and supervisor with a fixture CLI: the status message is edited from progress
// events, an image is sent as it comes, the answer at `end`, and "stop" cancels.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/api-harness.ts';
import { startStack, waitForRunningJob } from '../support/api-stack.ts';

interface Relay {
  run: (chat: string, messageId: string, text: string) => Promise<unknown>;
  stop: (chat: string) => Promise<void>;
}

function relayExample(base: string, token: string, calls: string[][]): Relay {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### For the relay author'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined, 'the README has the example');
  const record = (name: string) => (...args: unknown[]) => {
    calls.push([name, ...args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a)))]);
    return name === 'sendMessage' ? { id: calls.length } : undefined;
  };
  const factory = new Function('base', 'token', 'sendTyping', 'sendMessage', 'editMessage', 'sendImage', `${code}\nreturn { run, stop };`) as (
    ...args: unknown[]
  ) => Relay;
  return factory(base, token, record('sendTyping'), record('sendMessage'), record('editMessage'), record('sendImage'));
}

const assistant = (id: string, content: unknown[]): Record<string, unknown> => ({ type: 'assistant', parent_tool_use_id: null, message: { id, content } });

void test("the README's relay example: progress edits one status message, images as they come, the answer at the end; stop cancels", async (t) => {
  // No API_TOKEN on this stack: the example's bearer header is sent and not checked.
  const s = await startStack(t);
  const calls: string[][] = [];
  const relay = relayExample(`http://127.0.0.1:${s.port}`, 'relay-token-0123456789', calls);
  const script = JSON.stringify({
    runs: s.runs,
    imagesDir: s.imagesDir,
    lines: [
      assistant('m1', [{ type: 'text', text: 'On it.' }, { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'npm test', description: 'Run the tests' } }]),
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] } },
    ],
    lineGapMs: 50,
    png: ['dark-mode.png'],
    sleepMs: 600,
    result: 'Dark mode is on.',
  });
  await relay.run('chat-1', 'wamid.1', script);
  assert.deepEqual(calls[0], ['sendMessage', 'chat-1', 'Working on it…']);
  assert.ok(calls.some((c) => c[0] === 'sendTyping'));
  assert.ok(calls.some((c) => c[0] === 'editMessage' && /^Step 1: /.test(c[2]!)), JSON.stringify(calls));
  assert.ok(calls.some((c) => c[0] === 'sendImage' && c[2] === `http://127.0.0.1:${s.port}/images/dark-mode.png`));
  assert.deepEqual(calls.at(-1), ['sendMessage', 'chat-1', 'Dark mode is on.']);

  calls.length = 0;
  const long = relay.run('chat-2', 'wamid.2', JSON.stringify({ lines: [assistant('m1', [{ type: 'text', text: 'Thinking hard.' }])], sleepMs: 30_000, result: 'never' }));
  await waitForRunningJob(s);
  await new Promise((r) => setTimeout(r, 300));
  await relay.stop('chat-2');
  await long;
  assert.deepEqual(calls.at(-1), ['sendMessage', 'chat-2', 'Thinking hard.'], 'the partial text of the cancelled job');
});
