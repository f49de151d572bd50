/**
 * UDP (RFC 768) endpoints with Linux's socket behaviour: bind (any-address, port 0 = ephemeral),
 * connect/disconnect, sendto with a destination, datagram reads with the sender and control
 * messages, peek, a bounded receive buffer (drops counted), checksums always sent and verified
 * when present, and ICMP port unreachable surfaced as connection refused on connected endpoints.
 * IPv6 endpoints are dual stack unless v6-only (stack/dualstack.ts): they receive IPv4
 * datagrams from ::ffff:a.b.c.d senders and send IPv4 to v4-mapped destinations.
 */
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, UDP_PROTOCOL, type FullAddress } from "../../tcpip/address.js";
import { Err, isError, type TcpipError } from "../../tcpip/errors.js";
import {
  ShutdownRead, ShutdownWrite, type Accepted, type ControlMessages, type Endpoint, type ReadOptions, type ReadResult,
  type SockOptionName, type SockOptions, type WriteOptions,
} from "../../tcpip/endpoint.js";
import { PacketBuffer } from "../../buffer/packet.js";
import { EventErr, EventHup, EventIn, EventOut, WaiterQueue } from "../../waiter/queue.js";
import { checksum, pseudoHeaderChecksum } from "../../header/checksum.js";
import { UDP_HEADER, UDPView } from "../../header/udp.js";
import { isParseError } from "../../header/parse.js";
import type {
  Route, StackServices, TransportEndpointHandler, TransportEndpointId, TransportError, TransportProtocol,
  TransportProtocolFactory,
} from "../../stack/registration.js";
import {
  endpointAddress, endpointNetProtos, packetDestinationAddress, packetSourceAddress,
} from "../../stack/dualstack.js";

/** Linux's default SO_RCVBUF / SO_SNDBUF for UDP (net.core.rmem_default / wmem_default). */
export const UDP_DEFAULT_BUFFER = 212_992;
/** Linux caps what setsockopt accepts at rmem_max/wmem_max, then doubles it; we allow up to 8 MiB. */
const MAX_BUFFER = 8 * 1024 * 1024;
const MIN_RCVBUF = 2304; // Linux SOCK_MIN_RCVBUF
const MIN_SNDBUF = 4608; // Linux SOCK_MIN_SNDBUF
/** Per-datagram accounting overhead, so tiny datagrams cannot queue without bound (like skb truesize). */
const DATAGRAM_OVERHEAD = 256;
/** Largest UDP payload over IPv4: 65535 - 20 (IP) - 8 (UDP). */
const MAX_PAYLOAD_V4 = 65507;
const MAX_PAYLOAD_V6 = 65527;

interface Datagram {
  data: Uint8Array;
  from: FullAddress;
  control: ControlMessages;
}

const enum State {
  Initial,
  Bound,
  Connected,
  Closed,
}

export class UdpEndpoint implements Endpoint, TransportEndpointHandler {
  readonly waiterQueue: WaiterQueue;
  /** IANA protocol number this endpoint registers under (UDP; ICMP for ping endpoints). */
  protected transProto = UDP_PROTOCOL;
  /** False for endpoints that never take IPv4 on an IPv6 socket (ICMPv6 ping sockets). */
  protected dualStackCapable = true;
  private state = State.Initial;
  /** Network protocols of the current port reservation and demuxer registration. */
  private netProtos: readonly number[];
  private registeredProtos: readonly number[] = [];
  /** Local and remote addresses are kept in the endpoint's own form (v4-mapped for IPv4 peers of an IPv6 endpoint). */
  private localAddr: Address | null = null;
  protected localPort = 0;
  /** The local address was chosen by bind (not implicitly by connect). */
  private boundAddrLocked = false;
  private remote: FullAddress | null = null;
  private route: Route | null = null;
  private lastRoute: Route | null = null;
  /** The destination (as given) `lastRoute` was looked up for. */
  private lastRouteTo: Address | null = null;
  private registeredId: TransportEndpointId | null = null;
  private rcvQueue: Datagram[] = [];
  private rcvHead = 0;
  private rcvBytes = 0;
  private shutdownFlags = 0;
  private pendingError: TcpipError | null = null;
  private readonly opts = {
    reuseAddress: false, reusePort: false, broadcast: false, receiveBufferSize: UDP_DEFAULT_BUFFER,
    sendBufferSize: UDP_DEFAULT_BUFFER, bindToDevice: 0, ttl: -1, tos: 0, v6Only: false, receiveTos: false,
    receiveTtl: false, receivePacketInfo: false, transparent: false,
  };

