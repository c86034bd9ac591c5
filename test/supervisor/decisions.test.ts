// The supervisor's decisions as pure functions: no processes, no sockets.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../common/env.ts';
import { loadConfig, MIB } from '../../supervisor/src/config.ts';
import { pieces, textOf } from '../../supervisor/src/job/answer-text.ts';
import { imagesInWindow, jobWindow } from '../../supervisor/src/job/images.ts';
import { JobOutput } from '../../supervisor/src/job/job-output.ts';
import { budgetWarnings } from '../../supervisor/src/job/limits.ts';
import { decide, INITIAL_STATE, type LifecycleEvent, type LifecycleState } from '../../supervisor/src/lifecycle.ts';
import { instanceMarkerPrefix, instanceTagFor, jobMarkerEntry } from '../../supervisor/src/ownership/marker.ts';
import { HeadCapture, TailCapture, utf8CompletePrefix } from '../../supervisor/src/output.ts';
import { environHas, parseStat, parseUids, readUids } from '../../supervisor/src/proc.ts';
import { isContained, ownershipStatus, ownershipWarnings } from '../../supervisor/src/ownership/layers.ts';
import { parseReaperLine, reaperArgs } from '../../supervisor/src/ownership/reaper.ts';
import { failureOf, peakBytes } from '../../supervisor/src/job/outcome.ts';
import { exceedsCeiling, MIN_SAMPLE_MS, nextSampleDelayMs, UsageMeter } from '../../supervisor/src/job/usage.ts';
import { buildChildEnv } from '../../supervisor/src/claude/cli-env.ts';

const run = (events: LifecycleEvent[], state: LifecycleState = INITIAL_STATE) =>
  events.reduce<LifecycleState>((s, e) => {
    const { phase, reason } = decide(s, e);
    return { phase, reason };
  }, state);

void test('lifecycle: the first cause wins and later ones change nothing', () => {
  assert.deepEqual(decide(INITIAL_STATE, 'timeout'), { phase: 'terminating', reason: 'timeout', action: 'terminate' });
  assert.deepEqual(run(['timeout', 'memory_limit', 'cancelled', 'shutdown', 'exit']), { phase: 'terminating', reason: 'timeout' });
  assert.deepEqual(run(['memory_limit', 'exit', 'tree_gone']), { phase: 'finished', reason: 'memory_limit' });
  assert.deepEqual(run(['exit', 'timeout', 'cancelled']), { phase: 'sweeping', reason: 'exit' });
  assert.deepEqual(run(['exit', 'tree_gone', 'shutdown']), { phase: 'finished', reason: 'exit' });
});

void test('lifecycle: every state x event is decided', () => {
  const events: LifecycleEvent[] = ['spawn_error', 'exit', 'timeout', 'memory_limit', 'cancelled', 'shutdown', 'tree_gone'];
  const states: LifecycleState[] = [
    INITIAL_STATE,
    { phase: 'terminating', reason: 'cancelled' },
    { phase: 'sweeping', reason: 'exit' },
    { phase: 'finished', reason: 'exit' },
  ];
  for (const s of states) {
    for (const e of events) {
      const d = decide(s, e);
      assert.ok(['none', 'terminate', 'sweep', 'finish'].includes(d.action));
      if (s.reason !== null) assert.equal(d.reason, s.reason, `${s.phase} + ${e} keeps the reason`);
    }
  }
  assert.equal(decide(INITIAL_STATE, 'exit').action, 'sweep', 'a CLI that exits on its own gets its leftovers swept');
  assert.equal(decide(INITIAL_STATE, 'spawn_error').action, 'finish');
  assert.equal(decide(INITIAL_STATE, 'tree_gone').action, 'none');
  assert.equal(decide({ phase: 'terminating', reason: 'timeout' }, 'tree_gone').action, 'finish');
});

void test('ceiling: exceeded only above the limit', () => {
  assert.equal(exceedsCeiling(100, 100), false);
  assert.equal(exceedsCeiling(101, 100), true);
});

