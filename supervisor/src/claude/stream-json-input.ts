// What the supervisor writes on the CLI's stdin with `--input-format stream-json`: one
// JSON object per line (docs/claude-cli.md, "Input"). The prompt is the first user
// message, its images as image blocks before the text (the Messages API's advice: images
// first); later lines are control requests (the interrupt that ends a turn cleanly).
import type { InputImage } from '../../../common/input-images.ts';

/** The first user message: the images, then the prompt text. */
export function userMessageLine(prompt: string, images: readonly InputImage[] = []): string {
  const content: unknown[] = images.map((image) => ({
    type: 'image',
    source: { type: 'base64', media_type: image.mediaType, data: image.data },
  }));
  content.push({ type: 'text', text: prompt });
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content }, parent_tool_use_id: null, session_id: '' })}\n`;
}

/** Ask the CLI to stop the turn in progress: it answers with a control_response, then
 *  prints what it had and a `result` event (subtype error_during_execution). */
export function interruptLine(requestId: string): string {
  return `${JSON.stringify({ type: 'control_request', request_id: requestId, request: { subtype: 'interrupt' } })}\n`;
}
