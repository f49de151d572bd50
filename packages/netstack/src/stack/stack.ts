/**
 * The Stack: the mediator between links, network protocols and transport protocols (gVisor's
 * stack.Stack). It owns the NICs, the route table, the port manager, the transport demuxer and
 * the counters; protocols are handed to it as factories and reach it through the services
 * interfaces in registration.ts.
 */
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, Subnet } from "../tcpip/address.js";
import { Err, type TcpipError } from "../tcpip/errors.js";
import type { Endpoint } from "../tcpip/endpoint.js";
import { PacketBuffer } from "../buffer/packet.js";
import { WaiterQueue } from "../waiter/queue.js";
import { RealClock, type Clock } from "../clock/clock.js";
import { CryptoRandom, type RandomSource } from "../clock/random.js";
import { CapGso, CapResolutionRequired, CapTxChecksumOffload, CapTxNoRetain, type LinkEndpoint } from "../link/link.js";
import { pseudoHeaderChecksum } from "../header/checksum.js";
import { Nic, type NicHost, type NicOptions } from "./nic.js";
import { RouteTable, type RouteSpec } from "./route-table.js";
import { PortManager } from "./ports.js";
import { TransportDemuxer } from "./demuxer.js";
import type { NeighborCache, NeighborResolver } from "./neighbor.js";
import { newStackStats, type StackStats } from "./stats.js";
import type {
  AddressOptions, BatchFlusher, NetworkProtocol, NetworkProtocolFactory, NetworkStackServices, NetworkWriteParams, NicServices,
  PortFlags, Route, TransportEndpointHandler, TransportEndpointId, TransportError, TransportErrorKind,
  TransportProtocol, TransportProtocolFactory,
} from "./registration.js";

export interface StackOptions {
  networkProtocols: NetworkProtocolFactory[];
  transportProtocols: TransportProtocolFactory[];
  /** Defaults to a RealClock. Tests pass a ManualClock. */
  clock?: Clock;
  /** Defaults to a crypto-strength source. Tests pass a SeededRandom. */
  random?: RandomSource;
  /** Default TTL / hop limit (64). */
  defaultTtl?: number;
  /** Ephemeral port range, inclusive (Linux default 32768–60999). */
  ephemeralPorts?: [number, number];
}

/** Distinct IPv4 destinations whose routes Stack keeps for reuse (then it starts over). */
const ROUTE_CACHE_MAX = 4096;
const MIN_PATH_MTU_V4 = 576; // RFC 1191: never go below 576 for IPv4 (Linux min_pmtu 552; keep 576)
const MIN_PATH_MTU_V6 = 1280; // RFC 8200 §5

export class Stack implements NetworkStackServices, NicHost {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly stats: StackStats = newStackStats();
  readonly defaultTtl: number;
  readonly routes = new RouteTable();
  readonly ports: PortManager;
  readonly demux = new TransportDemuxer();
  private readonly nics = new Map<number, Nic>();
  private readonly netProtos = new Map<number, NetworkProtocol>();
  private readonly transProtos = new Map<number, TransportProtocol>();
  private readonly resolvers = new Map<number, (nic: NicServices) => NeighborResolver>();
  private readonly resolverInstances = new Map<Nic, Map<number, NeighborResolver>>();
  private readonly pathMtus = new Map<number, { addr: Address; mtu: number; at: number }>();
  private inBatch = false;
  private deferred: BatchFlusher[] = [];
  private readonly deferredSet = new Set<BatchFlusher>();
  private closed = false;
  /**
   * IPv4 routes from the route table by destination, shared by the connections that ask for the
   * same one (a StackRoute is immutable): one per peer rather than one per connection (#8). An
   * entry serves while `routeEpoch` (NICs, their addresses and state) and the route table's
   * version are those it was made under, and its NIC is enabled.
   */
  private readonly routeCache = new Map<number, StackRoute>();
  private routeEpoch = 0;
  private readonly nicUsable = (id: number): boolean => this.nics.get(id)?.enabled === true;