void test('usage meter keeps CPU time of exited processes and computes percent', () => {
  const meter = new UsageMeter();
  const p = (pid: number, cpuTicks: number, rssPages = 1) => ({ pid, ppid: 1, state: 'S', startTime: pid * 10, cpuTicks, rssPages });
  meter.update([p(1, 10), p(2, 10)], 0);
  const u = meter.update([p(1, 60)], 1000); // pid 2 exited with 10 ticks; pid 1 used 50 ticks = 500 ms in 1 s
  assert.equal(u.cpuMs, 700);
  assert.equal(u.cpuPercent, 50);
  assert.equal(u.processCount, 1);
});

void test('output: the head is kept, UTF-8 never cut in half, the tail is bounded', () => {
  const head = new HeadCapture(4);
  head.push(Buffer.from('ab'));
  head.push(Buffer.from('cé€')); // c(1) é(2) €(3): the cap falls inside é
  assert.equal(head.truncated, true);
  assert.equal(head.text(), 'abc');
  assert.equal(head.totalBytes, 8);
  assert.equal(utf8CompletePrefix(Buffer.from('a€')).toString(), 'a€');
  assert.equal(utf8CompletePrefix(Buffer.from('a€').subarray(0, 3)).toString(), 'a');
  const tail = new TailCapture(4);
  tail.push(Buffer.from('hello'));
  tail.push(Buffer.from('é!'));
  assert.equal(tail.text(), 'oé!');
});

void test('a job window opens 10 ms early but never before the previous job ended, and lists images oldest first', () => {
  assert.deepEqual(jobWindow(1000, 2000, null), [990, 2010]);
  assert.deepEqual(jobWindow(1000, 2000, 995), [996, 2010], 'a file of the previous job stays its own');
  assert.deepEqual(jobWindow(1000, 2000, 500), [990, 2010]);
  const files = [
    { name: 'b.png', mtimeMs: 1500, size: 1 },
    { name: 'a.png', mtimeMs: 1200, size: 1 },
    { name: 'old.png', mtimeMs: 980, size: 1 },
    { name: 'later.png', mtimeMs: 2011, size: 1 },
  ];
  assert.deepEqual(imagesInWindow(files, jobWindow(1000, 2000, null)), ['a.png', 'b.png']);
});

void test('marker: a whole environ entry per job, a prefix per supervisor instance', () => {
  const tag = instanceTagFor('/tmp/x.sock');
  assert.notEqual(tag, instanceTagFor('/tmp/y.sock'));
  const environ = Buffer.from(`PATH=/bin\0AGENT_COCKPIT_JOB=${tag}:job-12\0HOME=/root\0`);
  assert.equal(environHas(environ, jobMarkerEntry(tag, 'job-12'), true), true);
  assert.equal(environHas(environ, jobMarkerEntry(tag, 'job-1'), true), false, 'job-1 is not job-12');
  assert.equal(environHas(environ, instanceMarkerPrefix(tag), false), true);
  assert.equal(environHas(Buffer.from(`X_AGENT_COCKPIT_JOB=${tag}:j\0`), instanceMarkerPrefix(tag), false), false);
});

void test('/proc/PID/stat parsing survives spaces and parentheses in the command name', () => {
  const line = '42 (a) b (c) S 7 42 42 0 -1 4194560 1 0 0 0 12 3 0 0 20 0 1 0 98765 1000 250 18446744073709551615';
  assert.deepEqual(parseStat(42, line), { pid: 42, ppid: 7, state: 'S', startTime: 98765, cpuTicks: 15, rssPages: 250 });
});

