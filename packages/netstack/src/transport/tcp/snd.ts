/**
 * The send half of a connection: the send buffer, SND.UNA / SND.NXT / SND.WND, segmentation by
 * MSS with Nagle / TCP_CORK / MSG_MORE and sender-side SWS avoidance, the retransmission timer
 * (RFC 6298), fast retransmit and NewReno recovery (RFC 5681, RFC 6582), and the persist timer
 * with zero-window probes.
 *
 * Sequence space: the SYN is ISS; data byte k (counted from 0) is ISS + 1 + k; the FIN follows
 * the last data byte. `bufHeadSeq` is the sequence number of the send buffer's first byte.
 *
 * One timer serves both retransmission and persist (RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17):
 * while data is outstanding it is the RTO; when nothing is outstanding but data waits (zero
 * window, or held back by TCP_CORK / MSG_MORE) it is the persist timer, like Linux's probe timer.
 * With RACK-TLP (RFC 8985, on with SACK unless TcpProtocolOptions.rack is false) the same timer
 * also serves as the RACK reordering timer and the tail loss probe timeout, as in Linux: while
 * one of those is armed the RTO is not, and it is armed again when they fire.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from "../../header/tcp.js";
import { SendBuffer } from "./sendbuf.js";
import { RttEstimator, FALLBACK_RTO, type RttLimits } from "./rtt.js";
import { NewReno, type CongestionControl } from "./congestion.js";
import { seqAdd, seqDiff, seqGEQ, seqGT, seqLEQ, seqLT } from "./seqnum.js";
import { Rack } from "./rack.js";
import { DEFAULT_MSS } from "./rcv.js";
import { gsoSegmentLimit } from "./gso.js";
import type { TcpEndpoint } from "./endpoint.js";
import { defineFlags } from "./flags.js";

/** The RTT limits last built; reused while the options give the same values (one shared object). */
let lastRttLimits: RttLimits | null = null;

function rttLimitsFor(o: { readonly initialRto: number; readonly minRto: number; readonly maxRto: number }): RttLimits {
  const l = lastRttLimits;
  if (l !== null && l.initialRto === o.initialRto && l.minRto === o.minRto && l.maxRto === o.maxRto) return l;
  return (lastRttLimits = Object.freeze({ initialRto: o.initialRto, minRto: o.minRto, maxRto: o.maxRto, granularity: 1 }));
}

/**
 * Scratch list of the newly SACKed gaps of one block (addSacked), shared by all senders: it is
 * filled and used within one call, which calls nothing that could re-enter addSacked.
 */
const sackGaps: number[] = [];

/**
 * The scoreboard of every sender that has not received a SACK block: shared, so it is never
 * written (addSacked gives the sender its own list first; pruneSacked leaves an empty one alone).
 */
export const NO_SACKED: readonly number[] = [];

export const TimerIdle = 0;
export const TimerRetransmit = 1;
export const TimerPersist = 2;
/** RFC 8985 §6.2 step 5: the RACK reordering timer. */
export const TimerRack = 3;
/** RFC 8985 §7.2: the tail loss probe timeout (PTO). */
export const TimerProbe = 4;

/** RFC 8985 §7.2: WCDelAckT, the worst-case delayed-ACK time added to a one-segment PTO. */
export const WC_DEL_ACK_T = 200;
/** Floor of the PTO, so that a zero SRTT (an instant path) does not probe at once. */
const MIN_PTO = 10;

export class Sender {
  /** The boolean fields below (`declare`d), one bit each: see flags.ts. */
  protected flagBits = 0;
  /** Initial send sequence number. */
  private iss32 = 0;
  get iss(): number {
    return this.iss32 >>> 0;
  }
  set iss(v: number) {
    this.iss32 = v | 0;
  }
  /** SND.UNA: oldest unacknowledged sequence number. */
  private sndUna32 = 0;
  get sndUna(): number {
    return this.sndUna32 >>> 0;
  }
  set sndUna(v: number) {
    this.sndUna32 = v | 0;
  }
  /** SND.NXT: next sequence number to send (moves back to SND.UNA after a timeout). */
  private sndNxt32 = 0;
  get sndNxt(): number {
    return this.sndNxt32 >>> 0;
  }
  set sndNxt(v: number) {
    this.sndNxt32 = v | 0;
  }
  /** Highest sequence number sent so far (SND.MAX); ACKs beyond it are for data never sent. */
  private sndMax32 = 0;
  get sndMax(): number {
    return this.sndMax32 >>> 0;
  }
  set sndMax(v: number) {
    this.sndMax32 = v | 0;
  }
  /** SND.WND in bytes (scaled). */
  sndWnd = 0;
  /** Largest window the peer ever offered (RFC 9293 §3.8.6.2.1's Max(SND.WND)). */
  maxSndWnd = 0;
  /** SND.WL1 / SND.WL2: the segment that last updated the window. */
  private sndWl132 = 0;
  get sndWl1(): number {
    return this.sndWl132 >>> 0;
  }
  set sndWl1(v: number) {
    this.sndWl132 = v | 0;
  }
  private sndWl232 = 0;
  get sndWl2(): number {
    return this.sndWl232 >>> 0;
  }
  set sndWl2(v: number) {
    this.sndWl232 = v | 0;
  }
  /** Shift applied to the peer's window field (RFC 7323 §2.3; 0 unless negotiated). */
  wndScale = 0;

  readonly buf = new SendBuffer();
  /** Sequence number of buf's first byte. */
  private bufHeadSeq32 = 0;
  get bufHeadSeq(): number {
    return this.bufHeadSeq32 >>> 0;
  }
  set bufHeadSeq(v: number) {
    this.bufHeadSeq32 = v | 0;
  }

  /** Effective send MSS (RFC 9293 §3.7.1 Eff.snd.MSS). */
  mss = DEFAULT_MSS;
  /** The MSS the peer announced (536 when it sent none). */
  peerMss = DEFAULT_MSS;

  cc: CongestionControl = new NewReno(DEFAULT_MSS);
  readonly rtt: RttEstimator;
  /** Karn's algorithm (RFC 6298 §3): one segment timed at a time, never a retransmitted one. */
  declare rttTiming: boolean;
  /**
   * Our timestamp clock when the last retransmission timeout fired (valid while `rtoTsValid`).
   * An echo older than it names a transmission from before the timeout, whose ACK was lost or
   * is answering only now: the "RTT" it gives is mostly the RTO wait itself. Fed back into SRTT it
   * inflates the next RTO, which inflates the next such sample (with heavy ACK loss and a tiny
   * window this ran away to 120 s RTOs). Such echoes give no sample; the first echo of a
   * transmission sent after the timeout does.
   */
  private rtoTs32 = 0;
  private get rtoTs(): number {
    return this.rtoTs32 >>> 0;
  }
  private set rtoTs(v: number) {
    this.rtoTs32 = v | 0;
  }
  private declare rtoTsValid: boolean;
  private rttSeq32 = 0;
  get rttSeq(): number {
    return this.rttSeq32 >>> 0;
  }
  set rttSeq(v: number) {
    this.rttSeq32 = v | 0;
  }
  rttTime = 0;

