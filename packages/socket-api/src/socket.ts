/**
 * Syscall-shaped sockets over the stack's endpoints, with Linux's semantics (the model is gVisor's
 * epsocket). One `Socket` owns one transport endpoint and its waiter queue.
 *
 * Shape of the API:
 * - Synchronous methods (`recv`, `send`, `accept`, `connect`, ...) never wait: they behave like the
 *   syscall on a non-blocking socket and throw `SocketError` (EAGAIN, EINPROGRESS, ...).
 * - `*Async` methods are the blocking forms: on a blocking socket (no SOCK_NONBLOCK / FIONBIO, no
 *   MSG_DONTWAIT) they wait on the endpoint's waiter queue and retry, honour SO_RCVTIMEO /
 *   SO_SNDTIMEO (EAGAIN on timeout; EINPROGRESS for connect) and an AbortSignal (EINTR). On a
 *   non-blocking socket they settle at once with the synchronous result.
 * Timeouts run on the stack's clock, so ManualClock tests control them.
 */
import {
  Address, Err, EventErr, EventHup, EventIn, EventOut, EventRdHup, ICMPV4_PROTOCOL, IPV4_PROTOCOL, IPV6_PROTOCOL,
  isError, ShutdownRead, ShutdownWrite, TCP_PROTOCOL, UDP_PROTOCOL, WaiterQueue,
  type ControlMessages, type Endpoint, type FullAddress, type SockOptionName, type SockOptions, type Stack,
  type TcpipError, type Timer, type WaiterEntry,
} from "@netstack-ts/netstack";
import {
  AF_INET, AF_INET6, AF_UNSPEC, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IP_PKTINFO, IP_TOS,
  IP_TTL, IPV6_HOPLIMIT, IPV6_PKTINFO, IPV6_TCLASS, MSG_CTRUNC, MSG_DONTWAIT, MSG_MORE, MSG_OOB, MSG_PEEK, MSG_TRUNC,
  MSG_WAITALL, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRBAND, POLLWRNORM, SCM_TIMESTAMP,
  SHUT_RD, SHUT_RDWR, SHUT_WR, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM,
  SOL_IP, SOL_IPV6, SOL_SOCKET,
} from "./constants.js";
import { SocketError } from "./errors.js";
import { getSockOpt, setSockOpt } from "./options.js";
import { ioctl as doIoctl } from "./ioctl.js";
import { encodeSockaddr, sockAddrInfo, toSockAddr, type SockAddr, type SockAddrInfo, type SockAddrInput } from "./sockaddr.js";

/** A control message (recvmsg ancillary data): level, type and the payload in Linux's layout. */
export interface ControlMessage {
  level: number;
  type: number;
  data: Buffer;
}

export interface RecvFromResult {
  /** Return value of the call (bytes, or the full datagram length with MSG_TRUNC). */
  bytes: number;
  /** Sender (datagram sockets; undefined for streams, like Linux's msg_namelen 0). */
  address?: SockAddrInfo;
}

export interface RecvMsgResult extends RecvFromResult {
  /** msg_flags: MSG_TRUNC for a truncated datagram, MSG_CTRUNC when control data was cut. */
  flags: number;
  /** Binary sockaddr of the sender (sockaddr_in / sockaddr_in6). */
  name?: Buffer;
  control: ControlMessage[];
}

export interface BlockingOptions {
  /** Aborting makes the call fail with EINTR. */
  signal?: AbortSignal;
}

/** Sockets per stack, for the /proc/net listings. */
const registry = new WeakMap<Stack, Set<Socket>>();

/** The sockets currently open on `stack`. */
export function socketsOf(stack: Stack): Socket[] {
  return [...(registry.get(stack) ?? [])];
}

const LOOPBACK4 = Address.v4(127, 0, 0, 1);

/** The socket-level connect state Linux keeps beside the protocol's (SS_UNCONNECTED, ...). */
const enum ConnState {
  Unconnected,
  Connecting,
  Connected,
}

/**
 * socket(2): creates a socket on `stack`. `type` may carry SOCK_NONBLOCK and SOCK_CLOEXEC.
 * Errors as Linux: EAFNOSUPPORT (family), EINVAL (bad type flags), ESOCKTNOSUPPORT /
 * EPROTONOSUPPORT (type or protocol the stack does not provide).
 */
