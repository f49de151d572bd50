/**
 * Transport demultiplexer: finds the endpoint for an inbound packet with O(1) keyed lookups and
 * no per-packet allocation or string building. Lookup order (most specific first):
 *   1. exact 4-tuple (connected endpoints),
 *   2. local address + local port (bound / listening on one address),
 *   3. any-address + local port (bound / listening on the wildcard).
 * Keys are numeric hashes of (address bytes, ports) in a chained hash table of its own: a slot
 * holds the entries whose keys land there (same key or not), and every candidate is compared
 * field by field, so hash collisions are harmless. Not a Map: with tens of thousands of
 * connections, Map.get/set (a second hashing of the key, the OrderedHashMap's indirections, its
 * rehash as it grows) were a few per cent of connection setup (issue #8).
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
  /** The registration's PortFlags, kept as fields (no copy of the caller's object per entry). */
  reuseAddr: boolean;
  reusePort: boolean;
  device: number;
  /** keyOf() of the id (the table slot is key & mask). */
  key: number;
  /** The next entry in the same table slot (other keys, or the same key: collisions chain here). */
  next: Entry | null;
  /** Neighbours in registration order (lookupAll's order; rehashing keeps each slot's order). */
  older: Entry | null;
  newer: Entry | null;
}

/** Table slots at the start and the least it shrinks to (a power of two). */
const MIN_SLOTS = 64;

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return h ^ (h >>> 15); // int32: no boxed number when not inlined
}

/**
 * Address.hashBytes as an int32: the same bits (keyOf mixes it as an int32 either way), but never
 * a boxed number when the call is not inlined (it runs for every packet).
 */
function hashAddr(b: Uint8Array, off: number, len: number): number {
  if (len === 4) return (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ b[off + i]!, 0x01000193);
  return h;
}

/** Keys stay small integers (V8 Smis): an entry's `key` field boxes nothing, per packet or per entry. */
const KEY_MASK = 0x3fffffff;

function keyOf(transProto: number, netProto: number, localPort: number, localKey: number, remotePort: number,
  remoteKey: number, mask: number): number {
  let h = mix(0x12345678, transProto | (netProto << 8));
  h = mix(h, localPort | (remotePort << 16));
  h = mix(h, localKey);
  return mix(h, remoteKey) & mask;
}

export class TransportDemuxer {
  /** Slot (key & mask) -> its first entry; the others follow through `next`. */
  private slots: (Entry | null)[] = new Array<Entry | null>(MIN_SLOTS).fill(null);
  private mask = MIN_SLOTS - 1;
  /** Entries in the table (an entry may hold several endpoints: `count` counts those). */
  private entries = 0;
  private oldest: Entry | null = null;
  private newest: Entry | null = null;
  private count = 0;
  /**
   * One-entry cache of the last exact 4-tuple match of an IPv4 packet (a bulk flow sends every
   * packet to the same endpoint): the entry and what it was found for. Cleared by every change
   * to the table (register, unregister), so it never answers differently from the table.
   */
  private cached: Entry | null = null;
  private cachedProtos = 0;
  private cachedPorts = 0;
  private cachedSrc = 0;
  private cachedDst = 0;
  private cachedNic = 0;

  /**
   * `keyMask` narrows the hash (tests pass a tiny one to force collisions); the default keeps
   * 30 bits.
   */
  constructor(private readonly keyMask = KEY_MASK) {}

  /** Number of registered endpoints (for leak checks). */
  get size(): number {
    return this.count;
  }

  register(transProto: number, netProtos: readonly number[], id: TransportEndpointId, ep: TransportEndpointHandler,
    flags: PortFlags, device: number): TcpipError | null {
    if (netProtos.length === 1) {
      return this.registerOne(transProto, netProtos[0]!, idFor(id, netProtos[0]!), ep, flags, device);
    }
    // Check every protocol first so a failure registers nothing.
    for (let i = 0; i < netProtos.length; i++) {
      const e = this.find(transProto, netProtos[i]!, idFor(id, netProtos[i]!));
      if (e && !(e.eps.includes(ep)) && !((e.reusePort && flags.reusePort) || (e.reuseAddr && flags.reuseAddr)))
        return Err.PortInUse;
    }
    for (let i = 0; i < netProtos.length; i++) {
      this.registerOne(transProto, netProtos[i]!, idFor(id, netProtos[i]!), ep, flags, device);
    }
    return null;
  }

  /** Registers `ep` under one network protocol (`id` already in that protocol's form). */
  private registerOne(transProto: number, np: number, id: TransportEndpointId, ep: TransportEndpointHandler,
    flags: PortFlags, device: number): TcpipError | null {
    this.cached = null;
    const k = keyOf(transProto, np, id.localPort, id.localAddress?.key ?? 0, id.remotePort, id.remoteAddress?.key ?? 0,
      this.keyMask);
    let last: Entry | null = null;
    for (let e: Entry | null = this.slots[k & this.mask]!; e !== null; last = e, e = e.next) {
      if (e.key !== k || !sameId(e, transProto, np, id)) continue;
      if (e.eps.includes(ep)) return null;
      if (!((e.reusePort && flags.reusePort) || (e.reuseAddr && flags.reuseAddr))) return Err.PortInUse;
      e.eps.push(ep);
      this.count++;
      return null;
    }
    const entry: Entry = {
      transProto, netProto: np, localPort: id.localPort, localAddress: id.localAddress, remotePort: id.remotePort,
      remoteAddress: id.remoteAddress, eps: [ep], reuseAddr: flags.reuseAddr, reusePort: flags.reusePort, device,
      key: k, next: null, older: this.newest, newer: null,
    };
    // Appended at the end of its chain: among colliding keys, the earlier registration is found first.
    if (last === null) this.slots[k & this.mask] = entry;
    else last.next = entry;
    if (this.newest !== null) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
    this.count++;
    if (++this.entries > this.slots.length) this.resize(this.slots.length * 2);
    return null;
  }

