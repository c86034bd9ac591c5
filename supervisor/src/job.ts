// One job: the CLI process, its tree, its output and its accounting, driven through the
// lifecycle table (lifecycle.ts). Effects live here; decisions do not.
import { once } from 'node:events';
import type { Logger } from '../../common/logger.ts';
import type { JobReason, JobSummary, JobView, StartJobRequest } from '../../common/protocol.ts';
import type { Env } from '../../common/env.ts';
import { buildCliArgs, cliEnv } from './claude/cli-args.ts';
import { StreamJsonReader } from './claude/stream-json.ts';
import { JobCgroup, type CgroupSupport } from './cgroup.ts';
import type { SupervisorConfig } from './config.ts';
import { decide, INITIAL_STATE, type LifecycleEvent, type LifecycleState } from './lifecycle.ts';
import { jobMarkerEntry, markerValue } from './marker.ts';
import { HeadCapture, TailCapture } from './output.ts';
import { exceedsCeiling, UsageMeter } from './sampler.ts';
import { buildChildEnv, spawnCli, writePrompt, type CliProcess } from './spawn.ts';
import { killTreeNow, terminateTree } from './terminate.ts';
import { ProcessTree } from './tree.ts';

const STDERR_TAIL_BYTES = 4096;
/** Leftovers of a CLI that exited on its own get a short grace: they are not the agent's
 *  answer, and a successful job's leftovers must be gone within ~1.5 s. */
const SWEEP_GRACE_MAX_MS = 1000;
/** After the tree is gone, how long to wait for the pipes to drain (a process we could
 *  not see may still hold them open). */
const DRAIN_MS = 1000;
const EARLY_SAMPLE_MS = 100;

export interface JobDeps {
  config: Readonly<SupervisorConfig>;
  log: Logger;
  instanceTag: string;
  cgroups: CgroupSupport | null;
  env: Env;
}

export class Job {
  readonly startedAtMs = Date.now();
  endedAtMs: number | null = null;
  pid: number | null = null;
  exitCode: number | null = null;
  signal: string | null = null;
  errorMessage: string | null = null;
  errorCode: JobView['errorCode'] = null;
  text: string | null = null;
  textBytes = 0;
  textEvicted = false;
  processesKilled = 0;
  leftoversKilled = 0;
  forcedKill = false;
  cpuMs = 0;
  cpuPercent = 0;
  rssBytes = 0;
  peakRssBytes = 0;
  processCount = 0;
  peakProcessCount = 0;

  private state: LifecycleState = INITIAL_STATE;
  private final = false;
  private readonly stdout: HeadCapture;
  private readonly stderr = new TailCapture(STDERR_TAIL_BYTES);
  private readonly reader: StreamJsonReader;
  private readonly meter = new UsageMeter();
  private readonly abortGrace = new AbortController();
  private child: CliProcess | null = null;
  private tree: ProcessTree | null = null;
  private cgroup: JobCgroup | null = null;
  private timers: NodeJS.Timeout[] = [];
  private childExited: Promise<unknown> = Promise.resolve();
  private streamsEnded: Promise<unknown> = Promise.resolve();
  private oomKillsAtStart = 0;
  private resolveFinished!: () => void;
  /** Resolves once the tree is gone and the job's record is final. */
  readonly finished = new Promise<void>((resolve) => (this.resolveFinished = resolve));

  readonly idempotencyKey: string | null;
  readonly promptChars: number;
  /** Held only until it is written to the CLI: history must not keep prompts. */
  private request: StartJobRequest | null;

  constructor(
    readonly id: string,
    request: StartJobRequest,
    private readonly deps: JobDeps,
  ) {
    this.request = request;
    this.idempotencyKey = request.idempotencyKey ?? null;
    this.promptChars = request.prompt.length;
    this.stdout = new HeadCapture(deps.config.maxOutputBytes);
    this.reader = new StreamJsonReader(deps.config.maxOutputBytes);
  }

  get reason(): JobReason | null {
    return this.state.reason;
  }

