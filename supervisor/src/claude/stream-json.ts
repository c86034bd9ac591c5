// Reads the CLI's `--output-format stream-json` events as they arrive, line by line, in
// bounded memory: a line longer than maxLineBytes is dropped, never buffered whole.
// Lines are split on the newline byte and decoded whole, so a chunk boundary inside a
// multi-byte character is harmless. Anything that is not a JSON event (a CLI printing
// plain text) is ignored here; the raw stdout capture still has it.
//
// What the real CLI prints (2.1.197 and 2.1.332 alike; docs/claude-cli.md), one JSON
// object per line:
//   system/init, then per content block an `assistant` event (several share one message
//   id), a `user` event carrying each tool_result, `system/api_retry` while it retries
//   the API, and last a `result` event. An API failure is a result with subtype
//   "success" but is_error true (exit 1); a failed `--resume` is subtype
//   "error_during_execution" with no `result` text, only `errors: [...]`.
import type { JobErrorCode, JobProgress, JobResult } from '../../../common/protocol.ts';

const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
const MAX_DESCRIPTION_CHARS = 200;
const MAX_ERROR_MESSAGE_CHARS = 2000;

export interface StreamJsonOutcome {
  /** The final `result` event, if one came. */
  result: JobResult | null;
  /** Its `result` text (null when the event had none, e.g. a failed `--resume`). */
  resultText: string | null;
  /** For an error result: the CLI's own message (its result text, else its `errors`). */
  errorMessage: string | null;
  /** A failure callers can act on, recognised from the CLI's message. */
  errorCode: JobErrorCode | null;
  /**
   * The top-level assistant text blocks so far, joined by blank lines (at most
   * maxLineBytes characters): what the agent said before a timeout or a kill, when no
   * result event came. Empty when it said nothing.
   */
  assistantText: string;
  /** Whether any stream-json event was seen at all. */
  sawEvents: boolean;
  /** Lines dropped for being longer than the limit. */
  droppedLines: number;
}

/** Told of each change as it is read: the job records them as events (job/event-log.ts). */
export interface StreamJsonListener {
  /** Turns, tool or description changed. */
  progress(progress: Readonly<JobProgress>): void;
  /** A top-level assistant text block, complete. */
  text(turn: number, text: string): void;
}

export class StreamJsonReader {
  readonly progress: JobProgress = { turns: 0, tool: null, toolDescription: null };
  private readonly outcome: StreamJsonOutcome = {
    result: null,
    resultText: null,
    errorMessage: null,
    errorCode: null,
    assistantText: '',
    sawEvents: false,
    droppedLines: 0,
  };
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skippingLongLine = false;
  private lastMessageId: string | null = null;
  private told: JobProgress = { ...this.progress };

  constructor(
    private readonly maxLineBytes: number,
    private readonly listener: StreamJsonListener | null = null,
  ) {}

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

