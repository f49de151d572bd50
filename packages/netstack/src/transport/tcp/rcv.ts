/**
 * The receive half of a connection: RCV.NXT, the in-order and out-of-order queues, the window we
 * advertise, and when to acknowledge.
 *
 * Window (RFC 9293 §3.8.6.2.2): the right edge we advertised (`rcvAdvEdge` = RCV.NXT + RCV.WND
 * at the time) never moves left, and it only moves right in steps of at least
 * min(buffer / 2, MSS): receiver-side silly window syndrome avoidance. It never moves past what
 * the buffer can hold either (RCV.NXT + buffer - in-order bytes queued, plus `slack` for the
 * scaled field's rounding), so data accepted inside the window always fits. Windows are kept in
 * bytes; the field on the wire is the window shifted right by `wndScale` (RFC 7323 §2,
 * negotiated on SYN / SYN-ACK; 0 when either side did not offer it).
 *
 * ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2, Linux's behaviour): an out-of-order segment, a
 * segment filling a hole and a duplicate get an ACK at once; in-order data is acknowledged at
 * least every second full-sized segment (more than one receive MSS unacknowledged), otherwise
 * after the delayed-ACK timer (40 ms). A connection starts in quick-ACK mode, acknowledging every
 * segment, for up to 16 ACKs (Linux's TCP_MAX_QUICKACKS).
 *
 * Memory: the in-order and out-of-order queues together never hold more than the buffer
 * (`ep.rcvBufSize`, plus `slack` with window scaling) in payload bytes; the out-of-order queue
 * also holds at most one piece per OOO_PIECE_COST bytes of buffer. Data that does not fit is
 * dropped and counted, never data already queued in order; when lower out-of-order data arrives
 * with the piece cap reached, the highest pieces make room (Linux's tcp_prune_ofo_queue).
 *
 * Buffer auto-tuning (Linux's tcp_rcv_space_adjust with tcp_moderate_rcvbuf = 1): unless the
 * application set SO_RCVBUF, once per receiver-measured round trip the bytes the application read
 * in it are compared with the previous round trip's; when it read more, the buffer grows to
 * about twice that plus room for the sender's growth (slow start doubles per round trip),
 * up to tcp_rmem[2] (`maxAutoReceiveBuffer`). The window follows the buffer through
 * `advertise()`, so the right edge only ever moves right (RFC 7323 §2.4).
 */
import { OOO_REFUSED, OutOfOrderQueue, ReceiveQueue } from "./rcvqueue.js";
import { seqAdd, seqDiff, seqGT, seqLT } from "./seqnum.js";
import type { TcpEndpoint } from "./endpoint.js";
import type { OutOptions } from "./segment.js";
import { defineFlags } from "./flags.js";

/** Linux's TCP_MAX_QUICKACKS. */
const MAX_QUICKACKS = 16;
/**
 * `recent` of every receiver that has not had an out-of-order segment: shared, so never written
 * (noteRecent gives the receiver its own list first; the other writers only shrink a non-empty one).
 */
export const NO_RECENT: readonly number[] = [];
/** RFC 9293 §3.7.1: the MSS to assume when the peer sent none: 536 over IPv4... */
export const DEFAULT_MSS = 536;
/** ...and 1220 over IPv6. */
export const DEFAULT_MSS_V6 = 1220;
/**
 * Buffer bytes each out-of-order piece stands for at least: roughly what one costs in memory
 * here (the entry, its view, the packet it keeps alive), so that a flood of tiny segments full of
 * holes is bounded by the buffer size like full-sized ones (Linux charges skb truesize).
 */
export const OOO_PIECE_COST = 256;
/** The piece cap never goes below this (tiny SO_RCVBUF values). */
export const MIN_OOO_PIECES = 64;
/** Linux's TCP_INIT_CWND: the first auto-tuning measurement starts from this many segments. */
const INIT_SPACE_SEGMENTS = 10;

