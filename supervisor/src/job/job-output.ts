// What a job's CLI printed, in bounded memory: stdout's head (MAX_OUTPUT_BYTES), stderr's
// tail, and the stream-json events read as they arrive (progress, result, the agent's text).
import type { JobProgress, JobResult } from '../../../common/protocol.ts';
import { StreamJsonReader, type StreamJsonListener, type StreamJsonOutcome } from '../claude/stream-json.ts';
import { HeadCapture, TailCapture } from '../output.ts';
import type { HeldText } from './answer-text.ts';
import { answerText } from './outcome.ts';

const STDERR_TAIL_BYTES = 4096;

export class JobOutput {
  private readonly stdout: HeadCapture;
  private readonly stderr = new TailCapture(STDERR_TAIL_BYTES);
  private readonly reader: StreamJsonReader;
  private rawDropped = false;

  constructor(maxOutputBytes: number, listener: StreamJsonListener | null = null) {
    this.stdout = new HeadCapture(maxOutputBytes);
    this.reader = new StreamJsonReader(maxOutputBytes, listener);
  }

  pushStdout(chunk: Buffer): void {
    this.stdout.push(chunk);
    this.reader.push(chunk);
    // A CLI that speaks stream-json answers from its events (outcome.ts answerText): its
    // raw stdout will never be the answer, so up to MAX_OUTPUT_BYTES need not be kept.
    if (!this.rawDropped && this.reader.current.sawEvents) {
      this.rawDropped = true;
      this.stdout.stopKeeping();
    }
  }

  pushStderr(chunk: Buffer): void {
    this.stderr.push(chunk);
  }

  get stdoutBytes(): number {
    return this.stdout.totalBytes;
  }

  /** Raw stdout held for the answer now (0 once the CLI has spoken stream-json). */
  get keptStdoutBytes(): number {
    return this.stdout.keptBytes;
  }

  get stdoutTruncated(): boolean {
    return this.stdout.truncated;
  }

  get stderrTruncated(): boolean {
    return this.stderr.totalBytes > STDERR_TAIL_BYTES;
  }

  get result(): JobResult | null {
    return this.reader.current.result;
  }

  get progress(): JobProgress {
    return this.reader.progress;
  }

  /** The answer as it stands (outcome.ts answerText), held as it is: the kept stdout as
   *  its bytes, not decoded (answer-text.ts). */
  heldText(): HeldText {
    return answerText(this.reader.current, () => this.stdout.bytes());
  }

  stderrTail(): string {
    return this.stderr.text();
  }

  /** The streams have ended: the last line counts, and the final outcome is known. */
  end(): StreamJsonOutcome {
    return this.reader.end();
  }

  /** Drop the kept stdout once the answer has been taken from it. */
  release(): void {
    this.stdout.release();
  }
}