  constructor(opts: StackOptions) {
    this.clock = opts.clock ?? new RealClock();
    this.random = opts.random ?? new CryptoRandom();
    this.defaultTtl = opts.defaultTtl ?? 64;
    this.ports = new PortManager(opts.ephemeralPorts?.[0] ?? 32768, opts.ephemeralPorts?.[1] ?? 60999);
    for (const f of opts.networkProtocols) {
      const p = f(this);
      this.netProtos.set(p.number, p);
    }
    for (const f of opts.transportProtocols) {
      const p = f(this);
      this.transProtos.set(p.number, p);
    }
  }

  // ---------------------------------------------------------------- configuration

  /** Attaches `link` as NIC `id`. Throws on a duplicate id (a configuration error). */
  createNic(id: number, link: LinkEndpoint, opts: NicOptions = {}): Nic {
    if (!Number.isInteger(id) || id <= 0) throw new RangeError(`NIC id must be a positive integer, got ${id}`);
    if (this.nics.has(id)) throw new RangeError(`NIC ${id} already exists`);
    const nic = new Nic(this, id, link, opts);
    this.nics.set(id, nic);
    this.routeEpoch++;
    link.attach(nic);
    for (const np of this.netProtos.values()) np.nicAdded?.(nic);
    return nic;
  }

  removeNic(id: number): TcpipError | null {
    const nic = this.nics.get(id);
    if (!nic) return Err.UnknownNic;
    for (const np of this.netProtos.values()) np.nicRemoved?.(nic);
    nic.link.attach(null);
    nic.shutdown();
    this.nics.delete(id);
    this.routeEpoch++;
    this.routes.removeNic(id);
    this.resolverInstances.delete(nic);
    return null;
  }

  nic(id: number): Nic | undefined {
    return this.nics.get(id);
  }

  nicByName(name: string): Nic | undefined {
    for (const n of this.nics.values()) if (n.name === name) return n;
    return undefined;
  }

  allNics(): Nic[] {
    return [...this.nics.values()];
  }

  enableNic(id: number, enabled = true): TcpipError | null {
    const nic = this.nics.get(id);
    if (!nic) return Err.UnknownNic;
    nic.enabled = enabled;
    this.routeEpoch++;
    return null;
  }

  /**
   * Adds "a.b.c.d/n", "x::y/n" (or a Subnet) to NIC `id`. Throws RangeError on malformed text.
   * An IPv6 address on a link with neighbor resolution stays tentative while duplicate address
   * detection runs (RFC 4862 §5.4; `opts.noDad` skips it).
   */
  addAddress(id: number, addr: string | Subnet, opts: AddressOptions = {}): TcpipError | null {
    const nic = this.nics.get(id);
    if (!nic) return Err.UnknownNic;
    return nic.addAddress(typeof addr === "string" ? Subnet.parse(addr) : addr, opts);
  }

  /**
   * The NIC id a zone names (RFC 4007 §11: "fe80::1%2" or "fe80::1%eth0"): a decimal NIC id or a
   * NIC name; 0 when no NIC matches.
   */
  nicIdForZone(zone: string): number {
    if (/^\d+$/.test(zone)) return this.nics.has(Number(zone)) ? Number(zone) : 0;
    return this.nicByName(zone)?.id ?? 0;
  }

  removeAddress(id: number, addr: string | Address): TcpipError | null {
    const nic = this.nics.get(id);
    if (!nic) return Err.UnknownNic;
    return nic.removeAddress(Address.from(addr));
  }

  addRoute(spec: RouteSpec): void {
    if (!this.nics.has(spec.nic)) throw new RangeError(`route via unknown NIC ${spec.nic}`);
    this.routes.add(spec);
  }

  removeRoute(destination: string | Subnet, nic?: number): number {
    return this.routes.remove(destination, nic);
  }

  /** Adds a permanent neighbor entry (like `ip neigh add ... nud permanent`). */
  addStaticNeighbor(nicId: number, netProto: number, addr: string | Address, linkAddress: Uint8Array): TcpipError | null {
    const nic = this.nics.get(nicId);
    if (!nic) return Err.UnknownNic;
    nic.neighborCache(netProto).addStatic(Address.from(addr), linkAddress);
    return null;
  }

  setEphemeralPortRange(min: number, max: number): TcpipError | null {
    return this.ports.setEphemeralRange(min, max);
  }

