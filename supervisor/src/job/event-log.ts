// One job's events as the supervisor records them (common/events.ts): ids from 1, each
// event serialized once into the NDJSON line that the socket's readers and the store get,
// held in the shared bounded log (common/event-log.ts). The runner ends it with the
// finished job, after the job's record is written.
import { BoundedEventLog } from '../../../common/event-log.ts';
import { END_EVENT_ID, type RecordedData, type RecordedEvent, type StreamedEvent } from '../../../common/events.ts';
import type { JobView } from '../../../common/protocol.ts';
import { decoded, type HeldView } from './answer-text.ts';

export class JobEventLog {
  readonly log = new BoundedEventLog();
  private nextId = 1;

  record<T extends keyof RecordedData>(type: T, data: RecordedData[T]): void {
    if (this.log.ended) return;
    const id = this.nextId++;
    this.log.add({ id, type, frame: JSON.stringify({ id, type, data }) });
  }

  /** The job has finished: readers get `end` with it (made when first read: a large
   *  answer is decoded and serialized only for a reader). */
  end(job: HeldView): void {
    this.log.finish(() => endLine(decoded(job)));
  }

  /** The recorded events as one JSON array, for the store. */
  toJson(): string {
    return `[${this.log
      .since(0)
      .map((e) => e.frame)
      .join(',')}]`;
  }
}

/** The `end` line for a finished job. */
export function endLine(job: JobView): string {
  const event: StreamedEvent = { id: END_EVENT_ID, type: 'end', data: { job } };
  return JSON.stringify(event);
}

/** A finished job's log, from its stored events (null: none were stored) and its view. */
export function storedLog(eventsJson: string | null, job: JobView): BoundedEventLog {
  const log = new BoundedEventLog();
  const events = eventsJson === null ? [] : (JSON.parse(eventsJson) as RecordedEvent[]);
  for (const e of events) log.add({ id: e.id, type: e.type, frame: JSON.stringify(e) });
  log.finish(endLine(job));
  return log;
}
