/**
 * The receive side's two queues:
 * - `ReceiveQueue`: in-order bytes waiting for the application, kept as views into the packets
 *   they arrived in (no copy until `read` copies them out; PacketBuffer's inbound ownership rule
 *   lets the stack keep such views).
 * - `OutOfOrderQueue`: segments that arrived beyond RCV.NXT, trimmed so that no two entries
 *   overlap (RFC 9293 §3.10.7.4: duplicate and overlapping data is processed once), waiting for
 *   the hole in front of them to be filled.
 */
import { seqAdd, seqDiff, seqGT, seqLEQ, seqLT } from "./seqnum.js";

/**
 * The views array of an empty ReceiveQueue, shared and never written (an idle connection holds
 * no array of its own: heap per endpoint, #8). `push` replaces it first.
 */
const NO_VIEWS: Uint8Array[] = [];

export class ReceiveQueue {
  private views: Uint8Array[] = NO_VIEWS;
  private first = 0;
  /** Bytes of views[first] already read. */
  private headOff = 0;
  /** Bytes waiting. */
  size = 0;

  push(v: Uint8Array): void {
    if (v.length === 0) return;
    if (this.views === NO_VIEWS) this.views = [v];
    else this.views.push(v);
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
      this.views = NO_VIEWS;
      this.first = 0;
      this.headOff = 0;
    } else if (this.first >= 64 && this.first * 2 >= this.views.length) {
      this.views = this.views.slice(this.first);
      this.first = 0;
    }
  }
}

/** One out-of-order piece: `data` holds the sequence numbers [seq, end). */
interface OooEntry {
  seq: number;
  end: number;
  data: Uint8Array;
}

/** `OutOfOrderQueue.insert`'s answer when the piece count is at its cap and the segment lies above everything held. */
export const OOO_REFUSED = -1;

/** Pieces up to this size that continue the highest piece are merged into it by copying. */
const COLLAPSE_MAX = 512;

/** Above this many dead slots at the front, the arrays are compacted. */
const COMPACT_AT = 1024;

/**
 * Pieces are kept sorted by sequence number in an array read from index `head` (taking from the
 * front is O(1)); a parallel array of contiguous runs (adjacent pieces merged) answers SACK
 * queries. Lookups are binary searches. A segment above everything held (the common case: data
 * keeps arriving behind one hole) is appended in O(1), a small one continuing the highest piece
 * is copied onto it, and one below everything held is prepended in amortised O(1); one landing
 * between pieces costs a binary search plus one array splice.
 *
 * Every change to the bytes held goes through `insert` (adds), `takeAt` (moves the front to the
 * in-order queue), `pruneTail` (drops the highest piece) and `clear`, which keep `bytes` exact.
 */
/**
 * The arrays of an empty OutOfOrderQueue, shared and never written (an idle connection holds no
 * arrays of its own: heap per endpoint, #8). The first piece or run replaces them.
 */
const NO_ES: OooEntry[] = [];
const NO_RS: number[] = [];

export class OutOfOrderQueue {
  /** Live pieces are es[head..], sorted, no overlaps. */
  private es: OooEntry[] = NO_ES;
  private head = 0;
  /** Contiguous runs as flat [start, end) pairs, live from rs[rhead] (rhead is even). */
  private rs: number[] = NO_RS;
  private rhead = 0;
  /** Payload bytes held. */
  bytes = 0;
  /** Pieces dropped from the top by `pruneTail` (cumulative). */
  pruned = 0;

  /** Pieces held. */
  get length(): number {
    return this.es.length - this.head;
  }

  /** Contiguous runs held. */
  get runCount(): number {
    return (this.rs.length - this.rhead) >>> 1;
  }

  runStart(k: number): number {
    return this.rs[this.rhead + 2 * k]!;
  }

  runEnd(k: number): number {
    return this.rs[this.rhead + 2 * k + 1]!;
  }

