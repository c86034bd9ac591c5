// The CLI's stdin with `--input-format stream-json`: the prompt goes in as the first user
// message and stdin stays open, because the same channel carries the interrupt a gentle
// stop sends. Closed once the CLI has printed its result (it then exits; with stdin open
// it would wait for another message) or when the job ends.
import type { Writable } from 'node:stream';
import type { InputImage } from '../../../common/input-images.ts';
import { interruptLine, userMessageLine } from '../claude/stream-json-input.ts';

/** Harmless stdin errors: the CLI exited (or closed stdin) without reading everything. */
export function isHarmlessStdinError(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' || err.code === 'ECONNRESET';
}

export class CliInput {
  private open = true;
  private interrupts = 0;

  constructor(
    private readonly stdin: Writable,
    onError: (err: NodeJS.ErrnoException) => void,
  ) {
    stdin.on('error', (err: NodeJS.ErrnoException) => {
      this.open = false;
      if (!isHarmlessStdinError(err)) onError(err);
    });
  }

  /** Can more be written (not closed by us, no write error)? */
  get isOpen(): boolean {
    return this.open && !this.stdin.destroyed;
  }

  /** The prompt and its images as the first user message. The stream buffers what the
   *  pipe cannot take yet: a 5 MB prompt with 25 MB of images arrives whole. */
  send(prompt: string, images: readonly InputImage[] = []): void {
    this.stdin.write(userMessageLine(prompt, images), 'utf8');
  }

  /** Ask the CLI to end its turn now; false when stdin is closed already. */
  interrupt(): boolean {
    if (!this.isOpen) return false;
    this.interrupts += 1;
    this.stdin.write(interruptLine(`agent-cockpit-interrupt-${this.interrupts}`), 'utf8');
    return true;
  }

  /** No more input: the CLI finishes what it has and exits. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.stdin.end();
  }
}