export class Receiver {
  /** The boolean fields below (`declare`d), one bit each: see flags.ts. */
  protected flagBits = 0;
  /** Initial receive sequence number. */
  private irs32 = 0;
  get irs(): number {
    return this.irs32 >>> 0;
  }
  set irs(v: number) {
    this.irs32 = v | 0;
  }
  /** RCV.NXT. */
  private rcvNxt32 = 0;
  get rcvNxt(): number {
    return this.rcvNxt32 >>> 0;
  }
  set rcvNxt(v: number) {
    this.rcvNxt32 = v | 0;
  }
  /** RCV.NXT + RCV.WND as last advertised: the right edge of the window. */
  private rcvAdvEdge32 = 0;
  get rcvAdvEdge(): number {
    return this.rcvAdvEdge32 >>> 0;
  }
  set rcvAdvEdge(v: number) {
    this.rcvAdvEdge32 = v | 0;
  }
  /** The right edge as the peer computes it from our last window field (at most `rcvAdvEdge`). */
  private peerEdge32 = 0;
  get peerEdge(): number {
    return this.peerEdge32 >>> 0;
  }
  set peerEdge(v: number) {
    this.peerEdge32 = v | 0;
  }
  /** RCV.NXT when we last sent an ACK (the left edge of the last advertised window). */
  private rcvWup32 = 0;
  get rcvWup(): number {
    return this.rcvWup32 >>> 0;
  }
  set rcvWup(v: number) {
    this.rcvWup32 = v | 0;
  }
  /** Shift applied to the window field we send (RFC 7323 §2.3; 0 unless negotiated). */
  wndScale = 0;
  /** The MSS we advertised in our SYN. */
  advMss = DEFAULT_MSS;
  /** Estimated size of the full-sized segments the peer sends us (Linux's rcv_mss). */
  rcvMss = DEFAULT_MSS;
  readonly queue = new ReceiveQueue();
  readonly ooo = new OutOfOrderQueue();
  /** The peer's FIN was received in sequence (RCV.NXT counts it). */
  declare finReceived: boolean;
  /** A FIN arrived beyond a hole; it takes effect when RCV.NXT reaches `oooFinSeq`. */
  declare oooFin: boolean;
  oooFinSeq = 0;
  /** Send an ACK at the next flush. */
  declare ackNow: boolean;
  /** ACKs left in quick-ACK mode. */
  quickAcks = 0;
  /** RFC 2018: SACK-permitted was exchanged; ACKs carry SACK blocks for out-of-order data. */
  declare sackOk: boolean;
  /**
   * One sequence number inside each of the most recently received out-of-order segments, newest
   * first (RFC 2018 §4: the first block reports the newest segment, then the blocks reported
   * most recently). The shared NO_RECENT (never written) until the first out-of-order segment
   * (heap per endpoint, #8).
   */
  private recent: number[] = NO_RECENT as number[];
  /** RFC 2883 D-SACK: a duplicate [dsackStart, dsackEnd) to report once in the next ACK. */
  private declare dsack: boolean;
  private dsackStart = 0;
  private dsackEnd = 0;

  // Drops, per connection (also summed in the protocol's counters).
  /** Out-of-order segments refused (or cut) for lack of buffer or of piece slots (Linux's OFODrop). */
  ofoDrop = 0;
  /** In-order segments refused (or cut) because the buffer was full (Linux's TCPRcvQDrop). */
  rcvQDrop = 0;

  // Buffer auto-tuning (see the file comment).
  /** Bytes the application has read so far (Linux's copied_seq, as a count). */
  private copied = 0;
  /** The current measurement started when `copied` was `spaceMark`, at `spaceTime`. */
  private spaceMark = 0;
  private spaceTime = 0;
  /** Bytes the application read in the best round trip measured so far (Linux's rcvq_space.space). */
  private space = 0;
  /** Receiver-side round-trip time estimate in ms, 0 until measured (Linux's rcv_rtt_est). */
  rcvRtt = 0;
  /** Without timestamps: the window measurement running since `rttTime` ends when RCV.NXT passes `rttSeq`. */
  private rttSeq = 0;
  private rttTime = -1;
  /** The TSecr of the last timestamp sample (one sample per echoed value). */
  private lastTsEcr = 0;
  /** Payload bytes last reported to the stack-wide accounting (see `account`). */
  private charged = 0;

