/**
 * Congestion control behind a small interface, so that a different algorithm (CUBIC, part 2)
 * can be chosen by name (TCP_CONGESTION) without touching the sender. The sender owns the loss
 * detection and the recovery state (duplicate-ACK counting, NewReno's `recover`); an algorithm
 * only decides how cwnd and ssthresh move. Windows are in bytes.
 */

export interface CongestionControl {
  /** The name TCP_CONGESTION reports ("reno"). */
  readonly name: string;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /** New data was cumulatively acknowledged outside loss recovery. */
  onAck(ackedBytes: number, mss: number): void;
  /** Third duplicate ACK: fast retransmit and enter fast recovery (RFC 5681 §3.2 steps 2-3). */
  onEnterRecovery(flightSize: number, mss: number): void;
  /** A further duplicate ACK during fast recovery (RFC 5681 §3.2 step 4). */
  onDupAckInRecovery(mss: number): void;
  /** A partial ACK during fast recovery (RFC 6582 §3.2 step 5). */
  onPartialAck(ackedBytes: number, mss: number): void;
  /** A full ACK ends fast recovery (RFC 6582 §3.2 step 4). */
  onExitRecovery(flightSize: number, mss: number): void;
  /** Retransmission timeout (RFC 5681 §3.1 eq. 4 and the loss window). */
  onRetransmitTimeout(flightSize: number, mss: number): void;
  /**
   * Sending restarts after an idle period longer than the RTO (RFC 5681 §4.1): cwnd becomes at
   * most `restartWindow` (the sender computes it, RFC 7661 / RFC 2861 decay included).
   */
  onIdleRestart(restartWindow: number): void;
  /**
   * Optional: an ACK of new data arrived, before onAck. `rttMs` is its RTT sample (-1 when it
   * gave none); `ack` and `sndNxt` let an algorithm count round trips (RFC 9406 §4.2).
   */
  onRttSample?(rttMs: number, ack: number, sndNxt: number): void;
}

/** Linux's "infinite" ssthresh (TCP_INFINITE_SSTHRESH), in bytes here. */
export const INFINITE_SSTHRESH = 0x7fffffff;

/** RFC 6928 / Linux: the initial window is 10 segments. */
export function initialWindow(mss: number, segments = 10): number {
  return segments * mss;
}

/** cwnd after slow start counts `acked` bytes: every byte, but not past ssthresh. */
export function slowStartIncrease(cwnd: number, ssthresh: number, acked: number): number {
  const next = cwnd + acked;
  return next > ssthresh && cwnd < ssthresh ? ssthresh : next;
}

/**
 * NewReno (RFC 5681 with RFC 6582's recovery). Linux calls its NewReno "reno".
 * Slow start grows cwnd by every byte acknowledged, up to ssthresh (byte counting as in RFC
 * 3465 §2.2 but without its L limit, as Linux does since it dropped tcp_abc: a stretch ACK —
 * one ACK for a whole batch the link delivered at once — counts in full); congestion avoidance
 * grows cwnd by one SMSS per cwnd of acknowledged bytes (RFC 5681 §3.1, eq. 3's recommended
 * byte-counting form).
 */
export class NewReno implements CongestionControl {
  readonly name = "reno";
  cwnd: number;
  ssthresh = INFINITE_SSTHRESH;
  private bytesAcked = 0;

  constructor(mss: number, iwSegments = 10) {
    this.cwnd = initialWindow(mss, iwSegments);
  }

