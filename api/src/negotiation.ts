// What a request asks for in its headers: the media types it accepts, and its Prefer
// preferences (RFC 7240). Pure.

/** Whether `accept` names this media type itself (wildcards do not count: JSON stays the default). */
export function acceptsExactly(accept: string | undefined, mediaType: string): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    // `q=0` means "not this one".
    return type === mediaType && !params.some((p) => /^q=0(\.0{0,3})?$/.test(p));
  });
}

/** Whether a Prefer header (one or several, comma-separated) holds this preference token. */
export function prefers(prefer: string | string[] | undefined, token: string): boolean {
  if (prefer === undefined) return false;
  const values = Array.isArray(prefer) ? prefer : [prefer];
  return values.some((v) => v.split(',').some((p) => p.split(';')[0]!.trim().toLowerCase() === token));
}
