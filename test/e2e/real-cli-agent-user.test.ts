// The service runs as root and the CLI as AGENT_USER, as in the image: the agent's tools
// run with that uid, its sessions resume, and it can take a screenshot (Playwright on the
// system Chromium, a read-only browsers folder) into IMAGES_DIR.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { bash, startMessagesApi, toolResultText, toolResults } from '../support/messages-api.ts';
import { cliProjectName, ensureAgentUser, startE2eService } from '../support/e2e-service.ts';
import { stageApp } from '../support/stage-app.ts';

const AGENT = 'cockpit-e2e-agent';
const isRoot = process.getuid?.() === 0;

void test('the CLI runs as a non-root AGENT_USER when the service runs as root', { skip: isRoot ? false : 'needs root (useradd, setuid)' }, async (t) => {
  const uid = ensureAgentUser(AGENT);
  assert.notEqual(uid, 0);
  const api = await startMessagesApi();
  t.after(() => api.close());
  // The pinned CLI and Playwright from a copy the agent can reach (the checkout may be 0700).
  const app = stageApp(t);
  const service = await startE2eService(t, {
    messagesApi: api,
    env: { AGENT_USER: AGENT, COMMAND_TIMEOUT_MS: '60000', CLAUDE_BIN: path.join(app, 'node_modules/.bin/claude') },
  });
  const home = (await fs.readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith(`${AGENT}:`))!.split(':')[5]!;
  // The CLI keeps this conversation under the agent's HOME; leave nothing behind there.
  t.after(() => fs.rm(path.join(home, '.claude', 'projects', cliProjectName(service.workspaceDir)), { recursive: true, force: true }));

  api.script([{ tools: [bash('id -u; echo "$HOME"; touch owned-by-agent', 'Show who I am')] }, { text: 'Done.' }]);
  const res = await service.command({ text: 'who are you?' });
  assert.equal(res.statusCode, 200, res.text);
  const [idOut, homeOut] = toolResultText(toolResults(api.mainRequests()[1]!)[0]!).trim().split('\n');
  assert.equal(idOut, String(uid), "the tool's `id -u`");
  assert.notEqual(idOut, '0');
  assert.equal(homeOut, home);
  assert.equal((await fs.stat(path.join(service.workspaceDir, 'owned-by-agent'))).uid, uid);

  // Its session is found again (same cwd, same config folder under the agent's HOME).
  const sessionId = res.json().sessionId as string;
  api.script([{ text: 'Still me.' }]);
  const again = await service.command({ text: 'still there?', sessionId });
  assert.equal(again.statusCode, 200, again.text);
  assert.equal(again.json().sessionId, sessionId);

  // A screenshot as the agent user: Chromium as non-root, browsers folder owned by root.
  const name = `agent-${randomBytes(4).toString('hex')}.png`;
  const page = `data:text/html,<h1 style="color:green">agent ${randomBytes(2).toString('hex')}</h1>`;
  api.script([{ tools: [bash(`${path.join(app, 'node_modules/playwright/cli.js')} screenshot '${page}' ${path.join(service.imagesDir, name)}`, 'Screenshot')] }, { text: 'Here.' }]);
  const shot = await service.command({ text: 'screenshot please' });
  assert.equal(shot.statusCode, 200, shot.text);
  const output = toolResultText(toolResults(api.mainRequests()[1]!)[0]!);
  assert.deepEqual(shot.json().images, [`/images/${name}`], `tool output: ${output}`);
  assert.equal((await fs.stat(path.join(service.imagesDir, name))).uid, uid);
});
