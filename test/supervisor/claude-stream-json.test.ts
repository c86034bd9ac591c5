// StreamJsonReader against event lines recorded from the real CLI (talking to the Messages
// API stand-in, docs/claude-cli.md; test/support/record-stream-json.ts), split at every
// awkward place. One folder per CLI version: the pinned one must be there
// (test/e2e/real-cli-pin.test.ts), and every recorded one is read, so the reader keeps
// working across the move from one pin to the next. interrupted, max-turns and budget
// were read with `--input-format stream-json` (an interrupt request mid-answer,
// `--max-turns 1`, `--max-budget-usd 0.01`).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { StreamJsonReader, classifyCliError } from '../../supervisor/src/claude/stream-json.ts';
import { pinnedCliVersion, streamJsonFixtures } from '../support/pinned-cli.ts';

const FIXTURES = path.dirname(streamJsonFixtures());
const MiB = 1024 * 1024;
const VERSIONS = fs.readdirSync(FIXTURES).filter((v) => /^\d+\.\d+\.\d+$/.test(v));

function readAll(data: Buffer, chunkSize = data.length, maxLineBytes = MiB): StreamJsonReader {
  const reader = new StreamJsonReader(maxLineBytes);
  for (let i = 0; i < data.length; i += chunkSize) reader.push(data.subarray(i, i + chunkSize));
  reader.end();
  return reader;
}

/** The first recorded line of a type, parsed: what the CLI itself said. */
function eventOf(data: Buffer, type: string): Record<string, unknown> {
  const line = data.toString('utf8').split('\n').find((l) => l.includes(`"type":"${type}"`));
  assert.ok(line !== undefined, `a ${type} line`);
  return JSON.parse(line) as Record<string, unknown>;
}

void test('the pinned CLI version has its recordings', () => {
  assert.ok(VERSIONS.includes(pinnedCliVersion()), `${pinnedCliVersion()} in ${VERSIONS.join(', ')}`);
});

