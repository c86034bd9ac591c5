// What a running job records as events (event-log.ts), from what the job sees: the
// stream-json reader's progress and text, each usage sample, and the image files it
// writes (image-watch.ts decides which are complete): a sample looks at IMAGES_DIR only
// when the folder changed since the last look (one stat), or a file seen is not yet
// announced, and never while the last look is still reading. The job calls it; it never
// acts on the job.
import { MAX_TEXT_EVENT_CHARS } from '../../../common/events.ts';
import type { ImageFile } from '../../../common/image-files.ts';
import type { Logger } from '../../../common/logger.ts';
import type { JobProgress } from '../../../common/protocol.ts';
import type { StreamJsonListener } from '../claude/stream-json.ts';
import { JobEventLog } from './event-log.ts';
import { ImageWatch } from './image-watch.ts';
import type { Usage } from './usage.ts';

/** File times come from the kernel's coarse clock: at most a tick (<= 10 ms) behind. */
const COARSE_CLOCK_SLACK_MS = 50;

export class EventRecorder implements StreamJsonListener {
  readonly events = new JobEventLog();
  private readonly imageWatch = new ImageWatch();
  private looking = false;
  private folderMtimeMs: number | null = null;

  constructor(
    private readonly jobId: string,
    private readonly log: Logger,
    /** When the job started (epoch ms): usage events say how long after it they were taken. */
    private readonly startedAtMs: number,
    private readonly images: {
      /** IMAGES_DIR's mtime (it changes when a file is created, renamed or removed); null when unreadable. */
      folderMtimeMs: () => Promise<number | null>;
      /** The image files in the job's window so far; null when unreadable. */
      inWindow: () => Promise<ImageFile[] | null>;
    },
  ) {}

  progress(p: Readonly<JobProgress>): void {
    this.events.record('progress', { turn: p.turns, tool: p.tool, description: p.toolDescription });
  }

  text(turn: number, text: string): void {
    const truncated = text.length > MAX_TEXT_EVENT_CHARS;
    this.events.record('text', { turn, text: truncated ? text.slice(0, MAX_TEXT_EVENT_CHARS) : text, truncated });
  }

  /** One sample of the tree; then a look for images. `running`: false once the job is ending. */
  sample(usage: Usage, running: () => boolean): void {
    // A tree already gone (the CLI has exited, its end is on its way) is not a sample.
    if (usage.processCount > 0) {
      this.events.record('usage', {
        cpuMs: usage.cpuMs,
        cpuPercent: usage.cpuPercent,
        rssBytes: usage.rssBytes,
        processCount: usage.processCount,
        // Samples come every SAMPLE_INTERVAL_MS, or sooner while the tree grows fast: a chart needs the time.
        elapsedMs: Date.now() - this.startedAtMs,
      });
    }
    if (this.looking) return;
    this.looking = true;
    void this.look(running)
      .catch((err: unknown) => this.log.debug({ jobId: this.jobId, err }, 'could not look for images'))
      .finally(() => (this.looking = false));
  }

  private async look(running: () => boolean): Promise<void> {
    const mtime = await this.images.folderMtimeMs();
    // A folder time within the kernel's coarse tick of now may hide a second change in
    // that same tick: look then too.
    const settled = Date.now() - (mtime ?? 0) > COARSE_CLOCK_SLACK_MS;
    if (mtime === null || (mtime === this.folderMtimeMs && settled && !this.imageWatch.hasPending)) return;
    this.folderMtimeMs = mtime;
    const files = await this.images.inWindow();
    // A look that ends after the job stopped running is the end's business (finalImages).
    if (files === null || !running()) return;
    for (const name of this.imageWatch.observe(files)) this.events.record('image', { name });
  }

  /** The job's final image list: those not announced yet are, now. */
  finalImages(names: readonly string[]): void {
    for (const name of this.imageWatch.rest(names)) this.events.record('image', { name });
  }
}
