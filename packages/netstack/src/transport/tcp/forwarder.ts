/**
 * The TCP forwarder (transparent mode, in the spirit of gVisor's tcp.Forwarder): a SYN that no
 * endpoint owns — typically on a promiscuous NIC that receives traffic for any destination —
 * becomes a request carrying the connection's 4-tuple. The handler decides, at once or later:
 *
 * - `accept()`: the stack completes the handshake *as the original destination* (the SYN-ACK
 *   leaves from that address; the NIC must allow spoofing unless the address is ours), with the
 *   peer's options negotiated as for a listener's child. The endpoint is handed out in
 *   SYN-RECEIVED and becomes connected when the peer's ACK arrives (EventOut, as for connect).
 * - `reject()`: RST,ACK (RFC 9293 §3.10.7.1, what a closed port answers).
 * - `drop()`: nothing is sent; the peer retransmits its SYN (which becomes a new request).
 *
 * Memory is bounded: at most `maxInFlight` requests are undecided plus accepted handshakes not
 * yet completed; SYNs past the bound are dropped and counted (the peer retries, like a listener
 * whose SYN queue is full). A request the handler has not decided within `pendingTimeoutMs` is
 * dropped, so a slow handler cannot pin memory. While a request is pending, retransmitted SYNs
 * of the same 4-tuple are absorbed (counted), never turned into new requests. The SYN's header is
 * copied when a request is made: the link may reuse the packet's bytes once this call returns.
 *
 * SYN cookies (RFC 4987 §3.6, syncookie.ts) apply as at a listener, under the stack's
 * `syncookies` setting: with the bound reached (1, the default) or always (2), a SYN is answered
 * with a cookie SYN-ACK from the original destination and nothing is kept. When an ACK for a
 * 4-tuple nobody owns returns a valid cookie, the connection is created ESTABLISHED (options
 * restored as for a listener's cookie child, data on the ACK kept) and handed to the handler as
 * a request with `viaCookie` set: `accept()` returns the connected endpoint, `reject()` sends
 * <SEQ=SEG.ACK><CTL=RST> and `drop()` forgets it silently. Such a request counts against
 * `maxInFlight` until decided; with the bound reached it takes the place of the oldest undecided
 * SYN request (the cookie ACK proved the peer's address, a SYN proves nothing), and is dropped
 * when there is none. With syncookies = 0, SYNs past the bound are dropped. The stack's
 * `maxConnections` is respected as by a listener: a SYN or cookie ACK that would make one
 * connection too many is dropped and counted.
 */
import { Address, TCP_PROTOCOL, type FullAddress } from "../../tcpip/address.js";
import { Err, isError, type TcpipError } from "../../tcpip/errors.js";
import type { Endpoint } from "../../tcpip/endpoint.js";
import type { PacketBuffer } from "../../buffer/packet.js";
import type { Timer } from "../../clock/clock.js";
import { EventErr, EventHup, EventOut, WaiterQueue, type WaiterEntry } from "../../waiter/queue.js";
import type { NetworkWriteParams } from "../../stack/registration.js";
import { TCP_ACK, TCP_MIN_HEADER, TCP_RST, TCP_SYN, parseTcpOptions, resetTcpOptions } from "../../header/tcp.js";
import { TcpEndpoint } from "./endpoint.js";
import { checkCookieAck, sendCookieSynAck, type CookieGrant } from "./syncookie.js";
import type { TcpProtocol } from "./protocol.js";
import { buildSegment, Segment } from "./segment.js";
import { seqAdd } from "./seqnum.js";
import { TcpState } from "./state.js";

