// Bearer-token check. Both sides are hashed first so timingSafeEqual always compares two
// equal-length digests: neither the token's content nor its length leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** True when `authorization` is `Bearer <expected>` (scheme case-insensitive). */
export function bearerMatches(expected: string, authorization: string | undefined): boolean {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  const given = match?.[1] ?? '';
  // Compare even when there is no token, so a missing header costs the same as a wrong one.
  const same = timingSafeEqual(digest(expected), digest(given));
  return same && given !== '';
}

/** How many times a header occurs in the raw request (Node merges or drops repeats). */
export function countHeader(rawHeaders: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) n += 1;
  return n;
}
