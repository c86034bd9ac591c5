// Output capture in bounded memory: stdout and stderr are always read to the end (a
// CLI blocked on a full pipe would never exit), but only the first maxBytes are kept.

/** Up to this size the head buffer doubles; past it, it is allocated at the cap at once. */
const DOUBLING_LIMIT = 1024 * 1024;

/**
 * Keeps the first maxBytes of a stream in one buffer; counts the rest. One buffer, not a
 * list of chunks: the answer is decoded straight from it, with no concatenated copy of
 * the whole cap (docs/benchmarks.md, 5). It doubles up to 1 MiB, then is made at the cap
 * in one step: a large allocation is only resident where it is written, and no copy of
 * 8 MiB lives beside a new 16 MiB one while it grows.
 */
export class HeadCapture {
  private buf: Buffer = Buffer.alloc(0);
  private kept = 0;
  private keeping = true;
  totalBytes = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    if (this.totalBytes > this.maxBytes) this.truncated = true;
    if (!this.keeping) return;
    const take = Math.min(chunk.length, this.maxBytes - this.kept);
    if (take <= 0) return;
    if (this.kept + take > this.buf.length) this.grow(this.kept + take);
    chunk.copy(this.buf, this.kept, 0, take);
    this.kept += take;
  }

  /** Bytes held now. */
  get keptBytes(): number {
    return this.kept;
  }

  /** Keep nothing more and drop what is kept (its text will not be asked for); counting goes on. */
  stopKeeping(): void {
    this.keeping = false;
    this.release();
  }

  /** The kept bytes as UTF-8 text, never ending in half a character when cut. */
  text(): string {
    return this.bytes().toString('utf8');
  }

  /** The kept bytes, never ending in half a character when cut: a view, not a copy (it
   *  stays valid after release()). */
  bytes(): Buffer {
    const kept = this.buf.subarray(0, this.kept);
    return this.truncated ? utf8CompletePrefix(kept) : kept;
  }

  /** Drop the kept bytes (after text() was taken). */
  release(): void {
    this.buf = Buffer.alloc(0);
    this.kept = 0;
  }

  private grow(needed: number): void {
    const doubled = Math.max(needed, this.buf.length * 2, 64 * 1024);
    const size = Math.min(this.maxBytes, doubled > DOUBLING_LIMIT ? this.maxBytes : doubled);
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.kept);
    this.buf = next;
  }
}

/** Keeps the last maxBytes of a stream in one fixed buffer. */
export class TailCapture {
  private readonly ring: Buffer;
  private length = 0;
  totalBytes = 0;

  constructor(maxBytes: number) {
    this.ring = Buffer.alloc(maxBytes);
  }

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    const size = this.ring.length;
    if (chunk.length >= size) {
      chunk.copy(this.ring, 0, chunk.length - size);
      this.length = size;
      return;
    }
    const keep = Math.min(this.length, size - chunk.length);
    this.ring.copy(this.ring, 0, this.length - keep, this.length);
    chunk.copy(this.ring, keep);
    this.length = keep + chunk.length;
  }

  /** The tail as text, starting at a character boundary. */
  text(): string {
    let start = 0;
    // Skip UTF-8 continuation bytes (10xxxxxx) left by the cut.
    while (start < this.length && start < 3 && (this.ring[start]! & 0xc0) === 0x80) start += 1;
    return this.ring.toString('utf8', start, this.length);
  }
}

/** The longest prefix of buf that does not end inside a multi-byte UTF-8 character. */
export function utf8CompletePrefix(buf: Buffer): Buffer {
  const n = buf.length;
  // Look back at most 3 bytes for the lead byte of the last character.
  for (let i = n - 1; i >= 0 && i >= n - 4; i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    const need = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
    return n - i >= need ? buf : buf.subarray(0, i);
  }
  return buf;
}
