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
  /** The reservation's PortFlags, kept as fields (no copy of the caller's object per port). */
  reuseAddr: boolean;
  reusePort: boolean;
  device: number;
  owner: object;
  /** A TCP listener: SO_REUSEADDR no longer lets others share the port (Linux). */
  listening: boolean;
}

export class PortManager {
  /**
   * Per transport protocol, the reservations by port: 256 pages of 256 ports each, a page made
   * when a port in it is first reserved. Indexing instead of hashing keeps bind/connect cheap
   * with tens of thousands of ports in use.
   */
  private readonly byProto = new Map<number, (Reservation[] | undefined)[][]>();
  /** Any other port number a caller passes (not an integer in 0..65535), by transProto * 65536 + port. */
  private readonly odd = new Map<number, Reservation[]>();
  /** Reserved (protocol, port) pairs. */
  private pairs = 0;
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
    const list = this.listOf(transProto, port);
    if (!list) return true;
    if (addr?.isV4Mapped) addr = addr.unmapped();
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!;
      if (r.owner === except) continue;
      if (!overlapProtos(r.netProtos, netProtos)) continue;
      if (r.device !== 0 && device !== 0 && r.device !== device) continue;
      if (r.addr && addr && !r.addr.equals(addr)) continue;
      // Linux: SO_REUSEADDR shares a port only while neither side is listening on it.
      if (r.reuseAddr && flags.reuseAddr && !r.listening && !listening) continue;
      if (r.reusePort && flags.reusePort) continue;
      return false;
    }
    return true;
  }

  /**
   * Marks `owner`'s reservation of `port` as a listener (or not). Linux's listen() fails with
   * EADDRINUSE when another socket shares the port through SO_REUSEADDR only.
   */
  setListening(transProto: number, port: number, owner: object, listening: boolean): TcpipError | null {
    const list = this.listOf(transProto, port);
    const r = list?.find((x) => x.owner === owner);
    if (!r) return null;
    if (listening && !this.isAvailable(transProto, r.netProtos, r.addr, port,
      { reuseAddr: r.reuseAddr, reusePort: r.reusePort }, r.device, true, owner))
      return Err.PortInUse;
    r.listening = listening;
    return null;
  }

  reserve(transProto: number, netProtos: readonly number[], addr: Address | null, port: number,
    flags: PortFlags, device: number, owner: object): number | TcpipError {
    if (port === 0) {
      // pickEphemeral's walk with the counter as its hint (the same ports as before), without a
      // callback allocated per connect.
      const n = this.ephemeralMax - this.ephemeralMin + 1;
      const c = this.counter++;
      const start = (c + c) % n;
      for (let i = 0; i < n; i++) {
        const p = this.ephemeralMin + ((start + i) % n);
        if (this.isAvailable(transProto, netProtos, addr, p, flags, device)) {
          port = p;
          break;
        }
      }
      if (port === 0) return Err.PortInUse;
    } else if (!this.isAvailable(transProto, netProtos, addr, port, flags, device)) {
      return Err.PortInUse;
    }
    let list = this.listOf(transProto, port);
    if (!list) {
      list = [];
      if ((port & 0xffff) !== port) this.odd.set(transProto * 65536 + port, list);
      else {
        let pages = this.byProto.get(transProto);
        if (!pages) this.byProto.set(transProto, (pages = []));
        (pages[port >>> 8] ??= new Array<Reservation[] | undefined>(256))[port & 255] = list;
      }
      this.pairs++;
    }
    list.push({
      addr: addr?.isV4Mapped ? addr.unmapped() : addr, netProtos, reuseAddr: flags.reuseAddr, reusePort: flags.reusePort,
      device, owner, listening: false,
    });
    return port;
  }

  release(transProto: number, addr: Address | null, port: number, owner: object): void {
    const list = this.listOf(transProto, port);
    if (!list) return;
    if (addr?.isV4Mapped) addr = addr.unmapped();
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!;
      if (r.owner === owner && (r.addr === addr || (r.addr !== null && r.addr.equals(addr)))) {
        list.splice(i, 1);
        break;
      }
    }
    if (list.length === 0) {
      if ((port & 0xffff) !== port) this.odd.delete(transProto * 65536 + port);
      else this.byProto.get(transProto)![port >>> 8]![port & 255] = undefined;
      this.pairs--;
    }
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

  private listOf(transProto: number, port: number): Reservation[] | undefined {
    if ((port & 0xffff) !== port) return this.odd.get(transProto * 65536 + port);
    const pages = this.byProto.get(transProto);
    if (pages === undefined) return undefined;
    const page = pages[port >>> 8];
    return page === undefined ? undefined : page[port & 255];
  }

  /** Number of reserved (protocol, port) pairs, for leak checks. */
  get size(): number {
    return this.pairs;
  }
}

function overlapProtos(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (b.includes(a[i]!)) return true;
  return false;
}