export function socket(stack: Stack, domain: number, type: number, protocol = 0): Socket {
  if (domain !== AF_INET && domain !== AF_INET6) throw new SocketError("EAFNOSUPPORT", "socket");
  const flags = type & ~0xf;
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) throw new SocketError("EINVAL", "socket");
  const base = type & 0xf;
  let proto: number;
  if (base === SOCK_STREAM) {
    if (protocol !== 0 && protocol !== IPPROTO_TCP) throw new SocketError("EPROTONOSUPPORT", "socket");
    proto = IPPROTO_TCP;
  } else if (base === SOCK_DGRAM) {
    if (protocol === 0 || protocol === IPPROTO_UDP) proto = IPPROTO_UDP;
    else if (protocol === IPPROTO_ICMP && domain === AF_INET) proto = IPPROTO_ICMP; // ping socket
    else throw new SocketError("EPROTONOSUPPORT", "socket");
  } else if (base === SOCK_RAW) {
    throw new SocketError("EPROTONOSUPPORT", "socket");
  } else if (base === SOCK_SEQPACKET) {
    throw new SocketError("ESOCKTNOSUPPORT", "socket");
  } else {
    throw new SocketError("EINVAL", "socket");
  }
  const transProto = proto === IPPROTO_TCP ? TCP_PROTOCOL : proto === IPPROTO_UDP ? UDP_PROTOCOL : ICMPV4_PROTOCOL;
  if (!stack.transportProtocol(transProto)) throw new SocketError("EPROTONOSUPPORT", "socket");
  const hasV6 = stack.networkProtocol(IPV6_PROTOCOL) !== undefined;
  const hasV4 = stack.networkProtocol(IPV4_PROTOCOL) !== undefined;
  let netProto: number;
  if (domain === AF_INET) {
    if (!hasV4) throw new SocketError("EAFNOSUPPORT", "socket");
    netProto = IPV4_PROTOCOL;
  } else {
    // An AF_INET6 socket on a stack without IPv6 runs over an IPv4 endpoint and speaks
    // v4-mapped addresses only (what a dual-stack socket does for IPv4 peers).
    if (hasV6) netProto = IPV6_PROTOCOL;
    else if (hasV4) netProto = IPV4_PROTOCOL;
    else throw new SocketError("EAFNOSUPPORT", "socket");
  }
  const wq = new WaiterQueue();
  const ep = stack.newEndpoint(transProto, netProto, wq);
  if (isError(ep)) throw SocketError.fromTcpip(ep, "socket");
  return new Socket(stack, domain, base, proto, ep, wq, netProto, (flags & SOCK_NONBLOCK) !== 0, (flags & SOCK_CLOEXEC) !== 0);
}

export class Socket {
  /** O_NONBLOCK: synchronous semantics for the *Async calls too. Set by SOCK_NONBLOCK or FIONBIO. */
  nonblocking: boolean;
  /** FD_CLOEXEC (kept for getsockopt-style introspection; meaningless in-process). */
  cloexec: boolean;
  /** @internal */ ep: Endpoint;
  /** @internal */ wq: WaiterQueue;
  /** @internal The endpoint's network protocol (IPv4 for AF_INET6 sockets in v4-mapped mode). */
  netProto: number;
  /** @internal SO_RCVTIMEO / SO_SNDTIMEO in milliseconds (0 = wait forever). */
  rcvTimeoMs = 0;
  sndTimeoMs = 0;
  /** @internal SO_RCVLOWAT. */
  rcvLowat = 1;
  /** @internal SO_TIMESTAMP. */
  timestamp = false;
  /** @internal Options Linux accepts on this socket type that its endpoint does not model. */
  readonly shadow = new Map<string, number>();
  /** @internal */ listening = false;
  /** @internal Local shutdown(2) flags (SHUT_RD=1, SHUT_WR=2 as bits). */
  shut = 0;
  /** @internal An address has been bound explicitly. */
  bound = false;
  /** @internal connect(2) was called (stream) or an association exists (datagram). */
  connected = false;
  /** @internal Linux's socket-level connect state (sock->state). */
  connState = ConnState.Unconnected;
  /** @internal The endpoint was created by accept. */
  readonly accepted: boolean;
  /** @internal SO_LINGER for endpoints that do not model it. */
  lingerShadow = { enabled: false, timeout: 0 };
  /** @internal Whether an IPv6 socket has IPV6_V6ONLY set. */
  v6only = false;
  private closed = false;
  /** Scratch for MSG_TRUNC discards on streams. */
  private scratch: Uint8Array | null = null;

  /** @internal Use `socket()` or `accept`. */
  constructor(
    readonly stack: Stack,
    /** AF_INET or AF_INET6. */
    readonly domain: number,
    /** SOCK_STREAM or SOCK_DGRAM (without flags). */
    readonly type: number,
    /** IPPROTO_TCP, IPPROTO_UDP or IPPROTO_ICMP. */
    readonly protocol: number,
    ep: Endpoint,
    wq: WaiterQueue,
    netProto: number,
    nonblocking: boolean,
    cloexec: boolean,
    accepted = false,
  ) {
    this.ep = ep;
    this.wq = wq;
    this.netProto = netProto;
    this.nonblocking = nonblocking;
    this.cloexec = cloexec;
    this.accepted = accepted;
    if (accepted) {
      this.connected = true;
      this.connState = ConnState.Connected;
    }
    let set = registry.get(stack);
    if (!set) registry.set(stack, (set = new Set()));
    set.add(this);
  }

  get isStream(): boolean {
    return this.type === SOCK_STREAM;
  }