void test('the CLI environment drops API_TOKEN and SUPERVISOR_* and carries the marker and the agent identity', () => {
  const env = buildChildEnv(
    { PATH: '/bin', API_TOKEN: 'secret', SUPERVISOR_SOCKET: '/s', HOME: '/root', AGENT_COCKPIT_JOB: 'stale' },
    { name: 'agent', uid: 1000, gid: 1000, home: '/home/agent', shell: '/bin/bash' },
    'tag:job',
  );
  assert.deepEqual(env, { PATH: '/bin', HOME: '/home/agent', USER: 'agent', LOGNAME: 'agent', SHELL: '/bin/bash', AGENT_COCKPIT_JOB: 'tag:job' });
});

void test("the CLI environment is an allow-list: the service's own settings stay out, AGENT_ENV adds names", () => {
  const service = {
    PATH: '/usr/bin',
    HOME: '/root',
    USER: 'root',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    NODE_ENV: 'production',
    PORT: '3001',
    HOST: '0.0.0.0',
    API_TOKEN: 'secret-token-value',
    CLAUDE_BIN: '/app/claude',
    MEMORY_LIMIT_MB: '2048',
    ANTHROPIC_API_KEY: 'sk-ant-x',
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
    CLAUDE_CONFIG_DIR: '/data/claude',
    CLAUDE_CODE_MAX_RETRIES: '0',
    DISABLE_TELEMETRY: '1',
    BASH_DEFAULT_TIMEOUT_MS: '300000',
    PLAYWRIGHT_BROWSERS_PATH: '/opt/ms-playwright',
    GITHUB_TOKEN: 'ghp_x',
    HTTPS_PROXY: 'http://proxy:3128',
    IS_SANDBOX: '1',
    DATABASE_URL: 'postgres://x',
    NPM_TOKEN: 'npm_x',
  };
  const env = buildChildEnv(service, null, 'tag:job', ['DATABASE_URL']);
  for (const name of ['NODE_ENV', 'PORT', 'HOST', 'API_TOKEN', 'CLAUDE_BIN', 'MEMORY_LIMIT_MB', 'NPM_TOKEN']) assert.equal(env[name], undefined, name);
  for (const name of ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'CLAUDE_CONFIG_DIR', 'CLAUDE_CODE_MAX_RETRIES', 'DISABLE_TELEMETRY', 'BASH_DEFAULT_TIMEOUT_MS', 'PLAYWRIGHT_BROWSERS_PATH', 'GITHUB_TOKEN', 'HTTPS_PROXY', 'IS_SANDBOX', 'DATABASE_URL']) {
    assert.equal(env[name], service[name as keyof typeof service], name);
  }
  assert.equal(env.AGENT_COCKPIT_JOB, 'tag:job');
});