/** One undecided (or just decided) connection request. */
export interface TcpForwarderRequest {
  /** The peer that sent the SYN. */
  readonly source: FullAddress;
  /** Where it was sent: the address and port the accepted endpoint answers as. */
  readonly destination: FullAddress;
  /** NIC the SYN arrived on. */
  readonly nic: number;
  /** Network protocol (0x0800 / 0x86dd). */
  readonly netProto: number;
  /** True until the handler accepted, rejected or dropped it, or it timed out. */
  readonly pending: boolean;
  /**
   * The handshake already completed through a SYN cookie (RFC 4987 §3.6): the request stands for
   * an ESTABLISHED connection made from the peer's ACK, not for a SYN.
   */
  readonly viaCookie: boolean;
  /**
   * Answers the SYN as the destination and returns the endpoint (in SYN-RECEIVED; EventOut on
   * `wq` once established). For a `viaCookie` request, returns the connection already
   * established (EventOut at once; data the peer sent is waiting to be read); a `wq` given is
   * notified of the endpoint's events, the endpoint's own queue otherwise. Errors:
   * invalid-endpoint-state when already decided or timed out, no-buffer-space at the stack's
   * `maxConnections`, or a routing / port error from the stack.
   */
  accept(wq?: WaiterQueue): { endpoint: Endpoint; waiterQueue: WaiterQueue } | TcpipError;
  /**
   * Refuses the connection with RST,ACK from the destination (<SEQ=SEG.ACK><CTL=RST> for a
   * `viaCookie` request, RFC 9293 §3.10.7.1). No-op once decided.
   */
  reject(): void;
  /**
   * Forgets the SYN without answering (`viaCookie`: the connection vanishes without a segment;
   * the peer's next segment gets the RST of an unknown 4-tuple, though a retransmission of the
   * cookie ACK itself is a new request while the cookie is valid). No-op once decided.
   */
  drop(): void;
}

export interface TcpForwarderOptions {
  /**
   * Undecided requests (SYN or cookie) plus accepted, not yet established handshakes, at most
   * (default 1024).
   */
  maxInFlight?: number;
  /**
   * How long a request may stay undecided before it is dropped (default 30 s: a client's SYN
   * retransmissions at 1, 3, 7, 15 and 31 s still find it pending).
   */
  pendingTimeoutMs?: number;
}

export interface TcpForwarderStats {
  /** Requests handed to the handler. */
  requests: number;
  /** Requests accepted (handshake started). */
  accepted: number;
  /** Accepted handshakes that completed (the endpoint is connected). */
  established: number;
  /** Accepted handshakes that failed (peer RST, SYN-ACK retransmissions ran out, closed). */
  handshakeFailed: number;
  /** Requests rejected with a RST. */
  rejected: number;
  /** Requests the handler dropped. */
  dropped: number;
  /** Requests dropped because the handler did not decide in time. */
  timedOut: number;
  /**
   * SYNs dropped because `maxInFlight` requests and handshakes were in flight (with syncookies
   * = 0; otherwise such SYNs get cookies), and valid cookie ACKs dropped for the same reason
   * (no undecided SYN request left to evict).
   */
  overflow: number;
  /** Retransmitted SYNs absorbed by a pending request. */
  duplicateSyns: number;
  /** Cookie SYN-ACKs sent (RFC 4987 §3.6). */
  cookiesSent: number;
  /** Requests made from a valid cookie ACK (`viaCookie`; also counted in `requests`). */
  cookieRequests: number;
  /**
   * Undecided SYN requests dropped to make room for a cookie request under the bound (their
   * `accept()` then fails as after a timeout; the peer's retransmitted SYN gets a cookie), or
   * superseded by a cookie connection on their own 4-tuple.
   */
  evicted: number;
  /** ACKs for unowned 4-tuples that failed the cookie check (answered with a RST). */
  cookiesFailed: number;
  /** SYNs, cookie ACKs and accepts refused at the stack's `maxConnections`. */
  maxConnectionsDrops: number;
}

const PENDING = 0;
const DECIDED = 1;

/** What both kinds of request share: the 4-tuple, the decided flag, and the once-only decisions. */
abstract class BaseRequest implements TcpForwarderRequest {
  state = PENDING;
  readonly createdAt: number;

  constructor(
    protected readonly fwd: TcpForwarder,
    readonly srcAddr: Address,
    readonly dstAddr: Address,
    readonly source: FullAddress,
    readonly destination: FullAddress,
    readonly nic: number,
    readonly netProto: number,
  ) {
    this.createdAt = fwd.now();
  }

  get pending(): boolean {
    return this.state === PENDING;
  }

  abstract get viaCookie(): boolean;

