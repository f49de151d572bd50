/**
 * RACK loss detection (RFC 8985 §6): per-segment transmit times and the time-based rule "a
 * segment is lost when a segment sent later was delivered, and more than a reordering window
 * has passed since". The sender (snd.ts) owns the recovery state and TLP; this file keeps the
 * per-segment records and the RACK variables.
 *
 * Records are the segments as they were sent: [start, end) in sequence space (a FIN counts as
 * one), the clock time of their last (re)transmission, and flags. They are contiguous and in
 * sequence order, from SND.UNA to SND.MAX, stored in parallel arrays (no object per segment);
 * acknowledged ones are dropped from the front. A retransmission that covers part of a record
 * splits it, so each record always has one transmit time.
 *
 * RFC 8985 orders transmissions by time and breaks ties by end sequence number
 * (RACK_sent_after). The clock here ticks in milliseconds and a retransmission can share its
 * tick with later-sequenced originals, so each record also carries a transmission counter, which
 * orders transmissions exactly; times still decide when the reordering window is over.
 *
 * Sequence numbers are stored `| 0` (int32: small integers to V8, where a uint32 at or above 2^31
 * would be a boxed number wherever it crosses a call) and compared only modulo 2^32 (seqnum.ts);
 * every accessor that hands one out returns it as the usual uint32.
 */
import { seqDiff, seqGEQ, seqGT, seqLEQ, seqLT } from "./seqnum.js";

/** Selectively acknowledged (fully covered by the scoreboard). */
export const SEG_SACKED = 1;
/** Marked lost and not retransmitted since (RFC 8985's Segment.lost). */
export const SEG_LOST = 2;
/** Retransmitted at least once (RFC 8985's Segment.retransmitted). */
export const SEG_RETRANS = 4;

/** RFC 8985 §6.2 step 4: DSACK-free recoveries before the reordering window shrinks back. */
const REO_WND_PERSIST = 16;
/** RFC 8985 §6.2 step 4: DupThresh, the SACKed segments after which reo_wnd drops to 0. */
const DUP_THRESH = 3;
/**
 * Record arrays up to this many slots are kept when every record is acknowledged, and reused: a
 * request/response connection sends one record per round trip, and emptying the arrays
 * (`length = 0`, a runtime call that also drops the backing stores) made each next push allocate
 * five new ones. Larger arrays (a bulk flight) are released once the sender has nothing more to
 * send; while it has (a bulk transfer between flights) they are kept too if at most twice the
 * size of the flight, since the next flight refills them at once (growing them again cost ~120
 * bytes of garbage per segment).
 */
const KEEP_SLOTS = 64;

export class Rack {
  // The records (see the file comment), live in [head, tail); slots from `tail` on are stale
  // (kept for reuse, see KEEP_SLOTS).
  private st: number[] = [];
  private en: number[] = [];
  private ts: number[] = [];
  private fl: number[] = [];
  /** Transmission order (a counter over every transmission of the connection). */
  private od: number[] = [];
  private head = 0;
  private tail = 0;
  private nextOrder = 0;

  /** RACK.xmit_ts / RACK.end_seq: the most recently sent segment that was delivered (-1: none). */
  xmitTs = -1;
  endSeq = 0;
  /** Transmission order of that segment. */
  xmitOrder = -1;
  /** RACK.rtt: the RTT of that segment (ms). */
  rtt = 0;
  /** RACK.min_RTT (ms): the smallest unambiguous RTT seen (Infinity before any). */
  minRtt = Infinity;
  /** RACK.fack: the highest end of a delivered segment (meaningless until fackValid). */
  fack = 0;
  private fackValid = false;
  /** RACK.reordering_seen. */
  reorderingSeen = false;
  /** RACK.reo_wnd_mult, RACK.reo_wnd_persist and RACK.dsack_round (dsackRoundSet false: None). */
  reoWndMult = 1;
  reoWndPersist = 0;
  dsackRound = 0;
  private dsackRoundSet = false;

  /** Bytes of records marked lost and not retransmitted since (RFC 6675's pipe subtracts them). */
  lostBytes = 0;
  /** Records fully SACKed (RFC 8985's RACK.segs_sacked). */
  sackedSegs = 0;
  /** Live records that were retransmitted at least once. */
  private rtxSegs = 0;
  /** Records the last detectLoss() marked lost. */
  marked = 0;

  get count(): number {
    return this.tail - this.head;
  }

  /** Start, end, flags and transmit time of the record `i` places after the oldest (tests). */
  record(i: number): { start: number; end: number; flags: number; xmitTs: number; order: number } | null {
    const k = this.head + i;
    if (k >= this.tail) return null;
    return { start: this.st[k]! >>> 0, end: this.en[k]! >>> 0, flags: this.fl[k]!, xmitTs: this.ts[k]!, order: this.od[k]! };
  }

  /** Sequence range of the newest record, for a tail loss probe: [lastStart(), lastEnd()). */
  lastStart(): number {
    return this.st[this.tail - 1]! >>> 0;
  }

  lastEnd(): number {
    return this.en[this.tail - 1]! >>> 0;
  }