void test('config: defaults, units, the root rule and bad values naming the variable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1001::/home/agent:/bin/sh\n');
  const host = { uid: 0, passwdFile: passwd, isExecutable: () => false };
  const key = { ANTHROPIC_API_KEY: 'sk-ant-test' };
  const c = loadConfig({ ...key, AGENT_USER: 'agent', PATH: '' }, host);
  assert.equal(c.socketPath, '/tmp/agent-cockpit-0/supervisor.sock', 'a folder per user, as tmux does');
  assert.equal(c.workspaceDir, '/tmp/agent-cockpit-0/workspace');
  assert.equal(c.imagesDir, '/tmp/agent-cockpit-0/images');
  assert.equal(c.memoryLimitBytes, 2048 * 1024 * 1024);
  assert.equal(c.maxOutputBytes, 10 * 1024 * 1024);
  assert.equal(c.commandTimeoutMs, 300_000);
  assert.equal(c.claudeBin, 'claude');
  assert.deepEqual(c.agentUser, { name: 'agent', uid: 1000, gid: 1001, home: '/home/agent', shell: '/bin/sh' });
  assert.ok(Object.isFrozen(c));
  assert.equal(loadConfig({ ...key, AGENT_USER: '1000' }, host).agentUser?.name, 'agent');
  assert.equal(loadConfig({ ...key, IS_SANDBOX: '1' }, host).agentUser, null);
  assert.equal(loadConfig(key, { ...host, uid: 1000 }).agentUser, null, 'non-root needs neither');
  const bad = (env: Record<string, string>, variable: string, h: typeof host = host) =>
    assert.throws(() => loadConfig(env, h), (e: unknown) => e instanceof ConfigError && e.variable === variable);
  bad(key, 'AGENT_USER');
  bad({ ...key, AGENT_USER: 'root' }, 'AGENT_USER');
  bad({ ...key, AGENT_USER: 'nobody-here' }, 'AGENT_USER');
  bad({ ...key, IS_SANDBOX: 'maybe' }, 'IS_SANDBOX');
  bad({ ...key, IS_SANDBOX: '1', MEMORY_LIMIT_MB: '-5' }, 'MEMORY_LIMIT_MB');
  bad({ ...key, IS_SANDBOX: '1', SUPERVISOR_SOCKET: 'relative.sock' }, 'SUPERVISOR_SOCKET');
  bad({ ...key, IS_SANDBOX: '1', SUPERVISOR_SOCKET: `/${'x'.repeat(120)}` }, 'SUPERVISOR_SOCKET');
  bad({ ...key, IS_SANDBOX: '1', SUPERVISOR_SOCKET_GROUP: 'no-such-group' }, 'SUPERVISOR_SOCKET_GROUP');
  bad({ ...key, IS_SANDBOX: '1', LOG_LEVEL: 'loud' }, 'LOG_LEVEL');
  bad({ ...key, AGENT_USER: 'agent' }, 'AGENT_USER', { ...host, uid: 1234 });
  // A dedicated user has every process of its uid killed: only a named user, not us, not root.
  assert.equal(loadConfig({ ...key, AGENT_USER: 'agent', AGENT_USER_DEDICATED: '1' }, host).agentUserDedicated, true);
  assert.equal(c.agentUserDedicated, false);
  bad({ ...key, IS_SANDBOX: '1', AGENT_USER_DEDICATED: '1' }, 'AGENT_USER_DEDICATED');
  bad({ ...key, AGENT_USER: 'root', IS_SANDBOX: '1', AGENT_USER_DEDICATED: '1' }, 'AGENT_USER_DEDICATED');
  bad({ ...key, AGENT_USER: 'agent', AGENT_USER_DEDICATED: '1' }, 'AGENT_USER_DEDICATED', { ...host, uid: 1000 });
  bad({ IS_SANDBOX: '1' }, 'ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN');
  assert.deepEqual(loadConfig({ ...key, IS_SANDBOX: '1', AGENT_ENV: 'DATABASE_URL, NPM_TOKEN' }, host).agentEnv, ['DATABASE_URL', 'NPM_TOKEN']);
  bad({ ...key, IS_SANDBOX: '1', AGENT_ENV: 'API_TOKEN' }, 'AGENT_ENV');
  bad({ ...key, IS_SANDBOX: '1', AGENT_ENV: 'SUPERVISOR_SOCKET' }, 'AGENT_ENV');
  bad({ ...key, IS_SANDBOX: '1', AGENT_ENV: 'not a-name' }, 'AGENT_ENV');
  // The message names the variable and what it takes, never the value (it may be a secret).
  assert.throws(
    () => loadConfig({ ...key, IS_SANDBOX: '1', MEMORY_LIMIT_MB: 'sk-ant-pasted-here' }, host),
    (e: unknown) => e instanceof Error && /MEMORY_LIMIT_MB/.test(e.message) && !e.message.includes('sk-ant-pasted-here'),
  );
  assert.match(c.reaperBin, /dist\/agent-cockpit-reaper$/);
});