  transportProtocol(num: number): TransportProtocol | undefined {
    return this.transProtos.get(num);
  }

  networkProtocol(num: number): NetworkProtocol | undefined {
    return this.netProtos.get(num);
  }

  /** Creates a transport endpoint (a socket's core). */
  newEndpoint(transProto: number, netProto: number, wq: WaiterQueue = new WaiterQueue()): Endpoint | TcpipError {
    const tp = this.transProtos.get(transProto);
    if (!tp) return Err.UnknownProtocol;
    if (!this.netProtos.has(netProto)) return Err.AddressFamilyNotSupported;
    return tp.newEndpoint(netProto, wq);
  }

  /** Registered transport endpoints (leak checks). */
  endpointCount(): number {
    return this.demux.size;
  }

  /** A snapshot of every counter, stack-wide and per NIC. */
  snapshot() {
    return {
      ...structuredClone(this.stats),
      nics: this.allNics().map((n) => n.info()),
    };
  }

  /** `using stack = new Stack(...)`: closes the stack at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Detaches every link, closes protocols and cancels their timers. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const tp of this.transProtos.values()) tp.close?.();
    for (const np of this.netProtos.values()) np.close?.();
    for (const nic of this.nics.values()) {
      nic.link.attach(null);
      nic.shutdown();
      nic.link.close?.();
    }
  }

  // ---------------------------------------------------------------- NicHost

  linkResolver(nic: Nic, netProto: number): NeighborResolver | null {
    let perNic = this.resolverInstances.get(nic);
    if (!perNic) this.resolverInstances.set(nic, (perNic = new Map()));
    let r = perNic.get(netProto);
    if (!r) {
      const f = this.resolvers.get(netProto);
      if (!f) return null;
      r = f(nic);
      perNic.set(netProto, r);
    }
    return r;
  }

  beginBatch(): void {
    this.inBatch = true;
  }

  endBatch(): void {
    this.inBatch = false;
    while (this.deferred.length > 0) {
      const list = this.deferred;
      this.deferred = [];
      this.deferredSet.clear();
      let i = 0;
      try {
        for (; i < list.length; i++) list[i]!.flushDeferred();
      } finally {
        // A flush threw (an application's waiter callback runs inside it): the flushers after it
        // stay queued for the next batch end, rather than waiting for a flush that never comes
        // (an endpoint does not queue itself twice while it waits: TcpEndpoint.scheduleFlush).
        for (let j = i + 1; j < list.length; j++) {
          const f = list[j]!;
          if (!this.deferredSet.has(f)) {
            this.deferredSet.add(f);
            this.deferred.push(f);
          }
        }
      }
    }
  }

  countUnknownProtocol(): void {
    this.stats.unknownProtocolRcvdPackets++;
  }

  onAddressAdded(nic: Nic, addr: Subnet, opts: AddressOptions): void {
    this.routeEpoch++;
    for (const np of this.netProtos.values()) if (np.addressLength === addr.address.length) np.addressAdded?.(nic, addr, opts);
  }

  onAddressRemoved(nic: Nic, addr: Subnet): void {
    this.routeEpoch++;
    for (const np of this.netProtos.values()) if (np.addressLength === addr.address.length) np.addressRemoved?.(nic, addr);
  }

  onNeighborFailure(_nic: Nic, target: Address, pkts: PacketBuffer[]): void {
    if (target.isV6) this.stats.ndp.resolutionTimeouts++;
    else this.stats.arp.resolutionTimeouts++;
    this.stats.droppedPackets += pkts.length;
    // RFC 1122 §2.3.2.2: the queued packets' senders learn the host is unreachable. Transport
    // endpoints see it as an ICMP-like host-unreachable error.
    for (const p of pkts) {
      if (p.transportHeader < 0 || p.networkHeader < 0) continue;
      this.deliverLocalError(p, "host-unreachable");
    }
  }

  /** Reports an error about one of our own outbound packets to the endpoint that sent it. */
  private deliverLocalError(p: PacketBuffer, kind: TransportErrorKind): void {
    const np = this.netProtos.get(p.networkProtocol);
    if (!np || np.addressLength === 0) return;
    const bytes = p.toBytes();
    const hdrOff = p.networkHeader - p.start;
    const len = np.addressLength;
    const q = PacketBuffer.inbound(bytes, p.transportHeader - p.start);
    q.srcAddrOff = hdrOff + (len === 4 ? 12 : 8);
    q.dstAddrOff = q.srcAddrOff + len;
    q.addrLen = len;
    q.networkProtocol = p.networkProtocol;
    q.nicId = p.nicId;
    this.deliverTransportError(q, p.transportProtocol, { kind, info: 0 });
  }