  /**
   * Moves every entry to a table of `n` slots. Entries are re-linked newest first, each at the
   * head of its slot, so every chain ends up in registration order (as it was).
   */
  private resize(n: number): void {
    const slots = new Array<Entry | null>(n).fill(null);
    const mask = n - 1;
    for (let e = this.newest; e !== null; e = e.older) {
      const i = e.key & mask;
      e.next = slots[i]!;
      slots[i] = e;
    }
    this.slots = slots;
    this.mask = mask;
  }

  unregister(transProto: number, netProtos: readonly number[], id0: TransportEndpointId, ep: TransportEndpointHandler): void {
    this.cached = null;
    for (let n = 0; n < netProtos.length; n++) {
      const np = netProtos[n]!;
      const id = idFor(id0, np);
      const k = keyOf(transProto, np, id.localPort, id.localAddress?.key ?? 0, id.remotePort, id.remoteAddress?.key ?? 0,
        this.keyMask);
      let prev: Entry | null = null;
      for (let e: Entry | null = this.slots[k & this.mask]!; e !== null; prev = e, e = e.next) {
        if (e.key !== k || !sameId(e, transProto, np, id)) continue;
        const j = e.eps.indexOf(ep);
        if (j < 0) continue;
        e.eps.splice(j, 1);
        this.count--;
        if (e.eps.length === 0) this.removeEntry(e, prev);
        break;
      }
    }
  }

  /** Unlinks `e` (preceded in its slot by `prev`) from its slot and from the registration order. */
  private removeEntry(e: Entry, prev: Entry | null): void {
    if (prev !== null) prev.next = e.next;
    else this.slots[e.key & this.mask] = e.next;
    if (e.older !== null) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer !== null) e.newer.older = e.older;
    else this.newest = e.older;
    e.next = e.older = e.newer = null;
    // Shrinks once three quarters of the slots would be spare (growing again needs twice as many entries).
    if (--this.entries < this.slots.length >> 2 && this.slots.length > MIN_SLOTS) this.resize(this.slots.length >> 1);
  }

  private find(transProto: number, netProto: number, id: TransportEndpointId): Entry | undefined {
    const k = keyOf(transProto, netProto, id.localPort, id.localAddress?.key ?? 0, id.remotePort, id.remoteAddress?.key ?? 0,
      this.keyMask);
    for (let e: Entry | null = this.slots[k & this.mask]!; e !== null; e = e.next) if (e.key === k && sameId(e, transProto, netProto, id)) return e;
    return undefined;
  }

  /**
   * The endpoint(s) for a packet from (srcAddr at b[srcOff], srcPort) to (dstAddr at b[dstOff],
   * dstPort), most specific match first. Returns the matching entry's endpoint list, or null.
   * `nic` filters endpoints bound to a device (SO_BINDTODEVICE).
   */
  lookup(transProto: number, netProto: number, b: Uint8Array, srcOff: number, dstOff: number, addrLen: number,
    srcPort: number, dstPort: number, nic: number): TransportEndpointHandler[] | null {
    const srcKey = hashAddr(b, srcOff, addrLen);
    const dstKey = hashAddr(b, dstOff, addrLen);
    // IPv4 keys are the addresses themselves, so equal keys mean the same 4-tuple.
    const protos = transProto | (netProto << 8);
    const ports = srcPort | (dstPort << 16);
    const c = this.cached;
    if (c !== null && addrLen === 4 && this.cachedSrc === srcKey && this.cachedDst === dstKey &&
      this.cachedPorts === ports && this.cachedProtos === protos && this.cachedNic === nic) return c.eps;
    const m = this.keyMask;
    let e = this.match(keyOf(transProto, netProto, dstPort, dstKey, srcPort, srcKey, m), transProto, netProto, b, dstOff,
      srcOff, dstPort, srcPort, true, true, nic);
    if (e) {
      if (addrLen === 4) {
        this.cached = e;
        this.cachedProtos = protos;
        this.cachedPorts = ports;
        this.cachedSrc = srcKey;
        this.cachedDst = dstKey;
        this.cachedNic = nic;
      }
      return e.eps;
    }
    e = this.match(keyOf(transProto, netProto, dstPort, dstKey, 0, 0, m), transProto, netProto, b, dstOff, srcOff, dstPort,
      0, true, false, nic);
    if (e) return e.eps;
    e = this.match(keyOf(transProto, netProto, dstPort, 0, 0, 0, m), transProto, netProto, b, dstOff, srcOff, dstPort, 0,
      false, false, nic);
    return e ? e.eps : null;
  }

  private match(k: number, transProto: number, netProto: number, b: Uint8Array, localOff: number, remoteOff: number,
    localPort: number, remotePort: number, withLocal: boolean, withRemote: boolean, nic: number): Entry | null {
    for (let e: Entry | null = this.slots[k & this.mask]!; e !== null; e = e.next) {
      if (e.key !== k || e.transProto !== transProto || e.netProto !== netProto || e.localPort !== localPort ||
        e.remotePort !== remotePort) continue;
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
    for (let e = this.oldest; e !== null; e = e.newer) {
      if (e.transProto !== transProto || e.netProto !== netProto || e.localPort !== dstPort) continue;
      if (e.device !== 0 && e.device !== nic) continue;
      if (e.localAddress && !e.localAddress.equalsBytes(b, dstOff)) continue;
      if (e.remoteAddress && !(e.remotePort === srcPort && e.remoteAddress.equalsBytes(b, srcOff))) continue;
      void addrLen;
      out.push(...e.eps);
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
