// A job's images: files whose mtime falls in the job's window. Remembered for finished
// jobs so repeated GET /jobs/:id and idempotent retries list the same files. Bounded:
// the oldest jobs are forgotten first (and recomputed from the folder if asked again).
//
// The window. File times come from the kernel's coarse clock (up to one tick, <= 10 ms,
// behind the precise clock the supervisor stamps startedAt with), so the window opens
// WINDOW_SLACK_MS early, but never before the end of the previous job this process knows
// of: jobs run one at a time, so a file that old belongs to the job before.
import type { JobView } from '../../common/protocol.ts';
import type { ImageIndex } from './images/image-index.ts';

const WINDOW_SLACK_MS = 10;

type Window = Pick<JobView, 'id' | 'state' | 'startedAt' | 'endedAt'>;

/** A job's images as an answer lists them: the newest `max`, oldest first; `truncated` if there were more. */
export interface ImageList {
  urls: string[];
  truncated: boolean;
}

/** The newest `max` of a list that is oldest first. Pure. */
export function newest(urls: string[], max: number): ImageList {
  return urls.length <= max ? { urls, truncated: false } : { urls: urls.slice(urls.length - max), truncated: true };
}

export class JobImages {
  private readonly finished = new Map<string, ImageList>();
  /** End times (ms) of finished jobs seen, newest last; bounded like `finished`. */
  private readonly ends: number[] = [];

  constructor(
    private readonly index: ImageIndex,
    private readonly maxPerAnswer = 20,
    private readonly maxJobs = 200,
  ) {}

  async forJob(view: Window): Promise<ImageList> {
    if (view.state !== 'finished' || view.endedAt === null) {
      const [from] = this.window(view);
      return newest(this.index.listFromMemory(from, Date.now() + WINDOW_SLACK_MS), this.maxPerAnswer);
    }
    const known = this.finished.get(view.id);
    if (known !== undefined) return known;
    this.noteEnd(view);
    const [from, to] = this.window(view);
    const list = newest(await this.index.listAfterScan(from, to), this.maxPerAnswer);
    this.finished.set(view.id, list);
    if (this.finished.size > this.maxJobs) {
      const oldest = this.finished.keys().next();
      if (oldest.done !== true) this.finished.delete(oldest.value);
    }
    return list;
  }

  /** Without I/O, for /status: what is known, or what memory says. */
  known(view: Window): string[] {
    const known = this.finished.get(view.id);
    if (known !== undefined) return known.urls;
    this.noteEnd(view);
    const [from, to] = this.window(view);
    return newest(this.index.listFromMemory(from, to), this.maxPerAnswer).urls;
  }

  /** Record that a job ended (the API also learns ends from /status). */
  noteEnd(view: Pick<JobView, 'endedAt'>): void {
    if (view.endedAt === null) return;
    const end = Date.parse(view.endedAt);
    if (this.ends.includes(end)) return;
    this.ends.push(end);
    this.ends.sort((a, b) => a - b);
    if (this.ends.length > this.maxJobs) this.ends.shift();
  }

  private window(view: Window): [number, number] {
    const start = Date.parse(view.startedAt);
    let from = start - WINDOW_SLACK_MS;
    for (const end of this.ends) {
      // endedAt is truncated to the ms: +1 keeps a file written in that last ms out.
      if (end <= start && end + 1 > from) from = end + 1;
    }
    const to = view.endedAt === null ? Date.now() + WINDOW_SLACK_MS : Date.parse(view.endedAt) + WINDOW_SLACK_MS;
    return [from, to];
  }
}
