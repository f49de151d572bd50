/**
 * Initial sequence numbers per RFC 6528 §3:
 *
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a timer ticking every 4 microseconds (read from the injected clock) and F a keyed hash:
 * SHA-256 over a 16-byte secret drawn once from the stack's random source, and the 4-tuple.
 * Connections to the same peer therefore start in separate, unpredictable sequence spaces, while
 * a new incarnation of the same 4-tuple starts beyond the old one as time moves on.
 */
import { createHash } from "node:crypto";
import type { Clock } from "../../clock/clock.js";
import type { RandomSource } from "../../clock/random.js";
import type { Address } from "../../tcpip/address.js";

export class IsnGenerator {
  private readonly secret = new Uint8Array(16);
  private readonly ports = new Uint8Array(4);

  constructor(
    private readonly clock: Clock,
    random: RandomSource,
  ) {
    random.fill(this.secret);
  }

  generate(localAddr: Address, localPort: number, remoteAddr: Address, remotePort: number): number {
    const p = this.ports;
    p[0] = localPort >>> 8;
    p[1] = localPort;
    p[2] = remotePort >>> 8;
    p[3] = remotePort;
    const h = createHash("sha256");
    h.update(this.secret);
    h.update(localAddr.bytes);
    h.update(remoteAddr.bytes);
    h.update(p);
    const d = h.digest();
    const f = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
    // RFC 6528 §3 (and RFC 9293 §3.4.1): M is a 4-microsecond clock; clock.now() is milliseconds.
    const m = Math.floor(this.clock.now() * 250) >>> 0;
    return (m + f) >>> 0;
  }
}
