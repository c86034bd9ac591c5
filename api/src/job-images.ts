// A job's images as an answer lists them. A finished job's list is the supervisor's: it
// decides it once, when the job ends, and stores it with the job (supervisor/src/job/
// images.ts), so every answer for it, before and after any restart, lists the same files.
// A running job's list so far comes from the watcher's memory (image-index.ts): the files
// whose mtime falls in the job's window, which opens WINDOW_SLACK_MS before startedAt
// (file times use the kernel's coarse clock, up to one tick behind).
import type { JobView } from '../../common/protocol.ts';
import type { ImageIndex } from './images/image-index.ts';
import { imageUrl } from './images/names.ts';

const WINDOW_SLACK_MS = 10;

type JobImagesOf = Pick<JobView, 'state' | 'startedAt' | 'images'>;

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
  constructor(
    private readonly index: ImageIndex,
    private readonly maxPerAnswer = 20,
  ) {}

  /** Without I/O: the stored list of a finished job, the watcher's of a running one. */
  forJob(view: JobImagesOf): ImageList {
    if (view.state === 'finished') return newest(view.images.map(imageUrl), this.maxPerAnswer);
    const from = Date.parse(view.startedAt) - WINDOW_SLACK_MS;
    return newest(this.index.listFromMemory(from, Date.now() + WINDOW_SLACK_MS), this.maxPerAnswer);
  }
}
