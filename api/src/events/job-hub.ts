// The API's copy of each watched job's events, as SSE frames ready for its clients: one
// connection to the supervisor per job however many clients watch it (100 subscribers
// cost one upstream and one frame per event), read eagerly into a bounded log
// (common/event-log.ts) that every client reads from at its own pace (sse.ts). A hub
// lives while it has clients; a finished job's hub holds its stored events and end. A
// supervisor that goes away mid-stream (s6 restarts it) is waited for, for
// SUPERVISOR_RECONNECT_MS, and the stream goes on from the last event received; a
// restarted supervisor answers a job it lost as `interrupted`, so `end` still comes.
import { BoundedEventLog } from '../../../common/event-log.ts';
import { END_EVENT_ID, type StreamedEvent } from '../../../common/events.ts';
import type { Logger } from '../../../common/logger.ts';
import { imageUrl } from '../images/names.ts';
import type { JobImages } from '../job-images.ts';
import { finishedJobReply } from '../job-response.ts';
import { SupervisorUnavailable, type SupervisorClient, type UpstreamEvents } from '../supervisor-client.ts';
import { sseFrame, type SseClient } from './sse.ts';

const RECONNECT_PAUSE_MS = 200;

/** A supervisor event as clients get it: `image` with its URL, `end` with the status and body POST /command answers. */
export function clientEvent(event: StreamedEvent, jobImages: Pick<JobImages, 'forJob'>): { id: string; event: string; data: unknown } {
  const id = String(event.id);
  switch (event.type) {
    case 'image':
      return { id, event: 'image', data: { name: event.data.name, url: imageUrl(event.data.name) } };
    case 'end': {
      const images = jobImages.forJob(event.data.job);
      const answer = finishedJobReply(event.data.job, images.urls, images.truncated);
      return { id, event: 'end', data: { status: answer.statusCode, body: answer.body } };
    }
    default:
      return { id, event: event.type, data: event.data };
  }
}

export interface HubDeps {
  supervisor: SupervisorClient;
  jobImages: Pick<JobImages, 'forJob'>;
  logger: Logger;
}

export class JobHub {
  readonly log = new BoundedEventLog();
  private readonly clients = new Set<SseClient>();
  private upstream: UpstreamEvents | null = null;
  private closed = false;

  private constructor(
    readonly jobId: string,
    private readonly deps: HubDeps,
    private readonly onGone: () => void,
  ) {}

  /** Opens the job's stream; rejects (SupervisorError job_not_found, SupervisorUnavailable) before any client is attached. */
  static async open(jobId: string, deps: HubDeps, onGone: () => void): Promise<JobHub> {
    const hub = new JobHub(jobId, deps, onGone);
    hub.upstream = await deps.supervisor.openEvents(jobId, 0, (e) => hub.receive(e));
    void hub.follow();
    return hub;
  }

  attach(client: SseClient): void {
    this.clients.add(client);
    client.onClose(() => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.close();
    });
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private receive(event: StreamedEvent): void {
    const e = clientEvent(event, this.deps.jobImages);
    const frame = sseFrame(e.id, e.event, e.data);
    if (event.id === END_EVENT_ID) this.log.finish(frame);
    else this.log.add({ id: event.id, type: event.type, frame });
  }

  /** Until the end: when the supervisor's stream breaks, reconnect from the last event. */
  private async follow(): Promise<void> {
    for (;;) {
      const ended = await this.upstream!.done;
      if (ended || this.closed) return;
      const next = await this.reconnect();
      if (next === null) {
        this.deps.logger.warn({ jobId: this.jobId }, 'events stream lost: the supervisor did not come back');
        // The clients resume with Last-Event-ID when it is back.
        for (const client of [...this.clients]) client.close();
        this.close();
        return;
      }
      this.upstream = next;
      if (this.closed) next.close();
    }
  }

  private async reconnect(): Promise<UpstreamEvents | null> {
    const deadline = Date.now() + this.deps.supervisor.reconnectWindowMs;
    while (!this.closed && Date.now() < deadline) {
      try {
        return await this.deps.supervisor.openEvents(this.jobId, this.log.lastId, (e) => this.receive(e));
      } catch (err) {
        if (!(err instanceof SupervisorUnavailable)) return null;
        await new Promise((r) => setTimeout(r, RECONNECT_PAUSE_MS));
      }
    }
    return null;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.upstream?.close();
    this.onGone();
  }
}

/** The hubs of one app, by job id: clients of the same job share one. */
export class JobHubs {
  private readonly hubs = new Map<string, Promise<JobHub>>();

  constructor(private readonly deps: HubDeps) {}

  /** The job's hub, opened if need be; rejects like JobHub.open. */
  get(jobId: string): Promise<JobHub> {
    let hub = this.hubs.get(jobId);
    if (hub === undefined) {
      const opened = JobHub.open(jobId, this.deps, () => {
        if (this.hubs.get(jobId) === opened) this.hubs.delete(jobId);
      });
      hub = opened;
      this.hubs.set(jobId, opened);
      opened.catch(() => {
        if (this.hubs.get(jobId) === opened) this.hubs.delete(jobId);
      });
    }
    return hub;
  }

  get size(): number {
    return this.hubs.size;
  }
}
