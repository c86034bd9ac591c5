// Reads the CLI's `--output-format stream-json` events as they arrive, line by line, in
// bounded memory: a line longer than maxLineBytes is dropped, never buffered whole.
// Anything that is not a JSON event (a CLI printing plain text) is ignored here; the
// raw stdout capture still has it.
import type { JobProgress, JobResult } from '../../../common/protocol.ts';

const NEWLINE = 0x0a;

export interface StreamJsonOutcome {
  /** The final `result` event, if one came. */
  result: JobResult | null;
  /** Its `result` text. */
  resultText: string | null;
  /** Whether any stream-json event was seen at all. */
  sawEvents: boolean;
  /** Lines dropped for being longer than the limit. */
  droppedLines: number;
}

export class StreamJsonReader {
  readonly progress: JobProgress = { turns: 0, tool: null, toolDescription: null };
  private outcome: StreamJsonOutcome = { result: null, resultText: null, sawEvents: false, droppedLines: 0 };
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skippingLongLine = false;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.keep(chunk.subarray(start));
        return;
      }
      this.keep(chunk.subarray(start, nl));
      this.finishLine();
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): StreamJsonOutcome {
    this.finishLine();
    return this.outcome;
  }

  get current(): StreamJsonOutcome {
    return this.outcome;
  }

  private keep(part: Buffer): void {
    if (part.length === 0 || this.skippingLongLine) return;
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      this.skippingLongLine = true;
      this.outcome.droppedLines += 1;
      return;
    }
    this.pending.push(part);
    this.pendingBytes += part.length;
  }

  private finishLine(): void {
    const line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.skippingLongLine = false;
    if (line === undefined || line.length === 0 || line[0] !== 0x7b /* { */) return;
    let event: unknown;
    try {
      event = JSON.parse(line.toString('utf8'));
    } catch {
      return;
    }
    if (event !== null && typeof event === 'object') this.onEvent(event as Record<string, unknown>);
  }

  private onEvent(event: Record<string, unknown>): void {
    if (typeof event.type !== 'string') return;
    this.outcome.sawEvents = true;
    switch (event.type) {
      case 'assistant':
        this.onAssistant(event);
        break;
      case 'user':
        // A tool_result comes back in a user message: the tool is done.
        this.progress.tool = null;
        this.progress.toolDescription = null;
        break;
      case 'result':
        this.onResult(event);
        break;
    }
  }

  private onAssistant(event: Record<string, unknown>): void {
    this.progress.turns += 1;
    const message = event.message as { content?: unknown } | undefined;
    if (!Array.isArray(message?.content)) return;
    for (const block of message.content as Array<Record<string, unknown>>) {
      if (block?.type !== 'tool_use') continue;
      this.progress.tool = typeof block.name === 'string' ? block.name : null;
      const input = block.input as Record<string, unknown> | undefined;
      // Only the model's description of a command: the command itself may carry secrets.
      this.progress.toolDescription = typeof input?.description === 'string' ? input.description.slice(0, 200) : null;
    }
  }

  private onResult(event: Record<string, unknown>): void {
    const subtype = typeof event.subtype === 'string' ? event.subtype : null;
    this.outcome.result = {
      sessionId: typeof event.session_id === 'string' ? event.session_id : null,
      costUsd: typeof event.total_cost_usd === 'number' ? event.total_cost_usd : null,
      numTurns: typeof event.num_turns === 'number' ? event.num_turns : null,
      isError: event.is_error === true || (subtype !== null && subtype.startsWith('error')),
      subtype,
    };
    this.outcome.resultText = typeof event.result === 'string' ? event.result : null;
    this.progress.tool = null;
    this.progress.toolDescription = null;
  }
}