  constructor(
    protected readonly stack: StackServices,
    protected readonly netProto: number,
    wq: WaiterQueue,
  ) {
    this.waiterQueue = wq;
    this.netProtos = [netProto];
  }

  // ------------------------------------------------------------------ addresses

  private checkFamily(addr: Address | undefined): TcpipError | null {
    if (!addr) return null;
    const want = this.netProto === IPV4_PROTOCOL ? 4 : 16;
    return addr.length === want ? null : Err.AddressFamilyNotSupported;
  }

  bind(addr: FullAddress): TcpipError | null {
    if (this.state === State.Closed) return Err.Closed;
    if (this.state !== State.Initial) return Err.InvalidEndpointState;
    const fam = this.checkFamily(addr.addr);
    if (fam) return fam;
    if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) return Err.InvalidArgument;
    const protos = endpointNetProtos(this.netProto, this.isV6Only(), addr.addr ?? null, null);
    if (isError(protos)) return protos;
    let local: Address | null = addr.addr && !addr.addr.isUnspecified ? addr.addr : null;
    // ::ffff:0.0.0.0 is the IPv4 wildcard (IPv4 only, any address).
    if (local && local.isV4Mapped && local.unmapped().isUnspecified) local = null;
    // Binding to a multicast or broadcast address is allowed (to receive that group only);
    // otherwise the address must be one of ours.
    if (local && !local.isMulticast && !local.isV4Broadcast && !this.opts.transparent &&
      this.stack.nicForAddress(local, addr.nic) === 0)
      return Err.BadLocalAddress;
    const device = addr.nic ?? this.opts.bindToDevice;
    const port = this.stack.reservePort(this.transProto, protos, local, addr.port, this.portFlags(), device, this);
    if (isError(port)) return port;
    this.netProtos = protos;
    const err = this.register(local, port, null);
    if (err) {
      this.stack.releasePort(this.transProto, protos, local, port, this);
      return err;
    }
    this.localAddr = local;
    this.localPort = port;
    this.boundAddrLocked = local !== null;
    if (addr.nic) this.opts.bindToDevice = addr.nic;
    this.state = State.Bound;
    return null;
  }

  private portFlags() {
    return { reuseAddr: this.opts.reuseAddress, reusePort: this.opts.reusePort };
  }

  /** True when this IPv6 endpoint takes no IPv4 traffic. */
  private isV6Only(): boolean {
    return this.opts.v6Only || !this.dualStackCapable;
  }

  /** Registers in the demuxer under `this.netProtos`, replacing an earlier registration. */
  private register(local: Address | null, port: number, remote: FullAddress | null): TcpipError | null {
    const id: TransportEndpointId = {
      localAddress: local, localPort: port, remoteAddress: remote?.addr ?? null, remotePort: remote?.port ?? 0,
    };
    const protos = this.netProtos;
    if (this.registeredId) {
      // Unregister first: the new id may equal the old one under a protocol both share.
      this.stack.unregisterTransportEndpoint(this.transProto, this.registeredProtos, this.registeredId, this);
    }
    const err = this.stack.registerTransportEndpoint(this.transProto, protos, id, this, this.portFlags(),
      this.opts.bindToDevice);
    if (err) {
      if (this.registeredId) {
        this.stack.registerTransportEndpoint(this.transProto, this.registeredProtos, this.registeredId, this,
          this.portFlags(), this.opts.bindToDevice);
      }
      return err;
    }
    this.registeredId = id;
    this.registeredProtos = protos;
    return null;
  }

  /** Implicit bind to an ephemeral port (first send or connect on an unbound endpoint). */
  private autoBind(): TcpipError | null {
    if (this.state !== State.Initial) return null;
    const protos = endpointNetProtos(this.netProto, this.isV6Only(), null, null);
    if (isError(protos)) return protos;
    const port = this.stack.reservePort(this.transProto, protos, null, 0, this.portFlags(), this.opts.bindToDevice, this);
    if (isError(port)) return port;
    this.netProtos = protos;
    const err = this.register(null, port, null);
    if (err) {
      this.stack.releasePort(this.transProto, this.netProtos, null, port, this);
      return err;
    }
    this.localPort = port;
    this.state = State.Bound;
    return null;
  }

  connect(addr: FullAddress): TcpipError | null {
    if (this.state === State.Closed) return Err.Closed;
    if (!addr.addr) return Err.InvalidArgument;
    const fam = this.checkFamily(addr.addr);
    if (fam) return fam;
    if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) return Err.InvalidArgument;
    // Linux: connecting to the any-address means the loopback address.
    let remoteAddr = addr.addr;
    if (remoteAddr.isUnspecified) remoteAddr = this.netProto === IPV4_PROTOCOL ? Address.v4(127, 0, 0, 1) : Address.LOOPBACK6;
    const protos = endpointNetProtos(this.netProto, this.isV6Only(), this.localAddr, remoteAddr);
    if (isError(protos)) return protos;
    // An IPv6 route, or for a v4-mapped peer the IPv4 one (dualstack.ts).
    const route = this.stack.findRoute(addr.nic ?? this.opts.bindToDevice, this.localAddr, remoteAddr, this.netProto);
    if (isError(route)) return route;
    if (remoteAddr.isV4Broadcast && !this.opts.broadcast) return Err.BroadcastDisabled;
    const e = this.autoBind();
    if (e) return e;
    const remote: FullAddress = { addr: remoteAddr, port: addr.port };
    const local = this.boundAddrLocked ? this.localAddr : endpointAddress(route.localAddress, this.netProto);
    const oldProtos = this.netProtos;
    this.netProtos = protos;
    const err = this.register(local, this.localPort, remote);
    if (err) {
      this.netProtos = oldProtos;
      return err;
    }
    if (!this.boundAddrLocked) {
      // Linux keeps the port; the local address becomes the route's source address.
      if (this.localAddr === null) {
        this.stack.releasePort(this.transProto, oldProtos, null, this.localPort, this);
        const p = this.stack.reservePort(this.transProto, protos, local, this.localPort,
          { reuseAddr: true, reusePort: true }, this.opts.bindToDevice, this);
        if (isError(p)) return p;
      }
      this.localAddr = local;
    }
    this.remote = remote;
    this.route = route;
    this.state = State.Connected;
    this.pendingError = null;
    return null;
  }

  disconnect(): TcpipError | null {
    if (this.state !== State.Connected) return null;
    // Back to a bound endpoint: keep the port; keep the address only if bind chose it.
    const local = this.boundAddrLocked ? this.localAddr : null;
    const protos = endpointNetProtos(this.netProto, this.isV6Only(), local, null);
    if (isError(protos)) return protos;
    const oldProtos = this.netProtos;
    this.netProtos = protos;
    const err = this.register(local, this.localPort, null);
    if (err) {
      this.netProtos = oldProtos;
      return err;
    }
    if (!this.boundAddrLocked && this.localAddr) {
      this.stack.releasePort(this.transProto, oldProtos, this.localAddr, this.localPort, this);
      this.stack.reservePort(this.transProto, protos, null, this.localPort, { reuseAddr: true, reusePort: true },
        this.opts.bindToDevice, this);
      this.localAddr = null;
    }
    this.remote = null;
    this.route = null;
    this.state = State.Bound;
    return null;
  }

  listen(_backlog: number): TcpipError | null {
    return Err.NotSupported;
  }

  accept(): Accepted | TcpipError {
    return Err.NotSupported;
  }

  shutdown(flags: number): TcpipError | null {
    if (this.state !== State.Connected) return Err.NotConnected;
    this.shutdownFlags |= flags;
    if (flags & ShutdownRead) this.waiterQueue.notify(EventIn);
    return null;
  }

  close(): void {
    if (this.state === State.Closed) return;
    if (this.registeredId) {
      this.stack.unregisterTransportEndpoint(this.transProto, this.registeredProtos, this.registeredId, this);
      this.registeredId = null;
    }
    if (this.localPort !== 0) this.stack.releasePort(this.transProto, this.netProtos, this.localAddr, this.localPort, this);
    this.state = State.Closed;
    this.rcvQueue = [];
    this.rcvHead = 0;
    this.rcvBytes = 0;
    this.route = null;
    this.lastRoute = null;
    this.lastRouteTo = null;
    this.waiterQueue.notify(EventIn | EventOut | EventHup);
  }

  abort(): void {
    this.close();
  }

  getLocalAddress(): FullAddress | TcpipError {
    const any = this.netProto === IPV4_PROTOCOL ? Address.ANY4 : Address.ANY6;
    return { addr: this.localAddr ?? any, port: this.localPort, nic: this.opts.bindToDevice || undefined };
  }

  getRemoteAddress(): FullAddress | TcpipError {
    if (this.state !== State.Connected || !this.remote) return Err.NotConnected;
    return { addr: this.remote.addr, port: this.remote.port };
  }

  // ------------------------------------------------------------------ data

  read(dst: Uint8Array, opts?: ReadOptions): ReadResult | TcpipError {
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      return e;
    }
    if (this.rcvHead >= this.rcvQueue.length) {
      if (this.state === State.Closed || (this.shutdownFlags & ShutdownRead)) return Err.ClosedForReceive;
      return Err.WouldBlock;
    }
    const d = this.rcvQueue[this.rcvHead]!;
    const n = Math.min(dst.length, d.data.length);
    dst.set(d.data.subarray(0, n), 0);
    if (!opts?.peek) {
      this.rcvQueue[this.rcvHead] = undefined as unknown as Datagram;
      this.rcvHead++;
      this.rcvBytes -= d.data.length + DATAGRAM_OVERHEAD;
      if (this.rcvHead === this.rcvQueue.length) {
        this.rcvQueue.length = 0;
        this.rcvHead = 0;
      } else if (this.rcvHead > 1024 && this.rcvHead * 2 > this.rcvQueue.length) {
        this.rcvQueue = this.rcvQueue.slice(this.rcvHead);
        this.rcvHead = 0;
      }
    }
    const res: ReadResult = { count: n, total: d.data.length };
    if (opts?.needRemoteAddr) {
      res.from = { addr: d.from.addr, port: d.from.port };
      if (d.from.nic) res.from.nic = d.from.nic;
    }
    if (this.opts.receiveTos || this.opts.receiveTtl || this.opts.receivePacketInfo) res.control = d.control;
    return res;
  }

  write(data: Uint8Array, opts?: WriteOptions): number | TcpipError {
    if (this.state === State.Closed) return Err.Closed;
    if (this.shutdownFlags & ShutdownWrite) return Err.ClosedForSend;
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      return e;
    }
    if (data.length > (this.netProto === IPV4_PROTOCOL ? MAX_PAYLOAD_V4 : MAX_PAYLOAD_V6)) return Err.MessageTooLong;
    let route: Route;
    let remotePort: number;
    if (opts?.to) {
      const to = opts.to;
      if (!to.addr) return Err.DestinationRequired;
      const fam = this.checkFamily(to.addr);
      if (fam) return fam;
      if (!Number.isInteger(to.port) || to.port < 0 || to.port > 65535) return Err.InvalidArgument;
      // Linux: sendto port 0 fails with EINVAL.
      if (to.port === 0) return Err.InvalidArgument;
      let addr = to.addr;
      if (addr.isUnspecified) addr = this.netProto === IPV4_PROTOCOL ? Address.v4(127, 0, 0, 1) : Address.LOOPBACK6;
      if (addr.isV4Broadcast && !this.opts.broadcast) return Err.BroadcastDisabled;
      // Linux: a v6-only socket cannot reach a v4-mapped destination (ENETUNREACH).
      if (addr.isV4Mapped && this.isV6Only()) return Err.NetworkUnreachable;
      const nic = to.nic ?? this.opts.bindToDevice;
      const cached = this.lastRoute;
      if (cached && cached.valid && this.lastRouteTo!.equals(addr) && (nic === 0 || cached.nicId === nic)) route = cached;
      else {
        const r = this.stack.findRoute(nic, this.localAddr, addr, this.netProto);
        if (isError(r)) return r;
        route = r;
        this.lastRoute = r;
        this.lastRouteTo = addr;
      }
      remotePort = to.port;
    } else {
      if (this.state !== State.Connected || !this.remote) return Err.DestinationRequired;
      if (!this.route || !this.route.valid) {
        const r = this.stack.findRoute(this.opts.bindToDevice, this.localAddr, this.remote.addr!, this.netProto);
        if (isError(r)) return r;
        this.route = r;
      }
      route = this.route;
      remotePort = this.remote.port;
    }
    // A dual-stack endpoint sending over an IPv4 route has IPv4's smaller limit.
    if (route.localAddress.isV4 && data.length > MAX_PAYLOAD_V4) return Err.MessageTooLong;
    const e = this.autoBind();
    if (e) return e;
    const pkt = this.buildPacket(route, data, remotePort);
    if (isError(pkt)) return pkt;
    const ttl = this.opts.ttl >= 0 ? this.opts.ttl : route.defaultTtl;
    const err = route.writePacket(pkt, { protocol: this.transProto, ttl, tos: this.opts.tos });
    if (err) {
      this.countSend(false);
      return err;
    }
    this.countSend(true);
    return data.length;
  }

  protected countSend(ok: boolean): void {
    if (ok) this.stack.stats.udp.packetsSent++;
    else this.stack.stats.udp.packetSendErrors++;
  }

  /** Builds the outbound packet: UDP header plus a private copy of `data`. */
  protected buildPacket(route: Route, data: Uint8Array, remotePort: number): PacketBuffer | TcpipError {
    // The payload is copied: the caller may reuse its buffer as soon as write returns, while a
    // link may still hold the packet.
    const payload = data.slice();
    const len = UDP_HEADER + payload.length;
    const pkt = PacketBuffer.outbound(route.maxHeaderLength + UDP_HEADER, payload);
    const o = pkt.prepend(UDP_HEADER);
    const h = pkt.buf;
    h[o] = this.localPort >>> 8;
    h[o + 1] = this.localPort & 0xff;
    h[o + 2] = remotePort >>> 8;
    h[o + 3] = remotePort & 0xff;
    h[o + 4] = len >>> 8;
    h[o + 5] = len & 0xff;
    h[o + 6] = 0;
    h[o + 7] = 0;
    if (!route.txChecksumOffload) {
      let c = checksum(h, o, UDP_HEADER, route.pseudoHeaderChecksum(UDP_PROTOCOL, len));
      if (payload.length > 0) c = checksum(payload, 0, payload.length, c);
      c = ~c & 0xffff;
      if (c === 0) c = 0xffff; // RFC 768: a computed zero is sent as all ones
      h[o + 6] = c >>> 8;
      h[o + 7] = c & 0xff;
    } else pkt.checksumOffloaded = true;
    pkt.transportHeader = o;
    return pkt;
  }

  // ------------------------------------------------------------------ inbound

  handlePacket(pkt: PacketBuffer): void {
    const s = this.stack.stats.udp;
    const parsed = this.parseInbound(pkt);
    if (parsed < 0) return;
    const b = pkt.buf;
    if (this.state === State.Closed || (this.shutdownFlags & ShutdownRead)) {
      s.receiveBufferErrors++;
      return;
    }
    const data = this.inboundData;
    const cost = data.length + DATAGRAM_OVERHEAD;
    // Linux admits a datagram while the queued bytes are below SO_RCVBUF (the doubled value).
    if (this.rcvBytes > 0 && this.rcvBytes + cost > this.opts.receiveBufferSize * 2) {
      s.receiveBufferErrors++;
      return;
    }
    const from: FullAddress = { addr: packetSourceAddress(pkt, this.netProto), port: parsed };
    // RFC 4007 §6: a link-local sender is only meaningful with its zone (sin6_scope_id).
    if (pkt.addrLen === 16 && from.addr!.needsZone) from.nic = pkt.nicId;
    const control: ControlMessages = {};
    if (this.opts.receivePacketInfo) {
      control.localAddr = packetDestinationAddress(pkt, this.netProto);
      control.nic = pkt.nicId;
    }
    if (pkt.networkHeader >= 0) {
      if (this.opts.receiveTtl) control.ttl = pkt.addrLen === 4 ? b[pkt.networkHeader + 8]! : b[pkt.networkHeader + 7]!;
      if (this.opts.receiveTos)
        control.tos = pkt.addrLen === 4 ? b[pkt.networkHeader + 1]! :
          (((b[pkt.networkHeader]! & 0x0f) << 4) | (b[pkt.networkHeader + 1]! >> 4));
    }
    const wasEmpty = this.rcvHead >= this.rcvQueue.length;
    this.rcvQueue.push({ data, from, control });
    this.rcvBytes += cost;
    if (wasEmpty) this.waiterQueue.notify(EventIn);
  }

  /** Set by parseInbound: the datagram's bytes (a view: the inbound ownership rule makes them ours). */
  protected inboundData: Uint8Array = new Uint8Array(0);

  /** Validates an inbound packet; returns the sender's port (or -1 to drop) and sets inboundData. */
  protected parseInbound(pkt: PacketBuffer): number {
    const s = this.stack.stats.udp;
    s.packetsReceived++;
    const v = UDPView.check(pkt.buf, pkt.start, pkt.end - pkt.start);
    if (isParseError(v)) {
      s.malformedPacketsReceived++;
      return -1;
    }
    if (!verifyUdpChecksum(pkt, v)) {
      s.checksumErrors++;
      return -1;
    }
    this.inboundData = pkt.buf.subarray(pkt.start + UDP_HEADER, pkt.start + v.length);
    return v.srcPort;
  }

  handleError(err: TransportError, _pkt: PacketBuffer): void {
    // Linux reports ICMP errors only on connected UDP sockets (without IP_RECVERR).
    if (this.state !== State.Connected) return;
    let e: TcpipError;
    switch (err.kind) {
      case "port-unreachable":
        e = Err.ConnectionRefused;
        break;
      case "host-unreachable":
      case "admin-prohibited":
        e = Err.HostUnreachable;
        break;
      case "net-unreachable":
        e = Err.NetworkUnreachable;
        break;
      case "packet-too-big":
        e = Err.MessageTooLong;
        break;
      case "proto-unreachable":
        e = Err.ConnectionRefused;
        break;
      default:
        return;
    }
    this.pendingError = e;
    this.waiterQueue.notify(EventErr | EventIn | EventOut);
  }

  // ------------------------------------------------------------------ readiness and options

  readiness(mask: number): number {
    let r = 0;
    if (this.state === State.Closed) return mask & (EventIn | EventOut | EventHup);
    if (this.rcvHead < this.rcvQueue.length || (this.shutdownFlags & ShutdownRead)) r |= EventIn;
    if (!(this.shutdownFlags & ShutdownWrite)) r |= EventOut;
    if (this.pendingError) r |= EventErr;
    if ((this.shutdownFlags & (ShutdownRead | ShutdownWrite)) === (ShutdownRead | ShutdownWrite)) r |= EventHup;
    return r & mask;
  }

  getSockOpt<K extends SockOptionName>(name: K): SockOptions[K] | TcpipError {
    const o = this.opts;
    let v: unknown;
    switch (name) {
      case "reuseAddress": case "reusePort": case "broadcast": case "bindToDevice": case "tos": case "receiveTos":
      case "receiveTtl": case "receivePacketInfo": case "transparent":
        v = o[name as keyof typeof o];
        break;
      case "receiveBufferSize":
        v = o.receiveBufferSize;
        break;
      case "sendBufferSize":
        v = o.sendBufferSize;
        break;
      case "ttl":
        v = o.ttl >= 0 ? o.ttl : 64;
        break;
      case "v6Only":
        if (this.netProto !== IPV6_PROTOCOL) return Err.UnknownProtocolOption;
        v = o.v6Only;
        break;
      case "error": {
        v = this.pendingError;
        this.pendingError = null;
        break;
      }
      case "receiveQueueSize":
        // Linux FIONREAD on UDP: the size of the first queued datagram.
        v = this.rcvHead < this.rcvQueue.length ? this.rcvQueue[this.rcvHead]!.data.length : 0;
        break;
      case "sendQueueSize":
        v = 0;
        break;
      default:
        return Err.UnknownProtocolOption;
    }
    return v as SockOptions[K];
  }

  setSockOpt<K extends SockOptionName>(name: K, value: SockOptions[K]): TcpipError | null {
    const o = this.opts;
    switch (name) {
      case "reuseAddress": case "reusePort": case "broadcast": case "receiveTos": case "receiveTtl":
      case "receivePacketInfo": case "transparent":
        if (typeof value !== "boolean") return Err.InvalidOptionValue;
        (o as Record<string, unknown>)[name] = value;
        return null;
      case "v6Only":
        if (this.netProto !== IPV6_PROTOCOL) return Err.UnknownProtocolOption;
        if (typeof value !== "boolean") return Err.InvalidOptionValue;
        if (this.state !== State.Initial) return Err.InvalidEndpointState;
        o.v6Only = value;
        return null;
      case "receiveBufferSize":
      case "sendBufferSize": {
        if (typeof value !== "number" || !Number.isFinite(value)) return Err.InvalidOptionValue;
        const min = name === "receiveBufferSize" ? MIN_RCVBUF : MIN_SNDBUF;
        // Linux doubles the requested size (bookkeeping overhead) and clamps it.
        const v = Math.max(min, Math.min(MAX_BUFFER, Math.max(0, Math.floor(value)) * 2));
        if (name === "receiveBufferSize") o.receiveBufferSize = v;
        else o.sendBufferSize = v;
        return null;
      }
      case "ttl": {
        if (typeof value !== "number" || !Number.isInteger(value)) return Err.InvalidOptionValue;
        if (value === -1) o.ttl = -1;
        else if (value < 1 || value > 255) return Err.InvalidOptionValue;
        else o.ttl = value;
        return null;
      }
      case "tos":
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 255) return Err.InvalidOptionValue;
        o.tos = value;
        return null;
      case "bindToDevice":
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0) return Err.InvalidOptionValue;
        o.bindToDevice = value;
        return null;
      default:
        return Err.UnknownProtocolOption;
    }
  }
}

