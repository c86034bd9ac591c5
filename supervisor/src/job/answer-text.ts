// A job's answer text as the supervisor holds it, in pieces. A large answer (a CLI without
// stream-json events answers with its kept stdout: up to MAX_OUTPUT_BYTES) is stored and
// sent a piece at a time, so that it never exists as one JSON string, and the kept bytes
// are never decoded into one string beside them (docs/benchmarks.md, 5). Pure.
import type { JobView } from '../../../common/protocol.ts';
import { utf8CompletePrefix } from '../output.ts';

/** Text as held: a string (from the CLI's events), or UTF-8 bytes (the kept stdout, cut
 *  at a character boundary), or none. */
export type HeldText = string | Buffer | null;

/** A JobView with its text as held (job.heldView(), the store's input). */
export type HeldView = Omit<JobView, 'text'> & { text: HeldText };

/** A job as it is sent: its text in `view` when one piece, else null there and sent from
 *  `pieces` (answer.ts). */
export interface JobAnswer {
  view: JobView;
  pieces: Iterable<string> | null;
}

/** How a held view is sent. */
export function answerOf(view: HeldView): JobAnswer {
  const { text } = view;
  if (text === null || !isLarge(text)) return { view: decoded(view), pieces: null };
  return { view: { ...view, text: null }, pieces: pieces(text) };
}

/** A job as sent, with its text whole (the pieces joined). */
export function wholeView(answer: JobAnswer): JobView {
  return answer.pieces === null ? answer.view : { ...answer.view, text: [...answer.pieces].join('') };
}

/** The view with its text whole. */
export function decoded(view: HeldView): JobView {
  return typeof view.text === 'string' || view.text === null ? (view as JobView) : { ...view, text: textOf(view.text) };
}

/** Up to this many UTF-16 code units (or bytes, for held bytes) a text is one piece: kept
 *  in the job's row and sent inside its answer whole (every WhatsApp-sized answer). Past
 *  it, stored in pieces of this size and streamed. */
export const TEXT_PIECE = 64 * 1024;

/** The whole text as a string (decodes held bytes: for callers that need it whole). */
export function textOf(text: HeldText): string | null {
  return text === null || typeof text === 'string' ? text : text.toString('utf8');
}

/** Whether the text is more than one piece. */
export function isLarge(text: HeldText): boolean {
  return text !== null && text.length > TEXT_PIECE;
}

/** The text in pieces of at most `size` code units or bytes, none splitting a character. */
export function* pieces(text: string | Buffer, size = TEXT_PIECE): Generator<string> {
  if (typeof text === 'string') {
    for (let at = 0; at < text.length; ) {
      let end = Math.min(text.length, at + size);
      // Never between the two halves of a surrogate pair.
      if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1)) && end - 1 > at) end -= 1;
      yield text.slice(at, end);
      at = end;
    }
    return;
  }
  for (let at = 0; at < text.length; ) {
    const window = text.subarray(at, Math.min(text.length, at + size));
    // A cut character moves to the next piece; a window of nothing but a broken
    // sequence (no character ends in it) goes as it is, decoded to U+FFFD.
    const whole = at + window.length < text.length ? utf8CompletePrefix(window) : window;
    const piece = whole.length > 0 ? whole : window;
    yield piece.toString('utf8');
    at += piece.length;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