for (const version of VERSIONS) {
  void describe(`recorded from ${version}`, () => {
    const recorded = (name: string): Buffer => fs.readFileSync(path.join(FIXTURES, version, `${name}.jsonl`));

    void test('a plain answer gives its text, session id, cost and turns', () => {
      const reader = readAll(recorded('plain'));
      const out = reader.current;
      const init = eventOf(recorded('plain'), 'system');
      const cost = eventOf(recorded('plain'), 'result').total_cost_usd;
      assert.ok(typeof cost === 'number' && cost > 0, `total_cost_usd ${String(cost)}`);
      assert.equal(out.sawEvents, true);
      assert.equal(out.resultText, 'Four.');
      assert.deepEqual(out.result, {
        sessionId: init.session_id,
        costUsd: cost,
        numTurns: 1,
        isError: false,
        subtype: 'success',
      });
      assert.equal(out.errorMessage, null);
      assert.equal(out.errorCode, null);
      assert.equal(reader.progress.turns, 1);
    });

    void test('progress shows the tool in use and its description while it runs, then clears', () => {
      const lines = recorded('bash-tool').toString('utf8').split('\n').filter(Boolean);
      const reader = new StreamJsonReader(MiB);
      const seen: Array<[string | null, string | null, number]> = [];
      for (const line of lines) {
        reader.push(Buffer.from(`${line}\n`));
        seen.push([reader.progress.tool, reader.progress.toolDescription, reader.progress.turns]);
      }
      // init, assistant text, assistant tool_use (same message id), user tool_result, assistant text, result
      assert.deepEqual(seen, [
        [null, null, 0],
        [null, null, 1],
        ['Bash', 'Print a greeting', 1],
        [null, null, 1],
        [null, null, 2],
        [null, null, 2],
      ]);
      const out = reader.end();
      assert.equal(out.resultText, 'It printed hello-42.');
      assert.equal(out.result?.numTurns, 2);
      assert.equal(reader.progress.turns, out.result?.numTurns);
    });

    void test('assistantText keeps what the agent said so far, for an answer cut short', () => {
      const lines = recorded('bash-tool').toString('utf8').split('\n').filter(Boolean);
      const reader = new StreamJsonReader(MiB);
      for (const line of lines.slice(0, 4)) reader.push(Buffer.from(`${line}\n`));
      // Killed while the tool ran: no result event, but the agent had said something.
      assert.equal(reader.end().result, null);
      assert.equal(reader.current.assistantText, 'Running it.');
      assert.equal(readAll(recorded('bash-tool')).current.assistantText, 'Running it.\n\nIt printed hello-42.');
      assert.equal(readAll(recorded('api-500')).current.assistantText.startsWith('API Error: 500'), true);
    });

    void test('the command itself never reaches progress, only the description', () => {
      const reader = readAll(recorded('bash-tool'));
      assert.doesNotMatch(JSON.stringify(reader.progress), /echo|id -u/);
    });

    void test('an API 500 is an error result with the CLI message even though subtype is success', () => {
      const out = readAll(recorded('api-500')).current;
      assert.equal(out.result?.isError, true);
      assert.equal(out.result?.subtype, 'success');
      // The server's own message follows the status: "Internal server error" from the server
      // the 2.1.197 lines were first recorded against, "stand-in error 500" from the stand-in.
      assert.match(out.errorMessage ?? '', /^API Error: 500 /);
      assert.equal(out.errorMessage, eventOf(recorded('api-500'), 'result').result);
      assert.equal(out.errorCode, null);
    });

    void test('an API 401 is an error result with the CLI message', () => {
      const out = readAll(recorded('api-401')).current;
      assert.equal(out.result?.isError, true);
      // After one retry, against the stand-in, both releases say "Failed to authenticate.
      // API Error: 401 <the server's message>"; the 2.1.197 lines, from another server, say
      // "Invalid API key · Fix external API key". The reader takes whichever text it is.
      assert.match(out.errorMessage ?? '', /^(Invalid API key · Fix external API key|Failed to authenticate\. API Error: 401 )/);
      assert.equal(out.errorMessage, eventOf(recorded('api-401'), 'result').result);
    });

    void test('resuming an unknown session is session_not_found, with the errors[] text as message', () => {
      const out = readAll(recorded('resume-unknown')).current;
      assert.equal(out.result?.isError, true);
      assert.equal(out.result?.subtype, 'error_during_execution');
      assert.equal(out.result?.numTurns, 0);
      assert.equal(out.resultText, null);
      assert.equal(out.errorMessage, 'No conversation found with session ID: 3f0c2f6e-1111-4222-8333-444455556666');
      assert.equal(out.errorCode, 'session_not_found');
    });

    void test('chunk boundaries anywhere give the same outcome, inside a multi-byte character too', () => {
      const data = recorded('api-500');
      const whole = readAll(data).current;
      // The 500 message holds an em dash (3 bytes in UTF-8): split inside it on purpose.
      const dash = data.indexOf(Buffer.from('—'));
      assert.ok(dash > 0);
      for (const cut of [dash + 1, dash + 2]) {
        const reader = new StreamJsonReader(MiB);
        reader.push(data.subarray(0, cut));
        reader.push(data.subarray(cut));
        assert.deepEqual(reader.end(), whole);
      }
      for (const size of [1, 2, 3, 7, 64, 4096]) assert.deepEqual(readAll(data, size).current, whole, `chunks of ${size}`);
      assert.match(whole.errorMessage ?? '', /temporary — try again/);
    });

    void test('a 20 MB single line is dropped without being buffered, and the result after it still counts', () => {
      const maxLineBytes = MiB;
      const reader = new StreamJsonReader(maxLineBytes);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      reader.push(Buffer.from('{"type":"assistant","message":{"content":[{"type":"text","text":"'));
      let maxBuffered = 0;
      for (let sent = 0; sent < 20 * MiB; sent += chunk.length) {
        reader.push(chunk);
        maxBuffered = Math.max(maxBuffered, reader.bufferedBytes);
      }
      reader.push(Buffer.from('"}]}}\n'));
      reader.push(recorded('plain'));
      const out = reader.end();
      assert.ok(maxBuffered <= maxLineBytes, `buffered ${maxBuffered} bytes`);
      assert.equal(out.droppedLines, 1);
      assert.equal(out.resultText, 'Four.');
      assert.equal(reader.progress.turns, 1, 'the dropped line is not a turn');
    });

    void test('a last line without a newline still counts; junk lines are skipped', () => {
      const result = recorded('plain').toString('utf8').trim().split('\n').at(-1)!;
      const data = Buffer.from(`not json\n{"broken":\n[1,2]\n{"no":"type"}\n\n${result}`);
      const out = readAll(data, 5).current;
      assert.equal(out.resultText, 'Four.');
      assert.equal(out.droppedLines, 0);
    });

    void test('an interrupted turn (stream-json input): the partial text, then an error result with the session and no result text', () => {
      const out = readAll(recorded('interrupted')).current;
      assert.equal(out.assistantText, 'Part one. Part two. ');
      assert.equal(out.resultText, null);
      assert.equal(out.result?.subtype, 'error_during_execution');
      assert.equal(out.result?.isError, true);
      assert.match(out.result?.sessionId ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(out.errorCode, null, 'an interrupt is not a failure callers act on: the stop cause says what happened');
    });

    void test('the turn and budget limits are max_turns and budget_exceeded, with the CLI message', () => {
      const turns = readAll(recorded('max-turns')).current;
      assert.equal(turns.result?.subtype, 'error_max_turns');
      assert.equal(turns.errorCode, 'max_turns');
      assert.equal(turns.errorMessage, 'Reached maximum number of turns (1)');
      assert.equal(turns.assistantText, 'Tool.');
      const budget = readAll(recorded('budget')).current;
      assert.equal(budget.result?.subtype, 'error_max_budget_usd');
      assert.equal(budget.errorCode, 'budget_exceeded');
      assert.equal(budget.errorMessage, 'Reached maximum budget ($0.01)');
      assert.ok((budget.result?.costUsd ?? 0) > 0.01);
    });
  });
}

void test('plain text output is not events: no result, the caller keeps stdout as it is', () => {
  const out = readAll(Buffer.from('4\nThe answer is {four}.\n')).current;
  assert.equal(out.sawEvents, false);
  assert.equal(out.result, null);
  assert.equal(out.resultText, null);
});

void test("a subagent's messages are not turns of the conversation", () => {
  const event = (id: string, parent: string | null): string =>
    `${JSON.stringify({ type: 'assistant', parent_tool_use_id: parent, message: { id, content: [{ type: 'text', text: 'x' }] } })}\n`;
  const reader = readAll(Buffer.from(event('m1', null) + event('s1', 'toolu_1') + event('s2', 'toolu_1') + event('m2', null)));
  assert.equal(reader.progress.turns, 2);
});

void test('an error subtype without is_error is still an error, with a message naming it', () => {
  const line = JSON.stringify({ type: 'result', subtype: 'error_max_turns', session_id: 'x', num_turns: 3 });
  const out = readAll(Buffer.from(`${line}\n`)).current;
  assert.equal(out.result?.isError, true);
  assert.match(out.errorMessage ?? '', /error_max_turns/);
  assert.equal(out.errorCode, 'max_turns');
});

void test('classifyCliError knows the unknown-session message and nothing else', () => {
  assert.equal(classifyCliError('No conversation found with session ID: abc'), 'session_not_found');
  assert.equal(classifyCliError('API Error: 500 Internal server error'), null);
  assert.equal(classifyCliError(null), null);
});