  onAck(acked: number, mss: number): void {
    if (this.cwnd < this.ssthresh) {
      // Slow start: cwnd += N, stopping at ssthresh (see the class comment).
      this.cwnd = slowStartIncrease(this.cwnd, this.ssthresh, acked);
      this.bytesAcked = 0;
      return;
    }
    // RFC 5681 §3.1: one SMSS per RTT, counted in acknowledged bytes.
    this.bytesAcked += acked;
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += mss;
    }
  }

  onEnterRecovery(flight: number, mss: number): void {
    // RFC 5681 §3.2 step 2: ssthresh = max(FlightSize / 2, 2 * SMSS) (eq. 4).
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    // Step 3: cwnd = ssthresh + 3 * SMSS, inflated by the three segments that left the network.
    this.cwnd = this.ssthresh + 3 * mss;
    this.bytesAcked = 0;
  }

  onDupAckInRecovery(mss: number): void {
    // RFC 5681 §3.2 step 4: each further duplicate ACK inflates cwnd by one SMSS.
    this.cwnd += mss;
  }

  onPartialAck(acked: number, mss: number): void {
    // RFC 6582 §3.2 step 5: deflate by the amount acknowledged, then add back one SMSS if that
    // amount was at least one SMSS.
    this.cwnd = Math.max(mss, this.cwnd - acked + (acked >= mss ? mss : 0));
  }

  onExitRecovery(flight: number, mss: number): void {
    // RFC 6582 §3.2 step 4, option (1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, mss) + mss);
    this.bytesAcked = 0;
  }

  onRetransmitTimeout(flight: number, mss: number): void {
    // RFC 5681 §3.1 eq. 4 and "the loss window": cwnd = 1 SMSS.
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = mss;
    this.bytesAcked = 0;
  }

  onIdleRestart(iw: number): void {
    // RFC 5681 §4.1: restart window = min(IW, cwnd).
    if (this.cwnd > iw) this.cwnd = iw;
  }
}

/** What an algorithm may read of its connection: the clock (ms) and the smoothed RTT (ms, 0 if unknown). */
export interface CongestionEnv {
  now(): number;
  srtt(): number;
  /** Whether CUBIC runs HyStart++ (TcpProtocolOptions.hystart; on when absent). */
  hystart?(): boolean;
}

/** RFC 9406 §4.3 constants (for a sender without pacing, L = infinity). */
export const HYSTART_MIN_RTT_THRESH = 4;
export const HYSTART_MAX_RTT_THRESH = 16;
export const HYSTART_MIN_RTT_DIVISOR = 8;
export const HYSTART_N_RTT_SAMPLE = 8;
export const HYSTART_CSS_GROWTH_DIVISOR = 4;
export const HYSTART_CSS_ROUNDS = 5;

/** HyStart++ phases: standard slow start (watching the RTT), Conservative Slow Start, over. */
export const HyStartSlowStart = 0;
export const HyStartCss = 1;
export const HyStartDone = 2;

/**
 * HyStart++ (RFC 9406): leaves slow start before the queue overflows, when the minimum RTT of a
 * round grows by more than a threshold over the previous round's, into Conservative Slow Start
 * (growth divided by CSS_GROWTH_DIVISOR) for CSS_ROUNDS rounds, then congestion avoidance. A
 * round ends when the ACK reaches the SND.NXT recorded at its start. Used for the initial slow
 * start only (RFC 9406 §4.3); a congestion event ends it.
 */
export class HyStartPlusPlus {
  phase = HyStartSlowStart;
  /**
   * SND.NXT at the start of the round, as an int32 (compared mod 2^32 only): a uint32 outside
   * V8's small-integer range would be a boxed number per connection (#8).
   */
  private windowEnd = 0;
  private started = false;
  lastRoundMinRtt = Infinity;
  currentRoundMinRtt = Infinity;
  rttSampleCount = 0;
  cssBaselineMinRtt = Infinity;
  cssRounds = 0;

