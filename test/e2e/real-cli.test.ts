// The real Claude Code CLI (pinned in package.json) behind the real supervisor and API,
// talking to the Messages API stand-in: answers, sessions, tools, images, API failures.
// One service for the whole file; each test scripts the stand-in's next turns.
import assert from 'node:assert/strict';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { bash, conversationText, toolResultText, toolResults, type MessagesRequestBody } from '../support/messages-api.ts';
import { e2eSuite, eventually, findProcesses } from '../support/e2e-service.ts';

// One service for the file (e2eSuite): read suite.api and suite.service in the tests.
const suite = e2eSuite({ COMMAND_TIMEOUT_MS: '60000' });

function json(res: { json: () => Record<string, unknown> }): Record<string, unknown> {
  return res.json();
}

void test('a plain question gets its answer, sessionId, costUsd and numTurns', async () => {
  const svc = suite.service;
  suite.api.script([{ text: 'Four.' }]);
  const res = await svc.command({ text: 'What is 2+2?' });
  const body = json(res);
  assert.equal(res.statusCode, 200, res.text);
  assert.equal(body.text, 'Four.');
  assert.equal(body.exitCode, 0);
  assert.match(String(body.sessionId), /^[0-9a-f-]{36}$/);
  assert.equal(typeof body.costUsd, 'number');
  assert.ok((body.costUsd as number) > 0);
  assert.equal(body.numTurns, 1);
  assert.deepEqual(body.images, []);
  const main = suite.api.mainRequests();
  assert.equal(main.length, 1);
  assert.match(conversationText(main[0]!), /What is 2\+2\?/);
});

void test('a Bash tool call really runs; the setsid and double-forked processes it leaves are killed by the supervisor after the job', async () => {
  const svc = suite.service;
  const marker = `${3000 + randomInt(1000)}.${randomInt(100_000, 999_999)}`;
  suite.api.script([
    {
      text: 'Starting two background helpers.',
      tools: [
        bash(
          // No CLI release ends these when the command is done (docs/claude-cli.md): a child
          // in its own session, and one double-forked (its parent gone, reparented to PID 1).
          `setsid sleep ${marker} >/dev/null 2>&1 </dev/null & (setsid sleep ${marker} >/dev/null 2>&1 </dev/null &); echo "started $!"; ` +
            'echo "quiet=$DISABLE_AUTOUPDATER$CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC$DISABLE_TELEMETRY$DISABLE_ERROR_REPORTING"',
          'Start background helpers',
        ),
      ],
    },
    { text: 'The helpers are running.' },
  ]);
  const res = await svc.command({ text: 'start helpers in the background' });
  assert.equal(res.statusCode, 200, res.text);
  assert.equal(json(res).text, 'The helpers are running.');
  assert.equal(json(res).numTurns, 2);
  // The tool really ran: its output came back to the model as a tool_result.
  const results = toolResults(suite.api.mainRequests()[1]!);
  assert.equal(results.length, 1);
  assert.match(toolResultText(results[0]!), /^started \d+/);
  // The supervisor runs the CLI without auto-update, telemetry or side traffic (cliEnv).
  assert.match(toolResultText(results[0]!), /\nquiet=1111$/);
  // The supervisor swept both when the CLI exited (the issue's deadline: 1.5 s); its
  // job record counts them, so it was the sweep and not the CLI that ended them.
  const gone = await eventually(() => findProcesses({ needle: `sleep ${marker}` }).length === 0, 1500);
  assert.ok(gone, `still running: ${JSON.stringify(findProcesses({ needle: `sleep ${marker}` }))}`);
  const done = (): Record<string, unknown> | undefined => svc.supervisorLogs.find((l) => l.msg === 'done' && l.jobId === json(res).jobId);
  assert.ok(await eventually(() => done() !== undefined, 2000), 'the job\'s done line');
  assert.equal(done()?.leftoversKilled, 2, JSON.stringify(done()));
});

void test('while a tool runs, /status shows the tool and its description, not the command', async () => {
  const svc = suite.service;
  const secret = `s3cr3t-${randomBytes(6).toString('hex')}`;
  suite.api.script([{ tools: [bash(`sleep 2; echo ${secret} >/dev/null`, 'Wait a moment')] }, { text: 'Waited.' }]);
  const pending = svc.command({ text: 'wait a bit' });
  let progress: Record<string, unknown> | null = null;
  const seen = await eventually(() => {
    void svc
      .get('/status')
      .then((r) => {
        const job = (r.json().job ?? null) as { progress?: Record<string, unknown> } | null;
        if (job?.progress?.tool === 'Bash') progress = job.progress;
      })
      .catch(() => undefined);
    return progress !== null;
  }, 8000, 200);
  const res = await pending;
  assert.equal(res.statusCode, 200, res.text);
  assert.ok(seen, 'the Bash tool never showed in /status');
  assert.deepEqual(progress, { turns: 1, tool: 'Bash', toolDescription: 'Wait a moment' });
  const status = await svc.get('/status');
  assert.doesNotMatch(status.text, new RegExp(secret));
});

void test('a PNG written into IMAGES_DIR by a tool call is listed and served byte for byte', async () => {
  const svc = suite.service;
  const png = Buffer.concat([PNG_1X1, randomBytes(32)]);
  const name = `e2e-${randomBytes(4).toString('hex')}.png`;
  suite.api.script([
    { tools: [bash(`echo ${png.toString('base64')} | base64 -d > ${path.join(svc.imagesDir, name)}`, 'Save the chart')] },
    { text: 'Here is the chart.' },
  ]);
  const res = await svc.command({ text: 'draw a chart' });
  assert.equal(res.statusCode, 200, res.text);
  assert.deepEqual(json(res).images, [`/images/${name}`]);
  const image = await svc.get(`/images/${name}`);
  assert.equal(image.statusCode, 200);
  assert.equal(image.headers['content-type'], 'image/png');
  assert.ok(image.body.equals(png), 'served bytes differ from the written ones');
});

