// The API_TOKEN check: `Authorization: Bearer <token>` for programs, or HTTP Basic with any
// user name and the token as the password for a browser (it cannot send a Bearer header
// on a navigation, an <img> or an EventSource; it does send Basic credentials it was asked
// for). Both sides are hashed first so timingSafeEqual always compares two equal-length
// digests: neither the token's content nor its length leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The challenge that makes a browser ask for the credentials (RFC 7617). */
export const BASIC_CHALLENGE = 'Basic realm="agent-cockpit", charset="UTF-8"';
/** The challenge every other client gets (RFC 6750). */
export const BEARER_CHALLENGE = 'Bearer';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The password of `Basic <base64(user:password)>`, or null when the header is not that:
 * strict base64 (standard alphabet, padded), valid UTF-8, a colon after the user name.
 */
export function basicPassword(authorization: string | undefined): string | null {
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(authorization ?? '');
  const encoded = match?.[1];
  if (encoded === undefined || encoded.length % 4 !== 0) return null;
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  return colon === -1 ? null : decoded.slice(colon + 1);
}

/** The token a request presents: a Bearer token, a Basic password, or '' for neither. */
function presented(authorization: string | undefined): string {
  const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  if (bearer !== null) return bearer[1]!;
  return basicPassword(authorization) ?? '';
}

/** True when `authorization` is `Bearer <expected>` or Basic with password `<expected>` (schemes case-insensitive). */
export function credentialsMatch(expected: string, authorization: string | undefined): boolean {
  const given = presented(authorization);
  // Compare even when there is no token, so a missing header costs the same as a wrong one.
  const same = timingSafeEqual(digest(expected), digest(given));
  return same && given !== '';
}

/** Whether the request carries Basic credentials (which a browser adds by itself). */
export function isBasic(authorization: string | undefined): boolean {
  return /^Basic[ \t]/i.test(authorization ?? '');
}

type Headers = Record<string, string | string[] | undefined>;

function one(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Whether a request with Basic credentials was made by another site's page. A browser
 * that has logged in adds them to every request to this origin, whoever makes it: a form
 * on another site could POST /jobs/:id/cancel, a page there could load our images. So,
 * as the Fetch Metadata resource isolation policy does, Basic only counts for requests the
 * browser marks as this origin's own or the user's (`Sec-Fetch-Site: same-origin` or
 * `none`), and for a GET or HEAD navigation from elsewhere (a link to /status: it reads,
 * changes nothing). A browser too old to send Sec-Fetch-Site still sends Origin on a POST:
 * its host must be ours. Programs (curl -u) send neither. Bearer tokens are not ambient.
 */
export function crossSiteBasic(method: string, headers: Headers): boolean {
  const site = one(headers, 'sec-fetch-site');
  const safe = method === 'GET' || method === 'HEAD';
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return false;
    const dest = one(headers, 'sec-fetch-dest');
    return !(safe && one(headers, 'sec-fetch-mode') === 'navigate' && dest !== 'object' && dest !== 'embed');
  }
  const origin = one(headers, 'origin');
  if (safe || origin === undefined) return false;
  try {
    return new URL(origin).host !== one(headers, 'host');
  } catch {
    // `Origin: null` (a sandboxed or opaque origin) is never ours.
    return true;
  }
}

/** How many times a header occurs in the raw request (Node merges or drops repeats). */
export function countHeader(rawHeaders: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) n += 1;
  return n;
}