  /**
   * One ACK of new data. Returns true when CSS has run its rounds: the caller ends slow start
   * (ssthresh = cwnd, RFC 9406 §4.2).
   */
  onAck(rtt: number, ack: number, sndNxt: number): boolean {
    if (this.phase === HyStartDone) return false;
    let roundEnded = false;
    if (!this.started || ((ack - this.windowEnd) | 0) >= 0) {
      // §4.2: a new round begins.
      roundEnded = this.started;
      this.started = true;
      this.windowEnd = sndNxt | 0;
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Infinity;
      this.rttSampleCount = 0;
    }
    if (this.phase === HyStartCss && roundEnded && ++this.cssRounds >= HYSTART_CSS_ROUNDS) {
      this.phase = HyStartDone;
      return true;
    }
    if (rtt < 0) return false;
    if (rtt < this.currentRoundMinRtt) this.currentRoundMinRtt = rtt;
    this.rttSampleCount++;
    if (this.rttSampleCount < HYSTART_N_RTT_SAMPLE) return false;
    if (this.phase === HyStartSlowStart) {
      if (this.currentRoundMinRtt === Infinity || this.lastRoundMinRtt === Infinity) return false;
      const thresh = Math.max(HYSTART_MIN_RTT_THRESH,
        Math.min(this.lastRoundMinRtt / HYSTART_MIN_RTT_DIVISOR, HYSTART_MAX_RTT_THRESH));
      if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.phase = HyStartCss;
        this.cssRounds = 0;
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // §4.2: the RTT fell back under the baseline: the exit was spurious, resume slow start.
      this.cssBaselineMinRtt = Infinity;
      this.phase = HyStartSlowStart;
    }
    return false;
  }
}

/** RFC 9438 §5: C = 0.4 and beta_cubic = 0.7. */
export const CUBIC_C = 0.4;
export const CUBIC_BETA = 0.7;

/** RFC 9438 §4.2 eq. 1: W_cubic(t) = C * (t - K)^3 + W_max (segments, t and K in seconds). */
export function cubicWindow(t: number, k: number, wMax: number): number {
  const d = t - k;
  return CUBIC_C * d * d * d + wMax;
}

/** RFC 9438 §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C). */
export function cubicK(wMax: number, cwndEpoch: number): number {
  return wMax > cwndEpoch ? Math.cbrt((wMax - cwndEpoch) / CUBIC_C) : 0;
}

const NO_ENV: CongestionEnv = { now: () => 0, srtt: () => 0 };

/**
 * CUBIC (RFC 9438), Linux's default. Slow start as NewReno; in congestion avoidance cwnd follows
 * W_cubic(t) from the last congestion event, never below the Reno-friendly estimate W_est
 * (§4.3); a congestion event multiplies cwnd by beta_cubic = 0.7, with fast convergence (§4.7).
 * Recovery without SACK keeps NewReno's inflation (RFC 6582); with SACK the sender's pipe rules.
 */
export class Cubic implements CongestionControl {
  readonly name = "cubic";
  cwnd: number;
  ssthresh = INFINITE_SSTHRESH;
  /** W_max (segments): the window before the last reduction; K and the epoch start (ms, -1: none). */
  wMax = 0;
  k = 0;
  epochStart = -1;
  /** W_est (segments), the Reno-friendly window. */
  wEst = 0;
  /** Whether HyStart++ runs (decided at creation); its state is created when first used (#8). */
  private readonly hystartOn: boolean;
  private hs: HyStartPlusPlus | null = null;

  constructor(mss: number, iwSegments = 10, private readonly env: CongestionEnv = NO_ENV) {
    this.cwnd = initialWindow(mss, iwSegments);
    this.hystartOn = !(env.hystart && !env.hystart());
  }

  /** RFC 9438 §4.10 allows HyStart++ (RFC 9406) in slow start; null when switched off. */
  get hystart(): HyStartPlusPlus | null {
    return this.hystartOn ? (this.hs ??= new HyStartPlusPlus()) : null;
  }

  /** Whether HyStart++'s state exists yet (created at the first RTT sample in slow start). */
  get hystartCreated(): boolean {
    return this.hs !== null;
  }

  onRttSample(rtt: number, ack: number, sndNxt: number): void {
    if (!this.hystartOn || this.cwnd >= this.ssthresh) return;
    const h = this.hystart!;
    if (h.phase === HyStartDone) return;
    // RFC 9406 §4.2: after CSS_ROUNDS rounds of CSS, congestion avoidance (ssthresh = cwnd).
    if (h.onAck(rtt, ack, sndNxt)) this.ssthresh = Math.floor(this.cwnd);
  }

