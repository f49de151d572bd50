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
  /** Sending restarts after an idle period longer than the RTO (RFC 5681 §4.1). */
  onIdleRestart(initialWindow: number): void;
}

/** Linux's "infinite" ssthresh (TCP_INFINITE_SSTHRESH), in bytes here. */
export const INFINITE_SSTHRESH = 0x7fffffff;

/** RFC 6928 / Linux: the initial window is 10 segments. */
export function initialWindow(mss: number, segments = 10): number {
  return segments * mss;
}

/**
 * NewReno (RFC 5681 with RFC 6582's recovery). Linux calls its NewReno "reno".
 * Slow start uses Appropriate Byte Counting with L = 2 SMSS (RFC 3465 §2.2), congestion
 * avoidance grows cwnd by one SMSS per cwnd of acknowledged bytes (RFC 5681 §3.1, eq. 3's
 * recommended byte-counting form).
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
      // RFC 3465 §2.2: in slow start, cwnd += min(N, L * SMSS) with L = 2.
      this.cwnd += Math.min(acked, 2 * mss);
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

type CongestionFactory = (mss: number, iwSegments: number) => CongestionControl;

const algorithms = new Map<string, CongestionFactory>([["reno", (mss, iw) => new NewReno(mss, iw)]]);

/** Names accepted by TCP_CONGESTION. */
export function congestionControlNames(): string[] {
  return [...algorithms.keys()];
}

/** Creates the algorithm `name`, or null when there is none by that name. */
export function createCongestionControl(name: string, mss: number, iwSegments = 10): CongestionControl | null {
  const f = algorithms.get(name);
  return f ? f(mss, iwSegments) : null;
}

/** Makes an algorithm available by name (part 2 registers "cubic"). */
export function registerCongestionControl(name: string, factory: CongestionFactory): void {
  algorithms.set(name, factory);
}
