// One job's events (common/events.ts), in bounded memory: at most MAX_EVENTS and
// MAX_BYTES of JSON. Past either bound the oldest `usage` event goes first (a later one
// supersedes it), then the oldest `progress`, then the oldest `text`; images are never
// dropped. Each event is serialized once, when it is recorded: every subscriber and the
// store get the same line. Subscribers are called synchronously, in order; a slow reader
// is its transport's business (the socket route drops it), never the job's.
import { END_EVENT_ID, type JobEventType, type RecordedData, type RecordedEvent, type StreamedEvent } from '../../../common/events.ts';
import type { JobView } from '../../../common/protocol.ts';

export const MAX_EVENTS = 2000;
export const MAX_BYTES = 1024 * 1024;
const DROP_ORDER: JobEventType[] = ['usage', 'progress', 'text'];

interface Entry {
  id: number;
  type: JobEventType;
  line: string;
}

/** Gets each line (one JSON event, no newline) as it is recorded; `last` with the end. */
export type EventListener = (line: string, last: boolean) => void;

export class JobEventLog {
  private entries: Entry[] = [];
  private bytes = 0;
  private nextId = 1;
  private droppedCount = 0;
  private endLine: string | null = null;
  private readonly listeners = new Set<EventListener>();

  record<T extends keyof RecordedData>(type: T, data: RecordedData[T]): void {
    if (this.endLine !== null) return;
    const event = { id: this.nextId++, type, data } as RecordedEvent;
    const line = JSON.stringify(event);
    this.entries.push({ id: event.id, type, line });
    this.bytes += line.length;
    while (this.entries.length > MAX_EVENTS || this.bytes > MAX_BYTES) if (!this.dropOne()) break;
    for (const listener of this.listeners) listener(line, false);
  }

  /** The job has finished: subscribers get the end line and are let go. */
  end(job: JobView): void {
    if (this.endLine !== null) return;
    this.endLine = endLine(job);
    for (const listener of this.listeners) listener(this.endLine, true);
    this.listeners.clear();
  }

  get isEnded(): boolean {
    return this.endLine !== null;
  }

  /** Lines of the events after `after`, oldest first (the end line too, once ended). */
  since(after: number): string[] {
    const lines = this.entries.filter((e) => e.id > after).map((e) => e.line);
    if (this.endLine !== null) lines.push(this.endLine);
    return lines;
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** The recorded events as one JSON array, for the store. */
  toJson(): string {
    return `[${this.entries.map((e) => e.line).join(',')}]`;
  }

  /** Events dropped to stay within the bounds. */
  get dropped(): number {
    return this.droppedCount;
  }

  get size(): { count: number; bytes: number } {
    return { count: this.entries.length, bytes: this.bytes };
  }

  private dropOne(): boolean {
    for (const type of DROP_ORDER) {
      // Never the newest event: it is the one just recorded, and the current state.
      const i = this.entries.findIndex((e, k) => e.type === type && k < this.entries.length - 1);
      if (i === -1) continue;
      const [gone] = this.entries.splice(i, 1);
      this.bytes -= gone!.line.length;
      this.droppedCount += 1;
      return true;
    }
    return false;
  }
}

/** The end line for a finished job. */
export function endLine(job: JobView): string {
  const event: StreamedEvent = { id: END_EVENT_ID, type: 'end', data: { job } };
  return JSON.stringify(event);
}

/** Lines of stored events after `after`, and the end line. */
export function storedSince(eventsJson: string | null, after: number, job: JobView): string[] {
  const events = eventsJson === null ? [] : (JSON.parse(eventsJson) as RecordedEvent[]);
  const lines = events.filter((e) => e.id > after).map((e) => JSON.stringify(e));
  lines.push(endLine(job));
  return lines;
}