  onAck(acked: number, mss: number): void {
    if (this.cwnd < this.ssthresh) {
      // RFC 9438 §4.10: standard slow start (byte counting without an L limit, see NewReno);
      // in HyStart++'s Conservative Slow Start the increase is divided by CSS_GROWTH_DIVISOR
      // (RFC 9406 §4.2).
      const inc = slowStartIncrease(this.cwnd, this.ssthresh, acked) - this.cwnd;
      this.cwnd += this.hs !== null && this.hs.phase === HyStartCss ? inc / HYSTART_CSS_GROWTH_DIVISOR : inc;
      return;
    }
    const now = this.env.now();
    const cw = this.cwnd / mss;
    if (this.epochStart < 0) {
      // §4.2: a new congestion avoidance stage begins.
      this.epochStart = now;
      if (cw < this.wMax) this.k = cubicK(this.wMax, cw);
      else {
        this.k = 0;
        this.wMax = cw;
      }
      this.wEst = cw;
    }
    const segs = acked / mss;
    const t = (now - this.epochStart) / 1000;
    const rtt = this.env.srtt() / 1000;
    // §4.3: W_est grows by alpha_cubic per window acknowledged (alpha = 1 once above W_max).
    const alpha = this.wEst < this.wMax ? (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA) : 1;
    this.wEst += (alpha * segs) / cw;
    if (cubicWindow(t, this.k, this.wMax) < this.wEst) {
      // §4.3: the Reno-friendly region.
      if (this.wEst * mss > this.cwnd) this.cwnd = this.wEst * mss;
      return;
    }
    // §4.4 / §4.5: aim at W_cubic one RTT ahead, within [cwnd, 1.5 cwnd].
    let target = cubicWindow(t + rtt, this.k, this.wMax);
    if (target < cw) target = cw;
    else if (target > 1.5 * cw) target = 1.5 * cw;
    this.cwnd += ((target - cw) / cw) * segs * mss;
  }

  /** §4.6 / §4.7: a congestion event: remember W_max (fast convergence), ssthresh = beta * cwnd. */
  private reduce(mss: number): void {
    // RFC 9406 §4.2: a congestion event ends HyStart++ (it only runs in the initial slow start).
    if (this.hystartOn) this.hystart!.phase = HyStartDone;
    const cw = this.cwnd / mss;
    this.wMax = cw < this.wMax ? (cw * (1 + CUBIC_BETA)) / 2 : cw;
    this.epochStart = -1;
    this.ssthresh = Math.max(Math.floor(this.cwnd * CUBIC_BETA), 2 * mss);
  }

  onEnterRecovery(_flight: number, mss: number): void {
    this.reduce(mss);
    // Without SACK, NewReno's inflation by the three segments that left (RFC 5681 §3.2).
    this.cwnd = this.ssthresh + 3 * mss;
  }

  onDupAckInRecovery(mss: number): void {
    this.cwnd += mss;
  }

  onPartialAck(acked: number, mss: number): void {
    this.cwnd = Math.max(mss, this.cwnd - acked + (acked >= mss ? mss : 0));
  }

  onExitRecovery(flight: number, mss: number): void {
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, mss) + mss);
  }

  onRetransmitTimeout(_flight: number, mss: number): void {
    // §4.8: the same reduction of ssthresh, and cwnd back to one segment.
    this.reduce(mss);
    this.cwnd = mss;
  }

  onIdleRestart(iw: number): void {
    if (this.cwnd > iw) this.cwnd = iw;
    this.epochStart = -1;
  }
}

type CongestionFactory = (mss: number, iwSegments: number, env?: CongestionEnv) => CongestionControl;

const algorithms = new Map<string, CongestionFactory>([
  ["reno", (mss, iw) => new NewReno(mss, iw)],
  ["cubic", (mss, iw, env) => new Cubic(mss, iw, env)],
]);

/** Names accepted by TCP_CONGESTION. */
export function congestionControlNames(): string[] {
  return [...algorithms.keys()];
}

/** Creates the algorithm `name`, or null when there is none by that name. */
export function createCongestionControl(name: string, mss: number, iwSegments = 10, env?: CongestionEnv): CongestionControl | null {
  const f = algorithms.get(name);
  return f ? f(mss, iwSegments, env) : null;
}

/** Makes an algorithm available by name (TCP_CONGESTION). */
export function registerCongestionControl(name: string, factory: CongestionFactory): void {
  algorithms.set(name, factory);
}
