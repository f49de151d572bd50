/**
 * Token bucket for ICMP error messages, like Linux's icmp_msgs_per_sec (1000/s) with
 * icmp_msgs_burst (50). Time comes from the stack's clock.
 */
import type { Clock } from "../clock/clock.js";

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    readonly ratePerSec = 1000,
    readonly burst = 50,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Takes a token if one is available. */
  take(): boolean {
    const now = this.clock.now();
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
