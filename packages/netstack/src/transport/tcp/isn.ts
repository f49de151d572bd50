/**
 * Initial sequence numbers per RFC 6528 §3:
 *
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a timer ticking every 4 microseconds (read from the injected clock) and F a keyed hash:
 * SipHash-2-4 under a 16-byte secret drawn once from the stack's random source, over the
 * 4-tuple. Connections to the same peer therefore start in separate, unpredictable sequence
 * spaces, while a new incarnation of the same 4-tuple starts beyond the old one as time moves on.
 */
import type { Clock } from "../../clock/clock.js";
import type { RandomSource } from "../../clock/random.js";
import { SipHash } from "../../clock/siphash.js";
import type { Address } from "../../tcpip/address.js";

/**
 * Writes a connection's 4-tuple into `b` as keyed-hash input: local address, remote address (4
 * or 16 bytes each), local port, remote port (big-endian). Returns the bytes written (at most 36).
 */
export function writeTupleInput(b: Uint8Array, local: Address, localPort: number, remote: Address, remotePort: number): number {
  const la = local.bytes;
  const ra = remote.bytes;
  b.set(la, 0);
  b.set(ra, la.length);
  let o = la.length + ra.length;
  b[o++] = localPort >>> 8;
  b[o++] = localPort;
  b[o++] = remotePort >>> 8;
  b[o++] = remotePort;
  return o;
}

export class IsnGenerator {
  private readonly hasher: SipHash;
  /** local address, remote address (4 or 16 bytes each), local port, remote port. */
  private readonly input = new Uint8Array(36);

  constructor(
    private readonly clock: Clock,
    random: RandomSource,
  ) {
    const secret = new Uint8Array(16);
    random.fill(secret);
    this.hasher = new SipHash(secret);
  }

  /**
   * `now` (ms): the caller's reading of the clock when it has one (an endpoint reads it once per
   * operation), so the ISN costs no clock read of its own.
   */
  generate(localAddr: Address, localPort: number, remoteAddr: Address, remotePort: number, now = this.clock.now()): number {
    const b = this.input;
    const f = this.hasher.hash(b, 0, writeTupleInput(b, localAddr, localPort, remoteAddr, remotePort));
    // RFC 6528 §3 (and RFC 9293 §3.4.1): M is a 4-microsecond clock; now is milliseconds.
    const m = Math.floor(now * 250) >>> 0;
    return (m + f) >>> 0;
  }
}
