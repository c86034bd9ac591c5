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

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

/** The ranges of an Accept header; a range with a malformed type or weight is left out. */
function mediaRanges(accept: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const m = /^([a-z0-9!#$&^_.+-]+|\*)\/([a-z0-9!#$&^_.+-]+|\*)$/.exec(range);
    if (m === null || (m[1] === '*' && m[2] !== '*')) continue;
    let q = 1;
    const weight = params.find((p) => /^q\s*=/.test(p));
    if (weight !== undefined) {
      const w = /^q\s*=\s*(0(\.\d{0,3})?|1(\.0{0,3})?)$/.exec(weight);
      if (w === null) continue;
      q = Number(w[1]);
    }
    out.push({ type: m[1]!, subtype: m[2]!, q });
  }
  return out;
}

/**
 * The weight `ranges` give `mediaType`: that of the most specific range that matches it
 * (RFC 9110, 12.5.1: `text/html` over `text/*` over `*\/*`; of two alike, the higher), 0
 * when none does; `named` when a range names the type itself.
 */
function weightOf(ranges: MediaRange[], mediaType: string): { q: number; named: boolean } {
  const [type, subtype] = mediaType.split('/');
  let best = { q: 0, specificity: -1 };
  for (const r of ranges) {
    const specificity = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' ? 0 : -1;
    if (specificity === -1) continue;
    if (specificity > best.specificity || (specificity === best.specificity && r.q > best.q)) best = { q: r.q, specificity };
  }
  return { q: best.q, named: best.specificity === 2 };
}

/**
 * Whether the request prefers `text/html` to JSON: only when Accept names `text/html`
 * itself with a weight above 0, and weighs it more than `application/json`, or as much
 * when JSON is only covered by a wildcard (a browser's `text/html,...,*\/*;q=0.8`). No
 * Accept, `*\/*`, `text/*` and anything else keep JSON.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const ranges = mediaRanges(accept);
  const html = weightOf(ranges, 'text/html');
  const json = weightOf(ranges, 'application/json');
  if (!html.named || html.q === 0) return false;
  return html.q > json.q || (html.q === json.q && !json.named);
}

/** Whether a Prefer header (one or several, comma-separated) holds this preference token. */
export function prefers(prefer: string | string[] | undefined, token: string): boolean {
  if (prefer === undefined) return false;
  const values = Array.isArray(prefer) ? prefer : [prefer];
  return values.some((v) => v.split(',').some((p) => p.split(';')[0]!.trim().toLowerCase() === token));
}
