/**
 * The receive half of a connection: RCV.NXT, the in-order and out-of-order queues, the window we
 * advertise, and when to acknowledge.
 *
 * Window (RFC 9293 §3.8.6.2.2): the right edge we advertised (`rcvAdvEdge` = RCV.NXT + RCV.WND
 * at the time) never moves left, and it only moves right in steps of at least
 * min(buffer / 2, MSS): receiver-side silly window syndrome avoidance. Windows are kept in bytes;
 * the field on the wire is the window shifted right by `wndScale` (RFC 7323 §2, negotiated on
 * SYN / SYN-ACK; 0 when either side did not offer it).
 *
 * ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2, Linux's behaviour): an out-of-order segment, a
 * segment filling a hole and a duplicate get an ACK at once; in-order data is acknowledged at
 * least every second full-sized segment (more than one receive MSS unacknowledged), otherwise
 * after the delayed-ACK timer (40 ms). A connection starts in quick-ACK mode, acknowledging every
 * segment, for up to 16 ACKs (Linux's TCP_MAX_QUICKACKS).
 */
import { OutOfOrderQueue, ReceiveQueue } from "./rcvqueue.js";
import { seqAdd, seqDiff, seqGT, seqLEQ, seqLT } from "./seqnum.js";
import type { TcpEndpoint } from "./endpoint.js";
import type { OutOptions } from "./segment.js";

/** Linux's TCP_MAX_QUICKACKS. */
const MAX_QUICKACKS = 16;
/** RFC 9293 §3.7.1: the MSS to assume when the peer sent none: 536 over IPv4... */
export const DEFAULT_MSS = 536;
/** ...and 1220 over IPv6. */
export const DEFAULT_MSS_V6 = 1220;

export class Receiver {
  /** Initial receive sequence number. */
  irs = 0;
  /** RCV.NXT. */
  rcvNxt = 0;
  /** RCV.NXT + RCV.WND as last advertised: the right edge of the window. */
  rcvAdvEdge = 0;
  /** RCV.NXT when we last sent an ACK (the left edge of the last advertised window). */
  rcvWup = 0;
  /** Shift applied to the window field we send (RFC 7323 §2.3; 0 unless negotiated). */
  wndScale = 0;
  /** The MSS we advertised in our SYN. */
  advMss = DEFAULT_MSS;
  /** Estimated size of the full-sized segments the peer sends us (Linux's rcv_mss). */
  rcvMss = DEFAULT_MSS;
  readonly queue = new ReceiveQueue();
  readonly ooo = new OutOfOrderQueue();
  /** The peer's FIN was received in sequence (RCV.NXT counts it). */
  finReceived = false;
  /** A FIN arrived beyond a hole; it takes effect when RCV.NXT reaches `oooFinSeq`. */
  oooFin = false;
  oooFinSeq = 0;
  /** Send an ACK at the next flush. */
  ackNow = false;
  /** ACKs left in quick-ACK mode. */
  quickAcks = 0;
  /** RFC 2018: SACK-permitted was exchanged; ACKs carry SACK blocks for out-of-order data. */
  sackOk = false;
  /**
   * One sequence number inside each of the most recently received out-of-order segments, newest
   * first (RFC 2018 §4: the first block reports the newest segment, then the blocks reported
   * most recently).
   */
  private readonly recent: number[] = [];
  /** RFC 2883 D-SACK: a duplicate [dsackStart, dsackEnd) to report once in the next ACK. */
  private dsack = false;
  private dsackStart = 0;
  private dsackEnd = 0;
  private readonly runs: number[] = [];

  constructor(private readonly ep: TcpEndpoint) {}

  /** After the peer's SYN: RCV.NXT = SEG.SEQ + 1 and the initial window. */
  init(irs: number): void {
    this.irs = irs;
    this.rcvNxt = seqAdd(irs, 1);
    this.rcvWup = this.rcvNxt;
    this.rcvAdvEdge = seqAdd(this.rcvNxt, this.initialWindow());
    this.rcvMss = Math.min(DEFAULT_MSS, this.advMss);
  }

  /** Enters quick-ACK mode like Linux: about one ACK per two segments of the window, at most 16. */
  enterQuickAck(): void {
    const n = Math.floor(this.window() / (2 * this.rcvMss));
    this.quickAcks = Math.min(MAX_QUICKACKS, n < 2 ? 2 : n);
  }

  /** Bytes held: in order plus out of order. */
  get used(): number {
    return this.queue.size + this.ooo.bytes;
  }