  // ---------------------------------------------------------------- StackServices

  /**
   * A route from `local` (null = choose) to `remote` via NIC `nicId` (0 = any).
   *
   * Dual stack: asked for an IPv6 route to a v4-mapped address (::ffff:a.b.c.d, RFC 4291
   * §2.5.5.2), it returns the IPv4 route to a.b.c.d (netProto IPv4, 4-byte addresses), which is
   * how an IPv6 endpoint that is not v6-only sends IPv4 (RFC 3493 §3.7). A v4-mapped `local` is
   * unmapped the same way; mixing a mapped and a non-mapped address is Err.NetworkUnreachable.
   *
   * IPv6 link-local destinations (and multicast of link scope) need a NIC (their zone, RFC 4007):
   * with `nicId` they are on-link through it; without, the NIC of a link-local `local` is used,
   * else the route table, else Err.NoRoute.
   */
  findRoute(nicId: number, local: Address | null, remote: Address, netProto: number): Route | TcpipError {
    const given = local;
    if (local && local.isUnspecified) local = null;
    if (netProto === IPV6_PROTOCOL && (remote.isV4Mapped || local?.isV4Mapped)) {
      if (!remote.isV4Mapped || (local && !local.isV4Mapped)) return Err.NetworkUnreachable;
      return this.findRoute(nicId, local ? local.unmapped() : null, remote.unmapped(), IPV4_PROTOCOL);
    }
    const np = this.netProtos.get(netProto);
    if (!np || np.addressLength !== remote.length) return Err.AddressFamilyNotSupported;
    if (local && local.length !== remote.length) return Err.AddressFamilyNotSupported;
    const v6 = remote.isV6;

    // A link-local destination without a NIC: the zone of a link-local source names it.
    if (v6 && nicId === 0 && remote.needsZone && local && local.isLinkLocal) nicId = this.nicForAddress(local);

    // Limited broadcast / multicast / IPv6 link-local with an explicit NIC: on-link through it.
    if ((remote.isV4Broadcast || remote.isMulticast || (v6 && remote.isLinkLocal)) && nicId !== 0) {
      const nic = this.nics.get(nicId);
      if (!nic || !nic.enabled) return Err.NoRoute;
      const src = v6 ? local ?? nic.sourceAddressFor(remote) : given ?? nic.primaryAddress(remote.length);
      if (!src) return Err.BadLocalAddress;
      if (v6 && local && !nic.hasAddr(local) && !nic.spoofing && this.nicForAddress(local) === 0) return Err.BadLocalAddress;
      return new StackRoute(this, nic, np, src, remote, null, false);
    }

    // A destination that is one of our own addresses goes through a loopback NIC when there is
    // one (like Linux's local table pointing at lo).
    if (this.nicForAddress(remote) !== 0) {
      for (const nic of this.nics.values()) {
        if (nic.isLoopback && nic.enabled && (nicId === 0 || nicId === nic.id || nic.hasAddr(remote))) {
          const src = local ?? remote;
          return new StackRoute(this, nic, np, src, remote, null, true);
        }
      }
    }

    const v4 = netProto === IPV4_PROTOCOL;
    if (v4) {
      const c = this.routeCache.get(remote.key & 0x3fffffff);
      if (c !== undefined && c.cacheEpoch === this.routeEpoch && c.cacheVersion === this.routes.version &&
        c.askedNic === nicId && c.nic.enabled && c.remoteAddress.equals(remote) &&
        (local === null ? !c.askedLocal : c.askedLocal && c.localAddress.equals(local))) return c;
    }
    const entry = this.routes.lookup(remote, nicId, this.nicUsable);
    if (!entry) {
      this.stats.ip.noRoute++;
      return Err.NoRoute;
    }
    const nic = this.nics.get(entry.nic)!;
    let src: Address | null;
    let owned = true;
    if (local) {
      if (!nic.hasAddr(local)) {
        owned = false;
        // Linux allows a source owned by another NIC (weak host model).
        if (!nic.spoofing && this.nicForAddress(local) === 0) return Err.BadLocalAddress;
      }
      src = local;
    } else {
      // IPv6 chooses by the destination (RFC 6724), not by the (often link-local) gateway.
      src = nic.sourceAddressFor(v6 ? remote : entry.gateway ?? remote);
      if (!src) return Err.BadLocalAddress;
    }
    const r = new StackRoute(this, nic, np, src, remote, entry.gateway, false);
    // Cached only when the answer rests on nothing but the epoch and the table (not on spoofing
    // or another NIC's address); IPv6 source selection also follows address states over time.
    if (v4 && owned) {
      r.askedNic = nicId;
      r.askedLocal = local !== null;
      r.cacheEpoch = this.routeEpoch;
      r.cacheVersion = this.routes.version;
      if (this.routeCache.size >= ROUTE_CACHE_MAX) this.routeCache.clear();
      this.routeCache.set(remote.key & 0x3fffffff, r);
    }
    return r;
  }

