/**
 * The send buffer: bytes the application wrote that are not yet acknowledged.
 *
 * Application data is copied exactly once, on `append`, into chunks; outgoing segments take
 * views into those chunks (`views`), and `release` drops whole chunks once everything in them
 * is acknowledged. Chunk memory is never rewritten while it is in the buffer, so a view handed
 * to a link stays valid and unchanged while a retransmission may still need it.
 *
 * After release a chunk is garbage, unless the buffer has a `pool`: then the chunk goes back to
 * it and a later `append` (of any connection of the stack) refills it. The endpoint gives a
 * buffer a pool only when its route's link keeps no reference to written packets
 * (Route.txNoRetain: the link copied or transmitted them before `writePackets` returned), so
 * nobody can still be looking at a released chunk. Recycling keeps a bulk transfer from
 * allocating (and zero-filling) fresh memory for every byte it sends; fresh ArrayBuffers are
 * also what drives V8's full collections when many connections hold data at once (#8).
 *
 * Positions are absolute stream offsets (bytes written since the connection began, as plain
 * numbers: 2^53 bytes is never reached), so the sender maps sequence numbers to offsets with one
 * subtraction.
 */

/** Chunk sizes: a write gets new chunks of the largest size it fills, else the smallest. */
const CHUNK_SMALL = 16 * 1024;
const CHUNK_MEDIUM = 64 * 1024;
const CHUNK_LARGE = 256 * 1024;

/** Free bytes a pool may keep while its stack's TCP holds less than this. */
export const POOL_FLOOR = 4 * 1024 * 1024;

/**
 * Released send-buffer chunks of one stack's TCP, by size, ready for reuse (newest first: the
 * memory most likely still in cache). It keeps at most `limit` free bytes, which the TCP
 * protocol sets to the larger of POOL_FLOOR and the bytes its endpoints hold right now (tcp_mem
 * accounting): while many connections hold data, what one releases another is about to need;
 * when traffic ebbs, chunks released beyond the limit are left to the garbage collector.
 */
export class ChunkPool {
  private readonly small: Uint8Array[] = [];
  private readonly medium: Uint8Array[] = [];
  private readonly large: Uint8Array[] = [];
  /** Free bytes held. */
  bytes = 0;
  limit = POOL_FLOOR;
  /** Chunks handed out again instead of allocated (a counter for tests and diagnostics). */
  reused = 0;

  /** A chunk of `size` (one of the chunk sizes): a free one, else a new one. */
  take(size: number): Uint8Array {
    const list = size === CHUNK_LARGE ? this.large : size === CHUNK_MEDIUM ? this.medium : this.small;
    if (list.length === 0) return new Uint8Array(size);
    this.bytes -= size;
    this.reused++;
    return list.pop()!;
  }

  /** Takes back a chunk nobody references any more (kept while under `limit`). */
  give(c: Uint8Array): void {
    const n = c.length;
    if (this.bytes + n > this.limit) return;
    const list = n === CHUNK_LARGE ? this.large : n === CHUNK_MEDIUM ? this.medium : n === CHUNK_SMALL ? this.small : null;
    if (list === null) return;
    list.push(c);
    this.bytes += n;
  }

  /** Drops every free chunk. */
  clear(): void {
    this.small.length = 0;
    this.medium.length = 0;
    this.large.length = 0;
    this.bytes = 0;
  }
}

/**
 * The arrays of an empty buffer, shared by all of them and never written (an idle connection
 * holds no arrays of its own: heap per endpoint, #8). `append` replaces them before pushing.
 */
const NO_CHUNKS: Uint8Array[] = [];
const NO_STARTS: number[] = [];

export class SendBuffer {
  /** Where released chunks go and new ones come from; null: allocate, and leave to the GC. */
  pool: ChunkPool | null = null;
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
    // New chunks are sized by the whole write (what is left after the tail chunk's room would
    // make every later chunk small once writes stop lining up with chunk boundaries).
    const size = len >= CHUNK_LARGE ? CHUNK_LARGE : len >= CHUNK_MEDIUM ? CHUNK_MEDIUM : CHUNK_SMALL;
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
      if (this.chunks === NO_CHUNKS) {
        this.chunks = [];
        this.starts = [];
      }
      const pool = this.pool;
      this.chunks.push(pool !== null ? pool.take(size) : new Uint8Array(size));
      this.starts.push(this.tailOffset);
    }
  }

  /** Drops the first `n` bytes (acknowledged). */
  release(n: number): void {
    if (n <= 0) return;
    if (n > this.size) n = this.size;
    this.headOffset += n;
    const chunks = this.chunks;
    const pool = this.pool;
    // A chunk goes once every byte it can hold is behind the head; the tail chunk stays while it
    // still has room, so later small writes keep filling it.
    while (this.first < chunks.length) {
      const i = this.first;
      const c = chunks[i]!;
      if (this.starts[i]! + c.length > this.headOffset) break;
      if (pool !== null) pool.give(c);
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