  /** The window currently offered: right edge minus RCV.NXT (never negative). */
  window(): number {
    const w = seqDiff(this.rcvAdvEdge, this.rcvNxt);
    return w > 0 ? w : 0;
  }

  private maxWindow(): number {
    return 0xffff << this.wndScale;
  }

  /** What the buffer could offer right now (free space, capped by what the field can carry). */
  private potentialWindow(): number {
    const free = this.ep.rcvBufSize - this.used;
    const max = this.maxWindow();
    return free <= 0 ? 0 : free < max ? free : max;
  }

  /** The window in a SYN or SYN-ACK (never scaled: RFC 7323 §2.2). */
  initialWindow(): number {
    const free = this.ep.rcvBufSize - this.used;
    return free <= 0 ? 0 : free < 0xffff ? free : 0xffff;
  }

  /** Threshold for moving the right edge (RFC 9293 §3.8.6.2.2: min(Fr * RCV.BUFF, Eff.snd.MSS), Fr = 1/2). */
  private swsThreshold(): number {
    const half = this.ep.rcvBufSize >>> 1;
    return half < this.advMss ? half : this.advMss;
  }

  /**
   * The window field for an outgoing ACK. Moves the right edge forward when the buffer has
   * freed at least the SWS threshold beyond it (or the whole window can be offered), never back.
   */
  advertise(): number {
    const cand = seqAdd(this.rcvNxt, this.potentialWindow());
    if (seqGT(cand, this.rcvAdvEdge)) {
      const grow = seqDiff(cand, this.rcvAdvEdge);
      if (grow >= this.swsThreshold() || this.potentialWindow() === this.maxWindow()) this.rcvAdvEdge = cand;
    }
    const s = this.wndScale;
    if (s === 0) return this.window();
    // RFC 7323 §2.4: the field is the window shifted right. Round up, not down, and move the edge
    // to match, so the edge the peer computes never moves left as RCV.NXT advances (the
    // overshoot is under 2^shift bytes).
    let field = (this.window() + (1 << s) - 1) >>> s;
    if (field > 0xffff) field = 0xffff;
    const edge = seqAdd(this.rcvNxt, field * (1 << s));
    if (seqGT(edge, this.rcvAdvEdge)) this.rcvAdvEdge = edge;
    return field;
  }

  /** An ACK went out: RCV.WUP catches up, quick-ACK credit is used, nothing is owed any more. */
  onAckSent(): void {
    // Only ACKs of new data use up quick-ACK credit (not the handshake's, nor window updates).
    if (this.quickAcks > 0 && this.rcvNxt !== this.rcvWup) {
      const segs = Math.floor(seqDiff(this.rcvNxt, this.rcvWup) / this.rcvMss);
      this.quickAcks -= segs > 1 ? Math.min(segs, this.quickAcks) : 1;
    }
    this.rcvWup = this.rcvNxt;
    this.ackNow = false;
  }

  /** True when data or a FIN was received that no ACK covers yet. */
  get ackPending(): boolean {
    return this.ackNow || this.rcvWup !== this.rcvNxt;
  }

  /**
   * Queues acceptable data (already trimmed to start at or after RCV.NXT and to end within the
   * window): in order it is appended and the out-of-order queue drained, otherwise it waits in
   * the out-of-order queue. `fin` is set when the segment's FIN survived trimming.
   */
  receive(seq: number, buf: Uint8Array, off: number, len: number, fin: boolean): void {
    const ep = this.ep;
    if (len > 0) {
      if (len > this.rcvMss) this.rcvMss = len < this.advMss ? len : this.advMss;
      if (seq === this.rcvNxt) {
        this.queue.push(buf.subarray(off, off + len));
        this.rcvNxt = seqAdd(this.rcvNxt, len);
        ep.bytesReceived += len;
        if (this.ooo.length > 0) {
          // RFC 5681 §4.2: a segment that fills (part of) a hole is acknowledged at once.
          for (let v = this.ooo.takeAt(this.rcvNxt); v !== null; v = this.ooo.takeAt(this.rcvNxt)) {
            this.queue.push(v);
            this.rcvNxt = seqAdd(this.rcvNxt, v.length);
            ep.bytesReceived += v.length;
          }
          this.ackNow = true;
        } else if (this.quickAcks > 0 || ep.quickAckForced || seqDiff(this.rcvNxt, this.rcvWup) > this.rcvMss) {
          // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at least every second full-sized segment.
          this.ackNow = true;
        } else {
          ep.armDelayedAck();
        }
        ep.onDataQueued();
      } else {
        // Beyond a hole. Keep what fits in the buffer; RFC 5681 §4.2: ACK at once (a duplicate
        // ACK that tells the sender about the hole). Linux also re-enters quick-ACK mode.
        const room = ep.rcvBufSize - this.used;
        const keep = len < room ? len : room;
        if (keep > 0) {
          const added = this.ooo.insert(seq, buf.subarray(off, off + keep), this.rcvNxt);
          // RFC 2883: out-of-order bytes we already held are reported as a D-SACK.
          if (added < keep && this.sackOk) this.noteDuplicate(seq, seqAdd(seq, keep));
          if (this.sackOk) this.noteRecent(seq);
        }
        if (keep < len) fin = false;
        this.ackNow = true;
        this.enterQuickAck();
      }
    }
    if (fin) {
      const finSeq = seqAdd(seq, len);
      if (finSeq === this.rcvNxt) this.acceptFin();
      else {
        this.oooFin = true;
        this.oooFinSeq = finSeq;
      }
    } else if (this.oooFin && this.oooFinSeq === this.rcvNxt) {
      this.acceptFin();
    }
  }