  /** The NIC owning `addr` (a v4-mapped address counts as its IPv4 address), or 0. */
  nicForAddress(addr: Address, nicId?: number): number {
    if (addr.isV4Mapped) addr = addr.unmapped();
    if (nicId) {
      const n = this.nics.get(nicId);
      return n && n.hasAddr(addr) ? nicId : 0;
    }
    for (const n of this.nics.values()) if (n.hasAddr(addr)) return n.id;
    return 0;
  }

  reservePort(transProto: number, netProtos: readonly number[], addr: Address | null, port: number, flags: PortFlags,
    bindToDevice: number, owner: object): number | TcpipError {
    return this.ports.reserve(transProto, netProtos, addr, port, flags, bindToDevice, owner);
  }

  releasePort(transProto: number, _netProtos: readonly number[], addr: Address | null, port: number, owner: object): void {
    this.ports.release(transProto, addr, port, owner);
  }

  setPortListening(transProto: number, port: number, owner: object, listening: boolean): TcpipError | null {
    return this.ports.setListening(transProto, port, owner, listening);
  }

  pickEphemeralPort(hint: number, tryPort: (port: number) => boolean): number | TcpipError {
    return this.ports.pickEphemeral(hint, tryPort);
  }

  registerTransportEndpoint(transProto: number, netProtos: readonly number[], id: TransportEndpointId,
    ep: TransportEndpointHandler, flags: PortFlags, bindToDevice: number): TcpipError | null {
    return this.demux.register(transProto, netProtos, id, ep, flags, bindToDevice);
  }

  unregisterTransportEndpoint(transProto: number, netProtos: readonly number[], id: TransportEndpointId,
    ep: TransportEndpointHandler): void {
    this.demux.unregister(transProto, netProtos, id, ep);
  }

  deferUntilBatchEnd(f: BatchFlusher): boolean {
    if (!this.inBatch) return false;
    if (!this.deferredSet.has(f)) {
      this.deferredSet.add(f);
      this.deferred.push(f);
    }
    return true;
  }

  sendIcmpError(pkt: PacketBuffer, kind: TransportErrorKind): void {
    const np = this.netProtos.get(pkt.networkProtocol);
    const nic = this.nics.get(pkt.nicId);
    if (np?.sendIcmpError && nic) np.sendIcmpError(nic, pkt, kind);
  }

  // ---------------------------------------------------------------- NetworkStackServices

