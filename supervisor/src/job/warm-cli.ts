// A job's reaper started before its request (reaper.c --warm): the reaper, its fork and the
// child's cgroup join happen while nothing waits, and the child waits on fd 5 for what only
// the request knows (the CLI's arguments). run() hands them over: the request then pays for
// one write and the CLI's exec, not for a fork of the supervisor and a cgroup move (an RCU
// grace period, ~8 ms, on cgroup v1).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { readStat } from '../proc.ts';
import { reaperArgs, warmSpec } from '../ownership/reaper.ts';
import type { ProcRef } from '../ownership/tree.ts';
import type { UserEntry } from '../users.ts';
import { CliProcess, reaperRef, type CliListener } from './cli-process.ts';

export interface WarmCliOptions {
  reaperBin: string;
  bin: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  agentUser: UserEntry | null;
  tag: string;
  cgroupDir?: string;
}

/** How long discard() waits for the reaper to exit. */
const DISCARD_WAIT_MS = 2000;

export class WarmCli {
  private readonly child: ChildProcess;
  private readonly reaper: ProcRef | null;
  private readonly spec: Writable;
  private readonly exited: Promise<void>;
  private alive = true;
  private taken = false;
  /** How its reaper ended before a job used it (an exit status, a signal, a spawn error). */
  private gone: string | null = null;

  constructor(private readonly options: WarmCliOptions) {
    const { agentUser } = options;
    // detached: its own session (cli-process.ts). fd 3 status, fd 4 control, fd 5 spec.
    this.child = spawn(
      options.reaperBin,
      reaperArgs({
        tag: options.tag,
        program: options.bin,
        args: [],
        warm: true,
        cgroupDir: options.cgroupDir,
        ...(agentUser !== null ? { uid: agentUser.uid, gid: agentUser.gid } : {}),
      }),
      // In "/" while it waits: nothing of the next job is in the workspace before its request
      // (the child changes to the spec's directory before its exec, as Node's spawn would).
      { cwd: '/', env: options.env, detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'] },
    );
    this.reaper = reaperRef(this.child.pid);
    this.spec = (this.child.stdio as unknown as Writable[])[5]!;
    for (const fd of [0, 4, 5]) (this.child.stdio as unknown as Writable[])[fd]?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.alive = false;
        this.gone ??= signal ?? `exit ${code}`;
        resolve();
      });
      this.child.once('error', (err: NodeJS.ErrnoException) => {
        this.alive = false;
        this.gone ??= err.code ?? err.message;
        resolve();
      });
    });
  }

  /** Still waiting for its job: not run, and its reaper alive (the exit event may still be
   *  on its way: /proc says so first). */
  get usable(): boolean {
    if (!this.alive || this.taken) return false;
    const state = this.reaper === null ? null : readStat(this.reaper.pid);
    if (state === null || state.startTime !== this.reaper!.startTime || state.state === 'Z') {
      this.gone ??= 'gone from /proc';
      return false;
    }
    return true;
  }

  /** How it ended before its job came; null while it waits. */
  get endedHow(): string | null {
    return this.gone;
  }

  /** The reaper's pid (logs). */
  get pid(): number | null {
    return this.child.pid ?? null;
  }

  /** Run the CLI with these arguments; the CliProcess reports as a cold start would. */
  run(args: readonly string[], listener: CliListener): CliProcess {
    if (this.taken) throw new Error('this warm start has been used');
    this.taken = true;
    let spec: Buffer;
    try {
      spec = warmSpec(this.options.cwd, args);
    } catch (err) {
      void this.close();
      throw err;
    }
    const cli = new CliProcess({ child: this.child, reaper: this.reaper, bin: this.options.bin }, listener);
    this.spec.end(spec);
    return cli;
  }

  /** Not used after all (shutdown, a stale start): its child exits unrun, the reaper with it. */
  async discard(): Promise<void> {
    if (this.taken) return;
    this.taken = true;
    await this.close();
  }

  private async close(): Promise<void> {
    this.spec.end();
    (this.child.stdio[4] as Writable).end();
    for (const fd of [1, 2, 3]) this.child.stdio[fd]?.destroy();
    this.child.stdin?.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, DISCARD_WAIT_MS)))]);
    clearTimeout(timer);
  }
}
