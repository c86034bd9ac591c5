// How often the supervisor and the API have started on this job store: the one figure
// of theirs that must survive their restarts, so it is kept in the store's meta table
// (store/jobs.ts countStart) and shown as the start counters of the metrics. A store that
// cannot take the write (read-only, full disk) still counts, in memory, from what it holds.
import { randomUUID } from 'node:crypto';
import type { JobStore } from './store/jobs.ts';

export interface StartTotals {
  supervisor: number;
  api: number;
}

export class StartCounts {
  private supervisor: number;
  private api: number;
  private lastApiStartId: string | null = null;

  /** Counts this supervisor's own start. */
  constructor(
    private readonly store: JobStore,
    private readonly changed: (totals: StartTotals) => void,
  ) {
    this.supervisor = store.countStart('supervisor_starts', randomUUID()) ?? store.startCount('supervisor_starts') + 1;
    this.api = store.startCount('api_starts');
    changed(this.totals);
  }

  get totals(): StartTotals {
    return { supervisor: this.supervisor, api: this.api };
  }

  /** An API started: counted once per `startId` (its retries repeat the id). Returns the API's count. */
  apiStarted(startId: string): number {
    if (startId === this.lastApiStartId) return this.api;
    this.api = this.store.countStart('api_starts', startId) ?? this.api + 1;
    this.lastApiStartId = startId;
    this.changed(this.totals);
    return this.api;
  }
}
