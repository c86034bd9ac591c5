// One job: a thin driver that feeds what happens (the CLI's end, a timeout, the memory
// ceiling, a cancel) through the lifecycle table (lifecycle.ts) and carries out its
// actions. Starting the CLI is cli-process.ts, its stdin cli-input.ts, output
// job-output.ts, accounting usage.ts, the tree and its end ownership/, the final words
// outcome.ts, the views view.ts, the events it records as it runs event-recorder.ts.
//
// A stop (cancel, timeout, shutdown) is gentle first (interrupt.ts): the CLI is asked to
// interrupt its turn and given INTERRUPT_GRACE_MS to print its result (the partial answer,
// a session that resumes), then the tree is ended as before, within what is left of
// KILL_GRACE_MS.
import type { Logger } from '../../../common/logger.ts';
import type { Env } from '../../../common/env.ts';
import type { ImageFile } from '../../../common/image-files.ts';
import type { JobReason, JobSummary, JobView, StartJobRequest } from '../../../common/protocol.ts';
import { buildCliArgs } from '../claude/cli-args.ts';
import type { SupervisorConfig } from '../config.ts';
import { decide, INITIAL_STATE, type LifecycleEvent, type LifecycleState } from '../lifecycle.ts';
import type { JobCgroup } from '../ownership/cgroup.ts';
import type { OwnershipLayers } from '../ownership/layers.ts';
import { jobMarkerEntry } from '../ownership/marker.ts';
import { killTreeNow, terminateTree } from '../ownership/terminate.ts';
import { ProcessTree } from '../ownership/tree.ts';
import type { HeldText, HeldView } from './answer-text.ts';
import { CliInput } from './cli-input.ts';
import { CliProcess, type CliEnd, type CliListener } from './cli-process.ts';
import type { JobEventLog } from './event-log.ts';
import { EventRecorder } from './event-recorder.ts';
import { interruptCli, withTimeout } from './interrupt.ts';
import { JobOutput } from './job-output.ts';
import type { JobLaunch } from './launch.ts';
import type { JobLimits } from './limits.ts';
import { failureOf, peakBytes } from './outcome.ts';
import { exceedsCeiling, nextSampleDelayMs, UsageMeter } from './usage.ts';
import { heldViewOf, summaryOf } from './view.ts';

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
  layers: OwnershipLayers;
  env: Env;
  /** The image files the job wrote, given its window (job/images.ts); [] when unreadable. */
  imagesOf: (startedAtMs: number, endedAtMs: number) => Promise<string[]>;
  /** The image files in the running job's window so far; null when unreadable. */
  liveImagesOf: (startedAtMs: number) => Promise<ImageFile[] | null>;
  /** IMAGES_DIR's mtime in ms; null when unreadable. */
  imagesFolderMtimeMs: () => Promise<number | null>;
}

/** What the job has come to so far; final once `isFinished`. Sizes in bytes, times in ms. */
export interface JobRecord
  extends Pick<
    JobView,
    | 'pid'
    | 'exitCode'
    | 'signal'
    | 'errorMessage'
    | 'processesKilled'
    | 'leftoversKilled'
    | 'cpuMs'
    | 'cpuPercent'
    | 'rssBytes'
    | 'peakRssBytes'
    | 'processCount'
    | 'peakProcessCount'
    | 'images'
  > {
  errorCode: JobView['errorCode'];
  /** The answer, once finished; the kept stdout as its bytes (answer-text.ts). */
  text: HeldText;
  /** The view's `endedAt`, as a number. */
  endedAtMs: number | null;
  forcedKill: boolean;
}

export class Job {
  readonly startedAtMs = Date.now();
  readonly record: JobRecord = {
    pid: null,
    endedAtMs: null,
    exitCode: null,
    signal: null,
    errorMessage: null,
    errorCode: null,
    text: null,
    processesKilled: 0,
    leftoversKilled: 0,
    forcedKill: false,
    cpuMs: 0,
    cpuPercent: 0,
    rssBytes: 0,
    peakRssBytes: 0,
    processCount: 0,
    peakProcessCount: 0,
    images: [],
  };
  readonly output: JobOutput;
  private readonly recorder: EventRecorder;
  readonly idempotencyKey: string | null;
  readonly promptChars: number;
  /** Resolves once the tree is gone and the job's record is final. */
  readonly finished: Promise<void>;