  /** Duplicate ACKs in a row (RFC 5681 §3.2). */
  dupAcks = 0;
  declare inRecovery: boolean;
  /** RFC 6582 `recover`: SND.MAX when recovery (or the last timeout) began. */
  private recover32 = 0;
  get recover(): number {
    return this.recover32 >>> 0;
  }
  set recover(v: number) {
    this.recover32 = v | 0;
  }
  private declare partialAckSeen: boolean;

  /** Consecutive timeouts for the oldest outstanding data (TCP_INFO's retransmits). */
  retransmits = 0;
  /** SYN or SYN-ACK retransmissions. */
  synRetries = 0;
  /** When the oldest outstanding data began waiting for its ACK (TCP_USER_TIMEOUT). */
  rtxStart = 0;
  timerMode = TimerIdle;
  /**
   * Persist: probes not answered by any ACK (Linux's icsk_probes_out), the backoff exponent
   * (probes sent since the window last opened), and when the first of those probes went out.
   */
  probesOut = 0;
  persistBackoff = 0;
  persistStart = 0;

  /** A FIN is queued after the last data byte (shutdown(write) / close). */
  declare finQueued: boolean;
  private finSeq32 = 0;
  get finSeq(): number {
    return this.finSeq32 >>> 0;
  }
  set finSeq(v: number) {
    this.finSeq32 = v | 0;
  }
  /** End of the last partial segment sent (Minshall's Nagle variant, as Linux). */
  private sndSml32 = 0;
  get sndSml(): number {
    return this.sndSml32 >>> 0;
  }
  set sndSml(v: number) {
    this.sndSml32 = v | 0;
  }
  /** The last write had MSG_MORE: hold a partial segment back. */
  declare more: boolean;
  lastSendTime = 0;
  /** A segment was refused as too big for the path: re-derive the MSS before sending more. */
  declare pathMtuShrunk: boolean;

  /** RFC 2018: SACK negotiated; loss recovery follows RFC 6675 with the scoreboard below. */
  declare sackOk: boolean;
  /**
   * The scoreboard: SACKed ranges above SND.UNA as [start, end) pairs, in order, merged. The
   * shared NO_SACKED (never written) until the first SACK block arrives (heap per endpoint, #8).
   */
  sacked: number[] = NO_SACKED as number[];
  sackedBytes = 0;
  /** RFC 6675 HighRxt: the end of the highest retransmission of the current recovery. */
  private highRxt32 = 0;
  get highRxt(): number {
    return this.highRxt32 >>> 0;
  }
  set highRxt(v: number) {
    this.highRxt32 = v | 0;
  }
  /** Length of the segment nextLost() found. */
  private nextLen = 0;

  /** RFC 8985: RACK-TLP in use (SACK negotiated and the rack option on). */
  declare rackOn: boolean;
  /** RACK's per-segment records (rack.ts), created when first used (heap per idle endpoint, #8). */
  private rackObj: Rack | null = null;
  get rack(): Rack {
    return this.rackObj ??= new Rack();
  }
  /** Whether the Rack exists yet (it is created at the first transmission RACK tracks, or a D-SACK). */
  get rackCreated(): boolean {
    return this.rackObj !== null;
  }
  /** RFC 8985 §7: a loss probe is outstanding (TLP.end_seq is not None), and what it sent. */
  declare tlpActive: boolean;
  private tlpEndSeq32 = 0;
  get tlpEndSeq(): number {
    return this.tlpEndSeq32 >>> 0;
  }
  set tlpEndSeq(v: number) {
    this.tlpEndSeq32 = v | 0;
  }
  tlpStart = 0;
  declare tlpIsRetrans: boolean;
  /** The ACK being processed carried a D-SACK [dsackL, dsackR), or SACKed new data. */
  private declare dsackSeen: boolean;
  private dsackL32 = 0;
  private get dsackL(): number {
    return this.dsackL32 >>> 0;
  }
  private set dsackL(v: number) {
    this.dsackL32 = v | 0;
  }
  private dsackR32 = 0;
  private get dsackR(): number {
    return this.dsackR32 >>> 0;
  }
  private set dsackR(v: number) {
    this.dsackR32 = v | 0;
  }
  private declare sackGrew: boolean;
  /** Recovery ended during the ACK being processed (RACK's reo_wnd_persist counts these). */
  private declare exitedRecovery: boolean;

  /**
   * cwnd use (trackCwndUse): whether the current window of data was cwnd-limited, its largest
   * flight, and where it ends; the largest flight while application-limited, and when cwnd was
   * last fully used.
   */
  private declare cwndLimited: boolean;
  private maxFlight = 0;
  private usageEnd32 = 0;
  private get usageEnd(): number {
    return this.usageEnd32 >>> 0;
  }
  private set usageEnd(v: number) {
    this.usageEnd32 = v | 0;
  }
  private cwndUsed = 0;
  private cwndStamp = 0;

  constructor(private readonly ep: TcpEndpoint) {
    const o = ep.proto.options;
    this.rtt = new RttEstimator(rttLimitsFor(o));
  }

  /** Before our SYN: SND.UNA = ISS, SND.NXT = ISS + 1 once the SYN is out. */
  init(iss: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.bufHeadSeq = seqAdd(iss, 1);
    this.recover = iss;
    this.sndSml = iss;
  }

  /** Sequence number one past the last byte written. */
  dataEndSeq(): number {
    return seqAdd(this.bufHeadSeq, this.buf.size);
  }

  /**
   * `dataEndSeq() | 0`, for the per-segment checks: an int32 is never a boxed number, where the
   * uint32 is one from 2^31 on whenever this is not inlined.
   */
  private dataEnd32(): number {
    return (this.bufHeadSeq32 + this.buf.size) | 0;
  }

  /** Bytes written but never sent. */
  unsent(): number {
    const d = (this.dataEnd32() - this.sndNxt32) | 0;
    return d > 0 ? d : 0;
  }

  finSent(): boolean {
    return this.finQueued && seqGT(this.sndNxt, this.finSeq);
  }

  finAcked(): boolean {
    return this.finQueued && seqGT(this.sndUna, this.finSeq);
  }

  /** Sequence space sent and not yet acknowledged. */
  outstanding(): number {
    return seqDiff(this.sndMax, this.sndUna);
  }

  queueFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    this.finSeq = this.dataEndSeq();
  }

  /** Sends the SYN (or SYN-ACK when `ack`), timing it unless it is a retransmission. */
  sendSyn(ack: boolean): void {
    const now = this.ep.now();
    if (this.sndMax === this.iss) {
      this.rttTiming = true;
      this.rttSeq = seqAdd(this.iss, 1);
      this.rttTime = now;
    } else {
      this.rttTiming = false;
    }
    this.ep.emit(this.iss, ack ? TCP_SYN | TCP_ACK : TCP_SYN, null, 0, true);
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.lastSendTime = now;
  }

  /** The handshake finished: pick the MSS, start congestion control, apply RFC 6298 §5.7. */
  established(): void {
    const ep = this.ep;
    this.mss = ep.sendMss();
    this.cc = ep.newCongestionControl(this.mss);
    this.sndSml = this.sndUna;
    // RFC 8985 §1: RACK-TLP needs SACK; without it the duplicate-ACK rules stay.
    this.rackOn = this.sackOk && ep.proto.options.rack;
    this.usageEnd = this.sndUna;
    this.cwndStamp = ep.now();
    if (!this.rtt.measured && this.synRetries > 0) this.rtt.setRto(FALLBACK_RTO);
    else if (!this.rtt.measured) this.rtt.setRto(ep.proto.options.initialRto);
    this.synRetries = 0;
  }

  // ------------------------------------------------------------------ output

  /**
   * Sends what the windows, Nagle, TCP_CORK and MSG_MORE allow, then sets the retransmission or
   * persist timer. Called at every flush (end of a batch, a timer, an application call).
   */
  output(): void {
    const ep = this.ep;
    if (!ep.canSendData()) return;
    if (this.pathMtuShrunk) this.resyncMss();
    let mss = this.mss;
    const now = ep.now();
    if (this.sndUna === this.sndMax && this.sndNxt === this.sndUna && now - this.lastSendTime > this.rtt.rto &&
      this.unsent() > 0 && ep.proto.options.slowStartAfterIdle) {
      this.idleRestart(now - this.lastSendTime);
    }
    const sndMax0 = this.sndMax;
    const sackRecovery = this.inRecovery && this.sackOk;
    if (sackRecovery) this.sackRecoveryOutput();
    for (;;) {
      if (this.sackOk && this.sacked.length > 0 && seqLT(this.sndNxt, this.sndMax)) {
        // Resending after a timeout: skip what the peer has SACKed.
        const e = this.sackedEnd(this.sndNxt);
        if (e !== -1) {
          this.sndNxt = e;
          continue;
        }
      }
      const avail = this.unsent();
      if (avail > 0) {
        const inFlight = sackRecovery ? this.pipe() : seqDiff(this.sndNxt, this.sndUna);
        const cwnd = Math.floor(this.cc.cwnd); // CUBIC keeps fractional bytes; segments are whole
        const wnd = this.sndWnd < cwnd ? this.sndWnd : cwnd;
        const usable = wnd - inFlight;
        // GSO (gso.ts): several MSS-sized segments may leave as one super-segment.
        const most = gsoSegmentLimit(ep.route, mss);
        let len = avail < most ? avail : most;
        if (usable < len) len = usable;
        if (this.sackOk && this.sacked.length > 0 && seqLT(this.sndNxt, this.sndMax)) {
          const gap = this.toNextSacked(this.sndNxt);
          if (gap < len) len = gap;
        }
        if (len > mss) len -= len % mss; // whole segments; a partial tail goes alone (Nagle below)
        if (len <= 0) break;
        if (len < mss && !seqLT(this.sndNxt, this.sndMax)) {
          if (len < avail) {
            // RFC 9293 §3.8.6.2.1: a window-limited partial segment waits unless it is at least
            // half the largest window the peer offered.
            if (len < this.maxSndWnd >>> 1) break;
          } else if (this.finQueued) {
            // The last data goes with the FIN: neither cork nor Nagle hold it (as in Linux).
          } else if ((ep.cork || this.more) && !ep.corkExpired) {
            // TCP_CORK / MSG_MORE: hold the partial tail, at most `corkMs` (the endpoint's cork timer).
            ep.corkHold();
            break;
          } else if (!ep.noDelay && seqGT(this.sndSml, this.sndUna)) {
            // Nagle (RFC 896, RFC 9293 §3.7.4) in Minshall's form as Linux: no new small segment
            // while an earlier small one is unacknowledged.
            break;
          }
        }
        this.transmit(this.sndNxt32, len);
        if (this.pathMtuShrunk) {
          this.resyncMss();
          mss = this.mss;
        }
        continue;
      }
      if (this.finQueued && this.sndNxt === this.finSeq) this.transmit(this.sndNxt, 0);
      break;
    }
    this.setTimer();
    // RFC 8985 §7.2: new data went out: (re)start the loss probe timeout.
    if (this.rackOn && seqGT(this.sndMax, sndMax0)) this.armProbe();
    this.trackCwndUse(now);
  }

  /**
   * Whether cwnd, rather than the application or the peer's window, limits sending (RFC 7661
   * §3: only a window the sender fills is validated by the network; as Linux, cwnd grows only
   * then). In slow start, a flight of at least half of cwnd in the current window counts, so
   * that slow start can double.
   */
  isCwndLimited(): boolean {
    const cc = this.cc;
    if (cc.cwnd < cc.ssthresh) return cc.cwnd < 2 * this.maxFlight;
    return this.cwndLimited;
  }

  /**
   * After each output: notes whether this window of data was cwnd-limited and the largest
   * flight; and, while application-limited for an RTO, decays cwnd halfway toward what was used
   * (at least the initial window), remembering 3/4 of it in ssthresh (RFC 2861 §3's rule for
   * application-limited periods, which Linux applies with tcp_slow_start_after_idle).
   */
  private trackCwndUse(now: number): void {
    const flight = seqDiff(this.sndMax, this.sndUna);
    const cwnd = Math.floor(this.cc.cwnd);
    const limited = this.unsent() > 0 && cwnd <= this.sndWnd && seqDiff(this.sndNxt, this.sndUna) + this.mss > cwnd;
    if (!seqLT(this.sndUna, this.usageEnd) || limited || (!this.cwndLimited && flight > this.maxFlight)) {
      // A new window of data (or a stronger signal within this one).
      this.cwndLimited = limited;
      this.maxFlight = flight;
      this.usageEnd = this.sndNxt;
    }
    if (this.isCwndLimited() || this.inRecovery) {
      this.cwndUsed = 0;
      this.cwndStamp = now;
      return;
    }
    if (flight > this.cwndUsed) this.cwndUsed = flight;
    if (now - this.cwndStamp >= this.rtt.rto && this.ep.proto.options.slowStartAfterIdle) {
      const cc = this.cc;
      const iw = this.mss * this.ep.proto.options.initialCwnd;
      const used = this.cwndUsed > iw ? this.cwndUsed : iw;
      if (used < cc.cwnd) {
        const keep = Math.floor((cc.cwnd * 3) / 4);
        if (cc.ssthresh < keep) cc.ssthresh = keep;
        cc.onIdleRestart(Math.floor((cc.cwnd + used) / 2));
      }
      this.cwndUsed = 0;
      this.cwndStamp = now;
    }
  }

  /**
   * Congestion window validation after idle, as Linux's tcp_slow_start_after_idle = 1: after
   * `idle` ms without sending (more than an RTO) the network has not validated cwnd for that
   * long. ssthresh keeps a memory of it (max(ssthresh, 3/4 cwnd)), and cwnd halves for every RTO
   * of idleness, but not below the restart window min(IW, cwnd) (RFC 5681 §4.1). This is RFC
   * 2861 §3's decay, which Linux keeps; RFC 7661, which obsoletes RFC 2861, would instead keep
   * cwnd through a non-validated phase (not implemented).
   */
  private idleRestart(idle: number): void {
    const cc = this.cc;
    const iw = this.mss * this.ep.proto.options.initialCwnd;
    const rw = cc.cwnd < iw ? cc.cwnd : iw;
    const keep = Math.floor((cc.cwnd * 3) / 4);
    if (cc.ssthresh < keep) cc.ssthresh = keep;
    let w = cc.cwnd;
    for (let t = idle - this.rtt.rto; t > 0 && w > rw; t -= this.rtt.rto) w /= 2;
    cc.onIdleRestart(w > rw ? Math.floor(w) : rw);
    this.cwndStamp = this.ep.now();
  }

  /**
   * After a segment was refused for its size: take the MSS the route allows now and, if it is
   * smaller, send everything outstanding again in segments that fit (what was refused never left).
   */
  private resyncMss(): void {
    this.pathMtuShrunk = false;
    const m = this.ep.sendMss();
    if (m >= this.mss) return;
    this.mss = m;
    this.sndNxt = this.sndUna;
    this.sndSml = this.sndUna;
    this.rttTiming = false;
  }

  /**
   * Sends one segment of `len` data bytes from `seq` (plus the FIN when it ends at the FIN's
   * position). Advances SND.NXT when `seq` is SND.NXT. Returns the sequence space used.
   *
   * `seq` may come as a uint32 or as the same number `| 0` (output() passes the int32 field):
   * it only meets modular arithmetic and `| 0` comparisons here, and emit() / buildSegment()
   * take either. Sequence numbers at or above 2^31 passed as uint32 to a function that is not
   * inlined are boxed numbers (a heap allocation per call); an int32 never is.
   */
  transmit(seq: number, len: number): number {
    const ep = this.ep;
    const end = seqAdd(seq, len);
    const fin = this.finQueued && end === this.finSeq;
    let flags = TCP_ACK;
    if (fin) flags |= TCP_FIN;
    // A fresh array per segment: the packet takes it over as its payload (no copy, no clearing).
    let views: Uint8Array[] | null = null;
    if (len > 0) {
      views = this.buf.viewArray(this.buf.headOffset + seqDiff(seq, this.bufHeadSeq), len);
      if ((end | 0) === this.dataEnd32()) flags |= TCP_PSH;
    }
    ep.emit(seq, flags, views, len, false);
    const segEnd = fin ? seqAdd(end, 1) : end;
    const now = ep.now();
    if (this.rackOn) this.rack.onTransmit(seq | 0, segEnd | 0, now, this.sndMax32);
    if (seqLT(seq, this.sndMax)) {
      ep.countRetransmit();
      // Karn (RFC 6298 §3): a retransmitted segment is never timed.
      this.rttTiming = false;
    } else if (!this.rttTiming && len > 0) {
      this.rttTiming = true;
      this.rttSeq = end;
      this.rttTime = now;
    }
    if ((seq | 0) === this.sndNxt32) this.sndNxt = segEnd;
    if (seqGT(segEnd, this.sndMax)) this.sndMax = segEnd;
    if (len > 0 && len < this.mss) this.sndSml = segEnd;
    this.lastSendTime = now;
    return seqDiff(segEnd, seq);
  }

  /**
   * Retransmits one segment at SND.UNA, whatever the congestion window says. It is cut to the
   * peer's window when that is open (bytes beyond it would only be trimmed off by the receiver
   * and need yet another timeout); when the window is zero the segment doubles as a probe, as in
   * Linux.
   */
  private retransmitHead(): number {
    const left = seqDiff(this.dataEndSeq(), this.sndUna);
    let len = left > 0 ? (left < this.mss ? left : this.mss) : 0;
    if (this.sndWnd > 0 && len > this.sndWnd) len = this.sndWnd;
    if (this.sackOk && this.sacked.length > 0) {
      // Never resend bytes the peer has SACKed.
      const d = seqDiff(this.sacked[0]!, this.sndUna);
      if (d > 0 && d < len) len = d;
    }
    if (len === 0 && !(this.finQueued && this.sndUna === this.finSeq)) return 0;
    return this.transmit(this.sndUna, len);
  }

  // ------------------------------------------------------------------ SACK scoreboard (RFC 6675)

  /**
   * The SACK blocks of an acceptable ACK (RFC 2018 §4) update the scoreboard. A first block
   * below the cumulative ACK, or inside the second block, is a D-SACK (RFC 2883 §4): it reports
   * a duplicate and is only counted.
   */
  onSackBlocks(ack: number, blocks: Uint32Array, count: number): void {
    const base = seqGT(ack, this.sndUna) ? ack : this.sndUna;
    for (let i = 0; i < count; i++) {
      let l = blocks[2 * i]!;
      let r = blocks[2 * i + 1]!;
      if (!seqLT(l, r)) continue;
      if (i === 0 && (seqLEQ(r, ack) || (count > 1 && seqLEQ(blocks[2]!, l) && seqLEQ(r, blocks[3]!)))) {
        this.ep.stack.stats.tcp.segmentsAckedWithDSACK++;
        this.dsackSeen = true;
        this.dsackL = l;
        this.dsackR = r;
        continue;
      }
      if (seqLT(l, base)) l = base;
      if (seqGT(r, this.sndMax)) r = this.sndMax;
      if (seqLT(l, r)) this.addSacked(l, r);
    }
  }

  private addSacked(l: number, r: number): void {
    // The only place the scoreboard grows: a sender's own list from its first SACK block on.
    const a = this.sacked === NO_SACKED ? (this.sacked = []) : this.sacked;
    const rack = this.rackOn;
    const gaps = sackGaps;
    if (rack) {
      // The parts of [l, r) the scoreboard did not hold yet: RACK delivers the segments there.
      gaps.length = 0;
      let x = l;
      for (let k = 0; k < a.length && seqLT(x, r); k += 2) {
        if (seqLEQ(a[k + 1]!, x)) continue;
        if (seqLEQ(r, a[k]!)) break;
        if (seqLT(x, a[k]!)) gaps.push(x, a[k]!);
        x = a[k + 1]!;
      }
      if (seqLT(x, r)) gaps.push(x, r);
    }
    let i = 0;
    while (i < a.length && seqLT(a[i + 1]!, l)) i += 2;
    let j = i;
    while (j < a.length && seqLEQ(a[j]!, r)) {
      if (seqLT(a[j]!, l)) l = a[j]!;
      if (seqGT(a[j + 1]!, r)) r = a[j + 1]!;
      j += 2;
    }
    a.splice(i, j - i, l, r);
    this.countSacked();
    if (rack && gaps.length > 0) {
      this.sackGrew = true;
      const now = this.ep.now();
      for (let k = 0; k < gaps.length; k += 2) this.rack.onSacked(gaps[k]!, gaps[k + 1]!, l, r, now);
    }
  }

  /** Drops what the cumulative ACK now covers. */
  private pruneSacked(): void {
    const a = this.sacked;
    if (a.length === 0) return;
    let k = 0;
    while (k < a.length && seqLEQ(a[k + 1]!, this.sndUna)) k += 2;
    if (k > 0) a.splice(0, k);
    if (a.length > 0 && seqLT(a[0]!, this.sndUna)) a[0] = this.sndUna;
    this.countSacked();
  }

  private countSacked(): void {
    const a = this.sacked;
    let n = 0;
    for (let k = 0; k < a.length; k += 2) n += seqDiff(a[k + 1]!, a[k]!);
    this.sackedBytes = n;
  }

  /**
   * RFC 6675 IsLost: a sequence number is lost when more than (DupThresh - 1) * SMSS bytes
   * above it are SACKed. Everything unSACKed below the returned point is lost.
   */
  private lostLimit(): number {
    const a = this.sacked;
    const need = 2 * this.mss;
    let bytes = 0;
    for (let k = a.length - 2; k >= 0; k -= 2) {
      bytes += seqDiff(a[k + 1]!, a[k]!);
      if (bytes > need) return a[k]!;
    }
    return this.sndUna;
  }

  isLost(seq: number): boolean {
    return seqLT(seq, this.lostLimit());
  }

  /**
   * RFC 6675 §4 SetPipe: bytes believed in the network — unSACKed bytes not deemed lost, plus
   * the lost ones already retransmitted (below HighRxt).
   */
  pipe(): number {
    if (this.rackOn) {
      // RFC 6675 §4 with RACK's verdicts (RFC 8985 §6.2 step 5) in place of IsLost().
      const p = this.outstanding() - this.sackedBytes - this.rack.lostBytes;
      return p > 0 ? p : 0;
    }
    const a = this.sacked;
    const lim = this.lostLimit();
    const rx = seqLT(this.highRxt, lim) ? this.highRxt : lim;
    let pipe = 0;
    let h = this.sndUna;
    for (let k = 0; k <= a.length; k += 2) {
      const e = k < a.length ? a[k]! : this.sndMax;
      if (seqLT(h, e)) {
        pipe += seqDiff(e, h);
        // The lost part [h, min(e, lim)) is out of the network unless retransmitted (below rx).
        const le = seqLT(e, lim) ? e : lim;
        if (seqLT(h, le)) {
          const rxEnd = seqLT(rx, le) ? rx : le;
          const retrans = seqLT(h, rxEnd) ? seqDiff(rxEnd, h) : 0;
          pipe -= seqDiff(le, h) - retrans;
        }
      }
      if (k < a.length) h = a[k + 1]!;
    }
    return pipe;
  }

  /** RFC 6675 §4 NextSeg rule 1: the first lost, unSACKed, not yet retransmitted byte, or -1. */
  private nextLost(): number {
    if (this.rackOn) return this.nextLostRack();
    const a = this.sacked;
    const lim = this.lostLimit();
    let h = this.sndUna;
    for (let k = 0; k < a.length; k += 2) {
      const e = seqLT(a[k]!, lim) ? a[k]! : lim;
      const s = seqLT(h, this.highRxt) ? this.highRxt : h;
      if (seqLT(s, e)) {
        const n = seqDiff(a[k]!, s);
        this.nextLen = n < this.mss ? n : this.mss;
        return s;
      }
      h = a[k + 1]!;
      if (!seqLT(h, lim)) break;
    }
    return -1;
  }

  /**
   * The first byte of a segment RACK marked lost that is not SACKed, or -1; the length (at most
   * one MSS, up to the next SACKed byte) goes to nextLen.
   */
  private nextLostRack(): number {
    const rack = this.rack;
    for (let i = rack.nextLostIndex(0); i !== -1; i = rack.nextLostIndex(i + 1)) {
      const e = rack.endAt(i);
      let x = rack.startAt(i);
      // A peer may SACK part of a segment: skip what it holds.
      while (seqLT(x, e)) {
        const se = this.sackedEnd(x);
        if (se === -1) break;
        x = se;
      }
      if (!seqLT(x, e)) {
        rack.sackedAt(i, this.ep.now());
        continue;
      }
      // Data bytes only: a FIN ending the record goes with its last byte (transmit adds it).
      const dataEnd = this.finQueued && e === seqAdd(this.finSeq, 1) ? this.finSeq : e;
      let n = seqDiff(dataEnd, x);
      const gap = this.toNextSacked(x);
      if (gap < n) n = gap;
      this.nextLen = n < this.mss ? n : this.mss;
      return x;
    }
    return -1;
  }

  /** RFC 6675 §5 (C): retransmit lost segments while cwnd - pipe allows a full segment. */
  private sackRecoveryOutput(): void {
    const mss = this.mss;
    for (;;) {
      if (this.cc.cwnd - this.pipe() < mss) return;
      const s = this.nextLost();
      if (s === -1) return;
      const len = this.nextLen;
      if (this.transmit(s, len) === 0) return;
      if (seqGT(seqAdd(s, len), this.highRxt)) this.highRxt = seqAdd(s, len);
    }
  }

  /** The end of the SACKed range holding `seq`, or -1. */
  private sackedEnd(seq: number): number {
    const a = this.sacked;
    for (let k = 0; k < a.length; k += 2) {
      if (seqLT(seq, a[k]!)) return -1;
      if (seqLT(seq, a[k + 1]!)) return a[k + 1]!;
    }
    return -1;
  }

  /** Bytes from `seq` to the next SACKed range (or a large number). */
  private toNextSacked(seq: number): number {
    const a = this.sacked;
    for (let k = 0; k < a.length; k += 2) if (seqLT(seq, a[k]!)) return seqDiff(a[k]!, seq);
    return 0x7fffffff;
  }

  /** Arms, re-arms or stops the retransmission / persist timer to match what is outstanding. */
  setTimer(): void {
    const ep = this.ep;
    if (seqGT(this.sndMax, this.sndUna)) {
      if (!this.lossTimerArmed()) {
        this.timerMode = TimerRetransmit;
        this.rtxStart = ep.now();
        ep.rtxTimer.schedule(this.rtoDelay());
      }
      return;
    }
    if (this.unsent() > 0 || (this.finQueued && !this.finSent())) {
      if (this.timerMode !== TimerPersist) {
        this.timerMode = TimerPersist;
        ep.rtxTimer.schedule(this.persistDelay());
      }
      return;
    }
    if (this.timerMode !== TimerIdle) {
      this.timerMode = TimerIdle;
      ep.rtxTimer.cancel();
    }
  }

  /** The timer is the RTO, the RACK reordering timer or the PTO (all guard outstanding data). */
  private lossTimerArmed(): boolean {
    const m = this.timerMode;
    return m === TimerRetransmit || m === TimerRack || m === TimerProbe;
  }

  /** Puts the RTO back in place of a RACK timer or PTO that is no longer wanted. */
  private rearmRto(): void {
    this.timerMode = TimerRetransmit;
    this.ep.rtxTimer.schedule(this.rtoDelay());
  }

  /**
   * RFC 8985 §7.2: arms the probe timeout when a tail loss probe may be sent: data outstanding,
   * no recovery (fast or after a timeout), nothing SACKed, no probe outstanding, no RACK timer.
   * PTO = 2 * SRTT, plus WCDelAckT when one segment is in flight, never later than the RTO
   * would fire (1 s before any RTT sample).
   */
  private armProbe(): void {
    if (!this.probeAllowed()) return;
    const out = this.outstanding();
    const ep = this.ep;
    let pto = this.rtt.measured ? 2 * this.rtt.srtt : 1000;
    if (out <= this.mss) pto += WC_DEL_ACK_T;
    if (pto < MIN_PTO) pto = MIN_PTO;
    const now = ep.now();
    const rtoLeft = this.timerMode === TimerRetransmit && ep.rtxTimer.pending ? ep.rtxTimer.deadline - now : this.rtoDelay();
    // RFC 8985 §7.2: never later than the RTO would fire (the probe then takes the RTO's place).
    if (rtoLeft < pto) pto = rtoLeft > 1 ? rtoLeft : 1;
    this.timerMode = TimerProbe;
    ep.rtxTimer.schedule(pto);
  }

  private probeAllowed(): boolean {
    return this.outstanding() > 0 && !this.inRecovery && !seqLT(this.sndUna, this.recover) && this.retransmits === 0 &&
      !this.tlpActive && this.sacked.length === 0 && this.timerMode !== TimerRack && this.timerMode !== TimerPersist;
  }

  /**
   * RFC 8985 §7.3: the PTO fired. Send one probe: a new segment if the peer's window takes one,
   * else the last segment again; it is not limited by cwnd. Then the RTO guards the probe.
   */
  private onProbeTimeout(): void {
    const ep = this.ep;
    if (this.sndUna === this.sndMax) {
      this.timerMode = TimerIdle;
      return;
    }
    if (this.tlpActive) {
      this.rearmRto();
      return;
    }
    const avail = this.unsent();
    const room = this.sndWnd - seqDiff(this.sndNxt, this.sndUna);
    if (avail > 0 && room > 0 && this.sndNxt === this.sndMax) {
      let len = avail < this.mss ? avail : this.mss;
      if (room < len) len = room;
      this.tlpStart = this.sndNxt;
      this.transmit(this.sndNxt, len);
      this.tlpIsRetrans = false;
    } else {
      // The highest segment sent, at most one MSS of its end (data bytes; transmit adds a FIN).
      const end = this.rack.count > 0 ? this.rack.lastEnd() : this.sndMax;
      const dataEnd = this.finQueued && end === seqAdd(this.finSeq, 1) ? this.finSeq : end;
      let start = this.rack.count > 0 ? this.rack.lastStart() : this.sndUna;
      if (seqLT(start, this.sndUna)) start = this.sndUna;
      if (seqDiff(dataEnd, start) > this.mss) start = seqAdd(dataEnd, -this.mss);
      this.tlpStart = start;
      this.transmit(start, seqLT(start, dataEnd) ? seqDiff(dataEnd, start) : 0);
      this.tlpIsRetrans = true;
    }
    this.tlpActive = true;
    this.tlpEndSeq = this.sndMax;
    ep.proto.counters.tlpProbes++;
    this.rearmRto();
  }

  /**
   * RFC 8985 §7.4: what the ACK says about the outstanding probe. A probe of new data needs
   * nothing (RACK sees any loss). A retransmitted probe: a D-SACK for it, or a plain duplicate
   * ACK, means the original had arrived; an ACK beyond it means the probe repaired a loss,
   * which gets a congestion response.
   */
  private tlpOnAck(ack: number, advanced: boolean): void {
    if (!this.tlpIsRetrans) {
      if (seqGEQ(ack, this.tlpEndSeq)) this.tlpActive = false;
      return;
    }
    if (this.dsackSeen && seqGEQ(this.dsackL, this.tlpStart) && seqLEQ(this.dsackR, this.tlpEndSeq)) {
      this.tlpActive = false;
      return;
    }
    if (seqGT(ack, this.tlpEndSeq)) {
      this.tlpActive = false;
      this.ep.proto.counters.tlpRecoveries++;
      this.congestionEvent();
      return;
    }
    if (!advanced && !this.sackGrew && !this.dsackSeen) this.tlpActive = false;
  }

  /**
   * One congestion response outside loss recovery: the algorithm's multiplicative decrease of
   * ssthresh, and cwnd = ssthresh. Used when a tail loss probe repaired a loss (RFC 8985
   * §7.4.2); also the hook for ECN-Echo (RFC 3168 §6.1.2, which limits it to once per window).
   */
  congestionEvent(): void {
    const cc = this.cc;
    cc.onEnterRecovery(this.outstanding(), this.mss);
    cc.cwnd = cc.ssthresh;
  }

  /** RFC 8985 §6.2 step 5 after an ACK (or the RACK timer): mark losses, start recovery, arm the timer. */
  private rackDetect(): void {
    const rack = this.rack;
    if (rack.xmitTs < 0) return;
    // With nothing SACKed, no recovery and no retransmission outstanding, every record left was
    // sent after the newest delivered one: nothing to look at.
    if (this.sacked.length === 0 && !this.inRecovery && rack.lostBytes === 0 && !rack.hasRetransmitted()) {
      if (this.timerMode === TimerRack) this.rearmRto();
      return;
    }
    const ep = this.ep;
    const timeout = rack.detectLoss(ep.now(), rack.reoWnd(this.inRecovery, this.rtt.srtt));
    if (rack.marked > 0) ep.proto.counters.rackLossMarked += rack.marked;
    // RFC 8985 §6.2: a loss starts fast recovery (RFC 6582's `recover` still guards against old
    // losses from before a timeout).
    if (rack.lostBytes > 0 && !this.inRecovery && seqGEQ(this.sndUna, this.recover) && this.retransmits === 0) {
      this.enterRecovery();
      // RFC 6675 §5 (4.3): the first lost segment goes out at once, whatever cwnd says (the fast
      // retransmit); the rest as the pipe allows (output()).
      const s = this.nextLost();
      if (s !== -1) {
        const len = this.nextLen;
        this.transmit(s, len);
        this.highRxt = seqAdd(s, len);
      }
    }
    if (timeout > 0) {
      this.timerMode = TimerRack;
      ep.rtxTimer.schedule(timeout);
    } else if (this.timerMode === TimerRack) this.rearmRto();
  }

  /** RFC 8985 §6.2 step 5: the reordering timer fired. */
  private onRackTimeout(): void {
    if (this.sndUna === this.sndMax) {
      this.timerMode = TimerIdle;
      return;
    }
    this.timerMode = TimerRetransmit;
    this.rackDetect();
    if (this.timerMode === TimerRetransmit) this.ep.rtxTimer.schedule(this.rtoDelay());
    this.output();
  }

  /** The RTO, cut short so the timer fires when TCP_USER_TIMEOUT expires. */
  private rtoDelay(): number {
    const rto = this.rtt.rto;
    const ut = this.ep.userTimeout;
    if (ut > 0) {
      const left = this.rtxStart + ut - this.ep.now();
      if (left < rto) return left > 1 ? left : 1;
    }
    return rto;
  }

  /** Linux's probe interval: max(RTO, 200 ms) doubled per unanswered probe, at most the max RTO. */
  private persistDelay(): number {
    const lim = this.rtt.limits;
    const base = this.rtt.rto > lim.minRto ? this.rtt.rto : lim.minRto;
    const d = base * 2 ** this.persistBackoff;
    return d < lim.maxRto ? d : lim.maxRto;
  }

  // ------------------------------------------------------------------ ACK processing

  /**
   * The ACK field and window of an acceptable segment in a synchronized state (RFC 9293
   * §3.10.7.4 fifth check). SEG.ACK is known to be at most SND.MAX.
   */
  onAck(seq: number, ack: number, rawWindow: number, payloadLen: number, flags: number): void {
    const ep = this.ep;
    const wnd = rawWindow << this.wndScale;
    let windowChanged = false;
    // RFC 9293 §3.10.7.4: update the window from the newest segment (SND.WL1, SND.WL2).
    // Linux (and RFC 9293 §3.10.7.4) reset the unanswered-probe count on any acceptable ACK.
    this.probesOut = 0;
    // `seq` may be a uint32 or an int32 (the endpoint passes `| 0`): compared modulo 2^32 only.
    if (!seqLT(ack, this.sndUna) && (seqLT(this.sndWl1, seq) || (this.sndWl132 === (seq | 0) && !seqLT(ack, this.sndWl2)))) {
      windowChanged = wnd !== this.sndWnd;
      this.sndWnd = wnd;
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      if (wnd > this.maxSndWnd) this.maxSndWnd = wnd;
    }
    const advanced = seqGT(ack, this.sndUna);
    if (advanced) {
      this.newAck(ack);
    } else if (
      ack === this.sndUna &&
      payloadLen === 0 &&
      (flags & (TCP_SYN | TCP_FIN)) === 0 &&
      !windowChanged &&
      seqGT(this.sndMax, this.sndUna)
    ) {
      // RFC 5681 §2: a duplicate ACK.
      this.dupAck();
    }
    if (windowChanged && this.sndWnd > 0 && this.timerMode === TimerPersist) {
      // The window opened: probing is over (Linux resets the probe backoff).
      this.persistBackoff = 0;
      this.probesOut = 0;
      this.timerMode = TimerIdle;
      ep.rtxTimer.cancel();
    }
    if (this.rackOn) this.rackAfterAck(ack, advanced);
    this.dsackSeen = false;
    this.sackGrew = false;
    this.exitedRecovery = false;
  }

  /** RFC 8985 per ACK: the probe's outcome (§7.4), reo_wnd (§6.2 step 4), losses (step 5), the PTO (§7.2). */
  private rackAfterAck(ack: number, advanced: boolean): void {
    if (this.tlpActive) this.tlpOnAck(ack, advanced);
    // A Rack not yet created holds no records and xmit_ts = None: only a D-SACK changes it (an
    // ACK before any data went out leaves it uncreated, heap per endpoint, #8).
    if (this.rackObj !== null || this.dsackSeen) {
      this.rack.updateReoWnd(this.sndUna, this.sndNxt, this.dsackSeen, this.exitedRecovery);
      this.rackDetect();
    }
    // §7.2: an ACK of new data restarts the PTO; one that makes a probe inappropriate (SACKed
    // data, a recovery) puts the RTO back.
    if (this.timerMode === TimerProbe && !this.probeAllowed()) this.rearmRto();
    else if (advanced && this.timerMode === TimerRetransmit) this.armProbe();
  }

  private newAck(ack: number): void {
    const ep = this.ep;
    const now = ep.now();
    // Data bytes acknowledged (the SYN and FIN occupy sequence space but no buffer).
    const dataEnd = this.dataEndSeq();
    const hi = seqLT(ack, dataEnd) ? ack : dataEnd;
    const dataAcked = seqDiff(hi, this.bufHeadSeq);
    if (dataAcked > 0) {
      this.buf.release(dataAcked);
      this.bufHeadSeq = hi;
    }
    // Congestion control counts data bytes (not the SYN or FIN).
    const acked = dataAcked > 0 ? dataAcked : 0;
    // RFC 7323 §4.1: with timestamps, every ACK of new data measures the RTT from its echo
    // (retransmissions included: the echo names the transmission that was acknowledged).
    let sample = -1;
    if (ep.tsEcrValid) {
      const r = (ep.tsNow() - ep.tsEcr) >>> 0;
      const beforeRto = this.rtoTsValid && ((ep.tsEcr - this.rtoTs) | 0) < 0;
      if (r < 0x7fffffff && !beforeRto) {
        this.rtt.sample((sample = r));
        this.rtoTsValid = false;
      }
      this.rttTiming = false;
    } else if (this.rttTiming && seqGEQ(ack, this.rttSeq)) {
      // RFC 6298 §2 / §3: a measurement from the timed segment once it is covered.
      this.rtt.sample((sample = now - this.rttTime));
      this.rttTiming = false;
    }
    // RFC 9406 (HyStart++) counts rounds by SND.NXT and watches each round's RTT samples.
    if (this.cc.onRttSample) this.cc.onRttSample(sample, ack, this.sndNxt);
    this.retransmits = 0;
    this.probesOut = 0;
    this.sndUna = ack;
    if (seqLT(this.sndNxt, ack)) this.sndNxt = ack;
    if (this.sacked.length > 0) this.pruneSacked();
    if (this.rackOn && this.rackObj !== null) this.rackObj.onCumulativeAck(ack, now, seqLT(ack, dataEnd));
    let restartTimer = true;
    if (this.inRecovery) {
      if (seqGEQ(ack, this.recover)) {
        // RFC 6582 §3.2 step 4: a full ACK ends recovery.
        this.inRecovery = false;
        this.dupAcks = 0;
        this.exitedRecovery = true;
        this.cc.onExitRecovery(this.outstanding(), this.mss);
      } else if (this.rackOn) {
        // RFC 8985: RACK decides what the partial ACK left lost (rackAfterAck, then output()).
        restartTimer = !this.partialAckSeen;
        this.partialAckSeen = true;
      } else if (this.sackOk) {
        // RFC 6675: the scoreboard decides what to resend (output() does it); cwnd was never
        // inflated, so nothing to deflate. A partial ACK still means the new head is missing.
        if (!seqLT(this.sndUna, this.highRxt)) this.highRxt = seqAdd(this.sndUna, this.retransmitHead());
        restartTimer = !this.partialAckSeen;
        this.partialAckSeen = true;
      } else {
        // RFC 6582 §3.2 step 5: a partial ACK. Retransmit the first unacknowledged segment,
        // deflate cwnd, and reset the timer only for the first partial ACK ("impatient").
        this.retransmitHead();
        this.cc.onPartialAck(acked, this.mss);
        restartTimer = !this.partialAckSeen;
        this.partialAckSeen = true;
      }
    } else {
      this.dupAcks = 0;
      // RFC 7661 §3 / Linux: an application-limited (or peer-window-limited) sender does not
      // grow a window it does not use.
      if (this.isCwndLimited()) this.cc.onAck(acked, this.mss);
    }
    // RFC 6298 §5.2 / §5.3: stop the timer when everything is acknowledged, else restart it.
    if (this.sndUna === this.sndMax) {
      if (this.lossTimerArmed()) {
        this.timerMode = TimerIdle;
        ep.rtxTimer.cancel();
      }
    } else if (restartTimer) {
      this.timerMode = TimerRetransmit;
      this.rtxStart = now;
      ep.rtxTimer.schedule(this.rtoDelay());
    }
    ep.onAcked(dataAcked > 0 ? dataAcked : 0);
  }

  private dupAck(): void {
    this.dupAcks++;
    if (this.inRecovery) {
      // RFC 5681 §3.2 step 4: inflate; output() then sends new data if cwnd allows. With SACK
      // (RFC 6675) the pipe estimate replaces inflation.
      if (!this.sackOk) this.cc.onDupAckInRecovery(this.mss);
      return;
    }
    // RFC 6582 §3.2 step 2: fast retransmit only when the ACK covers more than `recover`
    // (old duplicates after a timeout must not trigger another reduction). RFC 6675 §5: with
    // SACK, also as soon as the scoreboard says the first segment is lost. With RACK (RFC 8985)
    // the SACK-based verdicts are RACK's (rackDetect); three duplicate ACKs carrying no SACK
    // information still count.
    const trigger = this.rackOn
      ? this.dupAcks === 3 && this.sacked.length === 0
      : this.dupAcks === 3 || (this.sackOk && this.sacked.length > 0 && this.isLost(this.sndUna));
    if (trigger && seqGT(this.sndUna, this.recover)) {
      this.enterRecovery();
      this.highRxt = seqAdd(this.sndUna, this.retransmitHead());
    }
  }

  /** Fast retransmit / fast recovery begins (RFC 5681 §3.2, RFC 6582, RFC 6675 §5, RFC 8985 §6.2). */
  private enterRecovery(): void {
    const ep = this.ep;
    this.inRecovery = true;
    this.partialAckSeen = false;
    this.recover = this.sndMax;
    this.cc.onEnterRecovery(this.outstanding(), this.mss);
    this.rttTiming = false;
    // A recovery episode ends any loss probe's (RFC 8985 §7.4: the recovery repairs the tail).
    this.tlpActive = false;
    ep.stack.stats.tcp.fastRetransmit++;
    ep.stack.stats.tcp.fastRecovery++;
    // RFC 6675 §5 (4.2): with SACK, cwnd = ssthresh and the pipe estimate does the rest.
    if (this.sackOk) this.cc.cwnd = this.cc.ssthresh;
    if (this.timerMode === TimerProbe) this.rearmRto();
  }

  // ------------------------------------------------------------------ timers

  /** The retransmission timer fired in a synchronized state (RFC 6298 §5.4-5.6). */
  onRetransmitTimeout(): void {
    const ep = this.ep;
    // The shared timer may be RACK's reordering timer or the PTO (see the file comment).
    if (this.timerMode === TimerRack) {
      this.onRackTimeout();
      return;
    }
    if (this.timerMode === TimerProbe) {
      this.onProbeTimeout();
      return;
    }
    if (this.sndUna === this.sndMax) {
      this.timerMode = TimerIdle;
      return;
    }
    const now = ep.now();
    const ut = ep.userTimeout;
    if (ut > 0 ? now - this.rtxStart >= ut : this.retransmits >= ep.proto.options.retries2) {
      // RFC 9293 §3.8.3 R2 / Linux tcp_retries2 or TCP_USER_TIMEOUT: give up.
      ep.timedOut(false);
      return;
    }
    this.retransmits++;
    ep.stack.stats.tcp.timeouts++;
    if (this.cc.cwnd < this.cc.ssthresh) ep.stack.stats.tcp.slowStartRetransmits++;
    this.cc.onRetransmitTimeout(this.outstanding(), this.mss);
    // RFC 6582 §4: remember the highest sequence sent, so duplicate ACKs of data sent before the
    // timeout do not start a fast retransmit.
    this.recover = this.sndMax;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.highRxt = this.sndUna;
    this.tlpActive = false;
    this.rtt.backoff();
    this.rttTiming = false;
    this.rtoTs = ep.tsNow();
    this.rtoTsValid = true;
    // Go back to SND.UNA: the first segment now, the rest as ACKs open the congestion window.
    this.sndNxt = this.sndUna;
    this.sndSml = this.sndUna;
    this.retransmitHead();
    this.output();
    this.timerMode = TimerRetransmit;
    ep.rtxTimer.schedule(this.rtoDelay());
  }

  /**
   * The persist timer fired: nothing outstanding, data waiting. Send what the window allows,
   * ignoring Nagle and TCP_CORK (this is also what bounds a cork's hold), or, with no window, a
   * zero-window probe; back off while the window stays shut.
   */
  onPersistTimeout(): void {
    const ep = this.ep;
    this.timerMode = TimerIdle;
    const avail = this.unsent();
    if (avail === 0) {
      if (this.finQueued && !this.finSent()) this.output();
      return;
    }
    const now = ep.now();
    const ut = ep.userTimeout;
    // Give up on TCP_USER_TIMEOUT once probing has lasted that long (Linux measures from the first
    // probe of this zero-window episode), or after tcp_retries2 probes nobody answered.
    if ((ut > 0 && this.persistBackoff > 0 && now - this.persistStart >= ut) ||
      this.probesOut >= ep.proto.options.retries2) {
      ep.timedOut(false);
      return;
    }
    const inFlight = seqDiff(this.sndNxt, this.sndUna);
    const cwnd = Math.floor(this.cc.cwnd);
    const usable = (this.sndWnd < cwnd ? this.sndWnd : cwnd) - inFlight;
    if (usable > 0) {
      let len = avail < this.mss ? avail : this.mss;
      if (usable < len) len = usable;
      this.transmit(this.sndNxt, len);
      this.output();
      return;
    }
    // RFC 9293 §3.8.6.1: probe the zero window. Like Linux, the probe is an ACK carrying an old
    // sequence number (SND.UNA - 1), which the receiver must answer with its current window.
    if (this.persistBackoff === 0) this.persistStart = now;
    ep.emit(seqAdd(this.sndUna, -1), TCP_ACK, null, 0, false);
    ep.stack.stats.tcp.zeroWindowProbes++;
    this.probesOut++;
    this.persistBackoff++;
    this.timerMode = TimerPersist;
    ep.rtxTimer.schedule(this.persistDelay());
  }

  /** The path MTU shrank (ICMP packet too big): use the smaller MSS and resend what is outstanding. */
  mtuReduced(newMss: number): void {
    if (newMss >= this.mss) return;
    this.mss = newMss;
    if (seqGT(this.sndMax, this.sndUna)) {
      this.sndNxt = this.sndUna;
      this.sndSml = this.sndUna;
      this.rttTiming = false;
      this.output();
    }
  }
}

defineFlags(Sender.prototype, [
  "rttTiming",
  "rtoTsValid",
  "inRecovery",
  "partialAckSeen",
  "finQueued",
  "more",
  "pathMtuShrunk",
  "sackOk",
  "rackOn",
  "tlpActive",
  "tlpIsRetrans",
  "dsackSeen",
  "sackGrew",
  "exitedRecovery",
  "cwndLimited",
]);
