// The CLI as the job sees it: an argv (no shell) in its own session, the agent user's
// identity, the prompt on stdin, stdout and stderr, and one end. Where the per-job reaper
// works (ownership/layers.ts) the CLI is started through it, so that nothing the agent
// orphans can leave the job's tree: a job's reaper is started ahead of its request and
// adopted here once it runs the CLI (warm-cli.ts); the start-up probes spawn one with its
// arguments. Else the CLI is spawned directly.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { readStat } from '../proc.ts';
import type { CgroupJoin } from '../ownership/cgroup.ts';
import { parseReaperLine, reaperArgs } from '../ownership/reaper.ts';
import type { ProcRef } from '../ownership/tree.ts';
import type { UserEntry } from '../users.ts';

export interface CliSpawnOptions {
  bin: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  agentUser: UserEntry | null;
  /** The reaper binary; null: spawn the CLI directly (no subreaper layer here). */
  reaperBin: string | null;
  /** Names the job in the reaper's command line (the marker value). */
  tag: string;
  /** The job cgroup's directory, joined before the exec (through the reaper only). */
  cgroupDir?: string;
}

export interface CliEnd {
  exitCode: number | null;
  signal: string | null;
  /** Its reaper has no process left below it: nothing the CLI started is alive. False
   *  where that is not known (no reaper) or something is left. */
  treeGone: boolean;
}

export interface CliListener {
  /** The CLI is running with this pid. */
  started(pid: number): void;
  /** The CLI could not be started (it never ran). */
  spawnFailed(err: Error): void;
  /** The CLI ended; called once. */
  ended(end: CliEnd): void;
  /** The CLI is in the job's cgroup; `refused`: why it was not born there (clone3's errno). */
  cgroupJoined?(join: CgroupJoin): void;
  /** Something worth a log line that does not fail the job. */
  warning(message: string): void;
}

/** A reaper started ahead of its job (warm-cli.ts), now running the CLI. */
export interface AdoptedReaper {
  child: ChildProcess;
  reaper: ProcRef | null;
  bin: string;
}

/** How long release() waits for the reaper to exit. */
const RELEASE_WAIT_MS = 2000;

export class CliProcess {
  /** The CLI's pid, once it runs. */
  pid: number | null = null;
  /** The reaper (the tree's anchor), when the CLI runs through one. */
  readonly reaper: ProcRef | null;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves when the spawned process (the reaper, or the CLI itself) has exited. */
  readonly exited: Promise<void>;
  /** Resolves once the CLI's end (or its failure to start) is known. */
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;
  private readonly child: ChildProcess;
  private readonly control: Writable | null;
  private hasEnded = false;
  private failed = false;
  private released: Promise<void> | null = null;

