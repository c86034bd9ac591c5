// A job's images, remembered for finished jobs so repeated GET /jobs/:id and idempotent
// retries list the same files. Bounded: the oldest jobs are forgotten first (and then
// recomputed from the folder if asked again).
import type { JobView } from '../../common/protocol.ts';
import type { ImageIndex } from './images/image-index.ts';

export class JobImages {
  private readonly finished = new Map<string, string[]>();

  constructor(
    private readonly index: ImageIndex,
    private readonly maxJobs = 200,
  ) {}

  async forJob(view: Pick<JobView, 'id' | 'state' | 'startedAt' | 'endedAt'>): Promise<string[]> {
    const startMs = Date.parse(view.startedAt);
    if (view.state !== 'finished' || view.endedAt === null) return this.index.listFromMemory(startMs, Date.now());
    const known = this.finished.get(view.id);
    if (known !== undefined) return known;
    const list = await this.index.listAfterScan(startMs, Date.parse(view.endedAt));
    this.finished.set(view.id, list);
    if (this.finished.size > this.maxJobs) {
      const oldest = this.finished.keys().next();
      if (oldest.done !== true) this.finished.delete(oldest.value);
    }
    return list;
  }

  /** Without I/O, for /status: what is known or what memory says. */
  known(view: Pick<JobView, 'id' | 'startedAt' | 'endedAt'>): string[] {
    const known = this.finished.get(view.id);
    if (known !== undefined) return known;
    return this.index.listFromMemory(Date.parse(view.startedAt), view.endedAt === null ? Date.now() : Date.parse(view.endedAt));
  }
}