  /** The index of the run holding sequence number `x`, or -1. */
  runIndexOf(x: number): number {
    const rs = this.rs;
    // First run whose end is beyond x.
    let lo = this.rhead >>> 1;
    let hi = rs.length >>> 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLEQ(rs[2 * mid + 1]!, x)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === rs.length >>> 1 || seqGT(rs[2 * lo]!, x)) return -1;
    return lo - (this.rhead >>> 1);
  }

  /** The end of the highest piece (only meaningful when `length > 0`). */
  get highestEnd(): number {
    return this.es[this.es.length - 1]!.end;
  }

  /**
   * Inserts `data` (starting at `seq`; anything before `rcvNxt` is ignored), keeping only the
   * bytes no piece holds yet: existing data wins, the new segment fills the gaps around it.
   * Returns the number of new bytes stored, or OOO_REFUSED when `maxPieces` are held already and
   * the segment lies above all of them. When pieces placed lower push the count past
   * `maxPieces`, the highest pieces are pruned (the data furthest from RCV.NXT goes first, as
   * Linux's tcp_prune_ofo_queue does); see `pruned`.
   */
  insert(seq: number, data: Uint8Array, rcvNxt: number, maxPieces = Infinity): number {
    if (seqLT(seq, rcvNxt)) {
      const d = seqDiff(rcvNxt, seq);
      if (d >= data.length) return 0;
      data = data.subarray(d);
      seq = rcvNxt;
    }
    const len = data.length;
    if (len === 0) return 0;
    const a = seq;
    const b = seqAdd(seq, len);
    const es = this.es;
    const n = es.length;
    // Fast path: above every piece held.
    if (n === this.head || seqLEQ(es[n - 1]!.end, a)) {
      const last = n > this.head ? es[n - 1]! : null;
      if (last && last.end === a && last.data.length + len <= COLLAPSE_MAX) {
        // Small and continuing the highest piece: copied onto it (Linux's tcp_collapse_ofo_queue
        // does the same for runs of small segments), so a stream of tiny segments behind a hole
        // takes few piece slots and lets go of the packets it arrived in.
        const merged = new Uint8Array(last.data.length + len);
        merged.set(last.data);
        merged.set(data, last.data.length);
        last.data = merged;
        last.end = b;
        this.bytes += len;
        this.addRun(a, b);
        return len;
      }
      if (n - this.head >= maxPieces) return OOO_REFUSED;
      if (es === NO_ES) this.es = [{ seq: a, end: b, data }];
      else es.push({ seq: a, end: b, data });
      this.bytes += len;
      this.addRun(a, b);
      return len;
    }
    // Fast path: below every piece held (holes filled from the top down).
    if (seqLEQ(b, es[this.head]!.seq)) {
      if (this.head === 0) this.makeFrontRoom();
      this.es[--this.head] = { seq: a, end: b, data };
      this.bytes += len;
      this.addRun(a, b);
      while (this.length > maxPieces) this.pruneTail();
      return len;
    }
    // First piece ending after a.
    let lo = this.head;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLEQ(es[mid]!.end, a)) lo = mid + 1;
      else hi = mid;
    }
    const i = lo;
    // Walk the pieces overlapping [a, b); the new bytes fill the gaps between them.
    let mid: OooEntry[] | null = null;
    let cur = a;
    let added = 0;
    let j = i;
    for (; j < n && seqLT(es[j]!.seq, b); j++) {
      const e = es[j]!;
      if (seqLT(cur, e.seq)) {
        mid ??= es.slice(i, j);
        mid.push({ seq: cur, end: e.seq, data: data.subarray(seqDiff(cur, a), seqDiff(e.seq, a)) });
        added += seqDiff(e.seq, cur);
      }
      if (mid) mid.push(e);
      if (seqGT(e.end, cur)) cur = e.end;
    }
    if (seqLT(cur, b)) {
      mid ??= es.slice(i, j);
      mid.push({ seq: cur, end: b, data: data.subarray(seqDiff(cur, a)) });
      added += seqDiff(b, cur);
    }
    if (!mid) return 0; // every byte was held already
    if (mid.length <= 256) es.splice(i, j - i, ...mid);
    else {
      this.es = es.slice(this.head, i).concat(mid, es.slice(j));
      this.head = 0;
    }
    this.bytes += added;
    this.addRun(a, b);
    while (this.length > maxPieces) this.pruneTail();
    return added;
  }

  /** Drops the highest piece (returns its length). */
  pruneTail(): number {
    if (this.head === this.es.length) return 0;
    const e = this.es.pop()!;
    this.bytes -= e.data.length;
    this.pruned++;
    // The last run ends with this piece; it shrinks to the piece before it, or goes.
    const rs = this.rs;
    const k = rs.length - 2;
    if (rs[k] === e.seq) rs.length = k;
    else rs[k + 1] = e.seq;
    if (this.head === this.es.length) this.reset();
    return e.data.length;
  }

  /**
   * Removes and returns the data that now continues the stream at `rcvNxt` (trimmed of
   * anything before it), or null when the first piece is beyond `rcvNxt`. Pieces entirely
   * before `rcvNxt` are dropped on the way.
   */
  takeAt(rcvNxt: number): Uint8Array | null {
    const es = this.es;
    while (this.head < es.length) {
      const e = es[this.head]!;
      const d = seqDiff(e.seq, rcvNxt);
      if (d > 0) {
        this.trimRuns(rcvNxt);
        return null;
      }
      es[this.head] = DEAD;
      this.head++;
      this.bytes -= e.data.length;
      if (seqGT(e.end, rcvNxt)) {
        if (this.head === es.length) this.reset();
        else {
          this.trimRuns(e.end);
          if (this.head >= COMPACT_AT && this.head * 2 >= es.length) this.compact();
        }
        return d === 0 ? e.data : e.data.subarray(-d);
      }
    }
    this.reset();
    return null;
  }

  clear(): void {
    this.reset();
  }

  /** The contiguous runs held, as [start, end) pairs in sequence order. */
  blocks(out: number[]): void {
    for (let k = this.rhead; k < this.rs.length; k++) out.push(this.rs[k]!);
  }

  private reset(): void {
    this.es = NO_ES;
    this.head = 0;
    this.rs = NO_RS;
    this.rhead = 0;
    this.bytes = 0;
  }

  /** Free slots in front of both arrays (as many as are live, so prepending is amortised O(1)). */
  private makeFrontRoom(): void {
    if (this.head === 0) {
      const live = this.es.length;
      const pad: OooEntry[] = new Array<OooEntry>(live > 16 ? live : 16).fill(DEAD);
      this.es = pad.concat(this.es);
      this.head = pad.length;
    }
    if (this.rhead === 0) {
      const live = this.rs.length;
      const pad: number[] = new Array<number>(live > 32 ? live : 32).fill(0);
      this.rs = pad.concat(this.rs);
      this.rhead = pad.length;
    }
  }

  private compact(): void {
    this.es = this.es.slice(this.head);
    this.head = 0;
    this.rs = this.rs.slice(this.rhead);
    this.rhead = 0;
  }

  /** Runs forget everything before `x` (now in order). */
  private trimRuns(x: number): void {
    const rs = this.rs;
    while (this.rhead < rs.length && seqLEQ(rs[this.rhead + 1]!, x)) this.rhead += 2;
    if (this.rhead < rs.length && seqLT(rs[this.rhead]!, x)) rs[this.rhead] = x;
  }

  /** Adds [a, b) to the runs, merging every run it overlaps or touches. */
  private addRun(a: number, b: number): void {
    const rs = this.rs;
    const m = rs.length;
    if (m === this.rhead || seqLT(rs[m - 1]!, a)) {
      if (rs === NO_RS) this.rs = [a, b];
      else rs.push(a, b);
      return;
    }
    if (seqLEQ(rs[m - 2]!, a)) {
      // Touches or overlaps only the last run.
      if (seqGT(b, rs[m - 1]!)) rs[m - 1] = b;
      return;
    }
    const h = this.rhead;
    if (seqLT(b, rs[h]!)) {
      // Below the first run, apart from it.
      if (h === 0) this.makeFrontRoom();
      this.rhead -= 2;
      this.rs[this.rhead] = a;
      this.rs[this.rhead + 1] = b;
      return;
    }
    // First run ending at or after a (overlapping or touching on the left)...
    let lo = this.rhead >>> 1;
    let hi = m >>> 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLT(rs[2 * mid + 1]!, a)) lo = mid + 1;
      else hi = mid;
    }
    // ...and the runs from there that start at or before b.
    let last = lo;
    while (last < m >>> 1 && seqLEQ(rs[2 * last]!, b)) last++;
    if (last === lo) {
      rs.splice(2 * lo, 0, a, b);
      return;
    }
    const s = seqLT(rs[2 * lo]!, a) ? rs[2 * lo]! : a;
    const e = seqGT(rs[2 * last - 1]!, b) ? rs[2 * last - 1]! : b;
    rs[2 * lo] = s;
    rs[2 * lo + 1] = e;
    if (last - lo > 1) rs.splice(2 * lo + 2, 2 * (last - lo - 1));
  }
}

const DEAD: OooEntry = { seq: 0, end: 0, data: new Uint8Array(0) };
const EMPTY = new Uint8Array(0);
