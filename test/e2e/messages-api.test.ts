// The Messages API stand-in itself, spoken to over HTTP as the CLI does: the SSE event
// sequence, tool_use input in pieces, side requests, errors, unknown paths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bash, startMessagesApi } from '../support/messages-api.ts';

const tools = [{ name: 'Bash' }];
const user = (text: string): unknown => ({ role: 'user', content: [{ type: 'text', text }] });

function events(sse: string): Array<{ event: string; data: Record<string, unknown> }> {
  return sse
    .split('\n\n')
    .filter((chunk) => chunk.trim() !== '')
    .map((chunk) => {
      const [eventLine, dataLine] = chunk.split('\n');
      return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) as Record<string, unknown> };
    });
}

void test('streams text then a tool_use as the real API does, and records the request', async (t) => {
  const api = await startMessagesApi({ turns: [{ text: 'Running.', tools: [bash('echo hi', 'Say hi')] }] });
  t.after(() => api.close());
  assert.equal((await fetch(api.url, { method: 'HEAD' })).status, 200);
  const res = await fetch(`${api.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', stream: true, tools, messages: [user('hi')] }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const seen = events(await res.text());
  assert.deepEqual(
    seen.map((e) => e.event),
    [
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ],
  );
  const partial = seen
    .filter((e) => (e.data.delta as { type?: string } | undefined)?.type === 'input_json_delta')
    .map((e) => (e.data.delta as { partial_json: string }).partial_json)
    .join('');
  assert.deepEqual(JSON.parse(partial), { command: 'echo hi', description: 'Say hi' });
  assert.deepEqual((seen[8]!.data.delta as { stop_reason: string }).stop_reason, 'tool_use');
  assert.deepEqual(
    api.requests.map((r) => r.kind),
    ['probe', 'main'],
  );
  assert.equal(api.mainRequests().length, 1);
});

void test('a side request without tools gets short text; non-streaming gets JSON', async (t) => {
  const api = await startMessagesApi({ sideText: 'A title', turns: [{ text: 'Main answer.' }] });
  t.after(() => api.close());
  const side = await fetch(`${api.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ messages: [user('title?')] }) });
  const body = (await side.json()) as { content: Array<{ text: string }>; stop_reason: string };
  assert.equal(body.content[0]!.text, 'A title');
  assert.equal(body.stop_reason, 'end_turn');
  assert.equal(api.mainRequests().length, 0, 'the main script was not consumed');
});

void test('errors come with an Anthropic error body; unknown paths are 404 and logged', async (t) => {
  const api = await startMessagesApi({ turns: () => ({ error: { status: 401 } }) });
  t.after(() => api.close());
  const res = await fetch(`${api.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ stream: true, tools, messages: [user('x')] }) });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { type: 'error', error: { type: 'authentication_error', message: 'stand-in error 401' } });
  const tokens = await fetch(`${api.url}/v1/messages/count_tokens`, { method: 'POST', body: '{"messages":[]}' });
  assert.equal(tokens.status, 200);
  const unknown = await fetch(`${api.url}/v1/files`);
  assert.equal(unknown.status, 404);
  assert.deepEqual(api.unknownPaths, ['GET /v1/files']);
});

void test('close() ends a delayed answer at once', async () => {
  const api = await startMessagesApi({ turns: [{ text: 'late', delayMs: 60_000 }] });
  const pending = fetch(`${api.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ tools, messages: [user('x')] }) }).catch((err: unknown) => err);
  while (api.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await api.close();
  assert.ok((await pending) instanceof Error);
});