  /** Bytes of the unfinished line held now; never more than maxLineBytes. */
  get bufferedBytes(): number {
    return this.pendingBytes;
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
    // Copy: the caller's chunk may be a pooled buffer that is reused after push().
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private finishLine(): void {
    const line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.skippingLongLine = false;
    if (line.length === 0 || line[0] !== OPEN_BRACE) return;
    let event: unknown;
    try {
      event = JSON.parse(line.toString('utf8'));
    } catch {
      return;
    }
    if (event !== null && typeof event === 'object' && !Array.isArray(event)) this.onEvent(event as Record<string, unknown>);
  }

  private onEvent(event: Record<string, unknown>): void {
    if (typeof event.type !== 'string') return;
    this.outcome.sawEvents = true;
    switch (event.type) {
      case 'assistant':
        this.onAssistant(event);
        break;
      case 'user':
        // Tool results come back in a user message: the tool is done.
        if (hasToolResult(event)) {
          this.progress.tool = null;
          this.progress.toolDescription = null;
        }
        break;
      case 'result':
        this.onResult(event);
        break;
    }
    this.tellProgress();
  }

  private tellProgress(): void {
    const p = this.progress;
    const t = this.told;
    if (this.listener === null || (p.turns === t.turns && p.tool === t.tool && p.toolDescription === t.toolDescription)) return;
    this.told = { ...p };
    this.listener.progress(this.told);
  }

  private onAssistant(event: Record<string, unknown>): void {
    const message = asRecord(event.message);
    // The CLI prints one assistant event per content block; a turn is one message id.
    // A subagent's messages (parent_tool_use_id set) are not turns of the conversation.
    const id = typeof message?.id === 'string' ? message.id : null;
    const topLevel = event.parent_tool_use_id === null || event.parent_tool_use_id === undefined;
    if (topLevel && (id === null || id !== this.lastMessageId)) this.progress.turns += 1;
    if (topLevel) this.lastMessageId = id;
    const content = message?.content;
    if (!Array.isArray(content)) return;
    for (const item of content) {
      const block = asRecord(item);
      if (topLevel && block?.type === 'text' && typeof block.text === 'string') {
        this.addAssistantText(block.text);
        if (this.listener !== null && block.text.trim() !== '') {
          this.tellProgress();
          this.listener.text(this.progress.turns, block.text);
        }
      }
      if (block?.type !== 'tool_use') continue;
      this.progress.tool = typeof block.name === 'string' ? block.name.slice(0, 100) : null;
      const input = asRecord(block.input);
      // Only the model's description of a command, never the command: it may hold secrets.
      this.progress.toolDescription =
        typeof input?.description === 'string' ? input.description.slice(0, MAX_DESCRIPTION_CHARS) : null;
    }
  }

  private addAssistantText(text: string): void {
    // Full: nothing more is kept (and nothing is copied: a 10 MiB slice per block was
    // seconds of CPU for a long answer).
    if (text.trim() === '' || this.outcome.assistantText.length >= this.maxLineBytes) return;
    const joined = this.outcome.assistantText === '' ? text : `${this.outcome.assistantText}\n\n${text}`;
    this.outcome.assistantText = joined.length > this.maxLineBytes ? joined.slice(0, this.maxLineBytes) : joined;
  }

  private onResult(event: Record<string, unknown>): void {
    const subtype = typeof event.subtype === 'string' ? event.subtype : null;
    const isError = event.is_error === true || (subtype !== null && subtype !== 'success');
    const resultText = typeof event.result === 'string' ? event.result : null;
    this.outcome.result = {
      sessionId: typeof event.session_id === 'string' ? event.session_id : null,
      costUsd: typeof event.total_cost_usd === 'number' ? event.total_cost_usd : null,
      numTurns: typeof event.num_turns === 'number' && Number.isInteger(event.num_turns) ? event.num_turns : null,
      isError,
      subtype,
    };
    this.outcome.resultText = resultText;
    if (isError) {
      const message = errorMessageOf(resultText, event.errors, subtype);
      this.outcome.errorMessage = message;
      this.outcome.errorCode = codeOfSubtype(subtype) ?? classifyCliError(message);
    }
    this.progress.tool = null;
    this.progress.toolDescription = null;
  }
}

/** The limits' result subtypes (2.1.197, 2.1.332: "Reached maximum number of turns (1)",
 *  "Reached maximum budget ($0.01)"): the job ran into the limit its request set. */
export function codeOfSubtype(subtype: string | null): JobErrorCode | null {
  if (subtype === 'error_max_turns') return 'max_turns';
  if (subtype === 'error_max_budget_usd') return 'budget_exceeded';
  return null;
}

/** The code for a CLI error message callers can act on, or null. */
export function classifyCliError(message: string | null): JobErrorCode | null {
  if (message === null) return null;
  // 2.1.197, 2.1.332: "No conversation found with session ID: <id>" (exit 1, no model request).
  if (/No conversation found with session ID/i.test(message)) return 'session_not_found';
  return null;
}

function errorMessageOf(resultText: string | null, errors: unknown, subtype: string | null): string {
  let message: string | null = resultText !== null && resultText.trim() !== '' ? resultText : null;
  if (message === null && Array.isArray(errors)) {
    const texts = errors.filter((e): e is string => typeof e === 'string' && e.trim() !== '');
    if (texts.length > 0) message = texts.join('; ');
  }
  message ??= `Claude Code reported an error (${subtype ?? 'no subtype'})`;
  return message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : message;
}

function hasToolResult(event: Record<string, unknown>): boolean {
  const content = asRecord(event.message)?.content;
  return Array.isArray(content) && content.some((b) => asRecord(b)?.type === 'tool_result');
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