/** RFC 768: a zero checksum over IPv4 means "none"; otherwise it must verify with the pseudo-header. */
export function verifyUdpChecksum(pkt: PacketBuffer, v: UDPView): boolean {
  if (pkt.checksumOffloaded) return true;
  const b = pkt.buf;
  if (v.checksum === 0) return pkt.addrLen === 4; // RFC 8200 §8.1: mandatory over IPv6
  const len = v.length;
  const ph = pseudoHeaderChecksum(UDP_PROTOCOL, b, pkt.srcAddrOff, b, pkt.dstAddrOff, pkt.addrLen as 4 | 16, len);
  return checksum(b, pkt.start, len, ph) === 0xffff;
}

export class UdpProtocol implements TransportProtocol {
  readonly number = UDP_PROTOCOL;
  readonly minimumPacketSize = UDP_HEADER;

  /**
   * Transparent mode: called for a valid datagram no endpoint owns, before ICMP port
   * unreachable would be sent; returns true when it took the datagram (see forwarder.ts).
   */
  forwarder: { handle(pkt: PacketBuffer): boolean } | null = null;

  constructor(readonly stack: StackServices) {}

  newEndpoint(netProto: number, wq: WaiterQueue): Endpoint | TcpipError {
    return new UdpEndpoint(this.stack, netProto, wq);
  }

  handleUnknownDestinationPacket(pkt: PacketBuffer): "handled" | "port-unreachable" | "malformed" {
    const s = this.stack.stats.udp;
    const v = UDPView.check(pkt.buf, pkt.start, pkt.end - pkt.start);
    if (isParseError(v)) {
      s.malformedPacketsReceived++;
      return "malformed";
    }
    if (!verifyUdpChecksum(pkt, v)) {
      s.checksumErrors++;
      return "handled";
    }
    if (this.forwarder?.handle(pkt)) return "handled";
    s.unknownPortErrors++;
    return "port-unreachable";
  }
}

export const udp: TransportProtocolFactory = (stack) => new UdpProtocol(stack);