  /** The endpoint under the socket (for code that wants the stack's own API). */
  get endpoint(): Endpoint {
    return this.ep;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True while an AF_INET6 socket runs over an IPv4 endpoint (v4-mapped addresses). */
  get mappedV4(): boolean {
    return this.domain === AF_INET6 && this.netProto === IPV4_PROTOCOL;
  }

  private checkOpen(syscall: string): void {
    if (this.closed) throw new SocketError("EBADF", syscall);
  }

  // ------------------------------------------------------------------ address translation

  /** Converts a user address to the endpoint's FullAddress (unmapping v4-mapped addresses). */
  private toEndpoint(sa: SockAddr, syscall: string): FullAddress {
    if (this.domain === AF_INET) {
      return sa.addr.isUnspecified ? { port: sa.port } : { addr: sa.addr, port: sa.port };
    }
    const a = sa.addr;
    if (a.isV4Mapped) {
      if (this.v6only) throw new SocketError(syscall === "bind" ? "EINVAL" : "ENETUNREACH", syscall);
      // The IPv6 endpoint is dual-stack: it takes v4-mapped addresses itself (as Linux's sockets do).
      if (this.netProto === IPV6_PROTOCOL) return { addr: a, port: sa.port };
      // An AF_INET6 socket over an IPv4 endpoint (no IPv6 on this stack): plain IPv4 addresses.
      const v4 = a.unmapV4()!;
      return v4.isUnspecified && syscall === "bind" ? { port: sa.port } : { addr: v4, port: sa.port };
    }
    if (a.isUnspecified) return { port: sa.port };
    if (this.netProto === IPV4_PROTOCOL) {
      // No IPv6 on this stack: only v4-mapped peers are reachable.
      throw new SocketError(syscall === "bind" ? "EADDRNOTAVAIL" : "ENETUNREACH", syscall);
    }
    if (a.isLinkLocal) {
      if (sa.scopeId === 0 && syscall === "bind") throw new SocketError("EINVAL", syscall);
      return { addr: a, port: sa.port, nic: sa.scopeId || undefined };
    }
    return { addr: a, port: sa.port };
  }

  /** @internal Sets an endpoint option. */
  setEndpointOpt<K extends SockOptionName>(name: K, value: SockOptions[K]): TcpipError | null {
    return this.ep.setSockOpt(name, value);
  }

  /** @internal */
  getEndpointOpt<K extends SockOptionName>(name: K): SockOptions[K] | TcpipError {
    return this.ep.getSockOpt(name);
  }

  /** @internal The friendly form of an endpoint address for this socket's family. */
  infoOf(fa: FullAddress): SockAddrInfo {
    const addr = fa.addr ?? (this.netProto === IPV4_PROTOCOL ? Address.ANY4 : Address.ANY6);
    if (this.domain === AF_INET6 && this.netProto === IPV4_PROTOCOL && addr.isUnspecified) {
      return sockAddrInfo(AF_INET6, Address.ANY6, fa.port);
    }
    return sockAddrInfo(this.domain, addr, fa.port, fa.nic ?? 0);
  }

  /** @internal Binary sockaddr of an endpoint address. */
  rawOf(fa: FullAddress): Buffer {
    let addr = fa.addr ?? (this.netProto === IPV4_PROTOCOL ? Address.ANY4 : Address.ANY6);
    if (this.domain === AF_INET6 && addr.isV4 && addr.isUnspecified) addr = Address.ANY6;
    return encodeSockaddr(this.domain, addr, fa.port, fa.nic ?? 0);
  }

  // ------------------------------------------------------------------ bind / listen / accept / connect

  /** bind(2). */
  bind(addr: SockAddrInput): void {
    this.checkOpen("bind");
    const sa = toSockAddr(addr, this.domain, "bind");
    const fa = this.toEndpoint(sa, "bind");
    const err = this.ep.bind(fa);
    if (err) throw SocketError.fromTcpip(err === Err.AlreadyBound ? Err.InvalidArgument : err, "bind");
    this.bound = true;
  }

  /** @internal Readiness of the endpoint. */
  readiness(mask: number): number {
    return this.ep.readiness(mask);
  }

  /** listen(2). Datagram sockets: EOPNOTSUPP. */
  listen(backlog = 4096): void {
    this.checkOpen("listen");
    if (!this.isStream) throw new SocketError("EOPNOTSUPP", "listen");
    // Linux clamps the backlog to somaxconn (4096) and treats negative values as 0... then max(1).
    const b = Math.max(0, Math.min(4096, Math.trunc(backlog)));
    const err = this.ep.listen(b);
    if (err) throw SocketError.fromTcpip(err, "listen");
    this.listening = true;
    this.bound = true;
  }

  /** accept4(2) without waiting: EAGAIN when no connection is queued. `flags`: SOCK_NONBLOCK | SOCK_CLOEXEC. */
  accept(flags = 0): Socket {
    const r = this.tryAccept(flags);
    if (r instanceof SocketError) throw r;
    return r;
  }

  /** accept4(2), waiting for a connection on a blocking socket. */
  async acceptAsync(flags = 0, opts: BlockingOptions = {}): Promise<Socket> {
    return this.blocking(EventIn, this.rcvTimeoMs, opts.signal, () => this.tryAccept(flags), "accept", !this.nonblocking);
  }

  /** @internal */
  tryAccept(flags: number): Socket | SocketError {
    if (this.closed) return new SocketError("EBADF", "accept");
    if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return new SocketError("EINVAL", "accept");
    if (!this.isStream) return new SocketError("EOPNOTSUPP", "accept");
    if (!this.listening) return new SocketError("EINVAL", "accept");
    const r = this.ep.accept();
    if (isError(r)) return SocketError.fromTcpip(r, "accept");
    const s = new Socket(this.stack, this.domain, this.type, this.protocol, r.endpoint, r.waiterQueue, this.netProto,
      (flags & SOCK_NONBLOCK) !== 0, (flags & SOCK_CLOEXEC) !== 0, true);
    s.v6only = this.v6only;
    s.rcvTimeoMs = this.rcvTimeoMs;
    s.sndTimeoMs = this.sndTimeoMs;
    s.bound = true;
    return s;
  }

  /**
   * connect(2) without waiting. Streams: throws EINPROGRESS while the handshake runs (then poll
   * for POLLOUT and read SO_ERROR), EALREADY while one is pending, EISCONN once connected.
   * Datagrams: sets the default peer; an AF_UNSPEC address dissolves it.
   */
  connect(addr: SockAddrInput): void {
    const r = this.tryConnect(addr);
    if (r) throw r;
  }

  /** connect(2) that waits for the handshake on a blocking socket. */
  async connectAsync(addr: SockAddrInput, opts: BlockingOptions = {}): Promise<void> {
    const first = this.tryConnect(addr);
    if (!first) return;
    if (first.code !== "EINPROGRESS" || this.nonblocking) throw first;
    await this.waitConnected(opts.signal);
  }

  /** @internal Waits for a started connect to finish; throws its error. */
  async waitConnected(signal?: AbortSignal): Promise<void> {
    const mask = EventOut | EventErr | EventHup;
    const deadline = this.sndTimeoMs > 0 ? this.stack.clock.now() + this.sndTimeoMs : Infinity;
    for (;;) {
      const ready = this.ep.readiness(mask);
      if (ready) {
        const e = this.ep.getSockOpt("error");
        if (e) {
          this.connState = ConnState.Unconnected;
          throw SocketError.fromTcpip(e, "connect");
        }
        const peer = this.ep.getRemoteAddress();
        if (!isError(peer)) {
          this.connState = ConnState.Connected;
          return;
        }
        if (ready & (EventErr | EventHup)) {
          this.connState = ConnState.Unconnected;
          throw new SocketError("ECONNABORTED", "connect");
        }
      }
      const w = await this.wait(mask, deadline, signal);
      if (w === "timeout") throw new SocketError("EINPROGRESS", "connect");
      if (w === "aborted") throw new SocketError("EINTR", "connect");
    }
  }

  /** @internal */
  tryConnect(addr: SockAddrInput): SocketError | null {
    if (this.closed) return new SocketError("EBADF", "connect");
    let sa: SockAddr;
    try {
      sa = toSockAddr(addr, this.domain, "connect", true);
    } catch (e) {
      return e as SocketError;
    }
    if (sa.family === AF_UNSPEC) {
      const err = this.ep.disconnect();
      if (err) return SocketError.fromTcpip(err, "connect");
      this.connected = false;
      this.connState = ConnState.Unconnected;
      return null;
    }
    if (this.isStream) {
      // Linux keeps a socket-level state next to TCP's (inet_stream_connect): a connect after a
      // non-blocking one completes returns 0 once, then EISCONN; after one fails it reports the
      // error (or ECONNABORTED) and the socket may connect again.
      if (this.listening) return new SocketError("EISCONN", "connect");
      if (this.connState === ConnState.Connected) return new SocketError("EISCONN", "connect");
      if (this.connState === ConnState.Connecting) {
        const st = this.streamState();
        if (st === "connecting") return new SocketError("EALREADY", "connect");
        if (st === "connected") {
          this.connState = ConnState.Connected;
          return null;
        }
        this.connState = ConnState.Unconnected;
        const e = this.ep.getSockOpt("error");
        return e && !isError(e) ? SocketError.fromTcpip(e, "connect") :
          e ? SocketError.fromTcpip(e, "connect") : new SocketError("ECONNABORTED", "connect");
      }
    }
    if (this.listening) return new SocketError("EISCONN", "connect");
    let fa: FullAddress;
    try {
      fa = this.toEndpoint(sa, "connect");
    } catch (e) {
      return e as SocketError;
    }
    if (!fa.addr) fa = { ...fa, addr: this.netProto === IPV4_PROTOCOL ? LOOPBACK4 : Address.parse("::1")! };
    const err = this.ep.connect(fa);
    if (err === null) {
      this.connected = true;
      this.bound = true;
      this.connState = ConnState.Connected;
      return null;
    }
    if (err === Err.ConnectStarted) {
      this.connected = true;
      this.bound = true;
      this.connState = ConnState.Connecting;
      return new SocketError("EINPROGRESS", "connect");
    }
    return SocketError.fromTcpip(err, "connect");
  }

  /** Where a stream endpoint's handshake stands. */
  private streamState(): "connecting" | "connected" | "closed" {
    const info = this.ep.getSockOpt("tcpInfo");
    if (!isError(info)) {
      if (info.state === "SYN-SENT" || info.state === "SYN-RECEIVED") return "connecting";
      if (info.state === "CLOSED" || info.state === "LISTEN") return "closed";
      return "connected";
    }
    const r = this.ep.readiness(EventOut | EventErr | EventHup);
    if (!r) return "connecting";
    return isError(this.ep.getRemoteAddress()) || (r & EventErr) ? "closed" : "connected";
  }

  // ------------------------------------------------------------------ shutdown / close

  /** shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. */
  shutdown(how: number): void {
    this.checkOpen("shutdown");
    let flags: number;
    if (how === SHUT_RD) flags = ShutdownRead;
    else if (how === SHUT_WR) flags = ShutdownWrite;
    else if (how === SHUT_RDWR) flags = ShutdownRead | ShutdownWrite;
    else throw new SocketError("EINVAL", "shutdown");
    if (this.listening && this.isStream) {
      // Linux: shutting down a listener's read side stops it (pending connections are reset).
      if (flags & ShutdownRead) {
        const err = this.ep.shutdown(flags);
        if (err && err !== Err.NotConnected) throw SocketError.fromTcpip(err, "shutdown");
        return;
      }
      throw new SocketError("ENOTCONN", "shutdown");
    }
    const err = this.ep.shutdown(flags);
    if (err) throw SocketError.fromTcpip(err, "shutdown");
    this.shut |= flags;
  }

  /** close(2). A connected stream closes gracefully (FIN) unless SO_LINGER is on with timeout 0 (RST). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    registry.get(this.stack)?.delete(this);
    const linger = this.isStream ? this.ep.getSockOpt("linger") : null;
    if (linger && !isError(linger) && linger.enabled && linger.timeout === 0) this.ep.abort();
    else this.ep.close();
  }

  // ------------------------------------------------------------------ names

  /** getsockname(2), friendly form. */
  getsockname(): SockAddrInfo {
    this.checkOpen("getsockname");
    const a = this.ep.getLocalAddress();
    if (isError(a)) throw SocketError.fromTcpip(a, "getsockname");
    return this.infoOf(a);
  }

  /** getsockname(2) as binary sockaddr bytes. */
  getsocknameRaw(): Buffer {
    this.checkOpen("getsockname");
    const a = this.ep.getLocalAddress();
    if (isError(a)) throw SocketError.fromTcpip(a, "getsockname");
    return this.rawOf(a);
  }

  /** getpeername(2): ENOTCONN when not connected. */
  getpeername(): SockAddrInfo {
    this.checkOpen("getpeername");
    const a = this.ep.getRemoteAddress();
    if (isError(a)) throw SocketError.fromTcpip(a === Err.NotConnected ? a : Err.NotConnected, "getpeername");
    return this.infoOf(a);
  }

  getpeernameRaw(): Buffer {
    this.checkOpen("getpeername");
    const a = this.ep.getRemoteAddress();
    if (isError(a)) throw new SocketError("ENOTCONN", "getpeername");
    return this.rawOf(a);
  }

  // ------------------------------------------------------------------ send

  /** send(2) without waiting: partial writes on streams, EAGAIN when nothing fits. */
  send(data: Uint8Array, flags = 0): number {
    const r = this.trySend([data], flags, undefined);
    if (r instanceof SocketError) throw r;
    return r;
  }

  /** sendto(2) without waiting. */
  sendto(data: Uint8Array, flags: number, addr?: SockAddrInput): number {
    const r = this.trySend([data], flags, addr);
    if (r instanceof SocketError) throw r;
    return r;
  }

  /** sendmsg(2) without waiting: gathers `buffers` into one message. */
  sendmsg(buffers: readonly Uint8Array[], flags = 0, addr?: SockAddrInput): number {
    const r = this.trySend(buffers, flags, addr);
    if (r instanceof SocketError) throw r;
    return r;
  }

  async sendAsync(data: Uint8Array, flags = 0, opts: BlockingOptions = {}): Promise<number> {
    return this.sendmsgAsync([data], flags, undefined, opts);
  }

  async sendtoAsync(data: Uint8Array, flags: number, addr?: SockAddrInput, opts: BlockingOptions = {}): Promise<number> {
    return this.sendmsgAsync([data], flags, addr, opts);
  }

  /**
   * Blocking sendmsg(2): a stream socket waits until every byte is queued (returning what was
   * queued if SO_SNDTIMEO expires after some progress, EAGAIN if before); a datagram waits for
   * room once.
   */
  async sendmsgAsync(buffers: readonly Uint8Array[], flags = 0, addr?: SockAddrInput, opts: BlockingOptions = {}): Promise<number> {
    const nb = this.nonblocking || (flags & MSG_DONTWAIT) !== 0;
    if (nb || !this.isStream) {
      return this.blocking(EventOut, this.sndTimeoMs, opts.signal, () => this.trySend(buffers, flags, addr), "send", !nb);
    }
    const data = concat(buffers);
    let sent = 0;
    const deadline = this.sndTimeoMs > 0 ? this.stack.clock.now() + this.sndTimeoMs : Infinity;
    for (;;) {
      const r = this.trySend([data.subarray(sent)], flags, addr);
      if (typeof r === "number") {
        sent += r;
        if (sent >= data.length) return sent;
        if (r > 0) continue;
      } else if (r.code !== "EAGAIN") {
        if (sent > 0) return sent;
        throw r;
      }
      const edge = this.readiness(EventOut) !== 0;
      const w = await this.wait(EventOut | EventErr | EventHup, deadline, opts.signal, edge);
      if (w !== "ready") {
        if (sent > 0) return sent;
        throw new SocketError(w === "timeout" ? "EAGAIN" : "EINTR", "send");
      }
    }
  }

  /** @internal One non-blocking send attempt. */
  trySend(buffers: readonly Uint8Array[], flags: number, addr: SockAddrInput | undefined): number | SocketError {
    if (this.closed) return new SocketError("EBADF", "send");
    if (flags & MSG_OOB) {
      if (!this.isStream) return new SocketError("EOPNOTSUPP", "send");
    }
    const data = buffers.length === 1 ? buffers[0]! : concat(buffers);
    let to: FullAddress | undefined;
    if (addr !== undefined && !this.isStream) {
      let sa: SockAddr;
      try {
        sa = toSockAddr(addr, this.domain, "sendto");
        to = this.toEndpoint(sa, "sendto");
      } catch (e) {
        return e as SocketError;
      }
      if (!to.addr) to = { ...to, addr: this.netProto === IPV4_PROTOCOL ? LOOPBACK4 : Address.parse("::1")! };
    }
    if (this.isStream) {
      if (this.listening) return new SocketError("EPIPE", "send");
      if (data.length === 0 && this.connected) {
        const peer = this.ep.getRemoteAddress();
        if (!isError(peer) && !(this.shut & ShutdownWrite)) return 0;
      }
    }
    const more = (flags & MSG_MORE) !== 0;
    const r = this.ep.write(data, to ? { to, more } : more ? { more } : undefined);
    if (isError(r)) {
      if (this.isStream && (r === Err.NotConnected || r === Err.InvalidEndpointState)) {
        // Linux: send on a stream socket that never connected fails with EPIPE (tcp_sendmsg ->
        // sk_stream_wait_connect), not ENOTCONN.
        return new SocketError("EPIPE", "send");
      }
      if (r === Err.ClosedForSend || r === Err.ClosedForReceive) return new SocketError("EPIPE", "send");
      return SocketError.fromTcpip(r, "send");
    }
    return r;
  }

  // ------------------------------------------------------------------ receive

  /** recv(2) into `buf` without waiting. Returns bytes (0 at end of stream). */
  recv(buf: Uint8Array, flags = 0): number {
    const r = this.tryRecv([buf], flags, false, 0);
    if (r instanceof SocketError) throw r;
    return r.bytes;
  }

  /** recvfrom(2) without waiting. */
  recvfrom(buf: Uint8Array, flags = 0): RecvFromResult {
    const r = this.tryRecv([buf], flags, true, 0);
    if (r instanceof SocketError) throw r;
    return r.address ? { bytes: r.bytes, address: r.address } : { bytes: r.bytes };
  }

  /** recvmsg(2) without waiting; `controlLen` bounds the control data like msg_controllen. */
  recvmsg(buffers: readonly Uint8Array[], flags = 0, controlLen = 1024): RecvMsgResult {
    const r = this.tryRecv(buffers, flags, true, controlLen);
    if (r instanceof SocketError) throw r;
    return r;
  }

  async recvAsync(buf: Uint8Array, flags = 0, opts: BlockingOptions = {}): Promise<number> {
    return (await this.recvmsgAsync([buf], flags, 0, opts)).bytes;
  }

  async recvfromAsync(buf: Uint8Array, flags = 0, opts: BlockingOptions = {}): Promise<RecvFromResult> {
    const r = await this.recvmsgAsync([buf], flags, 0, opts);
    return r.address ? { bytes: r.bytes, address: r.address } : { bytes: r.bytes };
  }

  /**
   * Blocking recvmsg(2): waits for data (at least SO_RCVLOWAT bytes on streams, or all of them
   * with MSG_WAITALL, stopping early at end of stream, an error or a timeout after progress).
   */
  async recvmsgAsync(buffers: readonly Uint8Array[], flags = 0, controlLen = 1024, opts: BlockingOptions = {}): Promise<RecvMsgResult> {
    const nb = this.nonblocking || (flags & MSG_DONTWAIT) !== 0;
    const total = buffers.reduce((n, b) => n + b.length, 0);
    const want = this.isStream && !(flags & MSG_PEEK)
      ? Math.min(total, (flags & MSG_WAITALL) ? total : Math.max(1, this.rcvLowat))
      : 0;
    if (!this.isStream && !nb && (this.shut & ShutdownRead)) return { bytes: 0, flags: 0, control: [] };
    if (nb || want <= 1 || !this.isStream) {
      return this.blocking(EventIn, this.rcvTimeoMs, opts.signal, () => this.tryRecv(buffers, flags, true, controlLen), "recv", !nb);
    }
    // Stream with MSG_WAITALL or SO_RCVLOWAT > 1: gather until `want` bytes.
    const dst = buffers.length === 1 ? buffers[0]! : new Uint8Array(total);
    let got = 0;
    const deadline = this.rcvTimeoMs > 0 ? this.stack.clock.now() + this.rcvTimeoMs : Infinity;
    for (;;) {
      const r = this.tryRecv([dst.subarray(got)], flags & ~MSG_WAITALL, false, 0);
      if (!(r instanceof SocketError)) {
        if (r.bytes === 0 && got < total) break; // end of stream
        got += r.bytes;
        if (got >= want) break;
        continue;
      }
      if (r.code !== "EAGAIN") {
        if (got > 0) break;
        throw r;
      }
      const edge = this.readiness(EventIn) !== 0;
      const w = await this.wait(EventIn | EventErr | EventHup | EventRdHup, deadline, opts.signal, edge);
      if (w !== "ready") {
        if (got > 0) break;
        throw new SocketError(w === "timeout" ? "EAGAIN" : "EINTR", "recv");
      }
    }
    if (buffers.length > 1) scatter(dst.subarray(0, got), buffers);
    return { bytes: got, flags: 0, control: [] };
  }

  /** @internal One non-blocking receive with Linux's MSG_PEEK / MSG_TRUNC rules. */
  tryRecv(buffers: readonly Uint8Array[], flags: number, wantFrom: boolean, controlLen: number): RecvMsgResult | SocketError {
    if (this.closed) return new SocketError("EBADF", "recv");
    const peek = (flags & MSG_PEEK) !== 0;
    const trunc = (flags & MSG_TRUNC) !== 0;
    const total = buffers.length === 1 ? buffers[0]!.length : buffers.reduce((n, b) => n + b.length, 0);
    if (this.isStream) {
      if (flags & MSG_OOB) return new SocketError("EINVAL", "recv");
      if (this.listening || (!this.connected && !this.accepted)) return new SocketError("ENOTCONN", "recv");
      if (total === 0) {
        // Linux: a zero-length read returns 0 when data (or EOF) is there, EAGAIN when not.
        const probe = this.ep.read(this.oneByte(), { peek: true });
        if (isError(probe)) return this.streamReadError(probe);
        return { bytes: 0, flags: 0, control: [] };
      }
      if (peek && trunc) {
        // Linux: MSG_PEEK|MSG_TRUNC on TCP reports how much could be read, copying nothing.
        const q = this.ep.getSockOpt("receiveQueueSize");
        const avail = isError(q) ? 0 : q;
        if (avail > 0) return { bytes: Math.min(avail, total), flags: 0, control: [] };
        const probe = this.ep.read(this.oneByte(), { peek: true });
        if (isError(probe)) return this.streamReadError(probe);
        return { bytes: Math.min(probe.count, total), flags: 0, control: [] };
      }
      let dst: Uint8Array;
      if (trunc) {
        // Linux (man 7 tcp): MSG_TRUNC discards the bytes instead of copying them.
        if (!this.scratch || this.scratch.length < Math.min(total, 65536)) this.scratch = new Uint8Array(Math.min(total, 65536));
        let discarded = 0;
        while (discarded < total) {
          const r = this.ep.read(this.scratch.subarray(0, Math.min(this.scratch.length, total - discarded)));
          if (isError(r)) {
            if (discarded > 0) break;
            return this.streamReadError(r);
          }
          if (r.count === 0) break;
          discarded += r.count;
        }
        return { bytes: discarded, flags: 0, control: [] };
      }
      dst = buffers.length === 1 ? buffers[0]! : new Uint8Array(total);
      const r = this.ep.read(dst, peek ? { peek: true } : undefined);
      if (isError(r)) return this.streamReadError(r);
      if (buffers.length > 1) scatter(dst.subarray(0, r.count), buffers);
      return { bytes: r.count, flags: 0, control: [] };
    }
    // Datagrams: one message per call.
    if (flags & MSG_OOB) return new SocketError("EOPNOTSUPP", "recv");
    const dst = buffers.length === 1 ? buffers[0]! : new Uint8Array(total);
    const r = this.ep.read(dst, { peek, needRemoteAddr: wantFrom });
    if (isError(r)) {
      // Linux: a datagram socket whose read side is shut down has nothing to read (EAGAIN
      // without waiting); a blocking read returns 0 instead (see recvmsgAsync).
      if (r === Err.ClosedForReceive) return new SocketError("EAGAIN", "recv");
      return SocketError.fromTcpip(r, "recv");
    }
    if (buffers.length > 1) scatter(dst.subarray(0, r.count), buffers);
    let mflags = 0;
    if (r.total > r.count) mflags |= MSG_TRUNC;
    const res: RecvMsgResult = { bytes: trunc ? r.total : r.count, flags: mflags, control: [] };
    if (wantFrom && r.from) {
      res.address = this.infoOf(r.from);
      res.name = this.rawOf(r.from);
    }
    const control = this.controlFor(r.control);
    if (control.length > 0) {
      let space = 0;
      for (const c of control) {
        const need = cmsgSpace(c.data.length);
        if (space + need > controlLen) {
          res.flags |= MSG_CTRUNC;
          break;
        }
        space += need;
        res.control.push(c);
      }
    }
    return res;
  }

  private oneByteBuf: Uint8Array | null = null;
  private oneByte(): Uint8Array {
    return (this.oneByteBuf ??= new Uint8Array(1));
  }

  private streamReadError(e: TcpipError): RecvMsgResult | SocketError {
    if (e === Err.ClosedForReceive) return { bytes: 0, flags: 0, control: [] };
    if (e === Err.InvalidEndpointState) return new SocketError("ENOTCONN", "recv");
    return SocketError.fromTcpip(e, "recv");
  }

  /** Control messages for a received datagram, in Linux's order and layouts. */
  private controlFor(cm: ControlMessages | undefined): ControlMessage[] {
    const out: ControlMessage[] = [];
    if (this.timestamp) {
      const t = this.stack.clock.wallNow();
      const b = Buffer.alloc(16);
      b.writeBigInt64LE(BigInt(Math.floor(t / 1000)), 0);
      b.writeBigInt64LE(BigInt(Math.floor((t % 1000) * 1000)), 8);
      out.push({ level: SOL_SOCKET, type: SCM_TIMESTAMP, data: b });
    }
    if (!cm) return out;
    const v6 = this.netProto === IPV6_PROTOCOL;
    if (v6) {
      if (cm.tos !== undefined) out.push({ level: SOL_IPV6, type: IPV6_TCLASS, data: int32(cm.tos) });
      if (cm.ttl !== undefined) out.push({ level: SOL_IPV6, type: IPV6_HOPLIMIT, data: int32(cm.ttl) });
      if (cm.localAddr !== undefined) {
        const b = Buffer.alloc(20);
        b.set(cm.localAddr.bytes, 0);
        b.writeInt32LE(cm.nic ?? 0, 16);
        out.push({ level: SOL_IPV6, type: IPV6_PKTINFO, data: b });
      }
      return out;
    }
    // Linux's ip_cmsg_recv order: PKTINFO, TTL, TOS.
    if (cm.localAddr !== undefined) {
      // struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst; struct in_addr ipi_addr; }
      const b = Buffer.alloc(12);
      b.writeInt32LE(cm.nic ?? 0, 0);
      b.set(cm.localAddr.bytes, 4);
      b.set(cm.localAddr.bytes, 8);
      out.push({ level: SOL_IP, type: IP_PKTINFO, data: b });
    }
    if (cm.ttl !== undefined) out.push({ level: SOL_IP, type: IP_TTL, data: int32(cm.ttl) });
    if (cm.tos !== undefined) out.push({ level: SOL_IP, type: IP_TOS, data: Buffer.of(cm.tos) });
    return out;
  }

  // ------------------------------------------------------------------ options and ioctl

  /** setsockopt(2): `value` is the option's bytes (numbers become 4-byte ints, booleans 0/1). */
  setsockopt(level: number, name: number, value: Uint8Array | number | boolean | string): void {
    setSockOpt(this, level, name, value);
  }

  /** getsockopt(2): the value in Linux's layout, cut to `outLen` bytes. */
  getsockopt(level: number, name: number, outLen?: number): Buffer {
    return getSockOpt(this, level, name, outLen);
  }

  /** getsockopt(2) of an int option. */
  getsockoptInt(level: number, name: number): number {
    return getSockOpt(this, level, name, 4).readInt32LE(0);
  }

  /** ioctl(2); see ioctl.ts for the argument layouts. */
  ioctl(request: number, arg: Uint8Array | null = null, data?: Uint8Array | null): number {
    return doIoctl(this, request, arg, data);
  }

  // ------------------------------------------------------------------ readiness

  /** poll(2) bits currently ready (POLLIN/POLLRDNORM, POLLOUT/POLLWRNORM, POLLERR, POLLHUP, POLLRDHUP). */
  pollEvents(): number {
    if (this.closed) return POLLNVAL;
    const r = this.readiness(EventIn | EventOut | EventErr | EventHup | EventRdHup);
    let m = 0;
    if (r & EventIn) m |= POLLIN | POLLRDNORM;
    if (r & EventOut) m |= POLLOUT | POLLWRNORM | (this.isStream ? 0 : POLLWRBAND);
    if (r & EventErr) m |= POLLERR;
    if (r & EventHup) m |= POLLHUP;
    if (r & EventRdHup) m |= POLLRDHUP | POLLIN | POLLRDNORM;
    // Linux reports a fresh (never connected, not listening) TCP socket as POLLIN|POLLOUT|POLLHUP.
    if (this.isStream && !this.listening && !this.accepted && this.connState === ConnState.Unconnected &&
      (m & POLLHUP)) m |= POLLIN | POLLRDNORM;
    return m;
  }

  /**
   * Registers `fn` for readiness changes; returns a function that unregisters it. `fn` runs
   * synchronously from the stack's notification.
   */
  onReadiness(mask: number, fn: (events: number) => void): () => void {
    const entry: WaiterEntry = { callback: fn };
    let m = 0;
    if (mask & (POLLIN | POLLRDNORM)) m |= EventIn | EventRdHup;
    if (mask & (POLLOUT | POLLWRNORM)) m |= EventOut;
    m |= EventErr | EventHup;
    const wq = this.wq;
    wq.register(entry, m);
    return () => wq.unregister(entry);
  }

  // ------------------------------------------------------------------ waiting

  /**
   * Waits until `mask` is ready, `deadline` passes (clock time) or `signal` aborts. Registers
   * before checking so no notification is lost.
   */
  /** @internal */
  wait(mask: number, deadline: number, signal?: AbortSignal, edgeOnly = false): Promise<"ready" | "timeout" | "aborted"> {
    if (signal?.aborted) return Promise.resolve("aborted");
    if (this.closed || (!edgeOnly && this.readiness(mask))) return Promise.resolve("ready");
    const clock = this.stack.clock;
    if (deadline <= clock.now()) return Promise.resolve("timeout");
    return new Promise((resolve) => {
      let timer: Timer | null = null;
      const done = (v: "ready" | "timeout" | "aborted") => {
        this.wq.unregister(entry);
        timer?.cancel();
        signal?.removeEventListener("abort", onAbort);
        resolve(v);
      };
      const entry: WaiterEntry = { callback: () => done("ready") };
      const onAbort = () => done("aborted");
      this.wq.register(entry, mask | EventErr | EventHup);
      if (deadline !== Infinity) {
        timer = clock.createTimer(() => done("timeout"));
        timer.schedule(deadline - clock.now());
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Runs `attempt` until it stops saying EAGAIN (only when `block`), waiting on `mask`. */
  private async blocking<T>(mask: number, timeoutMs: number, signal: AbortSignal | undefined,
    attempt: () => T | SocketError, syscall: string, block: boolean): Promise<T> {
    const deadline = timeoutMs > 0 ? this.stack.clock.now() + timeoutMs : Infinity;
    // When the endpoint says "ready" but the call still would block, wait for the next
    // notification instead of spinning on a stale level.
    let edgeOnly = false;
    for (;;) {
      const r = attempt();
      if (!(r instanceof SocketError)) return r;
      if (r.code !== "EAGAIN" || !block) throw r;
      edgeOnly = this.readiness(mask) !== 0;
      const w = await this.wait(mask, deadline, signal, edgeOnly);
      if (w === "timeout") throw new SocketError("EAGAIN", syscall);
      if (w === "aborted") throw new SocketError("EINTR", syscall);
    }
  }
}

// ---------------------------------------------------------------------- helpers

function concat(buffers: readonly Uint8Array[]): Uint8Array {
  if (buffers.length === 1) return buffers[0]!;
  let n = 0;
  for (const b of buffers) n += b.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const b of buffers) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

function scatter(src: Uint8Array, buffers: readonly Uint8Array[]): void {
  let o = 0;
  for (const b of buffers) {
    if (o >= src.length) break;
    const n = Math.min(b.length, src.length - o);
    b.set(src.subarray(o, o + n), 0);
    o += n;
  }
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return b;
}

/** CMSG_SPACE on 64-bit Linux: a 16-byte header plus the data rounded up to 8 bytes. */
export function cmsgSpace(len: number): number {
  return 16 + ((len + 7) & ~7);
}

/** Lays control messages out as Linux's msg_control buffer (struct cmsghdr + data, 8-aligned). */
export function encodeControl(msgs: readonly ControlMessage[]): Buffer {
  let n = 0;
  for (const m of msgs) n += cmsgSpace(m.data.length);
  const out = Buffer.alloc(n);
  let o = 0;
  for (const m of msgs) {
    out.writeBigUInt64LE(BigInt(16 + m.data.length), o);
    out.writeInt32LE(m.level, o + 8);
    out.writeInt32LE(m.type, o + 12);
    out.set(m.data, o + 16);
    o += cmsgSpace(m.data.length);
  }
  return out;
}