  /**
   * [seq, end) was sent at `now`; `sndMax` is SND.MAX before this transmission. Bytes below it
   * are a retransmission (the records they touch get the new time), bytes above it new records.
   * The sequence numbers may be uint32 or int32 (the sender passes int32: no boxed numbers).
   */
  onTransmit(seq: number, end: number, now: number, sndMax: number): void {
    if (seqLT(seq, sndMax) && this.count > 0) {
      const rEnd = seqLT(end, sndMax) ? end : sndMax;
      let i = this.find(seq);
      if (i < this.tail && seqLT(this.st[i]!, seq)) {
        this.split(i, seq);
        i++;
      }
      while (i < this.tail && seqLT(this.st[i]!, rEnd)) {
        if (seqGT(this.en[i]!, rEnd)) this.split(i, rEnd);
        const f = this.fl[i]!;
        if ((f & (SEG_LOST | SEG_SACKED)) === SEG_LOST) this.lostBytes -= seqDiff(this.en[i]!, this.st[i]!);
        if ((f & SEG_RETRANS) === 0) this.rtxSegs++;
        this.fl[i] = (f & ~SEG_LOST) | SEG_RETRANS;
        this.ts[i] = now;
        this.od[i] = this.nextOrder++;
        i++;
      }
      if (!seqGT(end, sndMax)) return;
      seq = sndMax;
    }
    const k = this.tail++;
    if (k < this.st.length) {
      this.st[k] = seq | 0;
      this.en[k] = end | 0;
      this.ts[k] = now;
      this.fl[k] = 0;
      this.od[k] = this.nextOrder++;
    } else {
      this.st.push(seq | 0);
      this.en.push(end | 0);
      this.ts.push(now);
      this.fl.push(0);
      this.od.push(this.nextOrder++);
    }
  }

  /**
   * The cumulative ACK reached `ack`: records below it leave; those not SACKed before are
   * delivered now (RFC 8985 §6.2 steps 2-3). `moreToSend`: data beyond `ack` waits to be sent
   * (record arrays emptied by this ACK are kept for the next flight; see KEEP_SLOTS).
   */
  onCumulativeAck(ack: number, now: number, moreToSend = false): void {
    const n = this.tail;
    let h = this.head;
    while (h < n && seqLEQ(this.en[h]!, ack)) {
      const f = this.fl[h]!;
      if (f & SEG_SACKED) this.sackedSegs--;
      else {
        if (f & SEG_LOST) this.lostBytes -= seqDiff(this.en[h]!, this.st[h]!);
        this.deliver(h, now);
      }
      if (f & SEG_RETRANS) this.rtxSegs--;
      h++;
    }
    if (h < n && seqLT(this.st[h]!, ack)) {
      // Part of a record: its start moves up (a lost remainder shrinks with it).
      if ((this.fl[h]! & (SEG_LOST | SEG_SACKED)) === SEG_LOST) this.lostBytes -= seqDiff(ack, this.st[h]!);
      this.st[h] = ack | 0;
    }
    this.head = h;
    if (h === n) {
      this.head = this.tail = 0;
      // Kept only while they are no more than twice the flight just acknowledged (`split` grows
      // them past `tail`, and a shrinking window leaves them oversized).
      if (this.st.length > KEEP_SLOTS && (!moreToSend || this.st.length > 2 * n)) {
        this.st.length = this.en.length = this.ts.length = this.fl.length = this.od.length = 0;
      }
    } else if (h >= 1024 && h * 2 >= n) {
      this.st.splice(0, h);
      this.en.splice(0, h);
      this.ts.splice(0, h);
      this.fl.splice(0, h);
      this.od.splice(0, h);
      this.head = 0;
      this.tail = n - h;
    }
  }

  /**
   * The scoreboard newly covers [l, r) and now holds the run [runL, runR) around it: records
   * overlapping [l, r) that the run covers whole are delivered.
   */
  onSacked(l: number, r: number, runL: number, runR: number, now: number): void {
    let i = this.find(l);
    while (i < this.tail && seqLT(this.st[i]!, r)) {
      const f = this.fl[i]!;
      if ((f & SEG_SACKED) === 0 && seqGEQ(this.st[i]!, runL) && seqLEQ(this.en[i]!, runR)) {
        this.markSacked(i);
        this.deliver(i, now);
      }
      i++;
    }
  }

  private markSacked(i: number): void {
    const f = this.fl[i]!;
    if (f & SEG_LOST) this.lostBytes -= seqDiff(this.en[i]!, this.st[i]!);
    this.fl[i] = (f & ~SEG_LOST) | SEG_SACKED;
    this.sackedSegs++;
  }

