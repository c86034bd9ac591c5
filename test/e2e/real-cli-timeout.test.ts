// The real CLI whose Bash tool hangs past COMMAND_TIMEOUT_MS: the relay gets 408, and
// nothing of the CLI or of its Bash tool session (its own setsid'd process group) is left.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { bash, startMessagesApi } from '../support/messages-api.ts';
import { eventually, findProcesses, startE2eService } from '../support/e2e-service.ts';

const TIMEOUT_MS = 6000;

void test('a tool call that hangs past the timeout: 408, and no process of the CLI or its tool is left', async (t) => {
  const api = await startMessagesApi();
  t.after(() => api.close());
  const service = await startE2eService(t, { messagesApi: api, env: { COMMAND_TIMEOUT_MS: String(TIMEOUT_MS) } });
  const marker = `${4000 + randomInt(1000)}.${randomInt(100_000, 999_999)}`;
  api.script([
    { text: 'Let me wait for the build.', tools: [bash(`sleep ${marker}`, 'Wait for the build')] },
    { text: 'never reached' },
  ]);

  const pending = service.command({ text: 'wait for the build' });
  // The tool really ran (so the test is about a live tool session, not an idle CLI).
  const toolStarted = await eventually(() => findProcesses({ needle: `sleep ${marker}` }).length > 0, TIMEOUT_MS, 100);
  assert.ok(toolStarted, 'the Bash tool never started the command');
  const inWorkspace = findProcesses({ cwdInside: service.workspaceDir });
  assert.ok(inWorkspace.length >= 2, `expected the CLI and its tool in the workspace: ${JSON.stringify(inWorkspace)}`);

  const res = await pending;
  assert.equal(res.statusCode, 408, res.text);
  const body = res.json();
  assert.equal(body.error, 'timeout');
  assert.ok((body.durationMs as number) >= TIMEOUT_MS);
  // No assertion on what the CLI did in its grace period: when the supervisor's SIGTERMs
  // end the tool first, the CLI may send the tool_result and finish a turn (seen: exit 0
  // with a result within ~170 ms against the instant stand-in). The answer is still 408.

  // Issue 2's deadline: no process of the tree survives one second after the answer.
  const left = (): ReturnType<typeof findProcesses> => [
    ...findProcesses({ needle: `sleep ${marker}` }),
    ...findProcesses({ cwdInside: service.workspaceDir }),
  ];
  const clean = await eventually(() => left().length === 0, 1000);
  assert.ok(clean, `left running: ${JSON.stringify(left())}`);
});