void test('config: the stop interrupt grace and the per-job limits', () => {
  const env = { ANTHROPIC_API_KEY: 'x', IS_SANDBOX: '1' };
  const host = { uid: 0, isExecutable: () => false };
  const c = loadConfig(env, host);
  assert.deepEqual([c.interruptGraceMs, c.maxTurns, c.maxBudgetUsd], [2000, null, null]);
  const set = loadConfig({ ...env, INTERRUPT_GRACE_MS: '500', MAX_TURNS: '25', MAX_BUDGET_USD: '2.50' }, host);
  assert.deepEqual([set.interruptGraceMs, set.maxTurns, set.maxBudgetUsd], [500, 25, 2.5]);
  for (const [variable, value] of [['MAX_TURNS', '0'], ['MAX_TURNS', 'many'], ['MAX_BUDGET_USD', '0'], ['MAX_BUDGET_USD', '-1'], ['MAX_BUDGET_USD', '$2'], ['MAX_BUDGET_USD', '1e3']]) {
    assert.throws(() => loadConfig({ ...env, [variable!]: value! }, host), (e: unknown) => e instanceof ConfigError && e.variable === variable, `${variable}=${value}`);
  }
  // Budgets are estimates: an OAuth token alone may report a cost of 0 (said at start and in /status).
  assert.deepEqual(budgetWarnings(null, { CLAUDE_CODE_OAUTH_TOKEN: 't' }), []);
  assert.deepEqual(budgetWarnings(2, { ANTHROPIC_API_KEY: 'k', CLAUDE_CODE_OAUTH_TOKEN: 't' }), []);
  assert.match(budgetWarnings(2, { CLAUDE_CODE_OAUTH_TOKEN: 't' })[0] ?? '', /MAX_BUDGET_USD=2 may never trip/);
});

void test('output: the head capture keeps exactly the first maxBytes across growth steps', () => {
  const maxBytes = 300_000;
  const head = new HeadCapture(maxBytes);
  const all: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const chunk = Buffer.alloc(1 + ((i * 7919) % 5000), String.fromCharCode(97 + (i % 26)));
    all.push(chunk);
    head.push(chunk);
  }
  const expected = Buffer.concat(all);
  assert.ok(expected.length > maxBytes);
  assert.equal(head.totalBytes, expected.length);
  assert.equal(head.truncated, true);
  assert.equal(head.text(), expected.subarray(0, maxBytes).toString('latin1'));
  const small = new HeadCapture(maxBytes);
  small.push(Buffer.from('whole'));
  assert.equal(small.truncated, false);
  assert.equal(small.text(), 'whole');
  small.stopKeeping();
  assert.equal(small.keptBytes, 0);
  small.push(Buffer.alloc(maxBytes));
  assert.equal(small.keptBytes, 0, 'nothing kept after stopKeeping');
  assert.equal(small.totalBytes, maxBytes + 5);
  assert.equal(small.truncated, true, 'still counted: stdout went past the cap');
});

void test('output: raw stdout is kept for the answer until the CLI speaks stream-json, then dropped', () => {
  const out = new JobOutput(1024 * 1024);
  out.pushStdout(Buffer.from('a warning before any event\n'));
  assert.ok(out.keptStdoutBytes > 0, 'a plain-text CLI answers with its stdout');
  out.pushStdout(Buffer.from('{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Hi."}]}}\n'));
  assert.equal(out.keptStdoutBytes, 0);
  out.pushStdout(Buffer.from('x'.repeat(2048) + '\n'));
  assert.equal(out.keptStdoutBytes, 0);
  out.end();
  assert.equal(textOf(out.heldText()), 'Hi.');
  const plain = new JobOutput(1024 * 1024);
  plain.pushStdout(Buffer.from('plain answer\n'));
  plain.end();
  assert.equal(textOf(plain.heldText()), 'plain answer\n');
});