  constructor(
    launch: CliSpawnOptions | AdoptedReaper,
    private readonly listener: CliListener,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    const adopted = 'child' in launch ? launch : null;
    const options = adopted === null ? (launch as CliSpawnOptions) : null;
    const bin = adopted?.bin ?? options!.bin;
    const viaReaper = adopted !== null || options!.reaperBin !== null;
    this.child = adopted?.child ?? spawnCli(options!);
    this.stdin = this.child.stdin!;
    this.stdout = this.child.stdout!;
    this.stderr = this.child.stderr!;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.once('error', () => resolve());
    });
    const spawned = this.child.pid;
    this.reaper = adopted !== null ? adopted.reaper : viaReaper ? reaperRef(spawned) : null;
    this.control = viaReaper ? (this.child.stdio[4] as Writable) : null;
    this.control?.on('error', () => undefined); // the reaper is gone: nothing to release

    // ENOENT, EACCES... of what we spawn arrive asynchronously, as 'error'.
    this.child.once('error', (err) => this.fail(err));
    if (viaReaper) this.readReaper(this.child.stdio[3] as Readable, bin);
    else if (spawned !== undefined) {
      this.pid = spawned;
      queueMicrotask(() => listener.started(spawned));
    }
    this.child.once('exit', (code, signal) => {
      if (!viaReaper) this.end({ exitCode: code, signal, treeGone: false });
      else if (!this.hasEnded && !this.failed) {
        listener.warning(`the job's reaper exited (${signal ?? code}) before the CLI's end`);
        this.end({ exitCode: null, signal: null, treeGone: false });
      }
    });
  }

  /** The job's tree is gone: let the reaper go (it kills anything still below it, exits).
   *  The control pipe is closed now, not on the event loop's next turn as end() would;
   *  a second call waits for the same exit. */
  release(): Promise<void> {
    if (this.control === null) return Promise.resolve();
    if (this.released !== null) return this.released;
    this.control.destroy();
    let timer: NodeJS.Timeout | undefined;
    this.released = Promise.race([this.exited, new Promise<void>((r) => (timer = setTimeout(r, RELEASE_WAIT_MS)))]).finally(() => clearTimeout(timer));
    return this.released;
  }

  /** Stop reading the pipes (something we could not see may still hold them open). */
  destroyStreams(): void {
    this.stdout.destroy();
    this.stderr.destroy();
  }

  private readReaper(status: Readable, bin: string): void {
    let pending = '';
    status.setEncoding('latin1');
    status.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        this.onReaperLine(pending.slice(0, nl), bin);
        pending = pending.slice(nl + 1);
      }
    });
    status.on('error', () => undefined);
  }

  private onReaperLine(text: string, bin: string): void {
    const line = parseReaperLine(text);
    if (line === null) return;
    switch (line.kind) {
      case 'pid':
        this.pid = line.pid;
        this.listener.started(line.pid);
        break;
      case 'error':
        // Node's own wording for the same failure: `spawn <bin> ENOENT`.
        this.fail(Object.assign(new Error(`spawn ${bin} ${line.code}${line.stage === 'ids' ? ' (dropping to the agent user)' : ''}`), { code: line.code }));
        break;
      case 'joined':
        this.listener.cgroupJoined?.({ how: line.how, refused: line.refused });
        break;
      case 'warn':
        this.listener.warning(`the CLI could not join the job's ${line.what} (${line.code})`);
        break;
      case 'exit':
        this.end({ exitCode: line.exitCode, signal: null, treeGone: line.alone });
        break;
      case 'signal':
        this.end({ exitCode: null, signal: line.signal, treeGone: line.alone });
        break;
    }
  }

  private fail(err: Error): void {
    if (this.failed || this.pid !== null) return;
    this.failed = true;
    this.resolveEnded();
    this.listener.spawnFailed(err);
  }

  private end(end: CliEnd): void {
    if (this.hasEnded || this.failed) return;
    this.hasEnded = true;
    this.resolveEnded();
    this.listener.ended(end);
  }
}

/** Spawn the CLI, through the reaper (its arguments on the command line) or directly.
 *  detached: its own session, so a signal to the supervisor's process group (Ctrl-C, an
 *  init signalling the group) never reaches the job behind our back. */
function spawnCli(options: CliSpawnOptions): ChildProcess {
  const { agentUser } = options;
  if (options.reaperBin === null) {
    return spawn(options.bin, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(agentUser !== null ? { uid: agentUser.uid, gid: agentUser.gid } : {}),
    });
  }
  return spawn(
    options.reaperBin,
    reaperArgs({
      tag: options.tag,
      program: options.bin,
      args: options.args,
      cgroupDir: options.cgroupDir,
      ...(agentUser !== null ? { uid: agentUser.uid, gid: agentUser.gid } : {}),
    }),
    { cwd: options.cwd, env: options.env, detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] },
  );
}

/** The spawned reaper as the tree knows it (its start time guards against pid reuse). */
export function reaperRef(pid: number | undefined): ProcRef | null {
  const stat = pid === undefined ? null : readStat(pid);
  return stat === null ? null : { pid: stat.pid, startTime: stat.startTime };
}
