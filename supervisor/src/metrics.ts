// The supervisor's Prometheus metrics (prom-client), its own registry, served on the
// control socket (GET /metrics, app.ts); the API appends them to its own on METRICS_PORT.
// The supervisor is the source of every job figure. Label values are bounded sets (a
// job's reason and outcome), never a job id, a prompt or anything from the environment.
//
// The job counters live as long as the process, as Prometheus counters do: a restart
// starts them at 0 again, which rate() and increase() read as a reset. The start counters
// are the exception: they are kept in the job store, so they count restarts.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { outcomeOf, type JobOutcome } from '../../common/job-outcome.ts';
import { EVENT_LOOP_PRECISION_MS, tidyExposition } from '../../common/metrics.ts';
import { JOB_REASONS, type JobReason, type JobSummary } from '../../common/protocol.ts';

export const METRICS_PREFIX = 'agent_cockpit_supervisor_';

/** Jobs last from about a second to COMMAND_TIMEOUT_MS (5 min by default); 30 min and more land in +Inf. */
export const JOB_DURATION_BUCKETS_S = [1, 2, 5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800];

/** The outcome a job of each reason usually has: the label pairs shown at 0 from the start. */
const USUAL_OUTCOME: Record<JobReason, JobOutcome> = {
  exit: 'ok',
  timeout: 'timeout',
  memory_limit: 'memory_limit',
  cancelled: 'cancelled',
  shutdown: 'shutting_down',
  spawn_error: 'execution_error',
  interrupted: 'interrupted',
};

export interface MetricsSources {
  /** The running job, or null when idle. */
  running: () => JobSummary | null;
  startedAtMs: number;
  /** Whether the job store can record new jobs (new jobs are refused while it cannot). */
  storeWritable: () => boolean;
}

export class SupervisorMetrics {
  readonly registry = new Registry();
  private readonly jobs: Counter<'reason' | 'outcome'>;
  private readonly duration: Histogram<'reason'>;
  private readonly processesKilled: Counter;
  private readonly leftoversKilled: Counter;
  private readonly starts: Counter;
  private readonly apiStarts: Counter;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const name = (n: string): string => `${METRICS_PREFIX}${n}`;
    collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
    this.jobs = new Counter({
      name: name('jobs_total'),
      help: 'Jobs finished since this supervisor started, by why they ended (reason) and what they came to (outcome: ok or the API error code).',
      labelNames: ['reason', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: name('job_duration_seconds'),
      help: 'How long finished jobs ran, start to whole tree gone, by reason (interrupted jobs are counted in jobs_total only: nobody saw them end).',
      labelNames: ['reason'],
      buckets: JOB_DURATION_BUCKETS_S,
      registers,
    });
    for (const reason of JOB_REASONS) {
      this.jobs.inc({ reason, outcome: USUAL_OUTCOME[reason] }, 0);
      if (reason !== 'interrupted') this.duration.zero({ reason });
    }
    this.processesKilled = new Counter({
      name: name('processes_killed_total'),
      help: 'Processes the supervisor signalled to end jobs (timeout, memory limit, cancel, shutdown).',
      registers,
    });
    this.leftoversKilled = new Counter({
      name: name('leftovers_killed_total'),
      help: 'Processes left running after the CLI exited on its own, killed at job end.',
      registers,
    });
    this.starts = new Counter({
      name: name('starts_total'),
      help: 'Times a supervisor has started on this job store (kept in the store: restarts = this - 1).',
      registers,
    });
    this.apiStarts = new Counter({
      name: name('api_starts_total'),
      help: 'Times an API has told this job store\'s supervisors it started (kept in the store: API restarts = this - 1).',
      registers,
    });
    const running = (n: string, help: string, value: (job: JobSummary) => number): Gauge =>
      new Gauge({
        name: name(n),
        help,
        registers,
        collect() {
          const job = sources.running();
          this.set(job === null ? 0 : value(job));
        },
      });
    running('job_running', 'Whether a job is running (1) or not (0).', () => 1);
    running('job_rss_bytes', "The running job's whole process tree: resident memory at the last sample (0 when idle).", (j) => j.rssBytes);
    running('job_cpu_percent', "The running job's whole process tree: CPU use between the last two samples, in % of one core (0 when idle).", (j) => j.cpuPercent);
    running('job_processes', "The running job's whole process tree: processes at the last sample (0 when idle).", (j) => j.processCount);
    new Gauge({
      name: name('uptime_seconds'),
      help: 'Seconds since this supervisor process started.',
      registers,
      collect() {
        this.set((Date.now() - sources.startedAtMs) / 1000);
      },
    });
    new Gauge({
      name: name('store_writable'),
      help: 'Whether the job store can record new jobs (1); while it cannot (0) new jobs are refused with store_unavailable.',
      registers,
      collect() {
        this.set(sources.storeWritable() ? 1 : 0);
      },
    });
  }

  /** Count a finished job: its outcome, its duration (unless nobody saw it end), what was killed. */
  jobFinished(job: JobSummary): void {
    const reason = job.reason ?? 'exit';
    const outcome = outcomeOf(job);
    this.jobs.inc({ reason, outcome: outcome === 'running' ? 'execution_error' : outcome });
    if (reason !== 'interrupted') this.duration.observe({ reason }, job.durationMs / 1000);
    this.processesKilled.inc(job.processesKilled);
    this.leftoversKilled.inc(job.leftoversKilled);
  }

  /** The durable start counts, as the store has them (start-counts.ts). */
  setStarts(counts: { supervisor: number; api: number }): void {
    for (const [counter, value] of [
      [this.starts, counts.supervisor],
      [this.apiStarts, counts.api],
    ] as const) {
      counter.reset();
      counter.inc(value);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The registry's text, tidied (common/metrics.ts). */
  async text(): Promise<string> {
    return `${tidyExposition(await this.registry.metrics()).join('\n')}\n`;
  }
}
