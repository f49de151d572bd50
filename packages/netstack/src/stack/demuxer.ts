/**
 * Transport demultiplexer: finds the endpoint for an inbound packet with O(1) keyed lookups and
 * no per-packet allocation or string building. Lookup order (most specific first):
 *   1. exact 4-tuple (connected endpoints),
 *   2. local address + local port (bound / listening on one address),
 *   3. any-address + local port (bound / listening on the wildcard).
 * Keys are numeric hashes of (address bytes, ports); buckets hold the candidates and every
 * candidate is compared field by field, so hash collisions are harmless.
 *
 * Dual stack: an endpoint registers once per network protocol it receives (an IPv6 endpoint
 * that is not v6-only: [IPv6, IPv4]). Under IPv4, v4-mapped addresses in its id are stored as
 * the IPv4 addresses they map, so IPv4 packets match them byte for byte.
 */
import { Address, IPV4_PROTOCOL } from "../tcpip/address.js";
import { Err, type TcpipError } from "../tcpip/errors.js";
import type { PortFlags, TransportEndpointHandler, TransportEndpointId } from "./registration.js";

interface Entry {
  transProto: number;
  netProto: number;
  localPort: number;
  localAddress: Address | null;
  remotePort: number;
  remoteAddress: Address | null;
  /** Endpoints sharing this exact id (SO_REUSEPORT / SO_REUSEADDR groups). */
  eps: TransportEndpointHandler[];
  flags: PortFlags;
  device: number;
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return (h ^ (h >>> 15)) >>> 0;
}

function keyOf(transProto: number, netProto: number, localPort: number, localKey: number, remotePort: number,
  remoteKey: number): number {
  let h = mix(0x12345678, transProto | (netProto << 8));
  h = mix(h, localPort | (remotePort << 16));
  h = mix(h, localKey);
  return mix(h, remoteKey);
}

export class TransportDemuxer {
  private readonly table = new Map<number, Entry[]>();
  private count = 0;

  /** Number of registered endpoints (for leak checks). */
  get size(): number {
    return this.count;
  }

  register(transProto: number, netProtos: readonly number[], id: TransportEndpointId, ep: TransportEndpointHandler,
    flags: PortFlags, device: number): TcpipError | null {
    // Check every protocol first so a failure registers nothing.
    for (const np of netProtos) {
      const e = this.find(transProto, np, idFor(id, np));
      if (e && !(e.eps.includes(ep)) && !((e.flags.reusePort && flags.reusePort) || (e.flags.reuseAddr && flags.reuseAddr)))
        return Err.PortInUse;
    }
    for (const np of netProtos) {
      const nid = idFor(id, np);
      const e = this.find(transProto, np, nid);
      if (e) {
        if (!e.eps.includes(ep)) {
          e.eps.push(ep);
          this.count++;
        }
        continue;
      }
      const k = keyOf(transProto, np, nid.localPort, nid.localAddress?.key ?? 0, nid.remotePort, nid.remoteAddress?.key ?? 0);
      let bucket = this.table.get(k);
      if (!bucket) this.table.set(k, (bucket = []));
      bucket.push({
        transProto, netProto: np, localPort: nid.localPort, localAddress: nid.localAddress, remotePort: nid.remotePort,
        remoteAddress: nid.remoteAddress, eps: [ep], flags: { ...flags }, device,
      });
      this.count++;
    }
    return null;
  }

  unregister(transProto: number, netProtos: readonly number[], id0: TransportEndpointId, ep: TransportEndpointHandler): void {
    for (const np of netProtos) {
      const id = idFor(id0, np);
      const k = keyOf(transProto, np, id.localPort, id.localAddress?.key ?? 0, id.remotePort, id.remoteAddress?.key ?? 0);
      const bucket = this.table.get(k);
      if (!bucket) continue;
      for (let i = 0; i < bucket.length; i++) {
        const e = bucket[i]!;
        if (!sameId(e, transProto, np, id)) continue;
        const j = e.eps.indexOf(ep);
        if (j < 0) continue;
        e.eps.splice(j, 1);
        this.count--;
        if (e.eps.length === 0) bucket.splice(i, 1);
        break;
      }
      if (bucket.length === 0) this.table.delete(k);
    }
  }

