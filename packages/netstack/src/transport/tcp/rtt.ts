/**
 * Retransmission timeout computation (RFC 6298), with Linux's bounds: RTO min 200 ms
 * (TCP_RTO_MIN), max 120 s (TCP_RTO_MAX), initial 1 s (RFC 6298 §2.1, TCP_TIMEOUT_INIT).
 */

export interface RttLimits {
  /** Before any measurement (RFC 6298 §2.1: 1 s). */
  initialRto: number;
  /** Lower bound (Linux 200 ms; RFC 6298 §2.4 would say 1 s). */
  minRto: number;
  /** Upper bound (RFC 6298 §2.5 allows a maximum of at least 60 s; Linux 120 s). */
  maxRto: number;
  /** Clock granularity G (RFC 6298 §2). The manual and real clocks tick in milliseconds. */
  granularity: number;
}

export const DEFAULT_RTT_LIMITS: RttLimits = {
  initialRto: 1000,
  minRto: 200,
  maxRto: 120_000,
  granularity: 1,
};

/** RFC 6298 §5.7: the RTO to use once data flows when the SYN had to be retransmitted. */
export const FALLBACK_RTO = 3000;

export class RttEstimator {
  /** Smoothed round-trip time (ms); 0 until the first measurement. */
  srtt = 0;
  /** Round-trip time variation (ms). */
  rttvar = 0;
  /** The current retransmission timeout (ms), backoff included. */
  rto: number;
  /** True once a measurement was taken. */
  measured = false;
  /** Number of times the RTO was doubled since the last measurement (RFC 6298 §5.5). */
  backoffs = 0;

  constructor(readonly limits: RttLimits = DEFAULT_RTT_LIMITS) {
    this.rto = limits.initialRto;
  }

  /** Feeds one measurement R (ms) of a segment that was not retransmitted (Karn's rule). */
  sample(r: number): void {
    if (r < 0) r = 0;
    if (!this.measured) {
      // RFC 6298 §2.2: the first measurement.
      this.srtt = r;
      this.rttvar = r / 2;
      this.measured = true;
    } else {
      // RFC 6298 §2.3, alpha = 1/8, beta = 1/4; RTTVAR is updated with the old SRTT.
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.backoffs = 0;
    this.rto = this.clamp(this.srtt + Math.max(this.limits.granularity, 4 * this.rttvar));
  }

  /** RFC 6298 §5.5: doubles the RTO after a retransmission timeout (up to the maximum). */
  backoff(): void {
    this.backoffs++;
    this.rto = Math.min(this.rto * 2, this.limits.maxRto);
  }

  /** Sets the RTO directly (RFC 6298 §5.7's 3 s fallback); keeps the bounds. */
  setRto(ms: number): void {
    this.rto = this.clamp(ms);
  }

  private clamp(v: number): number {
    // RFC 6298 §2.4 / §2.5 with Linux's bounds.
    return Math.min(this.limits.maxRto, Math.max(this.limits.minRto, v));
  }
}