  /** RFC 8985 §6.2 step 2 (RACK.xmit_ts, end_seq, rtt, min_RTT) and step 3 (reordering). */
  private deliver(i: number, now: number): void {
    const t = this.ts[i]!;
    const e = this.en[i]!;
    const f = this.fl[i]!;
    const rtt = now - t;
    if (f & SEG_RETRANS) {
      // Step 2: a retransmitted segment delivered sooner than min_RTT after its last sending was
      // the original (or an earlier copy): ambiguous, skipped.
      if (rtt < this.minRtt) return;
    } else {
      if (rtt < this.minRtt) this.minRtt = rtt;
      // Step 3: a never-retransmitted segment below the highest delivered one was reordered.
      if (this.fackValid && seqLT(e, this.fack)) this.reorderingSeen = true;
    }
    if (!this.fackValid || seqGT(e, this.fack)) {
      this.fack = e >>> 0;
      this.fackValid = true;
    }
    // RACK_sent_after (see the file comment for the order counter).
    const o = this.od[i]!;
    if (o > this.xmitOrder) {
      this.xmitTs = t;
      this.endSeq = e >>> 0;
      this.xmitOrder = o;
      this.rtt = rtt;
    }
  }

  /**
   * RFC 8985 §6.2 step 4, once per ACK: a D-SACK grows the window multiplier once per round
   * trip (`dsack`), and `exitedRecovery` counts one DSACK-free recovery toward resetting it.
   */
  updateReoWnd(sndUna: number, sndNxt: number, dsack: boolean, exitedRecovery: boolean): void {
    if (this.dsackRoundSet && seqGEQ(sndUna, this.dsackRound)) this.dsackRoundSet = false;
    if (!this.dsackRoundSet && dsack) {
      this.dsackRoundSet = true;
      this.dsackRound = sndNxt;
      this.reoWndMult++;
      this.reoWndPersist = REO_WND_PERSIST;
    } else if (exitedRecovery) {
      this.reoWndPersist--;
      if (this.reoWndPersist <= 0) this.reoWndMult = 1;
    }
  }

  /**
   * RFC 8985 §6.2 step 4: RACK.reo_wnd. Zero while no reordering was seen and the sender is in
   * recovery or DupThresh segments are SACKed; otherwise reo_wnd_mult * min_RTT / 4, at most
   * SRTT.
   */
  reoWnd(inRecovery: boolean, srtt: number): number {
    if (!this.reorderingSeen && (inRecovery || this.sackedSegs >= DUP_THRESH)) return 0;
    const base = this.minRtt === Infinity ? srtt : this.minRtt;
    const w = (this.reoWndMult * base) / 4;
    return w < srtt ? w : srtt;
  }

  /**
   * RFC 8985 §6.2 step 5: marks lost every record sent before the most recently delivered one
   * whose time (its RTT plus the reordering window) is up. Returns the time (ms) until the
   * next record's is up, 0 if none waits: the RACK reordering timer.
   */
  detectLoss(now: number, reoWnd: number): number {
    this.marked = 0;
    if (this.xmitTs < 0) return 0;
    const ro = this.xmitOrder;
    const lim = this.rtt + reoWnd;
    let timeout = 0;
    const n = this.tail;
    for (let i = this.head; i < n; i++) {
      const f = this.fl[i]!;
      const t = this.ts[i]!;
      if (this.od[i]! > ro) {
        // Sent after the newest delivered record. Records never retransmitted went out in
        // sequence order, so with none retransmitted all later ones were sent later too.
        if (this.rtxSegs === 0) break;
        continue;
      }
      if (f & (SEG_SACKED | SEG_LOST)) continue;
      const remaining = t + lim - now;
      if (remaining <= 0) {
        this.fl[i] = f | SEG_LOST;
        this.lostBytes += seqDiff(this.en[i]!, this.st[i]!);
        this.marked++;
      } else if (remaining > timeout) timeout = remaining;
    }
    return timeout;
  }

  /** Some live record was retransmitted (so transmit times are no longer in sequence order). */
  hasRetransmitted(): boolean {
    return this.rtxSegs > 0;
  }

  /** Index of the first lost record at or after index `from` (absolute), or -1. */
  nextLostIndex(from: number): number {
    const n = this.tail;
    for (let i = from > this.head ? from : this.head; i < n; i++) {
      if ((this.fl[i]! & (SEG_LOST | SEG_SACKED)) === SEG_LOST) return i;
    }
    return -1;
  }

  startAt(i: number): number {
    return this.st[i]! >>> 0;
  }

  endAt(i: number): number {
    return this.en[i]! >>> 0;
  }

  /** The scoreboard covers record `i` whole (a SACK that split a segment finished it). */
  sackedAt(i: number, now: number): void {
    if (this.fl[i]! & SEG_SACKED) return;
    this.markSacked(i);
    this.deliver(i, now);
  }

  /** Index of the first live record whose end is after `seq` (binary search). */
  private find(seq: number): number {
    let lo = this.head;
    let hi = this.tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLEQ(this.en[mid]!, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Splits record `i` at `at` (inside it): both halves keep the time and flags. */
  private split(i: number, at: number): void {
    const f = this.fl[i]!;
    this.st.splice(i + 1, 0, at | 0);
    this.en.splice(i + 1, 0, this.en[i]!);
    this.ts.splice(i + 1, 0, this.ts[i]!);
    this.fl.splice(i + 1, 0, f);
    this.od.splice(i + 1, 0, this.od[i]!);
    this.en[i] = at | 0;
    this.tail++;
    if (f & SEG_SACKED) this.sackedSegs++;
    if (f & SEG_RETRANS) this.rtxSegs++;
  }
}