  accept(wq?: WaiterQueue): { endpoint: Endpoint; waiterQueue: WaiterQueue } | TcpipError {
    if (this.state !== PENDING) return Err.InvalidEndpointState;
    return this.doAccept(wq);
  }

  reject(): void {
    if (this.state === PENDING) this.doReject();
  }

  drop(): void {
    if (this.state !== PENDING) return;
    this.fwd.finish(this);
    this.onDrop();
    this.fwd.stats.dropped++;
  }

  protected abstract doAccept(wq: WaiterQueue | undefined): { endpoint: Endpoint; waiterQueue: WaiterQueue } | TcpipError;
  protected abstract doReject(): void;
  protected onDrop(): void {}
}

/** A request made from a SYN: nothing is answered until the handler decides. */
class Request extends BaseRequest {
  /** Next request in the same hash bucket. */
  next: Request | null = null;

  constructor(
    fwd: TcpForwarder,
    readonly key: number,
    srcAddr: Address,
    dstAddr: Address,
    source: FullAddress,
    destination: FullAddress,
    nic: number,
    netProto: number,
    /** A private copy of the SYN (header and options). */
    readonly syn: Segment,
  ) {
    super(fwd, srcAddr, dstAddr, source, destination, nic, netProto);
  }

  get viaCookie(): boolean {
    return false;
  }

  protected doAccept(wq: WaiterQueue = new WaiterQueue()): { endpoint: Endpoint; waiterQueue: WaiterQueue } | TcpipError {
    return this.fwd.acceptRequest(this, wq);
  }

  protected doReject(): void {
    this.fwd.rejectRequest(this);
  }

  matches(src: Address, sport: number, dst: Address, dport: number): boolean {
    return this.source.port === sport && this.destination.port === dport && this.srcAddr.equals(src) && this.dstAddr.equals(dst);
  }
}

/**
 * A request made from a valid cookie ACK: the connection already exists (ESTABLISHED, registered
 * under its 4-tuple) and waits for the handler's decision.
 */
class CookieRequest extends BaseRequest {
  constructor(
    fwd: TcpForwarder,
    srcAddr: Address,
    dstAddr: Address,
    source: FullAddress,
    destination: FullAddress,
    nic: number,
    netProto: number,
    readonly ep: TcpEndpoint,
    /** SEG.ACK of the cookie ACK: the sequence number of a RST refusing the connection. */
    readonly ackSeq: number,
  ) {
    super(fwd, srcAddr, dstAddr, source, destination, nic, netProto);
  }

  get viaCookie(): boolean {
    return true;
  }

  protected doAccept(wq: WaiterQueue | undefined): { endpoint: Endpoint; waiterQueue: WaiterQueue } {
    return this.fwd.acceptCookie(this, wq);
  }

  protected doReject(): void {
    this.fwd.rejectCookie(this);
  }

  protected override onDrop(): void {
    this.ep.discard();
  }
}

/** Passes an accepted cookie connection's events on to the queue the handler gave accept(). */
class EventRelay implements WaiterEntry {
  constructor(private readonly to: WaiterQueue) {}

  callback(ev: number): void {
    this.to.notify(ev);
  }
}

/** Watches one accepted handshake until it completes or fails (one per accepted connection). */
class HandshakeWatch implements WaiterEntry {
  constructor(
    private readonly fwd: TcpForwarder,
    private readonly ep: TcpEndpoint,
    private readonly wq: WaiterQueue,
  ) {}

  callback(): void {
    const s = this.ep.state;
    if (s === TcpState.SynReceived) return;
    this.wq.unregister(this);
    this.fwd.handshakeDone(this, s !== TcpState.Closed);
  }

  /** Stops watching (forwarder removed). */
  cancel(): void {
    this.wq.unregister(this);
  }
}