  deliverTransportPacket(nic: NicServices, pkt: PacketBuffer, transProto: number, broadcast: boolean):
    "delivered" | "port-unreachable" | "malformed" | "unknown-transport" {
    const tp = this.transProtos.get(transProto);
    if (!tp) return "unknown-transport";
    const len = pkt.end - pkt.start;
    if (len < tp.minimumPacketSize) return "malformed";
    const b = pkt.buf;
    const o = pkt.start;
    const ports = transportPorts(tp, b, o, len);
    if (ports < 0) return "malformed";
    const srcPort = ports >>> 16;
    const dstPort = ports & 0xffff;
    pkt.transportProtocol = transProto;
    pkt.transportHeader = o;
    if (broadcast) {
      const eps = this.demux.lookupAll(transProto, pkt.networkProtocol, b, pkt.srcAddrOff, pkt.dstAddrOff, pkt.addrLen,
        srcPort, dstPort, nic.id);
      if (eps.length === 0) {
        const r = tp.handleUnknownDestinationPacket(pkt);
        return r === "handled" ? "delivered" : r;
      }
      for (let i = 0; i < eps.length; i++) {
        if (i === eps.length - 1) eps[i]!.handlePacket(pkt);
        else {
          // Each receiver gets its own view of the packet (same bytes, own cursors).
          const c = pkt.cloneInbound();
          copyMeta(pkt, c);
          eps[i]!.handlePacket(c);
        }
      }
      return "delivered";
    }
    const eps = this.demux.lookup(transProto, pkt.networkProtocol, b, pkt.srcAddrOff, pkt.dstAddrOff, pkt.addrLen,
      srcPort, dstPort, nic.id);
    if (eps && eps.length > 0) {
      // SO_REUSEPORT group: spread flows by a hash of the remote address and port.
      const ep = eps.length === 1 ? eps[0]! : eps[((Address.hashBytes(b, pkt.srcAddrOff, pkt.addrLen) ^ srcPort) >>> 0) % eps.length]!;
      ep.handlePacket(pkt);
      return "delivered";
    }
    const r = tp.handleUnknownDestinationPacket(pkt);
    return r === "handled" ? "delivered" : r;
  }

  deliverTransportError(pkt: PacketBuffer, transProto: number, err: TransportError): void {
    const tp = this.transProtos.get(transProto);
    if (!tp) return;
    const len = pkt.end - pkt.start;
    if (len < 4) return;
    const b = pkt.buf;
    const o = pkt.start;
    const ports = transportPorts(tp, b, o, len);
    if (ports < 0) return;
    const srcPort = ports >>> 16;
    const dstPort = ports & 0xffff;
    // The quoted packet went from us (src) to them (dst): look it up from our side.
    const eps = this.demux.lookup(transProto, pkt.networkProtocol, b, pkt.dstAddrOff, pkt.srcAddrOff, pkt.addrLen,
      dstPort, srcPort, pkt.nicId);
    if (eps) for (const ep of eps) ep.handleError(err, pkt);
  }

  updatePathMtu(remote: Address, mtu: number): void {
    const min = remote.isV4 ? MIN_PATH_MTU_V4 : MIN_PATH_MTU_V6;
    const v = Math.max(min, mtu);
    const cur = this.pathMtus.get(remote.key);
    if (cur && cur.addr.equals(remote) && cur.mtu <= v) return;
    this.pathMtus.set(remote.key, { addr: remote, mtu: v, at: this.clock.now() });
  }

  /** The path MTU learned for `remote`, or Infinity. Entries expire after 10 minutes (RFC 1191 §6.3, Linux mtu_expires). */
  pathMtu(remote: Address): number {
    // Asked for every packet sent: skip the hash lookup while nothing has been learned.
    if (this.pathMtus.size === 0) return Infinity;
    const e = this.pathMtus.get(remote.key);
    if (!e || !e.addr.equals(remote)) return Infinity;
    if (this.clock.now() - e.at > 600_000) {
      this.pathMtus.delete(remote.key);
      return Infinity;
    }
    return e.mtu;
  }

  registerLinkResolver(netProto: number, factory: (nic: NicServices) => NeighborResolver): void {
    this.resolvers.set(netProto, factory);
  }

  neighbors(nic: NicServices, netProto: number): NeighborCache | null {
    const n = this.nics.get(nic.id);
    return n ? n.neighborCache(netProto) : null;
  }

  confirmNeighbor(nic: NicServices, netProto: number, addr: Address, linkAddress: Uint8Array, create: boolean): void {
    const n = this.nics.get(nic.id);
    n?.neighborCache(netProto).confirm(addr, linkAddress, create);
  }
}