  /** The record is final: the tree is gone and the output read (not merely decided). */
  get isFinished(): boolean {
    return this.final;
  }

  /** Spawn the CLI and arm the timeout and the sampler. */
  start(): void {
    const { config, log } = this.deps;
    const marker = markerValue(this.deps.instanceTag, this.id);
    if (this.deps.cgroups !== null) {
      this.cgroup = JobCgroup.create(this.deps.cgroups, `agent-cockpit-${marker.replace(':', '-')}`, memoryBackstopBytes(config.memoryLimitBytes));
    }
    const request = this.request!;
    this.request = null;
    let child: CliProcess;
    try {
      child = spawnCli({
        bin: config.claudeBin,
        args: buildCliArgs(request, { imagesDir: config.imagesDir }),
        cwd: config.workspaceDir,
        env: cliEnv(buildChildEnv(this.deps.env, config.agentUser, marker)),
        agentUser: config.agentUser,
      });
    } catch (err) {
      this.spawnFailed(err as Error);
      return;
    }
    this.child = child;
    this.childExited = once(child, 'exit').catch(() => undefined);
    if (child.pid === undefined) {
      // ENOENT, EACCES...: Node reports these asynchronously.
      child.once('error', (err) => this.spawnFailed(err));
      return;
    }
    child.on('error', (err) => log.error({ jobId: this.id, err }, 'error'));
    this.pid = child.pid;
    if (this.cgroup !== null && !this.cgroup.addPid(child.pid)) log.debug({ jobId: this.id }, 'could not move the CLI into its cgroup');
    this.oomKillsAtStart = this.cgroup?.oomKills() ?? 0;
    this.tree = new ProcessTree({
      rootPid: child.pid,
      marker: jobMarkerEntry(this.deps.instanceTag, this.id),
      exactMarker: true,
      cgroupPids: this.cgroup ? () => this.cgroup!.pids() : undefined,
    });
    log.info({ jobId: this.id, pid: child.pid }, 'spawn');

    child.stdout.on('data', (chunk: Buffer) => {
      this.stdout.push(chunk);
      this.reader.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    this.streamsEnded = Promise.all([once(child.stdout, 'close'), once(child.stderr, 'close')]).catch(() => undefined);
    writePrompt(child.stdin, request.prompt, (err) => log.warn({ jobId: this.id, err }, 'writing the prompt failed'));

    child.once('exit', (code, signal) => {
      this.exitCode = code;
      this.signal = signal;
      if (this.oomKilled()) this.dispatch('memory_limit');
      this.dispatch('exit');
    });
    this.timers.push(
      setTimeout(() => {
        log.warn({ jobId: this.id, pid: this.pid, durationMs: Date.now() - this.startedAtMs }, 'timeout');
        this.dispatch('timeout');
      }, Math.max(0, config.commandTimeoutMs - (Date.now() - this.startedAtMs))), // the deadline counts from startedAt
      setInterval(() => this.sample(), config.sampleIntervalMs),
      // One early sample, so that even a short job reports its size and processes.
      setTimeout(() => this.sample(), Math.min(EARLY_SAMPLE_MS, config.sampleIntervalMs)),
    );
  }

  /** Stop the job for an outside reason; resolves when it has finished. */
  stop(reason: 'cancelled' | 'shutdown'): Promise<void> {
    this.dispatch(reason);
    return this.finished;
  }

  /** Skip the rest of the grace period: SIGKILL what is left now (second shutdown signal). */
  hurry(): void {
    this.abortGrace.abort();
  }

  /** Synchronous last resort before the process exits. */
  killNow(): number {
    return this.tree !== null && !this.isFinished ? killTreeNow(this.tree) : 0;
  }

  private sample(): void {
    if (this.tree === null || this.state.phase !== 'running') return;
    const usage = this.meter.update(this.tree.scan(), Date.now());
    this.cpuMs = usage.cpuMs;
    this.cpuPercent = usage.cpuPercent;
    this.rssBytes = usage.rssBytes;
    this.processCount = usage.processCount;
    this.peakRssBytes = Math.max(this.peakRssBytes, usage.rssBytes);
    this.peakProcessCount = Math.max(this.peakProcessCount, usage.processCount);
    const limit = this.deps.config.memoryLimitBytes;
    if (exceedsCeiling(usage.rssBytes, limit)) {
      this.deps.log.warn({ jobId: this.id, rssBytes: usage.rssBytes, memoryLimitBytes: limit, processCount: usage.processCount }, 'memory limit');
      this.errorMessage ??= `The job's processes used ${usage.rssBytes} bytes of memory, over the limit of ${limit} bytes`;
      this.dispatch('memory_limit');
    } else if (this.oomKilled()) {
      this.dispatch('memory_limit');
    }
  }

  private oomKilled(): boolean {
    if (this.cgroup === null || this.cgroup.oomKills() <= this.oomKillsAtStart) return false;
    if (this.state.reason === null) {
      this.deps.log.warn({ jobId: this.id, memoryLimitBytes: this.deps.config.memoryLimitBytes }, 'memory limit');
      this.errorMessage ??= 'The kernel killed a process of the job for exceeding its memory limit';
    }
    return true;
  }

  private spawnFailed(err: Error): void {
    this.errorMessage = `Could not start ${this.deps.config.claudeBin}: ${err.message}`;
    this.deps.log.error({ jobId: this.id, err }, 'error');
    this.dispatch('spawn_error');
  }

  private dispatch(event: LifecycleEvent): void {
    const before = this.state;
    const next = decide(before, event);
    this.state = { phase: next.phase, reason: next.reason };
    switch (next.action) {
      case 'terminate':
        this.clearTimers();
        void this.end(false);
        break;
      case 'sweep':
        this.clearTimers();
        void this.end(true);
        break;
      case 'finish':
        void this.finish();
        break;
      case 'none':
        break;
    }
  }

  /** Terminate the tree (stop causes) or sweep what the exited CLI left behind. */
  private async end(sweep: boolean): Promise<void> {
    const { config, log } = this.deps;
    try {
      if (this.tree !== null) {
        const outcome = await terminateTree(this.tree, {
          graceMs: sweep ? Math.min(config.killGraceMs, SWEEP_GRACE_MAX_MS) : config.killGraceMs,
          firstPid: sweep ? undefined : (this.pid ?? undefined),
          abort: this.abortGrace.signal,
          killAll: this.cgroup ? () => this.cgroup!.killAll() : undefined,
        });
        if (sweep) this.leftoversKilled = outcome.processesKilled;
        else this.processesKilled = outcome.processesKilled;
        this.forcedKill = outcome.forced;
        if (outcome.remaining > 0) log.error({ jobId: this.id, processCount: outcome.remaining }, 'processes survived SIGKILL');
      }
    } catch (err) {
      log.error({ jobId: this.id, err }, 'error');
    }
    this.dispatch('tree_gone');
  }

  private async finish(): Promise<void> {
    try {
      await this.finalize();
    } catch (err) {
      this.deps.log.error({ jobId: this.id, err }, 'error');
    } finally {
      this.endedAtMs ??= Date.now();
      this.final = true;
      this.resolveFinished();
    }
  }

  private async finalize(): Promise<void> {
    const { config, log } = this.deps;
    this.clearTimers();
    // The CLI is dead; its exit status and the last of its output arrive momentarily.
    await withTimeout(Promise.all([this.childExited, this.streamsEnded]), DRAIN_MS);
    if (this.child !== null) {
      this.child.stdout.destroy();
      this.child.stderr.destroy();
    }
    const outcome = this.reader.end();
    if (this.pid !== null) this.text = this.answerText();
    this.textBytes = this.text === null ? 0 : Buffer.byteLength(this.text);
    this.stdout.release();
    if (this.state.reason === 'exit' && this.errorMessage === null) {
      if (outcome.errorMessage !== null) this.errorMessage = outcome.errorMessage;
      else if (this.exitCode !== 0) this.errorMessage = lastLine(this.stderr.text()) ?? `Claude Code exited with ${this.exitCode ?? this.signal}`;
    }
    this.errorCode = outcome.errorCode;
    this.errorMessage ??= reasonMessage(this.state.reason, config.commandTimeoutMs);
    if (this.cgroup !== null && !(await this.cgroup.remove())) log.warn({ jobId: this.id }, 'could not remove the job cgroup');
    this.endedAtMs = Date.now();
    log.info(
      {
        jobId: this.id,
        reason: this.state.reason,
        exitCode: this.exitCode,
        signal: this.signal,
        durationMs: this.endedAtMs - this.startedAtMs,
        peakRssBytes: this.peakRssBytes,
        cpuMs: this.cpuMs,
        processesKilled: this.processesKilled,
        leftoversKilled: this.leftoversKilled,
        forced: this.forcedKill,
        outputBytes: this.stdout.totalBytes,
        truncated: this.stdout.truncated,
      },
      'done',
    );
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  summary(now = Date.now()): JobSummary {
    return {
      id: this.id,
      state: this.isFinished ? 'finished' : 'running',
      idempotencyKey: this.idempotencyKey,
      pid: this.pid,
      promptChars: this.promptChars,
      startedAt: new Date(this.startedAtMs).toISOString(),
      endedAt: this.endedAtMs === null ? null : new Date(this.endedAtMs).toISOString(),
      durationMs: (this.endedAtMs ?? now) - this.startedAtMs,
      exitCode: this.exitCode,
      signal: this.signal,
      reason: this.isFinished ? this.state.reason : null,
      errorMessage: this.isFinished ? this.errorMessage : null,
      errorCode: this.errorCode,
      stdoutTruncated: this.stdout.truncated,
      stderrTruncated: this.stderr.totalBytes > STDERR_TAIL_BYTES,
      result: this.isFinished ? this.reader.current.result : null,
      progress: { ...this.reader.progress },
      cpuMs: this.cpuMs,
      cpuPercent: this.cpuPercent,
      rssBytes: this.isFinished ? 0 : this.rssBytes,
      peakRssBytes: this.peakRssBytes,
      processCount: this.isFinished ? 0 : this.processCount,
      peakProcessCount: this.peakProcessCount,
      processesKilled: this.processesKilled,
      leftoversKilled: this.leftoversKilled,
      textEvicted: this.textEvicted,
    };
  }

  view(now = Date.now()): JobView {
    // A running job shows its text so far: a relay answered 503 at shutdown, or one that
    // polls GET /jobs/:id, still gets what the agent had said.
    const text = this.isFinished ? this.text : this.pid === null ? null : this.answerText() || null;
    return { ...this.summary(now), text, stderrTail: this.stderr.text() };
  }

  /** The result event's text; else, for a CLI speaking stream-json (killed before its
   *  result), what the agent said so far; else stdout as it is (a plain-text CLI). */
  private answerText(): string {
    const outcome = this.reader.current;
    return outcome.resultText ?? (outcome.sawEvents ? outcome.assistantText : this.stdout.text());
  }
}

/** The cgroup v1 limit: a kernel backstop above the sampled ceiling, so the sampler's
 *  orderly TERM-grace-KILL normally acts first and the kernel only catches a tree that
 *  grows faster than one sample interval. */
export function memoryBackstopBytes(memoryLimitBytes: number): number {
  return Math.floor(memoryLimitBytes * 1.5);
}

function reasonMessage(reason: JobReason | null, timeoutMs: number): string | null {
  switch (reason) {
    case 'timeout':
      return `The command timed out after ${timeoutMs} ms`;
    case 'cancelled':
      return 'The job was cancelled';
    case 'shutdown':
      return 'The supervisor is shutting down';
    default:
      return null;
  }
}

function lastLine(text: string): string | null {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.at(-1) ?? null;
}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
