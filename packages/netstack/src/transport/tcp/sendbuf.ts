/**
 * The send buffer: bytes the application wrote that are not yet acknowledged.
 *
 * Application data is copied exactly once, on `append`, into chunks; outgoing segments take
 * views into those chunks (`views`), and `release` drops whole chunks once everything in them
 * is acknowledged. Chunk memory is never rewritten after it was filled, so a view handed to a
 * link (which may hold it in a queue, or a delay line) stays valid and unchanged for as long as
 * anybody references it: PacketBuffer's outbound ownership rule.
 *
 * Positions are absolute stream offsets (bytes written since the connection began, as plain
 * numbers: 2^53 bytes is never reached), so the sender maps sequence numbers to offsets with one
 * subtraction.
 */

const MIN_CHUNK = 16 * 1024;
const MAX_CHUNK = 256 * 1024;

/**
 * The arrays of an empty buffer, shared by all of them and never written (an idle connection
 * holds no arrays of its own: heap per endpoint, #8). `append` replaces them before pushing.
 */
const NO_CHUNKS: Uint8Array[] = [];
const NO_STARTS: number[] = [];

export class SendBuffer {
  private chunks: Uint8Array[] = NO_CHUNKS;
  /** Absolute offset of each chunk's first byte. */
  private starts: number[] = NO_STARTS;
  /** Index of the first live chunk in `chunks` (dropped chunks are compacted lazily). */
  private first = 0;
  /** Index of the chunk `find` returned last (a guess, checked before use). */
  private hint = 0;
  /** Absolute offset of the first unacknowledged byte. */
  headOffset = 0;
  /** Absolute offset one past the last written byte. */
  tailOffset = 0;

  /** Bytes held (unacknowledged, sent or not). */
  get size(): number {
    return this.tailOffset - this.headOffset;
  }

  /** Copies `src[off, off + len)` in at the tail. */
  append(src: Uint8Array, off: number, len: number): void {
    while (len > 0) {
      const last = this.chunks.length - 1;
      if (last >= this.first) {
        const c = this.chunks[last]!;
        const fill = this.tailOffset - this.starts[last]!;
        const free = c.length - fill;
        if (free > 0) {
          const n = free < len ? free : len;
          c.set(src.subarray(off, off + n), fill);
          this.tailOffset += n;
          off += n;
          len -= n;
          continue;
        }
      }
      const size = len < MIN_CHUNK ? MIN_CHUNK : len > MAX_CHUNK ? MAX_CHUNK : len;
      if (this.chunks === NO_CHUNKS) {
        this.chunks = [];
        this.starts = [];
      }
      this.chunks.push(new Uint8Array(size));
      this.starts.push(this.tailOffset);
    }
  }

  /** Drops the first `n` bytes (acknowledged). */
  release(n: number): void {
    if (n <= 0) return;
    if (n > this.size) n = this.size;
    this.headOffset += n;
    const chunks = this.chunks;
    // A chunk goes once every byte it can hold is behind the head; the tail chunk stays while it
    // still has room, so later small writes keep filling it.
    while (this.first < chunks.length) {
      const i = this.first;
      if (this.starts[i]! + chunks[i]!.length > this.headOffset) break;
      chunks[i] = EMPTY;
      this.first++;
    }
    if (this.first === chunks.length) {
      this.chunks = NO_CHUNKS;
      this.starts = NO_STARTS;
      this.first = 0;
    } else if (this.first >= 32 && this.first * 2 >= chunks.length) {
      this.chunks = chunks.slice(this.first);
      this.starts = this.starts.slice(this.first);
      this.first = 0;
    }
  }

  /**
   * Appends to `out` views covering `[offset, offset + len)` (absolute offsets, inside the
   * buffer). One view per chunk touched; no bytes are copied.
   */
  views(offset: number, len: number, out: Uint8Array[]): void {
    if (len <= 0) return;
    let i = this.find(offset);
    while (len > 0 && i < this.chunks.length) {
      const c = this.chunks[i]!;
      const at = offset - this.starts[i]!;
      const fill = (i === this.chunks.length - 1 ? this.tailOffset - this.starts[i]! : c.length) - at;
      const n = fill < len ? fill : len;
      out.push(c.subarray(at, at + n));
      offset += n;
      len -= n;
      i++;
    }
  }

  /**
   * A new array of views covering `[offset, offset + len)` (len > 0, inside the buffer), sized
   * exactly: a range inside one chunk (nearly every segment) is a one-element array literal,
   * where an empty array grown by `push` would allocate room for 17.
   */
  viewArray(offset: number, len: number): Uint8Array[] {
    const i = this.find(offset);
    const c = this.chunks[i]!;
    const at = offset - this.starts[i]!;
    const fill = (i === this.chunks.length - 1 ? this.tailOffset - this.starts[i]! : c.length) - at;
    if (len <= fill) return [c.subarray(at, at + len)];
    const out: Uint8Array[] = [];
    this.views(offset, len, out);
    return out;
  }

  /** Copies `[offset, offset + len)` into `dst` at `dstOff` (tests and diagnostics). */
  copyOut(offset: number, len: number, dst: Uint8Array, dstOff = 0): void {
    const v: Uint8Array[] = [];
    this.views(offset, len, v);
    for (const x of v) {
      dst.set(x, dstOff);
      dstOff += x.length;
    }
  }

  /**
   * Index of the chunk holding absolute `offset`. Segments are cut in stream order, so the chunk
   * of the previous lookup (or the one after it) almost always holds the next offset; otherwise a
   * binary search over the live chunks.
   */
  private find(offset: number): number {
    const h = this.hint;
    const last = this.chunks.length - 1;
    if (h >= this.first && h <= last && this.starts[h]! <= offset) {
      if (h === last || offset < this.starts[h + 1]!) return h;
      if (h + 1 === last || offset < this.starts[h + 2]!) return (this.hint = h + 1);
    }
    return (this.hint = this.search(offset));
  }

  /** Binary search for `find`. */
  private search(offset: number): number {
    let lo = this.first;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

const EMPTY = new Uint8Array(0);