export class TcpForwarder {
  readonly maxInFlight: number;
  readonly pendingTimeoutMs: number;
  readonly stats: TcpForwarderStats = {
    requests: 0, accepted: 0, established: 0, handshakeFailed: 0, rejected: 0, dropped: 0, timedOut: 0, overflow: 0,
    duplicateSyns: 0, cookiesSent: 0, cookieRequests: 0, evicted: 0, cookiesFailed: 0, maxConnectionsDrops: 0,
  };
  /** Pending requests by 4-tuple hash (chained through `next`). */
  private readonly buckets = new Map<number, Request>();
  /** Pending requests in arrival order (for the timeout). */
  private readonly queue = new Set<BaseRequest>();
  private readonly handshakes = new Set<HandshakeWatch>();
  private readonly timer: Timer;
  private readonly rstParams: NetworkWriteParams = { protocol: TCP_PROTOCOL, ttl: 64, tos: 0 };
  /**
   * Per network protocol, a detached endpoint with the stack's defaults, never registered nor
   * counted among the protocol's endpoints: the "listener" whose settings (MSS, window scale,
   * buffer, TTL) and cookie stamp the SYN cookie functions of syncookie.ts read.
   */
  private readonly cookieSides = new Map<number, TcpEndpoint>();
  private readonly grant: CookieGrant = { mss: 0, wscale: -1, sackOk: false, ts: false, ecn: false, tsOffset: 0 };

  constructor(
    private readonly proto: TcpProtocol,
    private readonly handler: (req: TcpForwarderRequest) => void,
    opts: TcpForwarderOptions = {},
  ) {
    this.maxInFlight = opts.maxInFlight ?? 1024;
    this.pendingTimeoutMs = opts.pendingTimeoutMs ?? 30_000;
    if (!(this.maxInFlight >= 1)) throw new RangeError("maxInFlight must be at least 1");
    if (!(this.pendingTimeoutMs > 0)) throw new RangeError("pendingTimeoutMs must be positive");
    this.timer = proto.stack.clock.createTimer(this.onTimer);
  }

  /** Requests waiting for the handler's decision. */
  get pendingCount(): number {
    return this.queue.size;
  }

  /** Accepted handshakes not yet completed. */
  get handshakingCount(): number {
    return this.handshakes.size;
  }

  /** What counts against `maxInFlight`. */
  get inFlight(): number {
    return this.queue.size + this.handshakes.size;
  }

  now(): number {
    return this.proto.stack.clock.now();
  }

  /**
   * Called by the TCP protocol for a valid segment nobody owns; `seg` is it parsed. Returns true
   * when the forwarder took it (a bare SYN, or an ACK returning a valid SYN cookie), false to let
   * the protocol answer as usual.
   */
  handle(pkt: PacketBuffer, seg: Segment): boolean {
    const ctl = seg.flags & (TCP_SYN | TCP_ACK | TCP_RST);
    if (ctl !== TCP_SYN && ctl !== TCP_ACK) return false;
    if (pkt.linkBroadcast || (pkt.addrLen !== 4 && pkt.addrLen !== 16)) return false;
    const b = pkt.buf;
    // Never open a connection as a broadcast or multicast address.
    if (pkt.addrLen === 4 && (b[pkt.dstAddrOff]! >= 224 || Address.hashBytes(b, pkt.dstAddrOff, 4) === 0xffffffff))
      return false;
    if (pkt.addrLen === 16 && b[pkt.dstAddrOff] === 0xff) return false;
    if (ctl === TCP_ACK) return this.handleAck(pkt, seg);
    const src = Address.fromBytes(b, pkt.srcAddrOff, pkt.addrLen);
    const dst = Address.fromBytes(b, pkt.dstAddrOff, pkt.addrLen);
    const key = tupleKey(src, seg.srcPort, dst, seg.dstPort);
    for (let r = this.buckets.get(key) ?? null; r; r = r.next) {
      if (r.matches(src, seg.srcPort, dst, seg.dstPort)) {
        // RFC 9293 §3.10.7.2 would answer a retransmitted SYN with the SYN-ACK; we have none
        // yet (the handler has not decided), so it is absorbed.
        this.stats.duplicateSyns++;
        return true;
      }
    }
    // As a listener's child would be (newChild): no connection past the stack's limit.
    if (this.proto.atConnectionLimit()) {
      this.countConnectionLimit();
      return true;
    }
    // RFC 4987 §3.6: past the bound (syncookies = 1) or always (2), a cookie instead of state.
    const cookies = this.proto.options.syncookies;
    const full = this.inFlight >= this.maxInFlight;
    if (cookies === 2 || (full && cookies === 1)) {
      const sent = this.proto.counters.syncookiesSent;
      sendCookieSynAck(this.cookieSide(pkt.networkProtocol), pkt, seg, pkt.nicId);
      if (this.proto.counters.syncookiesSent !== sent) this.stats.cookiesSent++;
      return true;
    }
    if (full) {
      this.stats.overflow++;
      return true;
    }
    const req = new Request(this, key, src, dst, { addr: src, port: seg.srcPort }, { addr: dst, port: seg.dstPort }, pkt.nicId,
      pkt.networkProtocol, copySyn(seg));
    req.next = this.buckets.get(key) ?? null;
    this.buckets.set(key, req);
    this.queue.add(req);
    if (!this.timer.pending) this.timer.schedule(this.pendingTimeoutMs);
    this.stats.requests++;
    this.handler(req);
    return true;
  }