void test('ownership: contained only when a reaper the agent cannot signal, or a dedicated uid, holds the tree', () => {
  const base = { agentUid: null, reaperBin: null, cgroups: null, environ: true, agentIsSupervisorUser: false };
  assert.equal(isContained(base), false);
  assert.equal(isContained({ ...base, reaperBin: '/r' }), true);
  assert.equal(isContained({ ...base, agentUid: 10001 }), true);
  assert.equal(isContained({ ...base, cgroups: { kind: 'v2', parentDir: '/c' } }), false, 'a cgroup alone: a root agent can leave it');
  assert.equal(isContained({ ...base, reaperBin: '/r', agentIsSupervisorUser: true }), false, 'the agent could signal its reaper');
  assert.match(ownershipWarnings(base).join(' '), /can outlive its job/);
  assert.match(ownershipWarnings({ ...base, reaperBin: '/r', agentIsSupervisorUser: true }).join(' '), /supervisor's own user/);
  assert.deepEqual(ownershipWarnings({ ...base, reaperBin: '/r' }), []);
  const v2 = (how: 'clone3' | 'write', refused: string | null) => ({ ...base, reaperBin: '/r', cgroups: { kind: 'v2' as const, parentDir: '/c', join: { how, refused } } });
  assert.deepEqual(ownershipWarnings(v2('clone3', null)), []);
  assert.match(ownershipWarnings(v2('write', 'ENOSYS')).join(' '), /CLONE_INTO_CGROUP is refused here \(ENOSYS/);
  assert.deepEqual(ownershipWarnings({ ...base, reaperBin: '/r', cgroups: { kind: 'v1-memory', parentDir: '/c', join: { how: 'write', refused: null } } }), [], 'v1 cannot do better');
  assert.deepEqual(ownershipStatus({ ...base, agentUid: 7, reaperBin: '/r', cgroups: { kind: 'v1-memory', parentDir: '/c' }, environ: false }), {
    agentUid: 7,
    subreaper: true,
    cgroup: 'v1-memory',
    environ: false,
    contained: true,
  });
});

void test('reaper: its argv puts the program after --, and its status lines parse (anything else is ignored)', () => {
  assert.deepEqual(reaperArgs({ tag: 't:j', uid: 5, gid: 6, cgroupDir: '/cg/job', program: '/bin/claude', args: ['-p', '--x'] }), [
    '--uid', '5', '--gid', '6', '--cgroup', '/cg/job', '--tag', 't:j', '--', '/bin/claude', '-p', '--x',
  ]);
  assert.deepEqual(reaperArgs({ tag: 't:j', program: 'claude', args: [] }), ['--tag', 't:j', '--', 'claude']);
  assert.deepEqual(parseReaperLine('pid 42'), { kind: 'pid', pid: 42 });
  assert.deepEqual(parseReaperLine('exit 3'), { kind: 'exit', exitCode: 3, alone: false });
  assert.deepEqual(parseReaperLine('exit 3 alone'), { kind: 'exit', exitCode: 3, alone: true }, 'nothing left below the reaper');
  assert.deepEqual(parseReaperLine('signal 15 alone'), { kind: 'signal', signal: 'SIGTERM', alone: true });
  assert.deepEqual(parseReaperLine('joined clone3'), { kind: 'joined', how: 'clone3', refused: null });
  assert.deepEqual(parseReaperLine('joined write 0'), { kind: 'joined', how: 'write', refused: null }, 'v1: clone3 was not tried');
  assert.deepEqual(parseReaperLine('joined write 38'), { kind: 'joined', how: 'write', refused: 'ENOSYS' });
  assert.equal(parseReaperLine('joined write'), null);
  assert.equal(parseReaperLine('joined fork'), null);
  assert.deepEqual(parseReaperLine('signal 9'), { kind: 'signal', signal: 'SIGKILL', alone: false });
  assert.deepEqual(parseReaperLine('error exec 2'), { kind: 'error', stage: 'exec', code: 'ENOENT' });
  assert.deepEqual(parseReaperLine('warn cgroup 13'), { kind: 'warn', what: 'cgroup', code: 'EACCES' });
  for (const junk of ['', 'pid', 'pid -1', 'exit x', 'exit 3 lonely', 'signal 9 x', 'hello 1']) assert.equal(parseReaperLine(junk), null, junk);
});

void test('uids: the Uid line of /proc/PID/status, all four', () => {
  assert.deepEqual(parseUids('Name:\tx\nUmask:\t0022\nUid:\t1000\t1000\t0\t1000\nGid:\t1\t1\t1\t1\n'), [1000, 1000, 0, 1000]);
  assert.equal(parseUids('Name:\tx\n'), null);
  assert.deepEqual(readUids(process.pid), [process.getuid?.(), process.geteuid?.(), process.getuid?.(), process.geteuid?.()].map((n) => n ?? 0));
});

void test('sampling: sooner while the tree races toward the ceiling, never under 50 ms, else the interval', () => {
  const limit = 500 * MIB;
  const at = (rssBytes: number, atMs: number) => ({ rssBytes, atMs });
  assert.equal(nextSampleDelayMs(at(0, 0), at(100 * MIB, 1000), limit, 1000), 1000, '100 MB/s: 4 s to go, wait the interval');
  // 200 MB per 100 ms from 100 MB: the ceiling is 200 ms away; sample again in 100 ms.
  assert.equal(nextSampleDelayMs(at(0, 0), at(100 * MIB, 50), limit, 1000), 100);
  assert.equal(nextSampleDelayMs(at(0, 0), at(490 * MIB, 100), limit, 1000), MIN_SAMPLE_MS);
  assert.equal(nextSampleDelayMs(at(300 * MIB, 0), at(200 * MIB, 100), limit, 1000), 1000, 'shrinking');
  assert.equal(nextSampleDelayMs(at(0, 100), at(100 * MIB, 100), limit, 1000), 1000, 'no time passed');
});

void test('outcome: the peak is the larger of the sampled and the cgroup peak; failures in words', () => {
  assert.equal(peakBytes(10, null), 10);
  assert.equal(peakBytes(10, 772), 772);
  assert.equal(peakBytes(900, 772), 900);
  const stream = { result: null, resultText: null, errorMessage: null, errorCode: null, assistantText: '', sawEvents: false, droppedLines: 0 };
  const facts = { reason: 'exit' as const, exitCode: 1, signal: null, errorMessage: null, stream, stderrText: 'one\ntwo\n', timeoutMs: 5 };
  assert.deepEqual(failureOf(facts), { errorMessage: 'two', errorCode: null });
  assert.deepEqual(failureOf({ ...facts, exitCode: 0 }), { errorMessage: null, errorCode: null });
  assert.equal(failureOf({ ...facts, reason: 'timeout' }).errorMessage, 'The command timed out after 5 ms');
  assert.equal(failureOf({ ...facts, reason: 'memory_limit', errorMessage: 'over' }).errorMessage, 'over', 'a message set while running wins');
});

void test('a text goes in pieces that never split a character, and join back exactly', () => {
  // Code units: a surrogate pair across a cut moves whole to the next piece.
  const text = `ab${'aé€😀'.repeat(5)}`; // 27 code units
  const parts = [...pieces(text, 5)];
  assert.equal(parts.join(''), text);
  assert.ok(parts.every((p) => p.length <= 5 && p.length > 0));
  assert.ok(!parts.some((p) => /[\ud800-\udbff]$/.test(p) || /^[\udc00-\udfff]/.test(p)), JSON.stringify(parts));
  // Bytes: a character across a cut moves whole; every piece is decoded without U+FFFD.
  const bytes = Buffer.from(text);
  const decodedParts = [...pieces(bytes, 7)];
  assert.equal(decodedParts.join(''), text);
  assert.ok(!decodedParts.join('').includes('\ufffd'));
  // A window with no whole character in it (broken input) still moves on.
  assert.match([...pieces(Buffer.from([0xf0, 0x9f, 0x98]), 2)].join(''), /^\ufffd+$/);
  assert.deepEqual([...pieces('', 4)], []);
  assert.equal(textOf(bytes), text);
});