  private find(transProto: number, netProto: number, id: TransportEndpointId): Entry | undefined {
    const k = keyOf(transProto, netProto, id.localPort, id.localAddress?.key ?? 0, id.remotePort, id.remoteAddress?.key ?? 0);
    const bucket = this.table.get(k);
    if (!bucket) return undefined;
    for (const e of bucket) if (sameId(e, transProto, netProto, id)) return e;
    return undefined;
  }

  /**
   * The endpoint(s) for a packet from (srcAddr at b[srcOff], srcPort) to (dstAddr at b[dstOff],
   * dstPort), most specific match first. Returns the matching entry's endpoint list, or null.
   * `nic` filters endpoints bound to a device (SO_BINDTODEVICE).
   */
  lookup(transProto: number, netProto: number, b: Uint8Array, srcOff: number, dstOff: number, addrLen: number,
    srcPort: number, dstPort: number, nic: number): TransportEndpointHandler[] | null {
    const srcKey = Address.hashBytes(b, srcOff, addrLen);
    const dstKey = Address.hashBytes(b, dstOff, addrLen);
    let e = this.match(keyOf(transProto, netProto, dstPort, dstKey, srcPort, srcKey), transProto, netProto, b, dstOff,
      srcOff, dstPort, srcPort, true, true, nic);
    if (e) return e.eps;
    e = this.match(keyOf(transProto, netProto, dstPort, dstKey, 0, 0), transProto, netProto, b, dstOff, srcOff, dstPort,
      0, true, false, nic);
    if (e) return e.eps;
    e = this.match(keyOf(transProto, netProto, dstPort, 0, 0, 0), transProto, netProto, b, dstOff, srcOff, dstPort, 0,
      false, false, nic);
    return e ? e.eps : null;
  }

  private match(k: number, transProto: number, netProto: number, b: Uint8Array, localOff: number, remoteOff: number,
    localPort: number, remotePort: number, withLocal: boolean, withRemote: boolean, nic: number): Entry | null {
    const bucket = this.table.get(k);
    if (!bucket) return null;
    for (const e of bucket) {
      if (e.transProto !== transProto || e.netProto !== netProto || e.localPort !== localPort || e.remotePort !== remotePort)
        continue;
      if (e.device !== 0 && e.device !== nic) continue;
      if (withLocal ? !(e.localAddress && e.localAddress.equalsBytes(b, localOff)) : e.localAddress !== null) continue;
      if (withRemote ? !(e.remoteAddress && e.remoteAddress.equalsBytes(b, remoteOff)) : e.remoteAddress !== null)
        continue;
      return e;
    }
    return null;
  }

  /**
   * Every endpoint bound to `dstPort` whose local address is the any-address or `dst` itself,
   * and that is not connected elsewhere: the receivers of a broadcast/multicast datagram.
   */
  lookupAll(transProto: number, netProto: number, b: Uint8Array, srcOff: number, dstOff: number, addrLen: number,
    srcPort: number, dstPort: number, nic: number): TransportEndpointHandler[] {
    const out: TransportEndpointHandler[] = [];
    for (const bucket of this.table.values()) {
      for (const e of bucket) {
        if (e.transProto !== transProto || e.netProto !== netProto || e.localPort !== dstPort) continue;
        if (e.device !== 0 && e.device !== nic) continue;
        if (e.localAddress && !e.localAddress.equalsBytes(b, dstOff)) continue;
        if (e.remoteAddress && !(e.remotePort === srcPort && e.remoteAddress.equalsBytes(b, srcOff))) continue;
        void addrLen;
        out.push(...e.eps);
      }
    }
    return out;
  }
}

/** `id` as registered under `netProto`: under IPv4, v4-mapped addresses become IPv4 addresses. */
function idFor(id: TransportEndpointId, netProto: number): TransportEndpointId {
  if (netProto !== IPV4_PROTOCOL || !(id.localAddress?.isV4Mapped || id.remoteAddress?.isV4Mapped)) return id;
  return {
    localPort: id.localPort, remotePort: id.remotePort, localAddress: id.localAddress?.unmapped() ?? null,
    remoteAddress: id.remoteAddress?.unmapped() ?? null,
  };
}

function sameId(e: Entry, transProto: number, netProto: number, id: TransportEndpointId): boolean {
  return e.transProto === transProto && e.netProto === netProto && e.localPort === id.localPort &&
    e.remotePort === id.remotePort && eqAddr(e.localAddress, id.localAddress) && eqAddr(e.remoteAddress, id.remoteAddress);
}

function eqAddr(a: Address | null, b: Address | null): boolean {
  return a === null ? b === null : b !== null && a.equals(b);
}