  /**
   * An ACK for a 4-tuple nobody owns: true when it returned a valid SYN cookie and was taken (a
   * `viaCookie` request made, or the ACK dropped at a limit); false to let the protocol answer
   * with the RST of RFC 9293 §3.10.7.1 (not a cookie, or a forged or stale one, counted).
   */
  private handleAck(pkt: PacketBuffer, seg: Segment): boolean {
    const proto = this.proto;
    if (proto.options.syncookies === 0) return false;
    const side = this.cookieSide(pkt.networkProtocol);
    const failed = proto.counters.syncookiesFailed;
    const g = this.grant;
    if (!checkCookieAck(side, pkt, seg, g)) {
      if (proto.counters.syncookiesFailed !== failed) this.stats.cookiesFailed++;
      return false;
    }
    if (proto.atConnectionLimit()) {
      this.countConnectionLimit();
      return true;
    }
    const b = pkt.buf;
    const src = Address.fromBytes(b, pkt.srcAddrOff, pkt.addrLen);
    const dst = Address.fromBytes(b, pkt.dstAddrOff, pkt.addrLen);
    // A SYN request pending for the same 4-tuple (the peer's SYN retransmitted after its cookie
    // SYN-ACK, while the bound had room) is superseded by the connection the cookie makes.
    const key = tupleKey(src, seg.srcPort, dst, seg.dstPort);
    for (let r = this.buckets.get(key) ?? null; r; r = r.next) {
      if (r.matches(src, seg.srcPort, dst, seg.dstPort)) {
        this.finish(r);
        this.stats.evicted++;
        break;
      }
    }
    // The bound holds with cookie requests too. A peer that returned a cookie has proved its
    // address, unlike the sender of a SYN: with the bound reached, the oldest undecided SYN
    // request makes room (that peer's retransmitted SYN gets a cookie in turn). With none to
    // evict (all cookie requests or accepted handshakes), the ACK is dropped: the peer
    // retransmits its data (or, after a bare ACK, sends its first data later) while the cookie
    // is still valid.
    if (this.inFlight >= this.maxInFlight && !this.evictOldestSynRequest()) {
      this.stats.overflow++;
      return true;
    }
    const ep = proto.newEndpoint(pkt.networkProtocol, new WaiterQueue());
    if (isError(ep)) return true;
    const tep = ep as TcpEndpoint;
    const err = tep.openForwarded(pkt.nicId, dst, src, seg, { pkt, grant: g });
    const s = tep.state;
    if (err || s === TcpState.Closed || s === TcpState.SynReceived) {
      // Not a connection after all (no route, or the ACK was not acceptable): nothing to hand out.
      tep.discard();
      return true;
    }
    const req = new CookieRequest(this, src, dst, { addr: src, port: seg.srcPort }, { addr: dst, port: seg.dstPort }, pkt.nicId,
      pkt.networkProtocol, tep, seg.ack);
    this.queue.add(req);
    if (!this.timer.pending) this.timer.schedule(this.pendingTimeoutMs);
    this.stats.requests++;
    this.stats.cookieRequests++;
    this.handler(req);
    return true;
  }