  private state: LifecycleState = INITIAL_STATE;
  private final = false;
  private readonly meter = new UsageMeter();
  private readonly abortGrace = new AbortController();
  private cli: CliProcess | null = null;
  private input: CliInput | null = null;
  /** Resolves when the CLI's result event has been read. */
  private readonly resultRead: Promise<void>;
  private resolveResultRead!: () => void;
  private tree: ProcessTree | null = null;
  private cgroup: JobCgroup | null = null;
  private timers: NodeJS.Timeout[] = [];
  private sampleTimer: NodeJS.Timeout | null = null;
  private lastSample = { rssBytes: 0, atMs: this.startedAtMs };
  private streamsEnded: Promise<unknown> = Promise.resolve();
  private oomKillsAtStart = 0;
  private resolveFinished!: () => void;
  /** Held only until it is written to the CLI: nothing keeps prompts. */
  private request: StartJobRequest | null;

  constructor(
    readonly id: string,
    request: StartJobRequest,
    private readonly deps: JobDeps,
    private readonly limits: JobLimits,
  ) {
    this.request = request;
    this.idempotencyKey = request.idempotencyKey ?? null;
    this.promptChars = request.prompt.length;
    this.recorder = new EventRecorder(id, deps.log, this.startedAtMs, {
      folderMtimeMs: () => deps.imagesFolderMtimeMs(),
      inWindow: () => deps.liveImagesOf(this.startedAtMs),
    });
    this.output = new JobOutput(deps.config.maxOutputBytes, this.recorder);
    this.finished = new Promise<void>((resolve) => (this.resolveFinished = resolve));
    this.resultRead = new Promise<void>((resolve) => (this.resolveResultRead = resolve));
  }

  /** What happened, as it happened (progress, text, images, usage); the runner ends it. */
  get events(): JobEventLog {
    return this.recorder.events;
  }

  get reason(): JobReason | null {
    return this.state.reason;
  }

  /** The record is final: the tree is gone and the output read (not merely decided). */
  get isFinished(): boolean {
    return this.final;
  }