  constructor(private readonly ep: TcpEndpoint) {}

  /** After the peer's SYN: RCV.NXT = SEG.SEQ + 1 and the initial window. */
  init(irs: number): void {
    this.irs = irs;
    this.rcvNxt = seqAdd(irs, 1);
    this.rcvWup = this.rcvNxt;
    this.rcvAdvEdge = seqAdd(this.rcvNxt, this.initialWindow());
    this.peerEdge = this.rcvAdvEdge;
    this.rcvMss = Math.min(DEFAULT_MSS, this.advMss);
    // Linux's tcp_init_buffer_space: the first measurement compares with min(window, 10 MSS).
    const w = this.window();
    const init = INIT_SPACE_SEGMENTS * this.advMss;
    this.space = w < init ? w : init;
    this.spaceMark = this.copied;
    this.spaceTime = this.ep.now();
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
    let max = this.maxWindow();
    // Stack-wide memory pressure (tcp_mem[1], protocol.ts): the window stops growing; it may
    // still reopen to a few segments (Linux clamps rcv_ssthresh to 4 * advmss).
    if (this.ep.proto.memPressure() !== 0) {
      const cap = Math.max(this.window(), 4 * this.advMss);
      if (cap < max) max = cap;
    }
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
    if (s === 0) {
      this.peerEdge = this.rcvAdvEdge;
      return this.window();
    }
    // RFC 7323 §2.4: the field is the window shifted right. Round up, not down (as Linux
    // does), and move the edge to match, so the edge the peer computes never moves left as
    // RCV.NXT advances (the overshoot is under 2^shift bytes)...
    let field = (this.window() + (1 << s) - 1) >>> s;
    if (field > 0xffff) field = 0xffff;
    const edge = seqAdd(this.rcvNxt, field * (1 << s));
    if (seqGT(edge, this.rcvAdvEdge)) {
      // ...unless that would promise more than the buffer plus `slack`. Round-ups add up ACK
      // after ACK while the application does not read (a peer sending tiny segments would grow
      // the queue without bound), so past that the field is rounded down instead: the peer's
      // edge moves left by less than 2^shift, the retraction RFC 7323 Appendix F says scaling
      // can cause. We still accept data up to `rcvAdvEdge`.
      if (seqDiff(edge, this.rcvNxt) <= this.ep.rcvBufSize + this.slack() - this.queue.size) this.rcvAdvEdge = edge;
      else field = this.window() >>> s;
    }
    this.peerEdge = seqAdd(this.rcvNxt, field * (1 << s));
    return field;
  }

  /**
   * How far the queues may go past the buffer: with window scaling, the rounding of the scaled
   * field (under 2^shift bytes per ACK, see `advertise`) is allowed to add up to one segment plus
   * one rounding, like Linux, which admits a segment while the memory charged is still under the
   * buffer; 0 without scaling (no rounding). Everything inside the window offered fits in
   * buffer + slack.
   */
  slack(): number {
    const s = this.wndScale;
    return s === 0 ? 0 : (1 << s) - 1 + this.advMss;
  }

