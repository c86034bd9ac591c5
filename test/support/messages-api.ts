// A stand-in for the Anthropic Messages API, on loopback, that the real Claude Code CLI
// talks to via ANTHROPIC_BASE_URL. It streams text and tool_use blocks as Server-Sent
// Events the way the real API does, so the CLI really runs its tools; each test scripts
// the turns. Every request is recorded, so a test can see earlier turns on resume and the
// tool_result the CLI sent back.
//
// What the CLI sends (docs/claude-cli.md): `POST /v1/messages?beta=true` with
// "stream": true (2.1.197 sent a `HEAD /` probe first; 2.1.332 does not). The main
// request carries `tools`; side requests (a session title, ...) come without them and
// get `sideText`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export interface ToolCall {
  name: string;
  input: Record<string, unknown>;
  /** Defaults to a fresh `toolu_standin_N`. */
  id?: string;
}

/** One scripted answer of the main conversation. */
export interface Turn {
  /** A text block (first, if there are tool calls too). */
  text?: string;
  /** tool_use blocks; the answer then stops with stop_reason "tool_use". */
  tools?: ToolCall[];
  /** Answer with this HTTP status and an Anthropic-style error body instead. */
  error?: { status: number; type?: string; message?: string };
  /** Wait this long before answering (the stream's headers included); close() cuts it short. */
  delayMs?: number;
  /** Stream the text block as these deltas (instead of `text` in one), `gapMs` apart:
   *  a slow answer to interrupt mid-stream. */
  textChunks?: { chunks: string[]; gapMs: number };
  /** Token counts reported in the message's usage (what the CLI prices): default 12 in, 8 out. */
  usage?: { inputTokens?: number; outputTokens?: number };
}

export type TurnScript = (request: MessagesRequestBody, mainIndex: number) => Turn;

/** The parts of a Messages API request body the tests look at. */
export interface MessagesRequestBody {
  model?: string;
  stream?: boolean;
  system?: unknown;
  tools?: Array<{ name?: string }>;
  messages: Array<{ role: string; content: string | ContentBlock[] }>;
  [key: string]: unknown;
}

export interface ContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or null (HEAD, GET, not JSON). */
  body: MessagesRequestBody | null;
  kind: 'main' | 'side' | 'count_tokens' | 'probe' | 'unknown';
}

export interface MessagesApiOptions {
  /** The main conversation's answers, in order, or a function of the request. */
  turns?: Turn[] | TurnScript;
  /** Answer once the scripted turns ran out. Default: text "Done.". */
  fallback?: Turn;
  /** Text for side requests (title and other requests without tools). */
  sideText?: string;
  /** Status for side requests too, e.g. to make every request fail. Default: answered normally. */
  sideError?: Turn['error'];
}

export interface MessagesApi {
  /** http://127.0.0.1:PORT — give it to the CLI as ANTHROPIC_BASE_URL. */
  url: string;
  requests: RecordedRequest[];
  /** Bodies of the main-conversation requests (those with tools), in order. */
  mainRequests(): MessagesRequestBody[];
  /** Start over: a new script, the main-request counter at 0, no recorded requests. */
  script(turns: Turn[] | TurnScript, fallback?: Turn): void;
  /** Paths the stand-in did not know (answered 404). */
  unknownPaths: string[];
  close(): Promise<void>;
}

/** A Bash tool call as the model makes it. */
export function bash(command: string, description: string, extra: Record<string, unknown> = {}): ToolCall {
  return { name: 'Bash', input: { command, description, ...extra } };
}

/** Every tool_result block the CLI sent back in a request. */
export function toolResults(body: MessagesRequestBody): ContentBlock[] {
  return blocks(body).filter((b) => b.type === 'tool_result');
}

/** The text of a tool_result block, whether its content is a string or blocks. */
export function toolResultText(block: ContentBlock): string {
  if (typeof block.content === 'string') return block.content;
  if (Array.isArray(block.content)) {
    return (block.content as ContentBlock[]).map((c) => (typeof c.text === 'string' ? c.text : '')).join('');
  }
  return '';
}

/** All text the request's messages hold (user and assistant), for "did it see X" checks. */
export function conversationText(body: MessagesRequestBody): string {
  const parts: string[] = [];
  for (const m of body.messages) {
    if (typeof m.content === 'string') parts.push(m.content);
    else for (const b of m.content) parts.push(b.text ?? '', b.type === 'tool_result' ? toolResultText(b) : '');
  }
  return parts.join('\n');
}

function blocks(body: MessagesRequestBody): ContentBlock[] {
  return body.messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content));
}

