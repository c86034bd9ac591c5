// Which names under /images/ are acceptable, decided on the raw (still percent-encoded)
// path segment, decoded exactly once. Anything that is not a plain file name is refused
// before the file system is touched; that includes encodings of '/', '\', NUL, '..',
// a '%' left after decoding (a double-encoding attempt) and invalid or overlong UTF-8.

export { IMAGE_CONTENT_TYPES, imageContentType } from '../../../common/image-types.ts';

/** Longest file name Linux allows, in bytes. */
const NAME_MAX_BYTES = 255;

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

/** Check the raw path segment after `/images/` (query already removed). */
export function parseImageName(rawSegment: string): NameCheck {
  if (rawSegment === '') return { ok: false, reason: 'missing file name' };
  if (rawSegment.includes('/') || rawSegment.includes('\\')) return { ok: false, reason: 'not a plain file name' };
  let name: string;
  try {
    name = decodeURIComponent(rawSegment);
  } catch {
    return { ok: false, reason: 'invalid percent-encoding or UTF-8' };
  }
  return checkPlainName(name);
}

/** A decoded name: one path component, nothing a file system or a second decoder could read as more. */
export function checkPlainName(name: string): NameCheck {
  if (name === '' || Buffer.byteLength(name, 'utf8') > NAME_MAX_BYTES) return { ok: false, reason: 'bad file name length' };
  // Control characters include NUL; '%' left after one decoding means double encoding.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f/\\%\uFFFD]/u.test(name)) return { ok: false, reason: 'not a plain file name' };
  if (name.includes('..') || name.startsWith('.')) return { ok: false, reason: 'not a plain file name' };
  return { ok: true, name };
}

/** The relative URL a job's answer lists for an image file. */
export function imageUrl(name: string): string {
  return `/images/${encodeURIComponent(name)}`;
}