  /** The window the peer was last told about, as it stands now (right edge it saw minus RCV.NXT). */
  peerWindow(): number {
    const w = seqDiff(this.peerEdge, this.rcvNxt);
    return w > 0 ? w : 0;
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
   * the out-of-order queue. `fin` is set when the segment's FIN survived trimming. `seq` may be a
   * uint32 or the same number `| 0` (the endpoint passes an int32: never a boxed number).
   */
  receive(seq: number, buf: Uint8Array, off: number, len: number, fin: boolean): void {
    const ep = this.ep;
    if (len > 0) {
      if (len > this.rcvMss) this.rcvMss = len < this.advMss ? len : this.advMss;
      const inOrder = (seq | 0) === this.rcvNxt32;
      if (inOrder && len > ep.rcvBufSize + this.slack() - this.used) {
        // In order but beyond what the buffer holds (only when SO_RCVBUF was lowered below a
        // window already offered: `advertise` never offers more than buffer + slack): keep what
        // fits, drop the rest like Linux when it cannot charge the memory (TCPRcvQDrop). The
        // ACK tells the sender.
        const room = ep.rcvBufSize + this.slack() - this.used;
        this.rcvQDrop++;
        ep.proto.counters.rcvQueueDrops++;
        len = room > 0 ? room : 0;
        fin = false;
        this.ackNow = true;
      }
      if (len === 0) {
        // Nothing fits.
      } else if (inOrder) {
        // A view made by the constructor: subarray() looks up the species constructor and costs
        // about twice as much, once per segment.
        this.queue.push(new Uint8Array(buf.buffer, buf.byteOffset + off, len));
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
        const room = ep.rcvBufSize + this.slack() - this.used;
        let keep = len < room ? len : room;
        seq >>>= 0; // the out-of-order queue and the SACK lists keep uint32
        if (keep > 0) {
          const ooo = this.ooo;
          const pruned = ooo.pruned;
          const added = ooo.insert(seq, buf.subarray(off, off + keep), this.rcvNxt, this.maxOooPieces());
          if (added === OOO_REFUSED) keep = 0;
          else {
            // RFC 2883: out-of-order bytes we already held are reported as a D-SACK.
            if (added < keep && this.sackOk) this.noteDuplicate(seq, seqAdd(seq, keep));
            if (this.sackOk) this.noteRecent(seq);
          }
          if (ooo.pruned !== pruned) ep.proto.counters.ofoPruned += ooo.pruned - pruned;
        }
        if (keep < len) {
          fin = false;
          this.ofoDrop++;
          ep.proto.counters.ofoDrops++;
        }
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
    this.account();
  }

  /** The out-of-order piece cap: one piece per OOO_PIECE_COST bytes of buffer. */
  maxOooPieces(): number {
    const n = Math.floor(this.ep.rcvBufSize / OOO_PIECE_COST);
    return n > MIN_OOO_PIECES ? n : MIN_OOO_PIECES;
  }

  /**
   * The single place where the receive side's memory use (in-order plus out-of-order payload
   * bytes, `used`) is reported: called after every change (segment processed, application
   * read, queues cleared). `charged` follows `used`.
   */
  private account(): void {
    const d = this.used - this.charged;
    if (d === 0) return;
    this.charged += d;
    // Stack-wide TCP memory (tcp_mem, protocol.ts).
    this.ep.proto.memCharge(d);
  }

  /**
   * A data segment (`len` bytes) is about to be processed; `tsEcr` is its timestamp echo (0
   * without one). Feeds the receiver-side RTT estimate auto-tuning paces itself with.
   */
  sampleRtt(tsEcr: number, len: number): void {
    if (tsEcr !== 0) {
      // RFC 7323 §4: the echo is our own TSval; now minus it is a round trip as the receiver
      // sees it. Like Linux's tcp_rcv_rtt_measure_ts: full-sized segments, one sample per echo.
      if (tsEcr === this.lastTsEcr || len < this.rcvMss) return;
      this.lastTsEcr = tsEcr;
      const d = (this.ep.tsNow() - tsEcr) | 0;
      if (d < 0 || d > 120_000) return;
      const m = d > 0 ? d : 1;
      // Smoothed with gain 1/8 (as RFC 6298's SRTT).
      this.rcvRtt = this.rcvRtt === 0 ? m : this.rcvRtt + (m - this.rcvRtt) / 8;
      return;
    }
    // Without timestamps (Linux's tcp_rcv_rtt_measure): the time one window of data takes to
    // arrive is an upper bound of the round trip; the smallest one seen is kept.
    const now = this.ep.now();
    if (this.rttTime >= 0) {
      if (seqLT(this.rcvNxt, this.rttSeq)) return;
      const m = now - this.rttTime > 0 ? now - this.rttTime : 1;
      if (this.rcvRtt === 0 || m < this.rcvRtt) this.rcvRtt = m;
    }
    this.rttSeq = seqAdd(this.rcvNxt, this.window());
    this.rttTime = now;
  }

  /**
   * The application read `n` bytes. Auto-tunes the buffer (file comment) unless `locked` (the
   * application set SO_RCVBUF: Linux's SOCK_RCVBUF_LOCK).
   */
  onRead(n: number, locked: boolean): void {
    this.copied += n;
    this.adjustSpace(locked);
    this.account();
  }

  private adjustSpace(locked: boolean): void {
    const ep = this.ep;
    // The round trip: the receiver's own estimate, else the sender side's (the handshake's).
    const rtt = this.rcvRtt > 0 ? this.rcvRtt : ep.snd.rtt.srtt;
    if (rtt <= 0) return;
    const now = ep.now();
    if (now - this.spaceTime < rtt) return;
    const copied = this.copied - this.spaceMark;
    if (copied > this.space) {
      const o = ep.proto.options;
      // No growth under stack-wide memory pressure (Linux's tcp_rcv_space_adjust / tcp_under_memory_pressure).
      if (!locked && o.moderateReceiveBuffer && ep.proto.memPressure() === 0) {
        // Twice what the application took in the last round trip (room to recover from a
        // loss) plus 16 segments, plus twice the growth since the previous round trip again (the
        // window advertised now is used a round trip later, by a sender that may be doubling).
        let win = 2 * copied + 16 * this.advMss;
        if (this.space > 0) win += 2 * Math.floor((win * (copied - this.space)) / this.space);
        const want = win < o.maxAutoReceiveBuffer ? win : o.maxAutoReceiveBuffer;
        if (want > ep.rcvBufSize) ep.rcvBufSize = want;
      }
      this.space = copied;
    }
    this.spaceMark = this.copied;
    this.spaceTime = now;
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
    const cur = this.peerWindow();
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
    // The only place the list grows: a receiver's own from its first out-of-order segment on.
    const r = this.recent === NO_RECENT ? (this.recent = []) : this.recent;
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
    const q = this.ooo;
    if (q.length > 0) {
      const r = this.recent;
      const first = n;
      // The runs holding the most recent segments first, newest first...
      for (let k = 0; k < r.length && n < max; k++) {
        const j = q.runIndexOf(r[k]!);
        if (j < 0) continue;
        const a = q.runStart(j);
        if (!this.listed(blocks, first, n, a)) {
          blocks[2 * n] = a;
          blocks[2 * n + 1] = q.runEnd(j);
          n++;
        }
      }
      // ...then the others in sequence order.
      const runs = q.runCount;
      for (let j = 0; j < runs && n < max; j++) {
        const a = q.runStart(j);
        if (this.listed(blocks, first, n, a)) continue;
        blocks[2 * n] = a;
        blocks[2 * n + 1] = q.runEnd(j);
        n++;
      }
      // Forget recent entries now delivered in order.
      for (let k = r.length - 1; k >= 0; k--) if (seqLT(r[k]!, this.rcvNxt)) r.splice(k, 1);
    } else if (this.recent.length > 0) this.recent.length = 0; // a length store is a runtime call
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
    if (this.recent.length > 0) this.recent.length = 0;
    if (this.queue.size > 0) this.queue.discard(this.queue.size);
    this.account();
  }
}

defineFlags(Receiver.prototype, [
  "finReceived",
  "oooFin",
  "ackNow",
  "sackOk",
  "dsack",
]);