/** (srcPort << 16 | dstPort) of the transport header at b[o], or -1 when unreadable. */
function transportPorts(tp: TransportProtocol, b: Uint8Array, o: number, len: number): number {
  if (tp.ports) return tp.ports(b, o, len);
  if (len < 4) return -1;
  return (((b[o]! << 8) | b[o + 1]!) * 65536) + ((b[o + 2]! << 8) | b[o + 3]!);
}

function copyMeta(from: PacketBuffer, to: PacketBuffer): void {
  const shift = -from.start;
  to.nicId = from.nicId;
  to.networkProtocol = from.networkProtocol;
  to.transportProtocol = from.transportProtocol;
  to.addrLen = from.addrLen;
  to.srcAddrOff = from.srcAddrOff + shift;
  to.dstAddrOff = from.dstAddrOff + shift;
  to.networkHeader = from.networkHeader >= 0 ? from.networkHeader + shift : -1;
  to.transportHeader = 0;
  to.checksumOffloaded = from.checksumOffloaded;
  to.linkBroadcast = from.linkBroadcast;
  to.sourceLinkAddress = from.sourceLinkAddress;
}

/** A resolved route; see Route in registration.ts. */
export class StackRoute implements Route {
  readonly nicId: number;
  readonly netProto: number;
  readonly maxHeaderLength: number;
  readonly txChecksumOffload: boolean;
  readonly gsoMaxSize: number;
  readonly txNoRetain: boolean;
  readonly defaultTtl: number;
  private readonly addrSum: number;
  /** Route-cache bookkeeping (Stack.findRoute): what it was asked for and when (-1: not cached). */
  askedNic = 0;
  askedLocal = false;
  cacheEpoch = -1;
  cacheVersion = -1;

  constructor(
    private readonly stack: Stack,
    readonly nic: Nic,
    private readonly proto: NetworkProtocol,
    readonly localAddress: Address,
    readonly remoteAddress: Address,
    readonly nextHop: Address | null,
    readonly isLocal: boolean,
  ) {
    this.nicId = nic.id;
    this.netProto = proto.number;
    this.maxHeaderLength = nic.link.maxHeaderLength + proto.maxHeaderLength;
    this.txChecksumOffload = (nic.link.capabilities & CapTxChecksumOffload) !== 0;
    this.gsoMaxSize = (nic.link.capabilities & CapGso) !== 0 ? Math.min(nic.link.gsoMaxSize ?? 0, 0xffff) : 0;
    this.txNoRetain = (nic.link.capabilities & (CapTxNoRetain | CapResolutionRequired)) === CapTxNoRetain;
    this.defaultTtl = stack.defaultTtl;
    // Pseudo-header sum of the addresses alone; protocol and length are added per packet.
    this.addrSum = pseudoHeaderChecksum(0, localAddress.bytes, 0, remoteAddress.bytes, 0,
      localAddress.length as 4 | 16, 0);
  }

  /**
   * Transport header + payload bytes per packet: the smaller of the link MTU and the path MTU
   * learned for the destination, less the fixed network header (IPv4 20, IPv6 40; options and
   * extension headers are not sent by this stack).
   */
  mtu(): number {
    const hdr = this.proto.fixedHeaderLength ?? (this.proto.addressLength === 16 ? 40 : 20);
    const linkMtu = this.nic.mtu;
    const pmtu = this.stack.pathMtu(this.remoteAddress);
    return Math.min(linkMtu, pmtu) - hdr;
  }

  pseudoHeaderChecksum(transProto: number, length: number): number {
    let s = this.addrSum + transProto + (length >>> 16) + (length & 0xffff);
    s = (s & 0xffff) + (s >>> 16);
    return (s & 0xffff) + (s >>> 16);
  }

  writePacket(pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | null {
    return this.proto.writePacket(this.nic, this, pkt, params);
  }

  get valid(): boolean {
    return this.stack.nic(this.nicId) === this.nic && this.nic.enabled &&
      (this.nic.spoofing || this.stack.nicForAddress(this.localAddress) !== 0);
  }
}