export async function startMessagesApi(options: MessagesApiOptions = {}): Promise<MessagesApi> {
  let turns: Turn[] | TurnScript = options.turns ?? [];
  let fallback: Turn = options.fallback ?? { text: 'Done.' };
  let mainIndex = 0;
  let toolIds = 0;
  let messageIds = 0;
  const requests: RecordedRequest[] = [];
  const unknownPaths: string[] = [];
  // Delayed answers must not hold the process open after close().
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const nextTurn = (body: MessagesRequestBody): Turn => {
    const index = mainIndex++;
    if (typeof turns === 'function') return turns(body, index);
    return turns[index] ?? fallback;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    let body: MessagesRequestBody | null = null;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw) as MessagesRequestBody;
      } catch {
        body = null;
      }
    }
    const method = req.method ?? 'GET';
    const record: RecordedRequest = { method, url, headers: req.headers, body, kind: 'unknown' };
    requests.push(record);

    // The CLI probes the base URL before its first request.
    if (method === 'HEAD' || (method === 'GET' && path === '/')) {
      record.kind = 'probe';
      res.writeHead(200).end();
      return;
    }
    if (method === 'POST' && path === '/v1/messages/count_tokens') {
      record.kind = 'count_tokens';
      sendJson(res, 200, { input_tokens: Math.ceil(raw.length / 4) });
      return;
    }
    if (method !== 'POST' || path !== '/v1/messages' || body === null || !Array.isArray(body.messages)) {
      unknownPaths.push(`${method} ${url}`);
      sendError(res, 404, 'not_found_error', `stand-in: no route for ${method} ${path}`);
      return;
    }

    const isMain = Array.isArray(body.tools) && body.tools.length > 0;
    record.kind = isMain ? 'main' : 'side';
    const turn: Turn = isMain
      ? nextTurn(body)
      : options.sideError !== undefined
        ? { error: options.sideError }
        : { text: options.sideText ?? 'Stand-in conversation' };
    if (turn.delayMs !== undefined) await sleep(turn.delayMs);
    if (res.destroyed) return;
    if (turn.error !== undefined) {
      const { status, type, message } = turn.error;
      sendError(res, status, type ?? errorTypeFor(status), message ?? `stand-in error ${status}`);
      return;
    }
    const content = contentBlocks(turn, () => `toolu_standin_${++toolIds}`);
    const message = {
      id: `msg_standin_${++messageIds}`,
      type: 'message',
      role: 'assistant',
      model: body.model ?? 'claude-standin',
      content: [] as unknown[],
      stop_reason: null as string | null,
      stop_sequence: null,
      usage: { input_tokens: turn.usage?.inputTokens ?? 12, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    };
    const outputTokens = turn.usage?.outputTokens ?? 8;
    const stopReason = content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
    if (body.stream !== true) {
      sendJson(res, 200, { ...message, content, stop_reason: stopReason, usage: { ...message.usage, output_tokens: outputTokens } });
      return;
    }
    await streamMessage(res, message, content, stopReason, { outputTokens, textChunks: turn.textChunks, sleep });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'api_error', `stand-in failure: ${String(err)}`);
      else res.destroy();
    });
  });
  // Idle keep-alive connections stay open as the real API's do: at 1 s, the CLI's next
  // request after a 1 s tool (a screenshot) could meet the server closing the socket it
  // reused, and with CLAUDE_CODE_MAX_RETRIES=0 fail with ECONNRESET. close() ends them all.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    unknownPaths,
    mainRequests: () => requests.filter((r) => r.kind === 'main').map((r) => r.body!),
    script(next, nextFallback) {
      turns = next;
      if (nextFallback !== undefined) fallback = nextFallback;
      mainIndex = 0;
      requests.length = 0;
      unknownPaths.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function contentBlocks(turn: Turn, nextToolId: () => string): ContentBlock[] {
  const out: ContentBlock[] = [];
  const text = turn.textChunks !== undefined ? turn.textChunks.chunks.join('') : turn.text;
  if (text !== undefined) out.push({ type: 'text', text });
  for (const tool of turn.tools ?? []) out.push({ type: 'tool_use', id: tool.id ?? nextToolId(), name: tool.name, input: tool.input });
  if (out.length === 0) out.push({ type: 'text', text: '' });
  return out;
}

interface StreamOptions {
  outputTokens: number;
  textChunks: Turn['textChunks'];
  sleep: (ms: number) => Promise<void>;
}

/** The event sequence of a streamed message, as the real API sends it. */
async function streamMessage(
  res: ServerResponse,
  message: Record<string, unknown>,
  content: ContentBlock[],
  stopReason: string,
  options: StreamOptions,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_standin_${Date.now()}` });
  const send = (type: string, data: Record<string, unknown>): void => {
    if (!res.destroyed) res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  };
  send('message_start', { message });
  for (const [index, block] of content.entries()) {
    if (block.type === 'tool_use') {
      send('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      // The real API streams the input JSON in pieces; split it to exercise reassembly.
      const json = JSON.stringify(block.input);
      const cut = Math.floor(json.length / 2);
      for (const partial of [json.slice(0, cut), json.slice(cut)]) {
        send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: partial } });
      }
    } else {
      send('content_block_start', { index, content_block: { type: 'text', text: '' } });
      const slow = options.textChunks;
      if (slow === undefined) send('content_block_delta', { index, delta: { type: 'text_delta', text: block.text ?? '' } });
      else {
        for (const [i, chunk] of slow.chunks.entries()) {
          if (i > 0) await options.sleep(slow.gapMs);
          if (res.destroyed) return;
          send('content_block_delta', { index, delta: { type: 'text_delta', text: chunk } });
        }
      }
    }
    send('content_block_stop', { index });
  }
  send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: options.outputTokens } });
  send('message_stop', {});
  res.end();
}

function errorTypeFor(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  return 'api_error';
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { type: 'error', error: { type, message } }, { 'request-id': `req_standin_${Date.now()}` });
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
