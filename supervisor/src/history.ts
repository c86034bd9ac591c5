// Finished jobs, newest first: the last 50 stay retrievable by id. Their text is what
// costs memory, so full text is kept only for the most recent jobs while the sum stays
// within a budget (4 x MAX_OUTPUT_BYTES); older jobs keep their record with
// `textEvicted: true` and `text: null`.
import type { Job } from './job/job.ts';

export const HISTORY_SIZE = 50;

export class JobHistory {
  private readonly jobs: Job[] = [];

  constructor(
    private readonly textBudgetBytes: number,
    private readonly size = HISTORY_SIZE,
  ) {}

  /** Add a finished job; returns the jobs that fell out of the history. */
  add(job: Job): Job[] {
    this.jobs.unshift(job);
    const dropped = this.jobs.splice(this.size);
    let sum = 0;
    for (const [i, j] of this.jobs.entries()) {
      sum += j.record.textBytes;
      // The newest job always keeps its text; older ones once the budget is spent.
      if (i > 0 && sum > this.textBudgetBytes && j.record.text !== null) {
        j.record.text = null;
        j.record.textEvicted = true;
      }
    }
    return dropped;
  }

  get(id: string): Job | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  list(): readonly Job[] {
    return this.jobs;
  }
}