void test('a real screenshot with Debian Chromium via the Playwright CLI, as the system prompt says, lands in images', async (t) => {
  const svc = suite.service;
  const site = await serveHtml(`<html><body style="background:#1a7f37"><h1>cockpit e2e</h1></body></html>`);
  t.after(() => site.close());
  const name = `screenshot-${randomBytes(4).toString('hex')}.png`;
  // The command is taken from the appended system prompt the CLI really sent: the agent's
  // instructions are what is tested, not a command written here.
  suite.api.script((body, index) => {
    if (index > 0) return { text: 'Here is the page.' };
    const command = screenshotCommand(body, svc.imagesDir)
      .replace(' URL ', ` ${site.url} `)
      .replace(`${svc.imagesDir}/NAME.png`, path.join(svc.imagesDir, name));
    return { tools: [bash(command, 'Screenshot the page')] };
  });
  const res = await svc.command({ text: 'show me the page' });
  assert.equal(res.statusCode, 200, res.text);
  const toolOutput = toolResultText(toolResults(suite.api.mainRequests()[1]!)[0]!);
  assert.deepEqual(json(res).images, [`/images/${name}`], `tool output: ${toolOutput}`);
  const image = await svc.get(`/images/${name}`);
  assert.equal(image.statusCode, 200);
  assert.ok(image.body.subarray(0, 8).equals(PNG_1X1.subarray(0, 8)), 'not a PNG');
  assert.equal(image.body.readUInt32BE(16), 1280, 'Playwright default viewport width');
  assert.ok(image.body.length > 2000, `suspiciously small: ${image.body.length} bytes`);
  assert.ok(site.hits() > 0, 'Chromium never loaded the page');
});

void test('a second request with the first one’s sessionId resumes it; continue resumes the latest', async () => {
  const svc = suite.service;
  const word = `PELICAN-${randomBytes(3).toString('hex')}`;
  suite.api.script([{ text: `Noted: ${word}.` }, { text: `The word was ${word}.` }, { text: 'Still here.' }]);
  const first = await svc.command({ text: `Remember the word ${word}` });
  assert.equal(first.statusCode, 200, first.text);
  const sessionId = json(first).sessionId as string;

  const second = await svc.command({ text: 'Which word did I give you?', sessionId });
  assert.equal(second.statusCode, 200, second.text);
  assert.equal(json(second).sessionId, sessionId);
  assert.equal(json(second).text, `The word was ${word}.`);
  const seen = conversationText(suite.api.mainRequests()[1]!);
  assert.match(seen, new RegExp(`Remember the word ${word}`), 'the stand-in did not see the earlier user turn');
  assert.match(seen, new RegExp(`Noted: ${word}\\.`), 'the stand-in did not see the earlier answer');

  const third = await svc.command({ text: 'Are you there?', continue: true });
  assert.equal(third.statusCode, 200, third.text);
  assert.equal(json(third).sessionId, sessionId);
  assert.match(conversationText(suite.api.mainRequests()[2]!), /Which word did I give you\?/);
});

void test('an unknown sessionId is 404 session_not_found with the CLI’s message; a malformed one is 400', async () => {
  const svc = suite.service;
  suite.api.script([]);
  const unknown = randomUUID();
  const res = await svc.command({ text: 'hello again', sessionId: unknown });
  assert.equal(res.statusCode, 404, res.text);
  assert.equal(json(res).error, 'session_not_found');
  assert.equal(json(res).message, `No conversation found with session ID: ${unknown}`);
  assert.equal(suite.api.mainRequests().length, 0, 'nothing reached the Messages API');

  const bad = await svc.command({ text: 'hello', sessionId: '--help' });
  assert.equal(bad.statusCode, 400, bad.text);
  assert.equal(json(bad).error, 'bad_request');
});

for (const [status, message] of [
  [500, /^API Error: 500 /],
  // With CLAUDE_CODE_MAX_RETRIES=0 the CLI says "Failed to authenticate. API Error: 401 ...";
  // after a retry it says "Invalid API key · Fix external API key" (docs/claude-cli.md).
  [401, /API Error: 401|Invalid API key/],
] as const) {
  void test(`the Messages API answering ${status} gives execution_error carrying the CLI's message`, async () => {
    const svc = suite.service;
    suite.api.script(() => ({ error: { status } }));
    const res = await svc.command({ text: 'anything' });
    assert.equal(res.statusCode, 500, res.text);
    const body = json(res);
    assert.equal(body.error, 'execution_error');
    assert.match(String(body.message), message);
    assert.equal(body.exitCode, 1);
    assert.ok(suite.api.mainRequests().length >= 1);
  });
}

/** The screenshot command line of the appended system prompt, as the CLI sent it. */
function screenshotCommand(body: MessagesRequestBody, imagesDir: string): string {
  const system = Array.isArray(body.system)
    ? (body.system as Array<{ text?: string }>).map((b) => b.text ?? '').join('\n')
    : String(body.system ?? '');
  const line = system.split('\n').find((l) => l.includes(' screenshot ') && l.includes(`${imagesDir}/NAME.png`));
  assert.ok(line !== undefined, 'the system prompt has no screenshot command for IMAGES_DIR');
  return line.trim();
}

async function serveHtml(html: string): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits += 1;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A valid 1x1 PNG; tests append random bytes to make each file unique. */
const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