  private acceptFin(): void {
    this.oooFin = false;
    this.finReceived = true;
    this.ooo.clear();
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    // RFC 9293 §3.10.7.4 (eighth): the FIN is acknowledged.
    this.ackNow = true;
    this.ep.onFinReceived();
  }

  /**
   * After the application read: if the window it could now offer has grown to at least twice
   * what the peer last saw, and by at least the SWS threshold, tell the peer now (a window
   * update; Linux's rule in tcp_cleanup_rbuf). Returns true when an update is due.
   */
  windowUpdateDue(): boolean {
    const cur = this.window();
    const pot = this.potentialWindow();
    return pot - cur >= this.swsThreshold() && pot >= 2 * cur;
  }

  /** RFC 2883: duplicate data [start, end) arrived; the next ACK's first SACK block reports it. */
  noteDuplicate(start: number, end: number): void {
    if (!this.sackOk) return;
    this.dsack = true;
    this.dsackStart = start;
    this.dsackEnd = end;
  }

  private noteRecent(seq: number): void {
    const r = this.recent;
    const i = r.indexOf(seq);
    if (i >= 0) r.splice(i, 1);
    r.unshift(seq);
    if (r.length > 4) r.length = 4;
  }

  /**
   * Fills the SACK blocks of an outgoing ACK (at most `max`): a pending D-SACK first (RFC 2883
   * §4), then the run holding the newest out-of-order segment and the runs reported most
   * recently (RFC 2018 §4), then any other runs in sequence order.
   */
  fillSack(o: OutOptions, max: number): void {
    o.sackCount = 0;
    if (!this.sackOk || max <= 0) return;
    const blocks = o.sack;
    let n = 0;
    if (this.dsack) {
      this.dsack = false;
      blocks[0] = this.dsackStart;
      blocks[1] = this.dsackEnd;
      n = 1;
    }
    if (this.ooo.length > 0) {
      const runs = this.runs;
      runs.length = 0;
      this.ooo.blocks(runs);
      const r = this.recent;
      const first = n;
      // The runs holding the most recent segments first, newest first...
      for (let k = 0; k < r.length && n < max; k++) {
        const x = r[k]!;
        for (let j = 0; j < runs.length; j += 2) {
          const a = runs[j]!;
          if (seqLEQ(a, x) && seqLT(x, runs[j + 1]!)) {
            if (!this.listed(blocks, first, n, a)) {
              blocks[2 * n] = a;
              blocks[2 * n + 1] = runs[j + 1]!;
              n++;
            }
            break;
          }
        }
      }
      // ...then the others in sequence order.
      for (let j = 0; j < runs.length && n < max; j += 2) {
        const a = runs[j]!;
        if (this.listed(blocks, first, n, a)) continue;
        blocks[2 * n] = a;
        blocks[2 * n + 1] = runs[j + 1]!;
        n++;
      }
      // Forget recent entries now delivered in order.
      for (let k = r.length - 1; k >= 0; k--) if (seqLT(r[k]!, this.rcvNxt)) r.splice(k, 1);
    } else this.recent.length = 0;
    o.sackCount = n;
  }

  /** True when one of blocks[from, to) starts at `a`. */
  private listed(blocks: Uint32Array, from: number, to: number, a: number): boolean {
    for (let i = from; i < to; i++) if (blocks[2 * i] === a) return true;
    return false;
  }

  /** Drops everything queued (abort/close). */
  clear(): void {
    this.ooo.clear();
    this.recent.length = 0;
    if (this.queue.size > 0) this.queue.discard(this.queue.size);
  }
}
