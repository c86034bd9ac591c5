// The job event vocabulary (docs/api.md, "Live events"), shared by the supervisor, which
// records each job's events, and the API, which streams them as Server-Sent Events.
// Ids count up from 1 within one job; the last event, `end`, has the id END_EVENT_ID, so a
// client that resumes after it is told there is nothing more (204) however many events
// were recorded before it.
import type { JobView } from './protocol.ts';

export const JOB_EVENT_TYPES = ['progress', 'text', 'image', 'usage', 'end'] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

/** The id of a job's last event. */
export const END_EVENT_ID = 'end';

/** A turn began or a tool started or finished. */
export interface ProgressData {
  /** Top-level assistant messages so far (1 is the first). */
  turn: number;
  /** The tool in use now (e.g. `Bash`), or null between tools. */
  tool: string | null;
  /** The description the model gave the tool call; never the command itself. */
  description: string | null;
}

/** One text block of the assistant's, once complete. */
export interface TextData {
  turn: number;
  text: string;
  /** The block was longer than MAX_TEXT_EVENT_CHARS; `text` is its head. */
  truncated: boolean;
}

/** An image file the job wrote, complete in IMAGES_DIR (the API adds its `url`). */
export interface ImageData {
  name: string;
}

/** The job's process tree at one sample. */
export interface UsageData {
  cpuMs: number;
  cpuPercent: number;
  rssBytes: number;
  processCount: number;
  /** When the sample was taken, in ms since the job started (absent in events stored before it was added). */
  elapsedMs?: number;
}

/** The data of each recorded event type. */
export interface RecordedData {
  progress: ProgressData;
  text: TextData;
  image: ImageData;
  usage: UsageData;
}

interface EventOf<T extends JobEventType, D> {
  id: number;
  type: T;
  data: D;
}

/** An event as the supervisor records and stores it. */
export type RecordedEvent =
  | EventOf<'progress', ProgressData>
  | EventOf<'text', TextData>
  | EventOf<'image', ImageData>
  | EventOf<'usage', UsageData>;

/** One line of the supervisor's `GET /jobs/:id/events` (NDJSON): recorded events, then `end` with the finished job. */
export type StreamedEvent = RecordedEvent | { id: typeof END_EVENT_ID; type: 'end'; data: { job: JobView } };

/** Longest text event; the whole answer is in `end` (and GET /jobs/:id). */
export const MAX_TEXT_EVENT_CHARS = 16_384;

/**
 * `Last-Event-ID` (or `?after=`) as a position: 0 for none, the number for an event id,
 * `end` for the last event; null when it is neither (a 400).
 */
export function parseEventId(value: string | undefined): number | typeof END_EVENT_ID | null {
  if (value === undefined || value === '') return 0;
  if (value === END_EVENT_ID) return END_EVENT_ID;
  return /^\d{1,15}$/.test(value) ? Number(value) : null;
}
