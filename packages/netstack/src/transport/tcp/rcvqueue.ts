/**
 * The receive side's two queues:
 * - `ReceiveQueue`: in-order bytes waiting for the application, kept as views into the packets
 *   they arrived in (no copy until `read` copies them out; PacketBuffer's inbound ownership rule
 *   lets the stack keep such views).
 * - `OutOfOrderQueue`: segments that arrived beyond RCV.NXT, trimmed so that no two entries
 *   overlap (RFC 9293 §3.10.7.4: duplicate and overlapping data is processed once), waiting for
 *   the hole in front of them to be filled.
 */
import { seqAdd, seqDiff } from "./seqnum.js";

export class ReceiveQueue {
  private views: Uint8Array[] = [];
  private first = 0;
  /** Bytes of views[first] already read. */
  private headOff = 0;
  /** Bytes waiting. */
  size = 0;

  push(v: Uint8Array): void {
    if (v.length === 0) return;
    this.views.push(v);
    this.size += v.length;
  }

  /** Copies up to `dst.length` bytes into `dst`; consumes them unless `peek`. Returns the count. */
  read(dst: Uint8Array, peek: boolean): number {
    let want = dst.length < this.size ? dst.length : this.size;
    const total = want;
    let i = this.first;
    let off = this.headOff;
    let at = 0;
    while (want > 0) {
      const v = this.views[i]!;
      const avail = v.length - off;
      const n = avail < want ? avail : want;
      dst.set(n === v.length ? v : v.subarray(off, off + n), at);
      at += n;
      want -= n;
      off += n;
      if (off === v.length) {
        i++;
        off = 0;
      }
    }
    if (!peek) this.consume(i, off, total);
    return total;
  }

  /** Drops `n` bytes without copying them. */
  discard(n: number): void {
    if (n > this.size) n = this.size;
    let i = this.first;
    let off = this.headOff;
    let want = n;
    while (want > 0) {
      const avail = this.views[i]!.length - off;
      if (avail <= want) {
        want -= avail;
        i++;
        off = 0;
      } else {
        off += want;
        want = 0;
      }
    }
    this.consume(i, off, n);
  }

  private consume(i: number, off: number, n: number): void {
    for (let k = this.first; k < i; k++) this.views[k] = EMPTY;
    this.first = i;
    this.headOff = off;
    this.size -= n;
    if (this.first === this.views.length) {
      this.views = [];
      this.first = 0;
      this.headOff = 0;
    } else if (this.first >= 64 && this.first * 2 >= this.views.length) {
      this.views = this.views.slice(this.first);
      this.first = 0;
    }
  }
}

/** One out-of-order piece: `data` starts at sequence number `seq`. */
interface OooEntry {
  seq: number;
  data: Uint8Array;
}

export class OutOfOrderQueue {
  /** Sorted by sequence number, no overlaps. */
  private entries: OooEntry[] = [];
  /** Payload bytes held. */
  bytes = 0;

  get length(): number {
    return this.entries.length;
  }

  /**
   * Inserts `data` (starting at `seq`, which is after `rcvNxt`), keeping only the bytes no entry
   * holds yet: existing data wins, the new segment fills the gaps around it. Returns the number
   * of new bytes stored.
   */
  insert(seq: number, data: Uint8Array, rcvNxt: number): number {
    const a0 = seqDiff(seq, rcvNxt);
    const b = a0 + data.length;
    const es = this.entries;
    let a = a0;
    let added = 0;
    let i = 0;
    while (a < b) {
      // Skip entries that end before the (remaining) new range.
      while (i < es.length && seqDiff(es[i]!.seq, rcvNxt) + es[i]!.data.length <= a) i++;
      if (i === es.length) {
        es.push({ seq: seqAdd(rcvNxt, a), data: data.subarray(a - a0, b - a0) });
        added += b - a;
        break;
      }
      const x = seqDiff(es[i]!.seq, rcvNxt);
      if (x > a) {
        // A gap in front of entry i: the new bytes fill it.
        const end = x < b ? x : b;
        es.splice(i, 0, { seq: seqAdd(rcvNxt, a), data: data.subarray(a - a0, end - a0) });
        added += end - a;
        i++;
        a = end;
        continue;
      }
      // Entry i already holds the start of the remaining range: continue after it.
      a = x + es[i]!.data.length;
      i++;
    }
    this.bytes += added;
    return added;
  }

  /**
   * Removes and returns the data that now continues the stream at `rcvNxt` (trimmed of
   * anything before it), or null when the first entry is beyond `rcvNxt`. Entries entirely
   * before `rcvNxt` are dropped on the way.
   */
  takeAt(rcvNxt: number): Uint8Array | null {
    const es = this.entries;
    while (es.length > 0) {
      const e = es[0]!;
      const d = seqDiff(e.seq, rcvNxt);
      if (d > 0) return null;
      es.shift();
      this.bytes -= e.data.length;
      if (-d < e.data.length) return -d === 0 ? e.data : e.data.subarray(-d);
    }
    return null;
  }

  clear(): void {
    this.entries = [];
    this.bytes = 0;
  }

  /** The contiguous runs held, as [start, end) pairs in sequence order (adjacent entries merged). */
  blocks(out: number[]): void {
    for (const e of this.entries) {
      const end = seqAdd(e.seq, e.data.length);
      const n = out.length;
      if (n >= 2 && out[n - 1] === e.seq) out[n - 1] = end;
      else out.push(e.seq, end);
    }
  }
}

const EMPTY = new Uint8Array(0);