  /** Run the CLI from its launch (launch.ts: through the job's reaper, waiting already,
   *  where there is one) and arm the timers. */
  start(launch: JobLaunch): void {
    const { config, log, layers } = this.deps;
    this.cgroup = launch.cgroup;
    const request = this.request!;
    this.request = null;
    const args = buildCliArgs(request, this.limits, { imagesDir: config.imagesDir });
    const listener: CliListener = {
      started: (pid) => this.cliStarted(pid),
      spawnFailed: (err) => this.spawnFailed(err),
      ended: (end) => this.cliEnded(end),
      warning: (message) => log.warn({ jobId: this.id }, message),
    };
    let cli: CliProcess;
    try {
      cli =
        launch.warm !== null
          ? launch.warm.run(args, listener)
          : new CliProcess({ bin: config.claudeBin, args, cwd: config.workspaceDir, env: launch.env, agentUser: config.agentUser, reaperBin: null, tag: launch.marker }, listener);
    } catch (err) {
      this.spawnFailed(err as Error);
      return;
    }
    this.cli = cli;
    this.tree = new ProcessTree({
      reapers: cli.reaper === null ? [] : [cli.reaper],
      ...(cli.reaper !== null ? { notBefore: cli.reaper.startTime } : {}),
      marker: layers.environ ? { entry: jobMarkerEntry(this.deps.instanceTag, this.id), exact: true } : undefined,
      agentUid: layers.agentUid ?? undefined,
      cgroupPids: this.cgroup ? () => this.cgroup!.pids() : undefined,
    });
    this.oomKillsAtStart = this.cgroup?.oomKills() ?? 0;
    const input = new CliInput(cli.stdin, (err) => log.warn({ jobId: this.id, err }, 'writing to the CLI failed'));
    this.input = input;
    cli.stdout.on('data', (chunk: Buffer) => {
      this.output.pushStdout(chunk);
      if (this.output.result !== null && input.isOpen) {
        // Its answer is out: with stdin open the CLI would wait for another message.
        input.close();
        this.resolveResultRead();
      }
    });
    cli.stderr.on('data', (chunk: Buffer) => this.output.pushStderr(chunk));
    this.streamsEnded = Promise.all([onceClosed(cli.stdout), onceClosed(cli.stderr)]);
    input.send(request.prompt, request.images);

    this.timers.push(
      setTimeout(() => {
        log.warn({ jobId: this.id, pid: this.record.pid, durationMs: Date.now() - this.startedAtMs }, 'timeout');
        this.dispatch('timeout');
      }, Math.max(0, config.commandTimeoutMs - (Date.now() - this.startedAtMs))), // the deadline counts from startedAt
    );
    // One early sample, so that even a short job reports its size and processes; then
    // every interval, or sooner while the tree grows toward the ceiling (usage.ts).
    this.scheduleSample(Math.min(EARLY_SAMPLE_MS, config.sampleIntervalMs));
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

  summary(now = Date.now()): JobSummary {
    return summaryOf(this, now);
  }

  /** The view with the text as held: a large answer is not decoded whole. */
  heldView(now = Date.now()): HeldView {
    return heldViewOf(this, now);
  }

  private cliStarted(pid: number): void {
    this.record.pid = pid;
    this.tree?.addRoot(pid);
    if (this.cgroup !== null && this.deps.layers.reaperBin === null && !this.cgroup.addPid(pid)) {
      this.deps.log.debug({ jobId: this.id }, 'could not move the CLI into its cgroup');
    }
    this.deps.log.info({ jobId: this.id, pid }, 'spawn');
  }

  private cliEnded(end: CliEnd): void {
    this.record.exitCode = end.exitCode;
    this.record.signal = end.signal;
    // Nothing is left below the reaper: it may go now, and exits while the sweep reads /proc
    // for what the other layers would find (finalize waits for the same exit).
    if (end.treeGone) void this.cli?.release();
    if (this.oomKilled()) this.dispatch('memory_limit');
    this.dispatch('exit');
  }

  private scheduleSample(delayMs: number): void {
    this.sampleTimer = setTimeout(() => {
      this.sampleTimer = null;
      this.sample();
    }, delayMs);
  }

  private sample(): void {
    if (this.tree === null || this.state.phase !== 'running') return;
    const now = Date.now();
    const usage = this.meter.update(this.tree.scan(), now);
    const r = this.record;
    r.cpuMs = usage.cpuMs;
    r.cpuPercent = usage.cpuPercent;
    r.rssBytes = usage.rssBytes;
    r.processCount = usage.processCount;
    r.peakRssBytes = Math.max(r.peakRssBytes, usage.rssBytes);
    r.peakProcessCount = Math.max(r.peakProcessCount, usage.processCount);
    this.recorder.sample(usage, () => this.state.phase === 'running');
    const { memoryLimitBytes: limit, sampleIntervalMs } = this.deps.config;
    if (exceedsCeiling(usage.rssBytes, limit)) {
      this.deps.log.warn({ jobId: this.id, rssBytes: usage.rssBytes, memoryLimitBytes: limit, processCount: usage.processCount }, 'memory limit');
      r.errorMessage ??= `The job's processes used ${usage.rssBytes} bytes of memory, over the limit of ${limit} bytes`;
      this.dispatch('memory_limit');
      return;
    }
    if (this.oomKilled()) {
      this.dispatch('memory_limit');
      return;
    }
    const current = { rssBytes: usage.rssBytes, atMs: now };
    this.scheduleSample(nextSampleDelayMs(this.lastSample, current, limit, sampleIntervalMs));
    this.lastSample = current;
  }

  private oomKilled(): boolean {
    if (this.cgroup === null || this.cgroup.oomKills() <= this.oomKillsAtStart) return false;
    if (this.state.reason === null) {
      this.deps.log.warn({ jobId: this.id, memoryLimitBytes: this.deps.config.memoryLimitBytes }, 'memory limit');
      this.record.errorMessage ??= 'The kernel killed a process of the job for exceeding its memory limit';
    }
    return true;
  }

  private spawnFailed(err: Error): void {
    this.record.errorMessage = `Could not start ${this.deps.config.claudeBin}: ${err.message}`;
    this.deps.log.error({ jobId: this.id, err }, 'error');
    this.dispatch('spawn_error');
  }

  private dispatch(event: LifecycleEvent): void {
    const next = decide(this.state, event);
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

  /** Terminate the tree (stop causes) or sweep what the exited CLI left behind. A tree
   *  over the memory ceiling is killed at once: the grace is for timeouts and shutdown. */
  private async end(sweep: boolean): Promise<void> {
    const { config, log } = this.deps;
    const startedMs = Date.now();
    try {
      if (!sweep && this.state.reason !== 'memory_limit') await this.interrupt();
      this.input?.close();
      if (this.tree !== null) {
        const elapsedMs = Date.now() - startedMs;
        const outcome = await terminateTree(this.tree, {
          graceMs: sweep ? Math.min(config.killGraceMs, SWEEP_GRACE_MAX_MS) : Math.max(0, config.killGraceMs - elapsedMs),
          immediate: !sweep && this.state.reason === 'memory_limit',
          firstPid: sweep ? undefined : (this.record.pid ?? undefined),
          abort: this.abortGrace.signal,
          killAll: this.cgroup ? () => this.cgroup!.killAll() : undefined,
        });
        if (sweep) this.record.leftoversKilled = outcome.processesKilled;
        else this.record.processesKilled = outcome.processesKilled;
        this.record.forcedKill = outcome.forced;
        if (outcome.remaining > 0) log.error({ jobId: this.id, processCount: outcome.remaining }, 'processes survived SIGKILL');
      }
    } catch (err) {
      log.error({ jobId: this.id, err }, 'error');
    }
    this.dispatch('tree_gone');
  }

  /** The gentle part of a stop (interrupt.ts), logged. */
  private async interrupt(): Promise<void> {
    const { config, log } = this.deps;
    if (this.input === null || this.cli === null) return;
    const outcome = await interruptCli({
      input: this.input,
      resultRead: this.resultRead,
      answered: () => this.output.result !== null,
      exited: this.cli.ended,
      waitMs: Math.min(config.interruptGraceMs, config.killGraceMs),
      abort: this.abortGrace.signal,
    });
    if (!outcome.sent) return;
    const exited = this.record.exitCode !== null || this.record.signal !== null;
    log.info({ jobId: this.id, reason: this.state.reason, durationMs: outcome.durationMs, answered: outcome.answered, exited }, 'interrupt');
  }

  private async finish(): Promise<void> {
    try {
      await this.finalize();
    } catch (err) {
      this.deps.log.error({ jobId: this.id, err }, 'error');
    } finally {
      this.record.endedAtMs ??= Date.now();
      this.final = true;
      this.resolveFinished();
    }
  }

  private async finalize(): Promise<void> {
    const { config, log } = this.deps;
    const r = this.record;
    this.clearTimers();
    this.input?.close();
    // The CLI is dead; its exit status and the last of its output arrive momentarily.
    await withTimeout(Promise.all([this.cli?.ended, this.streamsEnded]), DRAIN_MS);
    this.cli?.destroyStreams();
    // The tree is gone and its output read: the job has ended. Its images folder is read
    // now and the reaper may go (it kills anything still below it), both while the rest is
    // done: the reaper is not in the job's cgroup (only the CLI joined), so the group can go
    // first.
    r.endedAtMs = Date.now();
    const images = this.deps.imagesOf(this.startedAtMs, r.endedAtMs);
    const released = this.cli?.release();
    const stream = this.output.end();
    if (r.pid !== null) r.text = this.output.heldText();
    this.output.release();
    const failure = failureOf({
      reason: this.state.reason,
      exitCode: r.exitCode,
      signal: r.signal,
      errorMessage: r.errorMessage,
      stream,
      stderrText: this.output.stderrTail(),
      timeoutMs: config.commandTimeoutMs,
    });
    r.errorMessage = failure.errorMessage;
    r.errorCode = failure.errorCode;
    r.peakRssBytes = peakBytes(r.peakRssBytes, this.cgroup?.peakBytes() ?? null);
    if (this.cgroup !== null && !(await this.cgroup.remove())) log.warn({ jobId: this.id }, 'could not remove the job cgroup');
    [r.images] = await Promise.all([images, released]);
    this.recorder.finalImages(r.images);
    log.info(
      {
        jobId: this.id,
        reason: this.state.reason,
        exitCode: r.exitCode,
        signal: r.signal,
        durationMs: r.endedAtMs - this.startedAtMs,
        peakRssBytes: r.peakRssBytes,
        cpuMs: r.cpuMs,
        processesKilled: r.processesKilled,
        leftoversKilled: r.leftoversKilled,
        forced: r.forcedKill,
        outputBytes: this.output.stdoutBytes,
        truncated: this.output.stdoutTruncated,
        imageCount: r.images.length,
      },
      'done',
    );
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.sampleTimer !== null) clearTimeout(this.sampleTimer);
    this.sampleTimer = null;
  }
}

function onceClosed(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}