  /** Drops the oldest undecided SYN request (counted in `evicted`); false when there is none. */
  private evictOldestSynRequest(): boolean {
    for (const r of this.queue) {
      if (r instanceof Request) {
        this.finish(r);
        this.stats.evicted++;
        return true;
      }
    }
    return false;
  }

  /** The detached endpoint the cookie functions read for `netProto` (see `cookieSides`). */
  private cookieSide(netProto: number): TcpEndpoint {
    let side = this.cookieSides.get(netProto);
    if (!side) {
      side = new TcpEndpoint(this.proto, netProto, new WaiterQueue());
      // Never a connection: not among the stack's endpoints (nor counted by maxConnections).
      this.proto.endpoints.delete(side);
      this.cookieSides.set(netProto, side);
    }
    return side;
  }

  private countConnectionLimit(): void {
    this.proto.counters.maxConnectionsDrops++;
    this.stats.maxConnectionsDrops++;
  }

  /** Takes `req` out of the pending sets (it is decided). */
  finish(req: BaseRequest): void {
    req.state = DECIDED;
    this.queue.delete(req);
    if (!(req instanceof Request)) return;
    let prev: Request | null = null;
    for (let r = this.buckets.get(req.key) ?? null; r; prev = r, r = r.next) {
      if (r !== req) continue;
      if (prev) prev.next = r.next;
      else if (r.next) this.buckets.set(req.key, r.next);
      else this.buckets.delete(req.key);
      break;
    }
    req.next = null;
  }

  acceptRequest(req: Request, wq: WaiterQueue): { endpoint: Endpoint; waiterQueue: WaiterQueue } | TcpipError {
    if (this.proto.atConnectionLimit()) {
      // The request stays pending: the handler may try again once connections closed.
      this.countConnectionLimit();
      return Err.NoBufferSpace;
    }
    const ep = this.proto.newEndpoint(req.netProto, wq);
    if (isError(ep)) return ep;
    const tep = ep as TcpEndpoint;
    const w = new HandshakeWatch(this, tep, wq);
    wq.register(w, EventOut | EventHup | EventErr);
    const err = tep.openForwarded(req.nic, req.dstAddr, req.srcAddr, req.syn);
    if (err) {
      wq.unregister(w);
      tep.close();
      return err;
    }
    this.finish(req);
    this.stats.accepted++;
    // With a synchronous link the handshake may already be over (or failed).
    if (tep.state === TcpState.SynReceived) this.handshakes.add(w);
    else {
      wq.unregister(w);
      this.countHandshake(tep.state !== TcpState.Closed);
    }
    return { endpoint: tep, waiterQueue: wq };
  }

  rejectRequest(req: Request): void {
    this.finish(req);
    this.stats.rejected++;
    // RFC 9293 §3.10.7.1: a SYN (no ACK) to a closed port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    const stack = this.proto.stack;
    const route = stack.findRoute(req.nic, req.dstAddr, req.srcAddr, req.netProto);
    if (isError(route)) return;
    const syn = req.syn;
    const out = buildSegment(route, req.destination.port, req.source.port, 0, seqAdd(syn.seq, 1), TCP_RST | TCP_ACK, 0,
      null, null, 0);
    this.rstParams.ttl = route.defaultTtl;
    const err = route.writePacket(out, this.rstParams);
    const s = stack.stats.tcp;
    if (err) s.segmentSendErrors++;
    else {
      s.segmentsSent++;
      s.resetsSent++;
    }
  }

  acceptCookie(req: CookieRequest, wq: WaiterQueue | undefined): { endpoint: Endpoint; waiterQueue: WaiterQueue } {
    this.finish(req);
    this.stats.accepted++;
    const ep = req.ep;
    let q = ep.waiterQueue;
    if (wq && wq !== q) {
      q.register(new EventRelay(wq), ~0);
      q = wq;
    }
    // Established (or already closed by the peer) while pending: counted like a completed
    // handshake, and waiters learn that the endpoint is writable (or what became of it).
    this.countHandshake(true);
    const ready = ep.readiness(EventOut | EventHup | EventErr);
    if (ready !== 0) q.notify(ready);
    return { endpoint: ep, waiterQueue: q };
  }

