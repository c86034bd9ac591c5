// A job's events in bounded memory, each held as the one frame its readers are sent: the
// supervisor keeps NDJSON lines (one per event, for the socket and the store), the API an
// SSE frame per event (one for every client of the job). At most MAX_EVENTS and MAX_BYTES
// of frames: past either, the oldest `usage` goes first (a later sample supersedes it),
// then the oldest `progress`, then the oldest `text`; images are never dropped, nor the
// newest event. Readers pull: each keeps the id it has sent up to and asks next(id) when
// told there is something new, so a reader that is behind only lags, it holds nothing.
import type { JobEventType } from './events.ts';

export const MAX_EVENTS = 2000;
export const MAX_BYTES = 1024 * 1024;
const DROP_ORDER: JobEventType[] = ['usage', 'progress', 'text'];

export interface LogEntry {
  id: number;
  type: JobEventType;
  frame: string;
}

export class BoundedEventLog {
  private readonly entries: LogEntry[] = [];
  private bytes = 0;
  private droppedCount = 0;
  private endFrame: string | (() => string) | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly bounds: { maxEvents: number; maxBytes: number } = { maxEvents: MAX_EVENTS, maxBytes: MAX_BYTES }) {}

  /** Add an event (ids must rise); ignored once ended. */
  add(entry: LogEntry): void {
    if (this.endFrame !== null) return;
    this.entries.push(entry);
    this.bytes += entry.frame.length;
    while (this.entries.length > this.bounds.maxEvents || this.bytes > this.bounds.maxBytes) if (!this.dropOne()) break;
    this.notify();
  }

  /** The last frame: readers get it after every event, and are let go. A function makes
   *  it when it is first read (a large one costs nothing while nobody reads it). */
  finish(frame: string | (() => string)): void {
    if (this.endFrame !== null) return;
    this.endFrame = frame;
    this.notify();
    this.listeners.clear();
  }

  get ended(): boolean {
    return this.endFrame !== null;
  }

  get end(): string | null {
    if (typeof this.endFrame === 'function') this.endFrame = this.endFrame();
    return this.endFrame;
  }

  get lastId(): number {
    return this.entries.at(-1)?.id ?? 0;
  }

  /** The first event after id `after`, or null (then `end`, once ended). */
  next(after: number): LogEntry | null {
    // Ids rise: binary search for the first id > after.
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.id <= after) lo = mid + 1;
      else hi = mid;
    }
    return this.entries[lo] ?? null;
  }

  /** Every event after `after`, oldest first. */
  since(after: number): LogEntry[] {
    const first = this.next(after);
    return first === null ? [] : this.entries.slice(this.entries.indexOf(first));
  }

  /** Calls `fn` whenever there is something new (an event, or the end); returns the unsubscribe. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** Events dropped to stay within the bounds. */
  get dropped(): number {
    return this.droppedCount;
  }

  get size(): { count: number; bytes: number } {
    return { count: this.entries.length, bytes: this.bytes };
  }

  private notify(): void {
    for (const fn of [...this.listeners]) fn();
  }

  private dropOne(): boolean {
    const last = this.entries.length - 1;
    for (const type of DROP_ORDER) {
      const i = this.entries.findIndex((e, k) => e.type === type && k < last);
      if (i === -1) continue;
      const [gone] = this.entries.splice(i, 1);
      this.bytes -= gone!.frame.length;
      this.droppedCount += 1;
      return true;
    }
    return false;
  }
}
