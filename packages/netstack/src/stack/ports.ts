/**
 * Port reservations (bind), with Linux's sharing rules:
 * - two reservations of the same transport port conflict when their addresses overlap (equal,
 *   or either is the any-address), their network protocols overlap, and their devices overlap
 *   (equal, or either unbound),
 * - unless both set SO_REUSEADDR or both set SO_REUSEPORT.
 * Ephemeral ports come from Linux's default ip_local_port_range, 32768–60999.
 * A v4-mapped address (a dual-stack IPv6 endpoint bound to ::ffff:a.b.c.d) is the IPv4 address
 * it maps, so it conflicts with an IPv4 endpoint bound to a.b.c.d, as on Linux.
 */
import type { Address } from "../tcpip/address.js";
import { Err, type TcpipError } from "../tcpip/errors.js";
import type { PortFlags } from "./registration.js";

interface Reservation {
  addr: Address | null;
  netProtos: readonly number[];
  flags: PortFlags;
  device: number;
  owner: object;
  /** A TCP listener: SO_REUSEADDR no longer lets others share the port (Linux). */
  listening: boolean;
}

export class PortManager {
  /** key = transProto * 65536 + port. */
  private readonly reservations = new Map<number, Reservation[]>();
  private counter = 0;

  constructor(
    public ephemeralMin = 32768,
    public ephemeralMax = 60999,
  ) {}

  setEphemeralRange(min: number, max: number): TcpipError | null {
    if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max <= 65535 && min <= max))
      return Err.InvalidArgument;
    this.ephemeralMin = min;
    this.ephemeralMax = max;
    return null;
  }

  /** True when a new reservation with these parameters would not conflict. */
  isAvailable(transProto: number, netProtos: readonly number[], addr: Address | null, port: number,
    flags: PortFlags, device: number, listening = false, except: object | null = null): boolean {
    const list = this.reservations.get(transProto * 65536 + port);
    if (!list) return true;
    if (addr?.isV4Mapped) addr = addr.unmapped();
    for (const r of list) {
      if (r.owner === except) continue;
      if (!overlapProtos(r.netProtos, netProtos)) continue;
      if (r.device !== 0 && device !== 0 && r.device !== device) continue;
      if (r.addr && addr && !r.addr.equals(addr)) continue;
      // Linux: SO_REUSEADDR shares a port only while neither side is listening on it.
      if (r.flags.reuseAddr && flags.reuseAddr && !r.listening && !listening) continue;
      if (r.flags.reusePort && flags.reusePort) continue;
      return false;
    }
    return true;
  }

  /**
   * Marks `owner`'s reservation of `port` as a listener (or not). Linux's listen() fails with
   * EADDRINUSE when another socket shares the port through SO_REUSEADDR only.
   */
  setListening(transProto: number, port: number, owner: object, listening: boolean): TcpipError | null {
    const list = this.reservations.get(transProto * 65536 + port);
    const r = list?.find((x) => x.owner === owner);
    if (!r) return null;
    if (listening && !this.isAvailable(transProto, r.netProtos, r.addr, port, r.flags, r.device, true, owner))
      return Err.PortInUse;
    r.listening = listening;
    return null;
  }

  reserve(transProto: number, netProtos: readonly number[], addr: Address | null, port: number,
    flags: PortFlags, device: number, owner: object): number | TcpipError {
    if (port === 0) {
      const picked = this.pickEphemeral(this.counter, (p) =>
        this.isAvailable(transProto, netProtos, addr, p, flags, device));
      if (typeof picked !== "number") return picked;
      port = picked;
    } else if (!this.isAvailable(transProto, netProtos, addr, port, flags, device)) {
      return Err.PortInUse;
    }
    const key = transProto * 65536 + port;
    let list = this.reservations.get(key);
    if (!list) this.reservations.set(key, (list = []));
    list.push({ addr: addr?.isV4Mapped ? addr.unmapped() : addr, netProtos, flags: { ...flags }, device, owner, listening: false });
    return port;
  }

  release(transProto: number, addr: Address | null, port: number, owner: object): void {
    const key = transProto * 65536 + port;
    const list = this.reservations.get(key);
    if (!list) return;
    if (addr?.isV4Mapped) addr = addr.unmapped();
    const i = list.findIndex((r) => r.owner === owner && (r.addr === addr || (r.addr !== null && r.addr.equals(addr))));
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.reservations.delete(key);
  }

  /**
   * RFC 6056 §3.3.2-like: start at an offset derived from `hint` plus a running counter and walk
   * the range, returning the first port `tryPort` accepts.
   */
  pickEphemeral(hint: number, tryPort: (port: number) => boolean): number | TcpipError {
    const n = this.ephemeralMax - this.ephemeralMin + 1;
    const start = ((hint >>> 0) + this.counter++) % n;
    for (let i = 0; i < n; i++) {
      const p = this.ephemeralMin + ((start + i) % n);
      if (tryPort(p)) return p;
    }
    return Err.PortInUse;
  }

  /** Number of reserved (protocol, port) pairs, for leak checks. */
  get size(): number {
    return this.reservations.size;
  }
}

function overlapProtos(a: readonly number[], b: readonly number[]): boolean {
  for (const x of a) if (b.includes(x)) return true;
  return false;
}