  rejectCookie(req: CookieRequest): void {
    this.finish(req);
    this.stats.rejected++;
    // RFC 9293 §3.10.7.1: the refused connection's ACK gets <SEQ=SEG.ACK><CTL=RST>.
    const stack = this.proto.stack;
    const route = stack.findRoute(req.nic, req.dstAddr, req.srcAddr, req.netProto);
    req.ep.discard();
    if (isError(route)) return;
    const out = buildSegment(route, req.destination.port, req.source.port, req.ackSeq, 0, TCP_RST, 0, null, null, 0);
    this.rstParams.ttl = route.defaultTtl;
    const err = route.writePacket(out, this.rstParams);
    const s = stack.stats.tcp;
    if (err) s.segmentSendErrors++;
    else {
      s.segmentsSent++;
      s.resetsSent++;
    }
  }

  handshakeDone(w: HandshakeWatch, ok: boolean): void {
    if (!this.handshakes.delete(w)) return;
    this.countHandshake(ok);
  }

  private countHandshake(ok: boolean): void {
    if (ok) {
      this.stats.established++;
      // Counted like a listener's child (Linux's PassiveOpens).
      this.proto.stack.stats.tcp.passiveConnectionOpenings++;
    } else this.stats.handshakeFailed++;
  }

  /** Drops requests older than `pendingTimeoutMs` (oldest first), then re-arms for the next. */
  private readonly onTimer = (): void => {
    const now = this.now();
    for (const r of this.queue) {
      const due = r.createdAt + this.pendingTimeoutMs;
      if (due > now) {
        this.timer.schedule(due - now);
        return;
      }
      this.finish(r);
      if (r instanceof CookieRequest) r.ep.discard();
      this.stats.timedOut++;
    }
  };

  /** Removed from the protocol: pending requests are forgotten (accepted endpoints live on). */
  detach(): void {
    for (const r of [...this.queue]) {
      this.finish(r);
      // Nobody will ever decide: an undecided cookie connection goes away silently.
      if (r instanceof CookieRequest) r.ep.discard();
    }
    for (const w of this.handshakes) w.cancel();
    this.handshakes.clear();
    this.timer.cancel();
  }
}

/** The pending-request hash of a 4-tuple. */
function tupleKey(src: Address, sport: number, dst: Address, dport: number): number {
  return (Math.imul(src.key, 31) ^ Math.imul(dst.key, 17) ^ (sport << 16) ^ dport) >>> 0;
}

/** A private copy of an inbound SYN's header (the packet's bytes may be reused after delivery). */
function copySyn(seg: Segment): Segment {
  const c = new Segment();
  const hl = seg.headerLength;
  c.buf = seg.buf.slice(seg.off, seg.off + hl);
  c.off = 0;
  c.srcPort = seg.srcPort;
  c.dstPort = seg.dstPort;
  c.seq = seg.seq;
  c.ack = seg.ack;
  c.flags = seg.flags;
  c.window = seg.window;
  c.headerLength = hl;
  // Data in a SYN is not kept (no TCP Fast Open): the peer sends it again after the handshake.
  c.payloadOff = hl;
  c.payloadLen = 0;
  if (hl > TCP_MIN_HEADER) parseTcpOptions(c.buf, TCP_MIN_HEADER, hl - TCP_MIN_HEADER, c.options);
  else resetTcpOptions(c.options);
  return c;
}

/**
 * Installs a TCP forwarder on the stack's TCP protocol (replacing any earlier one), or removes
 * it with `handler` null. Returns the forwarder (its `stats` and counts).
 */
export function setTcpForwarder(stack: { transportProtocol(n: number): unknown },
  handler: ((req: TcpForwarderRequest) => void) | null, opts: TcpForwarderOptions = {}): TcpForwarder | null {
  const proto = stack.transportProtocol(TCP_PROTOCOL) as TcpProtocol | undefined;
  if (!proto || !("forwarder" in proto)) throw new Error("setTcpForwarder: the stack has no TCP protocol");
  (proto.forwarder as TcpForwarder | null)?.detach();
  if (!handler) {
    proto.forwarder = null;
    return null;
  }
  const f = new TcpForwarder(proto, handler, opts);
  proto.forwarder = f;
  return f;
}
