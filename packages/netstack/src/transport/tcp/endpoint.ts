/**
 * A TCP endpoint (one socket): the connection state machine of RFC 9293 §3.10, the Endpoint
 * contract (tcpip/endpoint.ts) the socket layer uses, and the per-connection timers.
 *
 * The receive path lives in rcv.ts, the send path in snd.ts; the handshake's listener side
 * (SYN queue, accept queue) and the segment-arrival rules are here, in the order RFC 9293
 * §3.10.7.4 checks them.
 *
 * Concurrency model: everything runs to completion on one thread, but an in-memory link in
 * "sync" mode, or a waiter callback, can call back into an endpoint while it is in the middle of
 * an operation. So every entry point takes a light "lock" (`depth`): packets that arrive while it
 * is held wait in `backlog` (like Linux's socket backlog) and are processed when the outermost
 * operation finishes; waiter notifications are collected in `events` and delivered last, when
 * the endpoint is consistent, so a callback may freely call read/write/close. "Last" is still
 * inside the call that caused them: with a synchronous link a write can be delivered, answered
 * and notified before `write` returns, so waiter callbacks must tolerate being re-entered.
 */
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, TCP_PROTOCOL, type FullAddress } from "../../tcpip/address.js";
import { Err, isError, type TcpipError } from "../../tcpip/errors.js";
import {
  ShutdownRead, ShutdownWrite,
  type Accepted, type Endpoint, type LingerOption, type ReadOptions, type ReadResult, type SockOptionName,
  type SockOptions, type WriteOptions,
} from "../../tcpip/endpoint.js";
import type { PacketBuffer } from "../../buffer/packet.js";
import type { Timer, TimerTarget } from "../../clock/clock.js";
import { EventErr, EventHup, EventIn, EventOut, EventRdHup, WaiterQueue } from "../../waiter/queue.js";
import type {
  BatchFlusher, NetworkWriteParams, Route, StackServices, TransportEndpointHandler, TransportEndpointId,
  TransportError,
} from "../../stack/registration.js";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_RST, TCP_SYN } from "../../header/tcp.js";
import {
  endpointAddress, endpointNetProtos, isPacketAddress, packetDestinationAddress, packetSourceAddress,
} from "../../stack/dualstack.js";
import { createCongestionControl, type CongestionControl, type CongestionEnv } from "./congestion.js";
import { gsoSizeFor } from "./gso.js";
import { packetEcn, TcpEcn } from "./ecn.js";
import { tcpInfo } from "./info.js";
import { MIN_RECEIVE_BUFFER, MIN_SEND_BUFFER, TCP_MEM_HIGH, TCP_MEM_NORMAL, type TcpProtocol } from "./protocol.js";
import { DEFAULT_MSS, DEFAULT_MSS_V6, Receiver } from "./rcv.js";
import { buildSegment, OutOptions, Segment, SegmentBadChecksum, SegmentMalformed, SegmentOk } from "./segment.js";
import { seqAdd, seqDiff, seqGT, seqLEQ, seqLT } from "./seqnum.js";
import { Sender, TimerPersist } from "./snd.js";
import { TcpState, isConnectedState, isEstablishedState } from "./state.js";
import { checkCookieAck, sendCookieSynAck, type CookieGrant } from "./syncookie.js";
import { defineFlags } from "./flags.js";

const NO_FLAGS = { reuseAddr: false, reusePort: false };
/** SO_LINGER off: every endpoint's initial value (endpoints replace it, never mutate it). */
const LINGER_OFF: LingerOption = Object.freeze({ enabled: false, timeout: 0 });
/**
 * The options of the segment being built. emit() fills it and buildSegment() consumes it with
 * nothing in between that can re-enter emit() (no packet is sent before buildSegment returns),
 * so all endpoints share one instead of carrying one each (heap per endpoint, #8).
 */
const OUT_OPTS = new OutOptions();
/**
 * Parse records for inbound segments, shared by every endpoint instead of one each (heap per
 * endpoint, #8). An endpoint takes one for the length of receivePacket / cookieOpen and gives it
 * back; those can nest (a synchronous link delivers to another endpoint while one is mid-packet),
 * and each taker gets its own record, so the pool holds as many as the deepest nesting.
 */
const SEGMENTS: Segment[] = [];
let segmentsOut = 0;
/** `seg` of an endpoint that is not processing a packet. */
const NO_SEGMENT = new Segment();

function takeSegment(): Segment {
  segmentsOut++;
  return SEGMENTS.pop() ?? new Segment();
}

function giveSegment(seg: Segment): void {
  segmentsOut--;
  SEGMENTS.push(seg);
}

/** For tests: the shared parse records taken and not yet given back, and the free ones. */
export function segmentPoolState(): { out: number; free: readonly Segment[] } {
  return { out: segmentsOut, free: SEGMENTS };
}
/** The timestamps option in every segment once negotiated: NOP, NOP, kind 8, length 10. */
const TS_OPTION_SPACE = 12;
/** RFC 7323 §5.5: TS.Recent is invalid after 24 days of idleness (in ms). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** TCP header without options: what every data segment carries in part 1. */
const TCP_HEADER = 20;
/** Linux's TCP_MIN_MSS, the smallest TCP_MAXSEG accepted. */
const MIN_USER_MSS = 88;
/** TcpEndpoint.onTimer ids. */
const TIMER_RTX = 0;
const TIMER_DELACK = 1;
const TIMER_CORK = 2;
const TIMER_KEEPALIVE = 3;
const TIMER_WAIT = 4;
/** The empty packet backlog, shared and never written (heap per endpoint, #8): replaced before a push. */
const NO_PKTS: PacketBuffer[] = [];

export class TcpEndpoint implements Endpoint, TransportEndpointHandler, BatchFlusher, TimerTarget, CongestionEnv {
  /** The boolean fields below (`declare`d), one bit each: see flags.ts. */
  protected flagBits = 0;
  protected flagBits2 = 0;
  readonly waiterQueue: WaiterQueue;
  readonly stack: StackServices;
  readonly netProto: number;
  /** Current state (TcpState). */
  state: number = TcpState.Closed;
  readonly snd: Sender;
  readonly rcv: Receiver;
  /** The cached route to the peer (chosen once per connection). */
  route: Route | null = null;

  // Addresses. `local*`/`remote*` are the connection's 4-tuple; `bound*` what bind() reserved.
  localAddr: Address | null = null;
  localPort = 0;
  remoteAddr: Address | null = null;
  remotePort = 0;
  private boundAddr: Address | null = null;
  private boundPort = 0;
  /** We hold a port reservation (ours to release). */
  private declare portReserved: boolean;
  /** The application chose the port with bind(): keep it until close(). */
  private declare userBound: boolean;
  private regId: TransportEndpointId | null = null;
  /** The network protocols of the demuxer registration and of the port reservation (dualstack.ts). */
  private regProtos: readonly number[] = [];
  private portProtos: readonly number[] = [];
  /** IPV6_V6ONLY (IPv6 endpoints only; settable before bind). */
  private declare v6Only: boolean;

  // Listener side.
  /** The listener this endpoint came from, until accept() hands it out. */
  listener: TcpEndpoint | null = null;
  /** Links of the protocol's endpoint list (eplist.ts; maintained by it alone). */
  listPrev: TcpEndpoint | null = null;
  listNext: TcpEndpoint | null = null;
  private backlog = 0;
  /** The accept and SYN queues, created when first used (listeners only; heap per endpoint, #8). */
  private acceptQ: TcpEndpoint[] | null = null;
  private synQ: Set<TcpEndpoint> | null = null;
  /** A child that just completed its handshake tells its listener once it is consistent. */
  private declare notifyListener: boolean;

  // Application-side status.
  private declare appClosed: boolean;
  private declare shutRead: boolean;
  private declare shutWrite: boolean;
  /** Reached ESTABLISHED at some point. */
  private declare wasConnected: boolean;
  private declare activeOpen: boolean;
  /** Opened by the TCP forwarder (openForwarded): a passive open the application already owns. */
  private declare forwarded: boolean;
  /** A connection or connection attempt ended (Linux's SOCK_DONE). */
  private declare done: boolean;
  /**
   * When connect() started (active opens only; null before). Not initialised to 0: the first
   * fractional clock reading stored would make V8 give every endpoint, passive ones included, a
   * boxed number for it (heap per endpoint, #8).
   */
  private connectStart: number | null = null;
  /** SO_ERROR: the error the application has not seen yet. */
  private pendingError: TcpipError | null = null;
  /** An ICMP-reported error that replaces "timed out" if the connection times out (Linux's sk_err_soft). */
  private softError: TcpipError | null = null;
  private declare writeBlocked: boolean;
  /** Released: no timers, not in the demuxer, no port; the protocol forgot it. */
  private declare released: boolean;

  // Options.
  declare noDelay: boolean;
  declare cork: boolean;
  private declare keepAlive: boolean;
  /** TCP_KEEPIDLE / TCP_KEEPINTVL in seconds, TCP_KEEPCNT. */
  private keepIdle: number;
  private keepInterval: number;
  private keepCount: number;
  /** TCP_USER_TIMEOUT in ms (0 = off). */
  userTimeout = 0;
  /** TCP_MAXSEG as set (0 = none). */
  private userMss = 0;
  /** TCP_QUICKACK set: acknowledge every segment at once. */
  declare quickAckForced: boolean;
  /** Replaced, never mutated (so every endpoint can start with the one shared default). */
  private linger: LingerOption = LINGER_OFF;
  /** SO_RCVBUF / SO_SNDBUF (the doubled values Linux reports), all usable for payload here. */
  rcvBufSize: number;
  private sndBufSize: number;
  /** SO_SNDBUF was set by the application: no autotuning (Linux SOCK_SNDBUF_LOCK). */
  private declare sndBufLocked: boolean;
  private declare reuseAddr: boolean;
  private declare reusePort: boolean;
  /** IP_TTL (0 = the route's default). */
  ttl = 0;
  private tos = 0;
  private bindToDevice = 0;
  private ccName: string;
  private declare broadcast: boolean;
  private declare receiveTos: boolean;
  private declare receiveTtl: boolean;
  private declare receivePacketInfo: boolean;

  // Timers, each created on first use and then reused (their callbacks are bound once, never
  // per packet): an idle endpoint carries only the ones it has needed (heap per endpoint, #8).
  private rtxT: Timer | null = null;
  private delackT: Timer | null = null;
  /** Bounds how long TCP_CORK / MSG_MORE hold a partial segment (`corkMs`, see corkHold). */
  private corkT: Timer | null = null;
  /** Set while the cork timer pushes what a cork held (snd.ts then ignores TCP_CORK / MSG_MORE). */
  declare corkExpired: boolean;
  private keepaliveT: Timer | null = null;
  /** TIME-WAIT, and the FIN-WAIT-2 timeout of a closed connection. */
  private waitT: Timer | null = null;
  private keepaliveProbes = 0;
  private lastRcvTime = 0;

  // TCP_INFO counters.
  segsIn = 0;
  segsOut = 0;
  totalRetrans = 0;
  bytesAcked = 0;
  bytesReceived = 0;

  // Re-entrancy guard (see the file comment).
  private depth = 0;
  /** `now()`'s reading for the current outermost section (valid while `nowValid`). */
  private nowCached = 0;
  private declare nowValid: boolean;
  private backlogPkts: PacketBuffer[] = NO_PKTS;
  private events = 0;
  private declare holdEvents: boolean;
  private declare flushWanted: boolean;
  /** The segment being processed: a pooled record, held only during receivePacket / cookieOpen. */
  private seg: Segment = NO_SEGMENT;
  /** RFC 3168 ECN state (ecn.ts); `ecn.policy` may be set per socket before connect / listen. */
  readonly ecn: TcpEcn;
  /** RFC 7323 §2: the shift our SYN offers (-1: none), and whether both sides agreed to scale. */
  private wsOffer = -1;
  declare wsOk: boolean;
  /**
   * RFC 7323 §3-5: whether our SYN offers timestamps, whether both sides agreed, our clock's
   * per-connection offset, TS.Recent and when it was set; `tsEcr` / `tsEcrValid` carry the
   * segment being processed's echo to the sender's RTT measurement.
   */
  private declare tsOffer: boolean;
  /** RFC 2018: whether our SYN offers SACK-permitted (sack negotiated: rcv.sackOk / snd.sackOk). */
  private declare sackOffer: boolean;
  declare tsOk: boolean;
  /** Kept as an int32 (a small integer to V8: no boxed number per endpoint); added mod 2^32. */
  private tsOffset = 0;
  /** TS.Recent and the echo are uint32 stored as int32 (no boxed number per endpoint, #8). */
  private tsRecent32 = 0;
  private get tsRecent(): number {
    return this.tsRecent32 >>> 0;
  }
  private set tsRecent(v: number) {
    this.tsRecent32 = v | 0;
  }
  private tsRecentAge = 0;
  private tsEcr32 = 0;
  get tsEcr(): number {
    return this.tsEcr32 >>> 0;
  }
  set tsEcr(v: number) {
    this.tsEcr32 = v | 0;
  }
  declare tsEcrValid: boolean;
  /** SO_RCVBUF was set by the application (Linux's SOCK_RCVBUF_LOCK): no auto-tuning. */
  private declare rcvBufLocked: boolean;
  readonly writeParams: NetworkWriteParams = { protocol: TCP_PROTOCOL, ttl: 64, tos: 0, df: true };
  /**
   * Listener: when it last sent a SYN cookie (Linux's tcp_synq_overflow stamp; syncookie.ts), null
   * before the first. Not a number field with -Infinity: V8 would give every endpoint its own boxed
   * number for it (heap per endpoint, #8).
   */
  lastCookieAt: number | null = null;
  /** Send-buffer bytes charged to the stack-wide TCP memory (the receive side charges in rcv.ts). */
  private sndCharged = 0;

  constructor(
    readonly proto: TcpProtocol,
    netProto: number,
    waiterQueue: WaiterQueue,
  ) {
    this.stack = proto.stack;
    this.netProto = netProto;
    this.waiterQueue = waiterQueue;
    const o = proto.options;
    this.keepIdle = o.keepIdleSec;
    this.keepInterval = o.keepIntervalSec;
    this.keepCount = o.keepCount;
    this.rcvBufSize = o.receiveBufferSize;
    this.sndBufSize = o.sendBufferSize;
    this.ccName = o.congestionControl;
    this.ecn = new TcpEcn(o.ecn, proto.counters);
    this.snd = new Sender(this);
    this.rcv = new Receiver(this);
    proto.endpoints.add(this);
  }

  // ================================================================== timers, created on first use

  get rtxTimer(): Timer {
    return this.rtxT ??= this.newTimer(TIMER_RTX);
  }

  /** A timer calling onTimer(id): no closure when the clock has createTimerFor (#8). */
  private newTimer(id: number): Timer {
    const c = this.stack.clock;
    return c.createTimerFor ? c.createTimerFor(this, id) : c.createTimer(() => this.onTimer(id));
  }

  /** TimerTarget: runs the timer `id` (TIMER_*). */
  onTimer(id: number): void {
    switch (id) {
      case TIMER_RTX: return this.onRtxTimer();
      case TIMER_DELACK: return this.onDelackTimer();
      case TIMER_CORK: return this.onCorkTimer();
      case TIMER_KEEPALIVE: return this.onKeepaliveTimer();
      case TIMER_WAIT: return this.onWaitTimer();
    }
  }

  private get delackTimer(): Timer {
    return this.delackT ??= this.newTimer(TIMER_DELACK);
  }

  private get corkTimer(): Timer {
    return this.corkT ??= this.newTimer(TIMER_CORK);
  }

  private get keepaliveTimer(): Timer {
    return this.keepaliveT ??= this.newTimer(TIMER_KEEPALIVE);
  }

  private get waitTimer(): Timer {
    return this.waitT ??= this.newTimer(TIMER_WAIT);
  }

  private get acceptQueue(): TcpEndpoint[] {
    return this.acceptQ ??= [];
  }

  private get synQueue(): Set<TcpEndpoint> {
    return this.synQ ??= new Set();
  }

  // ================================================================== helpers for snd / rcv

  /**
   * The clock, read once per operation: inside one entered section (a flush, a timer, the
   * segments of one inbound batch) every reader sees the same instant, as Linux stamps a whole
   * transmit loop with one tcp_mstamp. Cleared when the outermost section ends; for an inbound
   * batch, when the batch's deferred flush starts (that flush reads the clock afresh).
   */
  now(): number {
    if (this.depth === 0) return this.stack.clock.now();
    if (!this.nowValid) {
      this.nowCached = this.stack.clock.now();
      this.nowValid = true;
    }
    return this.nowCached;
  }

  /** Data (and FIN) may be sent in these states. */
  canSendData(): boolean {
    const s = this.state;
    return s === TcpState.Established || s === TcpState.CloseWait || s === TcpState.FinWait1 ||
      s === TcpState.Closing || s === TcpState.LastAck;
  }

  /**
   * RFC 9293 §3.7.1: Eff.snd.MSS = min(peer's MSS, what the route carries minus the TCP header),
   * also capped by TCP_MAXSEG.
   */
  sendMss(): number {
    let mss = this.snd.peerMss;
    const routeMss = this.routeMss();
    if (routeMss < mss) mss = routeMss;
    if (this.userMss > 0 && this.userMss < mss) mss = this.userMss;
    // RFC 9293 §3.7.1: the MSS counts no options; every segment of a timestamped connection
    // carries 12 bytes of them, so that much less payload fits (Linux's mss_cache: 1448).
    if (this.tsOk) mss -= TS_OPTION_SPACE;
    return mss < 64 ? 64 : mss;
  }

  /** Our timestamp clock (RFC 7323 §5.4: 1 ms per tick), offset per connection. */
  tsNow(): number {
    return (Math.floor(this.now()) + this.tsOffset) >>> 0;
  }

  /** RFC 2018 §2: SACK is used when both SYNs carried SACK-permitted. */
  private negotiateSack(seg: Segment): void {
    const ok = this.sackOffer && seg.options.sackPermitted;
    this.rcv.sackOk = ok;
    this.snd.sackOk = ok;
  }

  /** RFC 7323 §3.2: a SYN offers timestamps; the peer's SYN (or SYN-ACK) decides. */
  private negotiateTimestamps(seg: Segment): void {
    const o = seg.options;
    if (this.tsOffer && o.hasTimestamp) {
      this.tsOk = true;
      this.tsRecent = o.tsVal;
      this.tsRecentAge = this.now();
    } else this.tsOk = false;
  }

  /**
   * RFC 7323 §5.3 R1 (PAWS): a segment whose TSval is older than TS.Recent is a duplicate from
   * an earlier wrap of the sequence space: not acceptable (answered with an ACK). TS.Recent is
   * no longer trusted after 24 days of idleness (§5.5). RSTs are exempt (§5.3).
   */
  private pawsReject(seg: Segment): boolean {
    if (!this.tsOk || !seg.options.hasTimestamp || seg.flags & TCP_RST) return false;
    if (!seqLT(seg.options.tsVal, this.tsRecent)) return false;
    return this.now() - this.tsRecentAge <= PAWS_IDLE_MS;
  }

  /** RFC 7323 §4.3 (R3): TS.Recent follows the segments up to the last ACK we sent (Last.ACK.sent). */
  private updateTsRecent(seg: Segment, seq: number): void {
    const o = seg.options;
    if (!this.tsOk || !o.hasTimestamp || seqGT(seq, this.rcv.rcvWup)) return;
    if (!seqLT(o.tsVal, this.tsRecent) || this.now() - this.tsRecentAge > PAWS_IDLE_MS) {
      this.tsRecent = o.tsVal;
      this.tsRecentAge = this.now();
    }
  }

  /**
   * Takes the connection's route (chosen once). When nothing keeps references to packets written
   * on it, the send buffer recycles its chunks through the stack's pool (sendbuf.ts).
   */
  private setRoute(route: Route): void {
    this.route = route;
    this.snd.buf.pool = route.txNoRetain ? this.proto.chunkPool : null;
  }

  /** RFC 9293 §3.7.1: the peer's MSS when its SYN carried none, by the route's address family. */
  private defaultMss(): number {
    return this.route && this.route.localAddress.length === 16 ? DEFAULT_MSS_V6 : DEFAULT_MSS;
  }

  /**
   * What one segment on the route can carry: the route's MTU (transport header + payload) minus
   * the TCP header, and never more than the network protocol's length field allows (IPv4: a
   * 65535-byte datagram, so at most 65495, as Linux advertises on `lo`; IPv6: a 65535-byte
   * payload).
   */
  private routeMss(route = this.route): number {
    if (!route) return DEFAULT_MSS;
    const maxTransport = route.localAddress.length === 4 ? 0xffff - 20 : 0xffff;
    const mtu = route.mtu();
    return (mtu < maxTransport ? mtu : maxTransport) - TCP_HEADER;
  }

  /** The MSS we announce: what the route carries, capped by TCP_MAXSEG. */
  advertisedMss(route = this.route): number {
    let mss = this.routeMss(route);
    if (this.userMss > 0 && this.userMss < mss) mss = this.userMss;
    if (mss > 0xffff) mss = 0xffff;
    return mss < 64 ? 64 : mss;
  }

  /**
   * RFC 7323 §2.3: the window scale to offer: the smallest shift whose largest window covers
   * the buffer this connection may grow to (the auto-tuning ceiling unless SO_RCVBUF fixed it,
   * as Linux's tcp_select_initial_window), at most 14. -1 when window scaling is off.
   */
  chooseWindowScale(): number {
    const o = this.proto.options;
    if (!o.windowScaling) return -1;
    const space = this.rcvBufLocked ? this.rcvBufSize : Math.max(this.rcvBufSize, o.maxAutoReceiveBuffer);
    let shift = 0;
    while (shift < 14 && 0xffff << shift < space) shift++; // 0xffff << 14 still fits an int32
    return shift;
  }

  /** RFC 7323 §2.2: the peer's SYN (or SYN-ACK) decides; both directions scale or neither does. */
  private negotiateWindowScale(seg: Segment): void {
    const peer = seg.options.wscale;
    if (this.wsOffer >= 0 && peer >= 0) {
      this.wsOk = true;
      this.snd.wndScale = peer;
      this.rcv.wndScale = this.wsOffer;
    } else {
      this.wsOk = false;
      this.snd.wndScale = 0;
      this.rcv.wndScale = 0;
    }
  }

  /**
   * What congestion control reads of this connection: the endpoint itself is its CongestionEnv
   * (now(), srtt(), hystart()), so there is no object (or closure) per connection for it (#8).
   */
  private get ccEnv(): CongestionEnv {
    return this;
  }

  /** CongestionEnv: the connection's current smoothed RTT (ms). */
  srtt(): number {
    return this.snd.rtt.srtt;
  }

  /** CongestionEnv: whether CUBIC runs HyStart++ (TcpProtocolOptions.hystart). */
  hystart(): boolean {
    return this.proto.options.hystart;
  }

  newCongestionControl(mss: number): CongestionControl {
    return createCongestionControl(this.ccName, mss, this.proto.options.initialCwnd, this.ccEnv)!;
  }

  /**
   * Writes one segment to the peer. With ACK set, the acknowledgment and window are current
   * (and the ACK owed, if any, is paid). `withMss` adds the MSS option (SYN, SYN-ACK). The
   * `payload` array becomes the packet's (buildSegment takes it over).
   */
  emit(seq: number, flags: number, payload: Uint8Array[] | null, len: number, withMss: boolean): void {
    const route = this.route;
    if (!route) return;
    const rcv = this.rcv;
    let ack = 0;
    let wnd = 0;
    if (flags & TCP_ACK) {
      ack = rcv.rcvNxt;
      wnd = flags & TCP_SYN ? rcv.initialWindow() : rcv.advertise();
      rcv.onAckSent();
      this.delackT?.cancel();
    } else if (flags & TCP_SYN) {
      wnd = rcv.initialWindow();
    }
    const o = OUT_OPTS;
    o.clear();
    if (withMss) {
      o.mss = rcv.advMss;
      // RFC 7323 §2.2 / §3.2: a SYN offers our shift and timestamps; a SYN-ACK carries each only
      // if the SYN offered it.
      if (flags & TCP_ACK) {
        if (this.wsOk) o.wscale = rcv.wndScale;
        if (this.tsOk) o.ts = true;
        o.sackPermitted = rcv.sackOk;
      } else {
        o.wscale = this.wsOffer;
        o.ts = this.tsOffer;
        o.sackPermitted = this.sackOffer;
      }
    } else {
      if (this.tsOk) o.ts = true;
      if (rcv.sackOk && flags & TCP_ACK) {
        // RFC 2018 §3: as many blocks as the option space leaves (3 next to timestamps, else 4),
        // fewer if the payload would not fit in the segment otherwise.
        rcv.fillSack(o, o.ts ? 3 : 4);
        if (len > 0 && o.sackCount > 0) {
          const room = this.routeMss() - (len > this.snd.mss ? this.snd.mss : len) - (o.ts ? TS_OPTION_SPACE : 0);
          while (o.sackCount > 0 && 4 + 8 * o.sackCount > room) o.sackCount--;
        }
      }
    }
    if (o.ts) {
      o.tsVal = this.tsNow();
      // A SYN's TSecr is zero (RFC 7323 §3.2), otherwise TS.Recent.
      o.tsEcr = flags & TCP_ACK ? this.tsRecent : 0;
    }
    // RFC 3168 (ecn.ts): ECE / CWR and the ECN codepoint (new data only, never retransmissions).
    const ecn = this.ecn.active;
    if (ecn) flags = this.ecn.outgoing(flags, len, seqLT(seq, this.snd.sndMax));
    const pkt = buildSegment(route, this.localPort, this.remotePort, seq, ack, flags, wnd,
      o.length() > 0 ? o : null, payload, len, gsoSizeFor(route, len, this.snd.mss));
    const wp = this.writeParams;
    const tos = wp.tos;
    if (ecn) wp.tos = this.ecn.tos(tos);
    const err = route.writePacket(pkt, wp);
    wp.tos = tos;
    const s = this.stack.stats.tcp;
    this.segsOut++;
    if (err) {
      s.segmentSendErrors++;
      // The path MTU shrank under us (an ICMP error about another connection to the same host
      // lowered it): the sender resegments at its next step, like Linux's tcp_current_mss().
      if (err === Err.MessageTooLong) this.snd.pathMtuShrunk = true;
    } else s.segmentsSent++;
    if (flags & TCP_RST) s.resetsSent++;
  }

  /**
   * RFC 5961 §3.2, §4.2, §5.2: answer a suspicious segment with an ACK of RCV.NXT ("challenge
   * ACK"), within the stack-wide limit of §7 (Linux's tcp_challenge_ack_limit, 1000 per second).
   */
  private challengeAck(): void {
    if (!this.proto.allowChallengeAck()) return;
    this.rcv.ackNow = true;
    this.stack.stats.tcp.challengeAcksSent++;
  }

  countRetransmit(): void {
    this.stack.stats.tcp.retransmits++;
    this.totalRetrans++;
  }

  armDelayedAck(): void {
    if (!this.delackTimer.pending) this.delackTimer.schedule(this.proto.options.delayedAckMs);
  }

  onDataQueued(): void {
    this.events |= EventIn;
  }

  /** `n` data bytes were acknowledged: space in the send buffer. */
  onAcked(n: number): void {
    if (n > 0) this.bytesAcked += n;
    if (this.writeBlocked && this.writable()) {
      this.writeBlocked = false;
      this.events |= EventOut;
    }
  }

  // ================================================================== locking and flushing

  private enter(): void {
    this.depth++;
  }

  private leave(): void {
    if (this.depth > 1) {
      this.depth--;
      return;
    }
    // Outermost: process what arrived meanwhile, then the flush that was asked for.
    for (;;) {
      if (this.backlogPkts.length > 0) {
        const list = this.backlogPkts;
        this.backlogPkts = NO_PKTS;
        for (let i = 0; i < list.length; i++) this.receivePacket(list[i]!);
        continue;
      }
      if (this.flushWanted) {
        this.flushWanted = false;
        this.flush();
        continue;
      }
      break;
    }
    this.depth = 0;
    // Inside an inbound batch (flush deferred to its end) the reading lasts until that flush: one
    // clock read per batch rather than per segment, like a NAPI poll's timestamp.
    if (!this.holdEvents) this.nowValid = false;
    // Stack-wide TCP memory: the send buffer's change since the last operation (protocol.ts).
    const sndBytes = this.released ? 0 : this.snd.buf.size;
    if (sndBytes !== this.sndCharged) {
      this.proto.memCharge(sndBytes - this.sndCharged);
      this.sndCharged = sndBytes;
    }
    if (this.notifyListener) {
      this.notifyListener = false;
      const l = this.listener;
      if (l && l.acceptQueue.includes(this)) l.wake(EventIn);
    }
    if (this.events !== 0 && !this.holdEvents) {
      const ev = this.events;
      this.events = 0;
      this.waiterQueue.notify(ev);
    }
  }

  /** Notifies waiters now when idle, or at the end of the current operation. */
  private wake(ev: number): void {
    this.events |= ev;
    if (this.depth === 0) {
      this.enter();
      this.leave();
    }
  }

  /**
   * Sends what is due: inside an inbound batch, once at its end (one ACK covers the batch);
   * otherwise now.
   */
  private scheduleFlush(): void {
    if (this.released) return;
    // Already waiting for this batch's end: `holdEvents` is set only when the stack took the
    // endpoint for it, and cleared by flushDeferred (saves the stack's set lookup per segment).
    if (this.holdEvents) return;
    if (this.stack.deferUntilBatchEnd(this)) this.holdEvents = true;
    else this.flushWanted = true;
  }

  /** BatchFlusher: the inbound batch ended. */
  flushDeferred(): void {
    // The batch's clock reading ends here: what this flush sends is stamped afresh (as Linux
    // refreshes tcp_mstamp before a transmit loop).
    this.nowValid = false;
    this.enter();
    this.holdEvents = false;
    this.flushWanted = true;
    this.leave();
  }

  private flush(): void {
    const s = this.state;
    if (s === TcpState.Closed || s === TcpState.Listen || s === TcpState.SynSent) return;
    if (s === TcpState.SynReceived) {
      // Whatever is owed in SYN-RECEIVED is our SYN-ACK again (a duplicate SYN arrived).
      if (this.rcv.ackNow) {
        this.rcv.ackNow = false;
        this.snd.sendSyn(true);
      }
      return;
    }
    this.snd.output();
    // Nothing held back any more: the cork's ceiling no longer applies.
    if (this.corkT?.pending && this.snd.unsent() === 0) this.corkT.cancel();
    if (this.rcv.ackNow) this.sendAck();
  }

  /**
   * A bare ACK. Its sequence number is the highest one sent (RFC 9293's SND.NXT), not our
   * rewound send point: after a timeout rewinds SND.NXT to SND.UNA, an ACK carrying the old
   * number would be unacceptable to the peer (it lies before its RCV.NXT), and two sides
   * retransmitting at each other would drop each other's ACKs for ever.
   */
  private sendAck(): void {
    this.emit(this.snd.sndMax, TCP_ACK, null, 0, false);
  }

  // ================================================================== inbound

  handlePacket(pkt: PacketBuffer): void {
    if (this.depth > 0) {
      if (this.backlogPkts === NO_PKTS) this.backlogPkts = [pkt];
      else this.backlogPkts.push(pkt);
      return;
    }
    this.enter();
    this.receivePacket(pkt);
    this.leave();
  }

  private receivePacket(pkt: PacketBuffer): void {
    const seg = takeSegment();
    this.seg = seg;
    this.receiveSegment(pkt, seg);
    this.seg = NO_SEGMENT;
    giveSegment(seg);
  }

  private receiveSegment(pkt: PacketBuffer, seg: Segment): void {
    const s = this.stack.stats.tcp;
    const r = seg.parse(pkt);
    if (r === SegmentMalformed) {
      s.invalidSegmentsReceived++;
      this.stack.stats.malformedRcvdPackets++;
      return;
    }
    if (r === SegmentBadChecksum) {
      s.checksumErrors++;
      s.invalidSegmentsReceived++;
      return;
    }
    s.validSegmentsReceived++;
    if (seg.flags & TCP_RST) s.resetsReceived++;
    this.segsIn++;
    this.lastRcvTime = this.now();
    this.keepaliveProbes = 0;
    if (this.ecn.ok) this.ecn.onPacket(packetEcn(pkt));
    switch (this.state) {
      case TcpState.Closed:
        // Released or reset while the packet waited: answer as a closed port would.
        this.proto.replyReset(pkt, seg);
        return;
      case TcpState.Listen:
        this.listenSegment(pkt, seg);
        return;
      case TcpState.SynSent:
        this.synSentSegment(seg);
        break;
      default:
        this.syncSegment(seg);
        break;
    }
    this.scheduleFlush();
  }

  /** RFC 9293 §3.10.7.2: LISTEN. */
  private listenSegment(pkt: PacketBuffer, seg: Segment): void {
    const flags = seg.flags;
    if (flags & TCP_RST) return; // "An incoming RST should be ignored."
    if (flags & TCP_ACK) {
      // RFC 4987 §3.6: an ACK no SYN-RECEIVED child owns may return a SYN cookie (syncookie.ts).
      if (!(flags & TCP_SYN) && this.cookieAck(pkt, seg)) return;
      // "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state."
      this.proto.replyReset(pkt, seg);
      return;
    }
    if (!(flags & TCP_SYN)) return;
    const st = this.stack.stats.tcp;
    // Linux: a SYN is dropped while the accept queue is full, cookies or not.
    if (this.acceptQueueFull()) {
      st.listenOverflowSynDrop++;
      return;
    }
    // RFC 4987 §3.6 (Linux tcp_syncookies): with the SYN queue at `backlog` half-open
    // connections, answer with a cookie instead of keeping state (always with syncookies = 2).
    const cookies = this.proto.options.syncookies;
    const synFull = this.synQueue.size >= Math.max(this.backlog, 1);
    if (cookies === 2 || (synFull && cookies === 1)) {
      sendCookieSynAck(this, pkt, seg, this.bindToDevice || pkt.nicId);
      return;
    }
    if (synFull) {
      st.listenOverflowSynDrop++;
      return;
    }
    const child = this.newChild(pkt, seg);
    if (!child) return;
    this.synQueue.add(child);
    child.passiveOpen(seg);
  }

  /**
   * A new endpoint for the connection `seg` (a SYN, or a cookie's ACK) opens with this listener:
   * registered under the packet's 4-tuple, options inherited, `listener` set. Null when it cannot
   * be (no route, a registration conflict, or the stack at `maxConnections`, counted).
   */
  private newChild(pkt: PacketBuffer, seg: Segment): TcpEndpoint | null {
    if (this.proto.atConnectionLimit()) {
      this.proto.counters.maxConnectionsDrops++;
      return null;
    }
    // In the listener's form: an IPv4 SYN at a dual-stack listener names ::ffff:a.b.c.d. The
    // previous child's addresses (immutable) serve again when the packet names the same ones:
    // connections from one peer share one Address rather than a copy each (heap, setup rate, #8).
    const np = this.netProto;
    const dst = isPacketAddress(this.childLocal, pkt, pkt.dstAddrOff, np) ? this.childLocal! : packetDestinationAddress(pkt, np);
    const remote = isPacketAddress(this.childRemote, pkt, pkt.srcAddrOff, np) ? this.childRemote! : packetSourceAddress(pkt, np);
    const protos = endpointNetProtos(this.netProto, false, dst, remote);
    if (isError(protos)) return null;
    const route = this.stack.findRoute(this.bindToDevice || pkt.nicId, dst, remote, this.netProto);
    if (isError(route)) return null;
    // The same address in the same form as the route's (the NIC's, shared by all its routes):
    // keep that one rather than a copy per connection (heap per endpoint, #8).
    const local = route.localAddress.equals(dst) ? route.localAddress : dst;
    this.childLocal = local;
    this.childRemote = remote;
    const child = new TcpEndpoint(this.proto, this.netProto, new WaiterQueue());
    child.inheritOptions(this);
    child.setRoute(route);
    child.localAddr = local;
    child.localPort = seg.dstPort;
    child.remoteAddr = remote;
    child.remotePort = seg.srcPort;
    const id: TransportEndpointId = { localPort: seg.dstPort, localAddress: local, remotePort: seg.srcPort, remoteAddress: remote };
    const err = this.stack.registerTransportEndpoint(TCP_PROTOCOL, protos, id, child, NO_FLAGS, this.bindToDevice);
    if (err) {
      child.release();
      return null;
    }
    child.regId = id;
    child.regProtos = protos;
    child.listener = this;
    return child;
  }

  /** The options a valid cookie ACK restored (reused; listener side). */
  private cookieGrant: CookieGrant | null = null;
  /** The local and remote Address of the listener's latest child (newChild reuses them). */
  private childLocal: Address | null = null;
  private childRemote: Address | null = null;

  /**
   * An ACK at the listener: true when it was a valid SYN cookie's ACK and is taken care of (the
   * connection created and queued for accept(), or the ACK dropped because the accept queue is
   * full, as Linux does — the peer's retransmission tries again while the cookie is valid).
   */
  private cookieAck(pkt: PacketBuffer, seg: Segment): boolean {
    const g = (this.cookieGrant ??= { mss: 0, wscale: -1, sackOk: false, ts: false, ecn: false, tsOffset: 0 });
    if (!checkCookieAck(this, pkt, seg, g)) return false;
    if (this.acceptQueueFull()) {
      this.stack.stats.tcp.listenOverflowAckDrop++;
      return true;
    }
    const child = this.newChild(pkt, seg);
    if (child) child.cookieOpen(pkt, g);
    return true;
  }

  /**
   * A listener's child created from a valid SYN cookie's ACK (RFC 4987 §3.6): set up as the
   * SYN-RECEIVED connection the cookie stood for (our ISN = SEG.ACK - 1, the peer's = SEG.SEQ - 1,
   * the options `g` restored), then the ACK is processed as in SYN-RECEIVED, which establishes
   * the connection, queues it for accept() and takes any data it carried.
   */
  private cookieOpen(pkt: PacketBuffer, g: CookieGrant): void {
    this.enter();
    const seg = takeSegment();
    this.seg = seg;
    if (seg.parse(pkt) === SegmentOk) {
      const rcv = this.rcv;
      const snd = this.snd;
      const o = seg.options;
      rcv.advMss = this.advertisedMss();
      rcv.init(seqAdd(seg.seq, -1));
      this.wsOffer = g.wscale >= 0 ? this.chooseWindowScale() : -1;
      this.wsOk = this.wsOffer >= 0;
      snd.wndScale = this.wsOk ? g.wscale : 0;
      rcv.wndScale = this.wsOk ? this.wsOffer : 0;
      this.tsOffer = g.ts;
      this.tsOk = g.ts;
      this.tsOffset = g.tsOffset | 0;
      if (g.ts) {
        this.tsRecent = o.tsVal;
        this.tsRecentAge = this.now();
        // The echo is the cookie TSval, whose low bits are options: no RTT sample from it
        // (Linux takes none from a cookie handshake either).
        o.tsEcr = 0;
      }
      this.sackOffer = g.sackOk;
      rcv.sackOk = g.sackOk;
      snd.sackOk = g.sackOk;
      const iss = seqAdd(seg.ack, -1);
      snd.init(iss);
      snd.sndNxt = seg.ack;
      snd.sndMax = seg.ack;
      this.ecn.onPassiveSyn(g.ecn ? TCP_SYN | TCP_ECE | TCP_CWR : TCP_SYN, iss);
      snd.peerMss = g.mss;
      snd.sndWnd = seg.window;
      snd.maxSndWnd = seg.window;
      snd.sndWl1 = rcv.irs;
      snd.sndWl2 = iss;
      this.setState(TcpState.SynReceived);
      this.lastRcvTime = this.now();
      this.segsIn++;
      this.syncSegment(seg);
      this.scheduleFlush();
    } else {
      // Cannot happen (the listener parsed the same packet), but never leave a child behind.
      this.listener = null;
      this.release();
    }
    this.seg = NO_SEGMENT;
    giveSegment(seg);
    this.leave();
  }

  /** A child of a listener answers the SYN (RFC 9293 §3.10.7.2, "third check for a SYN"). */
  private passiveOpen(seg: Segment): void {
    this.enter();
    const rcv = this.rcv;
    const snd = this.snd;
    rcv.advMss = this.advertisedMss();
    rcv.init(seg.seq);
    this.wsOffer = seg.options.wscale >= 0 ? this.chooseWindowScale() : -1;
    this.negotiateWindowScale(seg);
    this.tsOffer = this.proto.options.timestamps;
    this.tsOffset = this.stack.random.uint32() | 0;
    this.negotiateTimestamps(seg);
    this.sackOffer = this.proto.options.sack;
    this.negotiateSack(seg);
    snd.init(this.proto.isn.generate(this.localAddr!, this.localPort, this.remoteAddr!, this.remotePort, this.now()));
    this.ecn.onPassiveSyn(seg.flags, snd.iss);
    snd.peerMss = seg.options.mss > 0 ? seg.options.mss : this.defaultMss();
    snd.sndWnd = seg.window; // RFC 7323 §2.2: the window in a SYN is never scaled
    snd.maxSndWnd = seg.window;
    snd.sndWl1 = seg.seq;
    snd.sndWl2 = snd.iss;
    this.setState(TcpState.SynReceived);
    this.lastRcvTime = this.now();
    snd.sendSyn(true);
    this.rtxTimer.schedule(snd.rtt.rto);
    this.leave();
  }

  /**
   * Transparent mode (forwarder.ts): answers `seg`, a SYN from `remote` to `local` that no
   * endpoint owns, as that destination — this fresh endpoint takes the 4-tuple and enters
   * SYN-RECEIVED like a listener's child (passiveOpen), but with no listener: when the handshake
   * completes it signals EventOut as a connect() would. With `cookie`, `seg` is instead an ACK
   * that returned a valid SYN cookie (`cookie.pkt` its packet): the endpoint opens as the
   * cookie's connection (cookieOpen), established at once, keeping any data the ACK carried.
   */
  openForwarded(nicId: number, local: Address, remote: Address, seg: Segment,
    cookie: { pkt: PacketBuffer; grant: CookieGrant } | null = null): TcpipError | null {
    if (this.state !== TcpState.Closed || this.regId || this.portReserved || this.done) return Err.InvalidEndpointState;
    const protos = endpointNetProtos(this.netProto, false, local, remote);
    if (isError(protos)) return protos;
    const route = this.stack.findRoute(nicId, local, remote, this.netProto);
    if (isError(route)) return route;
    const id: TransportEndpointId = { localPort: seg.dstPort, localAddress: local, remotePort: seg.srcPort, remoteAddress: remote };
    const err = this.stack.registerTransportEndpoint(TCP_PROTOCOL, protos, id, this, NO_FLAGS, this.bindToDevice);
    if (err) return err;
    this.setRoute(route);
    this.localAddr = local;
    this.localPort = seg.dstPort;
    this.remoteAddr = remote;
    this.remotePort = seg.srcPort;
    this.regId = id;
    this.regProtos = protos;
    this.forwarded = true;
    this.connectStart = this.now();
    if (cookie) this.cookieOpen(cookie.pkt, cookie.grant);
    else this.passiveOpen(seg);
    return null;
  }

  /**
   * Forwarder (forwarder.ts): a connection the application never took (a cookie request dropped,
   * rejected or timed out) goes away at once, sending nothing.
   */
  discard(): void {
    this.enter();
    this.appClosed = true;
    this.shutRead = true;
    this.shutWrite = true;
    this.enterClosed(null);
    this.release();
    this.leave();
  }

  /** RFC 9293 §3.10.7.3: SYN-SENT. */
  private synSentSegment(seg: Segment): void {
    const snd = this.snd;
    const rcv = this.rcv;
    const flags = seg.flags;
    const hasAck = (flags & TCP_ACK) !== 0;
    // First: the ACK must acknowledge our SYN (ISS < SEG.ACK =< SND.NXT).
    if (hasAck && (seqLEQ(seg.ack, snd.iss) || seqGT(seg.ack, snd.sndMax))) {
      if (!(flags & TCP_RST)) this.sendReset(seg.ack, 0, false);
      return;
    }
    // Second: a RST with an acceptable ACK refuses the connection; without an ACK it is ignored.
    if (flags & TCP_RST) {
      if (hasAck) {
        this.stack.stats.tcp.failedConnectionAttempts++;
        this.enterClosed(Err.ConnectionRefused);
      }
      return;
    }
    // Fourth: the SYN.
    if (!(flags & TCP_SYN)) return;
    rcv.init(seg.seq);
    this.negotiateWindowScale(seg);
    this.negotiateTimestamps(seg);
    this.negotiateSack(seg);
    this.ecn.onSynSentSyn(flags);
    snd.peerMss = seg.options.mss > 0 ? seg.options.mss : this.defaultMss();
    snd.sndWnd = seg.window;
    snd.maxSndWnd = seg.window;
    snd.sndWl1 = seg.seq;
    snd.sndWl2 = seg.ack;
    if (!hasAck) {
      // Simultaneous open: SYN-RECEIVED, answer with SYN-ACK (same ISS).
      this.setState(TcpState.SynReceived);
      snd.sndNxt = snd.iss;
      snd.sendSyn(true);
      if (!this.rtxTimer.pending) this.rtxTimer.schedule(snd.rtt.rto);
      return;
    }
    if (snd.rttTiming && !seqLT(seg.ack, snd.rttSeq)) {
      snd.rtt.sample(this.now() - snd.rttTime);
      snd.rttTiming = false;
    }
    snd.sndUna = seg.ack;
    this.rtxTimer.cancel();
    this.establish();
    // RFC 9293: "form an ACK segment ... and send it"; data or a FIN in the SYN-ACK follow the SYN.
    rcv.ackNow = true;
    if (seg.payloadLen > 0 || flags & TCP_FIN) this.segmentText(seqAdd(seg.seq, 1), seg.payloadOff, seg.payloadLen, (flags & TCP_FIN) !== 0);
  }

  /** RFC 9293 §3.10.7.4: every synchronized state, SYN-RECEIVED to TIME-WAIT. */
  private syncSegment(seg: Segment): void {
    const rcv = this.rcv;
    const snd = this.snd;
    const st = this.stack.stats.tcp;
    let flags = seg.flags;
    let seq = seg.seq;

    // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost; resend it (as Linux does).
    if (this.state === TcpState.SynReceived && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && seq === rcv.irs) {
      rcv.ackNow = true;
      return;
    }

    // RFC 7323 §5.3 R1: PAWS comes before the sequence number check.
    if (this.pawsReject(seg)) {
      this.proto.counters.pawsRejected++;
      rcv.ackNow = true;
      return;
    }

    // First check, sequence number. Linux's form of the RFC's acceptability table: a segment is
    // acceptable when it ends at or after the left edge of the last window we advertised and
    // starts at or before its right edge. (This also accepts a zero-length segment or a bare
    // FIN at RCV.NXT when the window is zero, which the RFC allows for ACKs.)
    const segEnd = seqAdd(seq, seg.seqLen);
    if (seqLT(segEnd, rcv.rcvWup) || seqGT(seq, rcv.rcvAdvEdge)) {
      // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
      // (unless the RST bit is set)."
      if (!(flags & TCP_RST)) rcv.ackNow = true;
      return;
    }

    // `seq | 0` from here on where it crosses a call: a uint32 from 2^31 on would be a boxed
    // number per call, an int32 never is (the callees compare modulo 2^32 or `| 0`).
    this.updateTsRecent(seg, seq | 0);

    // Second check, RST. RFC 5961 §3.2: only an exact match resets; an in-window RST gets a
    // challenge ACK.
    if (flags & TCP_RST) {
      if (seq === rcv.rcvNxt) this.resetByPeer();
      else this.challengeAck();
      return;
    }

    // A SYN-ACK before RCV.NXT is old (the peer's SYN-ACK again, or the SYN-ACK of a
    // simultaneous open): trim the SYN off and treat the rest of the segment normally. A bare
    // SYN is a new connection attempt (or a blind one) and gets the challenge ACK below.
    let dup = false;
    if ((flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK) && seqLT(seq, rcv.rcvNxt)) {
      flags &= ~TCP_SYN;
      seq = seqAdd(seq, 1);
      dup = true;
    }
    // Fourth check, SYN in the window. RFC 5961 §4.2: challenge ACK, drop.
    if (flags & TCP_SYN) {
      this.challengeAck();
      return;
    }

    // Fifth check, ACK.
    if (!(flags & TCP_ACK)) return;
    const ack = seg.ack;
    if (this.state === TcpState.SynReceived) {
      if (seqGT(ack, snd.sndUna) && seqLEQ(ack, snd.sndMax)) {
        const l = this.listener;
        if (l && l.acceptQueueFull()) {
          // Linux (tcp_abort_on_overflow = 0): drop the ACK; the SYN-ACK is retransmitted.
          st.listenOverflowAckDrop++;
          return;
        }
        snd.sndWnd = seg.window << snd.wndScale;
        if (snd.sndWnd > snd.maxSndWnd) snd.maxSndWnd = snd.sndWnd;
        snd.sndWl1 = seq;
        snd.sndWl2 = ack;
        this.establish();
      } else {
        // "If the segment acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>."
        this.sendReset(ack, 0, false);
        return;
      }
    }
    // RFC 5961 §5.2: an ACK is acceptable when SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
    // Anything else is discarded and answered with an ACK (rate-limited like every challenge
    // ACK, RFC 5961 §7): "the ACK acks something not yet sent" (RFC 9293 §3.10.7.4), or an ACK
    // too old to belong to this connection (blind data injection, RFC 5961 §5).
    if (seqGT(ack, snd.sndMax) || seqLT(ack, seqAdd(snd.sndUna, -Math.max(snd.maxSndWnd, 1)))) {
      this.challengeAck();
      return;
    }
    const finWasAcked = snd.finAcked();
    // RFC 7323 §4: the echoed timestamp measures the round trip (snd.ts takes it on new data).
    this.tsEcrValid = this.tsOk && seg.options.hasTimestamp && seg.options.tsEcr !== 0;
    this.tsEcr = seg.options.tsEcr;
    if (snd.sackOk && seg.options.sackBlockCount > 0) snd.onSackBlocks(ack, seg.options.sackBlocks, seg.options.sackBlockCount);
    snd.onAck(seq | 0, ack, seg.window, seg.payloadLen, flags);
    this.tsEcrValid = false;
    if (!finWasAcked && snd.finAcked()) {
      switch (this.state) {
        case TcpState.FinWait1:
          // "In addition to the processing for the ESTABLISHED state, if the FIN segment is now
          // acknowledged, then enter FIN-WAIT-2."
          this.setState(TcpState.FinWait2);
          if (this.appClosed) this.waitTimer.schedule(this.proto.options.finTimeoutMs);
          break;
        case TcpState.Closing:
          this.enterTimeWait();
          break;
        case TcpState.LastAck:
          this.enterClosed(null);
          return;
      }
    }
    if (this.state === TcpState.TimeWait && flags & TCP_FIN) {
      // "The only thing that can arrive in this state is a retransmission of the remote FIN.
      // Acknowledge it, and restart the 2 MSL timeout."
      this.waitTimer.schedule(2 * this.proto.options.msl);
    }

    // Sixth (URG) is not supported: urgent data is delivered inline as ordinary data.
    // RFC 3168 §6.1.2-6.1.3 (ecn.ts): ECE reduces the window; a CE mark is echoed until CWR.
    if (this.ecn.ok && this.ecn.onIncoming(seg.flags, seg.payloadLen, ack, snd)) rcv.ackNow = true;
    // Seventh and eighth: text and FIN.
    if (dup) rcv.ackNow = true;
    if (seg.payloadLen > 0 || flags & TCP_FIN) this.segmentText(seq | 0, seg.payloadOff, seg.payloadLen, (flags & TCP_FIN) !== 0);
  }

  /**
   * Segment text and FIN (RFC 9293 §3.10.7.4 seventh and eighth checks), after trimming what is
   * before RCV.NXT (duplicates) and what is beyond the window's right edge. `seq` may be a uint32
   * or an int32 (syncSegment passes `| 0`).
   */
  private segmentText(seq: number, off: number, len: number, fin: boolean): void {
    const rcv = this.rcv;
    const nxt = rcv.rcvNxt;
    if (seqLT(seq, nxt)) {
      const d = seqDiff(nxt, seq);
      // Duplicate bytes: RFC 5681 §4.2 / RFC 9293 ask for an immediate ACK, and RFC 2883 a D-SACK.
      rcv.ackNow = true;
      if (len > 0) rcv.noteDuplicate(seq >>> 0, seqAdd(seq, d < len ? d : len));
      if (d > len) return; // everything, FIN included, is old
      off += d;
      len -= d;
      seq = nxt;
    }
    const edge = rcv.rcvAdvEdge;
    if (len > 0 && seqGT(seqAdd(seq, len), edge)) {
      // Beyond the window: dropped (with the FIN after it); the ACK tells the sender.
      const over = seqDiff(seqAdd(seq, len), edge);
      len = over >= len ? 0 : len - over;
      fin = false;
      rcv.ackNow = true;
    }
    if (len === 0 && !fin) return;
    switch (this.state) {
      case TcpState.Established:
      case TcpState.FinWait1:
      case TcpState.FinWait2:
        if (len > 0 && this.shutRead && this.appClosed && this.state !== TcpState.Established) {
          // Linux: new data for a connection the application closed is answered with a RST.
          this.abortConnection(Err.ConnectionAborted, true);
          return;
        }
        // Stack-wide TCP memory under pressure (tcp_mem, protocol.ts): new data may be refused.
        if (len > 0 && this.proto.memPressure() !== TCP_MEM_NORMAL && !this.memAdmits(seq)) {
          rcv.ackNow = true;
          return;
        }
        if (len > 0) rcv.sampleRtt(this.tsOk && this.seg.options.hasTimestamp ? this.seg.options.tsEcr : 0, len);
        rcv.receive(seq, this.seg.buf, off, len, fin);
        return;
      default:
        // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN was received; "this should not
        // occur", so ignore the text. Acknowledge whatever it was.
        rcv.ackNow = true;
        return;
    }
  }

  /**
   * With the stack under TCP memory pressure: whether new data at `seq` may be queued. Under
   * pressure, out-of-order data is refused; above the hard limit (tcp_mem[2]), in-order data too,
   * unless nothing waits for the application (as Linux's sk_forced_mem_schedule, so a connection
   * can always make progress). Refused data was never acknowledged: the sender retransmits it.
   */
  private memAdmits(seq: number): boolean {
    const p = this.proto;
    if (seqDiff(seq, this.rcv.rcvNxt) !== 0) {
      p.counters.memPressureOfoDrops++;
      return false;
    }
    if (p.memPressure() === TCP_MEM_HIGH && this.rcv.queue.size > 0) {
      p.counters.memHighDrops++;
      return false;
    }
    return true;
  }

  /** The FIN was consumed in sequence (from rcv.ts). RFC 9293 §3.10.7.4 eighth check. */
  onFinReceived(): void {
    this.events |= EventIn | EventRdHup;
    switch (this.state) {
      case TcpState.SynReceived:
      case TcpState.Established:
        this.setState(TcpState.CloseWait);
        break;
      case TcpState.FinWait1:
        // Our FIN acknowledged would have moved us to FIN-WAIT-2 already: simultaneous close.
        this.setState(TcpState.Closing);
        break;
      case TcpState.FinWait2:
        this.enterTimeWait();
        break;
    }
  }

  /** A valid RST arrived in a synchronized state (RFC 9293 §3.10.7.4 second check). */
  private resetByPeer(): void {
    const st = this.stack.stats.tcp;
    switch (this.state) {
      case TcpState.SynReceived:
        st.failedConnectionAttempts++;
        // Passive open: "return to the LISTEN state" — the half-open child just goes away.
        // Active (simultaneous) open: "connection refused".
        this.enterClosed(this.activeOpen ? Err.ConnectionRefused : null);
        return;
      case TcpState.Established:
      case TcpState.FinWait1:
      case TcpState.FinWait2:
      case TcpState.CloseWait:
        this.enterClosed(Err.ConnectionReset);
        return;
      default:
        // CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED state, delete the TCB, and return".
        this.enterClosed(null);
        return;
    }
  }

  handleError(err: TransportError, pkt: PacketBuffer): void {
    this.enter();
    this.icmpError(err, pkt);
    this.leave();
  }

  private icmpError(err: TransportError, pkt: PacketBuffer): void {
    const s = this.state;
    if (s === TcpState.Closed || s === TcpState.Listen || s === TcpState.TimeWait) return;
    const snd = this.snd;
    if (pkt.end - pkt.start >= 8) {
      // RFC 5927 §4.1: only believe an error quoting a sequence number we have sent and that is
      // not yet acknowledged.
      const b = pkt.buf;
      const o = pkt.start + 4;
      const q = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
      if (seqLT(q, snd.sndUna) || !seqLT(q, snd.sndMax)) return;
    }
    if (err.kind === "packet-too-big") {
      // RFC 1191 / RFC 8201: the stack recorded the path MTU; resegment to fit it.
      if (s !== TcpState.SynSent && s !== TcpState.SynReceived) {
        snd.mtuReduced(this.sendMss());
        this.scheduleFlush();
      }
      return;
    }
    let e: TcpipError;
    switch (err.kind) {
      case "port-unreachable":
      case "proto-unreachable":
        e = Err.ConnectionRefused;
        break;
      case "net-unreachable":
        e = Err.NetworkUnreachable;
        break;
      case "host-unreachable":
      case "admin-prohibited":
      case "ttl-exceeded":
        e = Err.HostUnreachable;
        break;
      default:
        return;
    }
    if (s === TcpState.SynSent || (s === TcpState.SynReceived && this.activeOpen)) {
      // Linux aborts a connection attempt on an ICMP error.
      this.stack.stats.tcp.failedConnectionAttempts++;
      this.enterClosed(e);
      return;
    }
    // In a synchronized state the error is "soft" (RFC 1122 §4.2.3.9): it is reported only if
    // the connection then times out.
    this.softError = e;
  }

  // ================================================================== state changes

  private setState(s: number): void {
    const prev = this.state;
    if (prev === s) return;
    const st = this.stack.stats.tcp;
    if (isEstablishedState(prev) && !isEstablishedState(s)) st.currentEstablished--;
    else if (!isEstablishedState(prev) && isEstablishedState(s)) st.currentEstablished++;
    if (isConnectedState(prev) && !isConnectedState(s)) st.currentConnected--;
    else if (!isConnectedState(prev) && isConnectedState(s)) st.currentConnected++;
    this.state = s;
  }

  /** SYN-SENT / SYN-RECEIVED -> ESTABLISHED. */
  private establish(): void {
    this.setState(TcpState.Established);
    this.wasConnected = true;
    this.rtxTimer.cancel();
    this.snd.timerMode = 0;
    this.snd.established();
    this.rcv.enterQuickAck();
    if (this.keepAlive) this.keepaliveTimer.schedule(this.keepIdle * 1000);
    const l = this.listener;
    if (l) {
      this.stack.stats.tcp.passiveConnectionOpenings++;
      l.synQueue.delete(this);
      l.acceptQueue.push(this);
      this.notifyListener = true;
    } else {
      this.events |= EventOut;
    }
    // A FIN queued by shutdown(write) during the handshake goes out now.
    if (this.shutWrite) {
      this.snd.queueFin();
      this.setState(TcpState.FinWait1);
    }
  }

  private enterTimeWait(): void {
    this.setState(TcpState.TimeWait);
    this.rtxTimer.cancel();
    this.snd.timerMode = 0;
    this.keepaliveTimer.cancel();
    this.waitTimer.schedule(2 * this.proto.options.msl);
    this.events |= EventIn | EventRdHup | EventHup;
  }

  /**
   * -> CLOSED: timers stop, the demuxer forgets the connection, an ephemeral port is returned,
   * and `err` (if any) becomes the pending error. An endpoint the application already closed
   * (or a child nobody accepted) is released entirely.
   */
  private enterClosed(err: TcpipError | null): void {
    const prev = this.state;
    if (prev === TcpState.Closed) return;
    if (isEstablishedState(prev) && err !== null) this.stack.stats.tcp.establishedResets++;
    if (isConnectedState(prev) || prev === TcpState.TimeWait) this.stack.stats.tcp.establishedClosed++;
    this.setState(TcpState.Closed);
    this.done = true;
    this.stopTimers();
    this.unregister();
    if (this.portReserved && !this.userBound) this.releasePort();
    this.backlogPkts = NO_PKTS;
    if (err) {
      this.pendingError = err;
      this.events |= EventErr;
    }
    this.events |= EventIn | EventOut | EventHup | EventRdHup;
    const l = this.listener;
    if (l && l.synQueue.delete(this)) {
      // Never made it to the accept queue: nobody will ever see it.
      this.listener = null;
      this.release();
      return;
    }
    if (this.appClosed) this.release();
  }

  private stopTimers(): void {
    this.rtxT?.cancel();
    this.snd.timerMode = 0;
    this.delackT?.cancel();
    this.corkT?.cancel();
    this.keepaliveT?.cancel();
    this.waitT?.cancel();
  }

  private unregister(): void {
    if (this.regId) {
      this.stack.unregisterTransportEndpoint(TCP_PROTOCOL, this.regProtos, this.regId, this);
      this.regId = null;
    }
  }

  private releasePort(): void {
    if (!this.portReserved) return;
    this.stack.releasePort(TCP_PROTOCOL, this.portProtos, this.boundAddr, this.boundPort, this);
    this.portReserved = false;
  }

  /** Gone for good: no timers, no registration, no port, no queued data. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.stopTimers();
    this.unregister();
    this.releasePort();
    this.rcv.clear();
    if (this.sndCharged !== 0) {
      this.proto.memUncharge(this.sndCharged);
      this.sndCharged = 0;
    }
    this.proto.endpoints.delete(this);
  }

  /** Stack shutdown: stop everything without sending. */
  destroy(): void {
    const sq = this.synQ;
    const aq = this.acceptQ;
    if (sq !== null) {
      for (const c of sq) c.destroy();
      sq.clear();
    }
    if (aq !== null) {
      for (const c of aq) c.destroy();
      aq.length = 0;
    }
    this.state = TcpState.Closed;
    // The stack is going away: readers see end of stream (once queued data is read) rather
    // than "not connected", and anyone waiting is woken to find out.
    this.done = true;
    this.release();
    this.waiterQueue.notify(EventIn | EventOut | EventHup);
  }

  /** Sends <SEQ=seq><ACK=ack><CTL=RST(,ACK)> on this connection's route. */
  private sendReset(seq: number, ack: number, withAck: boolean): void {
    const route = this.route;
    if (!route) return;
    const pkt = buildSegment(route, this.localPort, this.remotePort, seq, withAck ? ack : 0,
      withAck ? TCP_RST | TCP_ACK : TCP_RST, 0, null, null, 0);
    const err = route.writePacket(pkt, this.writeParams);
    const s = this.stack.stats.tcp;
    this.segsOut++;
    if (err) s.segmentSendErrors++;
    else {
      s.segmentsSent++;
      s.resetsSent++;
    }
  }

  /**
   * Aborts the connection: a RST to the peer when the state calls for one (RFC 9293 §3.10.5
   * ABORT; like Linux, RST|ACK with SEQ=SND.NXT, the highest sequence sent), then CLOSED with
   * `err` pending.
   */
  private abortConnection(err: TcpipError | null, sendRst: boolean): void {
    const s = this.state;
    if (sendRst && (s === TcpState.SynReceived || s === TcpState.Established || s === TcpState.FinWait1 ||
      s === TcpState.FinWait2 || s === TcpState.CloseWait)) {
      this.sendReset(this.snd.sndMax, this.rcv.rcvNxt, true);
    }
    this.enterClosed(err);
  }

  /** Retransmissions (or probes) ran out: RFC 9293 §3.8.3 R2. */
  timedOut(keepalive: boolean): void {
    const st = this.stack.stats.tcp;
    if (isConnectedState(this.state)) st.establishedTimeout++;
    // Linux resets the peer when keepalive gives up; retransmission timeouts end silently.
    this.abortConnection(this.softError ?? Err.Timeout, keepalive);
  }

  private acceptQueueFull(): boolean {
    // Linux's sk_acceptq_is_full: more than `backlog` connections waiting.
    return this.acceptQueue.length > this.backlog;
  }

  private inheritOptions(l: TcpEndpoint): void {
    this.noDelay = l.noDelay;
    this.cork = l.cork;
    this.keepAlive = l.keepAlive;
    this.keepIdle = l.keepIdle;
    this.keepInterval = l.keepInterval;
    this.keepCount = l.keepCount;
    this.userTimeout = l.userTimeout;
    this.userMss = l.userMss;
    this.linger = l.linger; // replaced, never mutated: shared
    this.rcvBufSize = l.rcvBufSize;
    this.rcvBufLocked = l.rcvBufLocked;
    this.sndBufSize = l.sndBufSize;
    this.sndBufLocked = l.sndBufLocked;
    this.ttl = l.ttl;
    this.tos = l.tos;
    this.writeParams.ttl = l.writeParams.ttl;
    this.writeParams.tos = l.writeParams.tos;
    this.bindToDevice = l.bindToDevice;
    this.ccName = l.ccName;
    this.ecn.policy = l.ecn.policy;
    this.v6Only = l.v6Only;
  }

  // ================================================================== timers

  private onRtxTimer(): void {
    this.enter();
    const snd = this.snd;
    switch (this.state) {
      case TcpState.SynSent:
      case TcpState.SynReceived: {
        const passive = this.listener !== null && !this.activeOpen;
        const limit = passive || this.forwarded ? this.proto.options.synAckRetries : this.proto.options.synRetries;
        const ut = this.userTimeout;
        if (snd.synRetries >= limit || (ut > 0 && !passive && this.now() - (this.connectStart ?? 0) >= ut)) {
          this.stack.stats.tcp.failedConnectionAttempts++;
          // A half-open passive connection just disappears (Linux drops the request).
          this.enterClosed(passive ? null : this.softError ?? Err.Timeout);
          break;
        }
        snd.synRetries++;
        this.countRetransmit();
        this.stack.stats.tcp.timeouts++;
        snd.rtt.backoff();
        snd.sendSyn(this.state === TcpState.SynReceived);
        let d = snd.rtt.rto;
        if (ut > 0 && !passive) d = Math.max(1, Math.min(d, (this.connectStart ?? 0) + ut - this.now()));
        this.rtxTimer.schedule(d);
        break;
      }
      default:
        if (!this.canSendData()) break;
        if (snd.timerMode === TimerPersist) snd.onPersistTimeout();
        else snd.onRetransmitTimeout();
        if (this.rcv.ackNow && this.state !== TcpState.Closed) this.sendAck();
        break;
    }
    this.leave();
  }

  /**
   * snd.ts held a partial segment for TCP_CORK or MSG_MORE: it goes out at the latest `corkMs`
   * after the hold began (tcp(7): "a 200 millisecond ceiling on the time for which output is
   * corked"), even if neither a full segment nor an uncorking write came.
   */
  corkHold(): void {
    if (!this.corkTimer.pending) this.corkTimer.schedule(this.proto.options.corkMs);
  }

  private onCorkTimer(): void {
    this.enter();
    if (this.canSendData() && this.snd.unsent() > 0) {
      this.corkExpired = true;
      this.snd.output();
      this.corkExpired = false;
      if (this.rcv.ackNow) this.sendAck();
    }
    this.leave();
  }

  private onDelackTimer(): void {
    this.enter();
    if (this.rcv.ackPending && this.state !== TcpState.Closed && this.state !== TcpState.SynSent) {
      this.rcv.ackNow = true;
      this.flushWanted = true;
    }
    this.leave();
  }

  private onKeepaliveTimer(): void {
    this.enter();
    this.keepaliveCheck();
    this.leave();
  }

  /** SO_KEEPALIVE (RFC 1122 §4.2.3.6) with Linux's rules for probes and TCP_USER_TIMEOUT. */
  private keepaliveCheck(): void {
    const s = this.state;
    if (!this.keepAlive || s === TcpState.Closed || s === TcpState.Listen || s === TcpState.SynSent ||
      s === TcpState.SynReceived || s === TcpState.TimeWait) return;
    const idle = this.keepIdle * 1000;
    const snd = this.snd;
    // Linux: no probes while data is in flight or waiting (the retransmission timer covers it).
    if (snd.outstanding() > 0 || snd.unsent() > 0) {
      this.keepaliveTimer.schedule(idle);
      return;
    }
    const elapsed = this.now() - this.lastRcvTime;
    if (elapsed < idle) {
      this.keepaliveTimer.schedule(idle - elapsed);
      return;
    }
    const ut = this.userTimeout;
    if ((ut > 0 && elapsed >= ut && this.keepaliveProbes > 0) || (ut === 0 && this.keepaliveProbes >= this.keepCount)) {
      this.timedOut(true);
      return;
    }
    // The probe: an ACK with SEG.SEQ = SND.NXT - 1 (RFC 1122 §4.2.3.6) carrying no data.
    this.emit(seqAdd(snd.sndUna, -1), TCP_ACK, null, 0, false);
    this.keepaliveProbes++;
    this.stack.stats.tcp.keepAliveProbes++;
    this.keepaliveTimer.schedule(this.keepInterval * 1000);
  }

  private onWaitTimer(): void {
    this.enter();
    // TIME-WAIT expired (RFC 9293 §3.10.8), or an orphan's FIN-WAIT-2 timed out (Linux tcp_fin_timeout).
    if (this.state === TcpState.TimeWait || this.state === TcpState.FinWait2) this.enterClosed(null);
    this.leave();
  }

  // ================================================================== Endpoint: reading and writing

  read(dst: Uint8Array, opts?: ReadOptions): ReadResult | TcpipError {
    this.enter();
    const r = this.doRead(dst, opts?.peek === true);
    this.leave();
    return r;
  }

  private doRead(dst: Uint8Array, peek: boolean): ReadResult | TcpipError {
    if (this.state === TcpState.Listen) return Err.NotConnected;
    const q = this.rcv.queue;
    if (q.size > 0) {
      if (dst.length === 0) return { count: 0, total: 0 };
      const n = q.read(dst, peek);
      // Receive-buffer auto-tuning and memory accounting (rcv.ts).
      if (!peek) this.rcv.onRead(n, this.rcvBufLocked);
      if (!peek && this.rcv.windowUpdateDue() && this.canAckState()) {
        this.rcv.ackNow = true;
        this.scheduleFlush();
      }
      return { count: n, total: n };
    }
    const e = this.takeError();
    if (e) return e;
    if (this.rcv.finReceived || this.shutRead) return Err.ClosedForReceive;
    // Linux: end of stream once a connection (attempt) is over, "not connected" before any.
    if (this.state === TcpState.Closed) return this.done ? Err.ClosedForReceive : Err.NotConnected;
    if (dst.length === 0) return { count: 0, total: 0 };
    return Err.WouldBlock;
  }

  private canAckState(): boolean {
    const s = this.state;
    return s !== TcpState.Closed && s !== TcpState.Listen && s !== TcpState.SynSent && s !== TcpState.SynReceived &&
      s !== TcpState.TimeWait;
  }

  private takeError(): TcpipError | null {
    const e = this.pendingError;
    if (e) {
      this.pendingError = null;
      return e;
    }
    return null;
  }

  write(data: Uint8Array, opts?: WriteOptions): number | TcpipError {
    this.enter();
    const r = this.doWrite(data, opts);
    this.leave();
    return r;
  }

  private doWrite(data: Uint8Array, opts: WriteOptions | undefined): number | TcpipError {
    const e = this.takeError();
    if (e) return e;
    if (this.shutWrite) return Err.ClosedForSend;
    switch (this.state) {
      case TcpState.Established:
      case TcpState.CloseWait:
        break;
      case TcpState.SynSent:
      case TcpState.SynReceived:
        return Err.WouldBlock;
      default:
        // Linux answers a write on any socket that is not connected with EPIPE.
        return Err.ClosedForSend;
    }
    const snd = this.snd;
    // Linux: an empty write sends nothing and changes nothing (tcp_sendmsg pushes only what it copied).
    if (data.length === 0) return 0;
    const free = this.sendBufferLimit() - snd.buf.size;
    if (free <= 0 || (opts?.atomic === true && free < data.length)) {
      this.writeBlocked = true;
      return Err.WouldBlock;
    }
    // MSG_MORE is a cork for this write only (send(2): "the same effect as TCP_CORK ... on a
    // per-call basis"): its partial tail waits for a later write without it, a full segment, or
    // the cork timer (corkHold); TCP_NODELAY does not override it. A write that is refused
    // (would-block) changes nothing.
    snd.more = opts?.more === true;
    const n = free < data.length ? free : data.length;
    if (n < data.length) this.writeBlocked = true;
    // The one copy of application data (PacketBuffer's outbound ownership rule).
    snd.buf.append(data, 0, n);
    this.scheduleFlush();
    return n;
  }

  /** Linux's sk_stream_is_writeable: free space at least half of what is queued. */
  private writable(): boolean {
    const used = this.snd.buf.size;
    const size = this.sendBufferLimit();
    return size - used >= used >>> 1 && size > used;
  }

  /**
   * Linux's send-buffer autotuning (tcp_sndbuf_expand): unless the application set SO_SNDBUF,
   * the buffer grows with the congestion window — room for about two windows of data plus
   * bookkeeping, 4 × cwnd — up to wmem_max; it never shrinks. A fresh socket reports
   * tcp_wmem[1] (16384) like Linux.
   */
  private sendBufferLimit(): number {
    // Stack-wide TCP memory (tcp_mem, protocol.ts): no growth under pressure; above the hard
    // limit no new data is taken while some is still queued (Linux's sk_wmem_schedule failing:
    // the writer waits for its own data to be acknowledged).
    const mem = this.proto.memPressure();
    if (mem === TCP_MEM_HIGH && this.snd.buf.size > 0) return this.snd.buf.size;
    if (!this.sndBufLocked && mem === TCP_MEM_NORMAL && this.state !== TcpState.Closed && this.state !== TcpState.Listen) {
      const want = Math.min(this.proto.options.maxSendBuffer, 4 * Math.floor(this.snd.cc.cwnd));
      if (want > this.sndBufSize) this.sndBufSize = want;
    }
    return this.sndBufSize;
  }

  // ================================================================== Endpoint: connection management

  bind(addr: FullAddress): TcpipError | null {
    this.enter();
    const r = this.doBind(addr);
    this.leave();
    return r;
  }

  private doBind(addr: FullAddress): TcpipError | null {
    if (this.appClosed) return Err.Closed;
    if (this.portReserved || this.state !== TcpState.Closed || this.regId) return Err.AlreadyBound;
    let a: Address | null = addr.addr ?? null;
    if (a && a.isUnspecified) a = null;
    if (a) {
      if (a.length !== this.addrLength()) return Err.AddressFamilyNotSupported;
      if (!(a.isV4Mapped && a.unmapped().isUnspecified) && this.stack.nicForAddress(a, addr.nic || undefined) === 0)
        return Err.BadLocalAddress;
    }
    if (!(addr.port >= 0 && addr.port <= 0xffff)) return Err.InvalidArgument;
    // RFC 3493 §3.7: an IPv6 endpoint bound to the wildcard also takes IPv4 unless v6-only;
    // bound to ::ffff:0.0.0.0 it takes IPv4 only (any address).
    const protos = endpointNetProtos(this.netProto, this.v6Only, addr.addr ?? null, null);
    if (isError(protos)) return protos;
    if (a && a.isV4Mapped && a.unmapped().isUnspecified) a = null;
    const p = this.stack.reservePort(TCP_PROTOCOL, protos, a, addr.port,
      { reuseAddr: this.reuseAddr, reusePort: this.reusePort }, this.bindToDevice, this);
    if (isError(p)) {
      this.stack.stats.tcp.failedPortReservations++;
      return p;
    }
    this.portProtos = protos;
    this.boundAddr = a;
    this.boundPort = p;
    this.portReserved = true;
    this.userBound = true;
    return null;
  }

  private addrLength(): number {
    return this.netProto === IPV4_PROTOCOL ? 4 : 16;
  }

  listen(backlog: number): TcpipError | null {
    this.enter();
    const r = this.doListen(backlog);
    this.leave();
    return r;
  }

  private doListen(backlog: number): TcpipError | null {
    if (this.appClosed) return Err.Closed;
    const max = this.proto.options.maxBacklog;
    const b = !(backlog > 0) ? 0 : backlog > max ? max : Math.floor(backlog);
    if (this.state === TcpState.Listen) {
      this.backlog = b;
      return null;
    }
    if (this.state !== TcpState.Closed || this.regId) return Err.InvalidEndpointState;
    if (!this.portReserved) {
      // Linux binds an unbound socket to an ephemeral port on listen().
      const protos = endpointNetProtos(this.netProto, this.v6Only, null, null);
      if (isError(protos)) return protos;
      const p = this.stack.reservePort(TCP_PROTOCOL, protos, null, 0,
        { reuseAddr: this.reuseAddr, reusePort: this.reusePort }, this.bindToDevice, this);
      if (isError(p)) {
        this.stack.stats.tcp.failedPortReservations++;
        return p;
      }
      this.portProtos = protos;
      this.boundAddr = null;
      this.boundPort = p;
      this.portReserved = true;
      this.userBound = true;
    }
    // Linux: listen() fails with EADDRINUSE while another socket shares the port through
    // SO_REUSEADDR alone, and a listening port is no longer shared that way.
    const lerr = this.stack.setPortListening?.(TCP_PROTOCOL, this.boundPort, this, true) ?? null;
    if (lerr) return lerr;
    const id: TransportEndpointId = { localPort: this.boundPort, localAddress: this.boundAddr, remotePort: 0, remoteAddress: null };
    // The listener takes what its port reservation covers (both families for a dual-stack wildcard).
    const err = this.stack.registerTransportEndpoint(TCP_PROTOCOL, this.portProtos, id, this,
      { reuseAddr: this.reuseAddr, reusePort: this.reusePort }, this.bindToDevice);
    if (err) {
      this.stack.setPortListening?.(TCP_PROTOCOL, this.boundPort, this, false);
      return err;
    }
    this.regId = id;
    this.regProtos = this.portProtos;
    this.localAddr = this.boundAddr;
    this.localPort = this.boundPort;
    this.backlog = b;
    this.setState(TcpState.Listen);
    return null;
  }

  accept(): Accepted | TcpipError {
    this.enter();
    let r: Accepted | TcpipError;
    if (this.state !== TcpState.Listen) r = Err.InvalidEndpointState;
    else {
      const c = this.acceptQueue.shift();
      if (!c) r = Err.WouldBlock;
      else {
        c.listener = null;
        const peer: FullAddress = { addr: c.remoteAddr!, port: c.remotePort };
        if (c.route) peer.nic = c.route.nicId;
        r = { endpoint: c, waiterQueue: c.waiterQueue, peer };
      }
    }
    this.leave();
    return r;
  }

  connect(addr: FullAddress): TcpipError | null {
    this.enter();
    const r = this.doConnect(addr);
    this.leave();
    return r;
  }

  private doConnect(addr: FullAddress): TcpipError | null {
    if (this.appClosed) return Err.Closed;
    switch (this.state) {
      case TcpState.SynSent:
      case TcpState.SynReceived:
        return Err.AlreadyConnecting;
      case TcpState.Listen:
        return Err.InvalidEndpointState;
      case TcpState.Closed:
        break;
      default:
        return Err.AlreadyConnected;
    }
    if (this.regId) return Err.InvalidEndpointState;
    const remote = addr.addr;
    if (!remote) return Err.DestinationRequired;
    if (remote.length !== this.addrLength()) return Err.AddressFamilyNotSupported;
    if (!(addr.port > 0 && addr.port <= 0xffff)) return Err.ConnectionRefused;
    // More endpoints than `maxConnections` (this one included): ENOBUFS, as Linux's connect
    // when it cannot allocate.
    if (this.proto.endpoints.size > this.proto.options.maxConnections) return Err.NoBufferSpace;
    // A v4-mapped peer of an IPv6 endpoint is reached over IPv4 (dualstack.ts).
    const protos = endpointNetProtos(this.netProto, this.v6Only, this.boundAddr, remote);
    if (isError(protos)) return protos;
    const route = this.stack.findRoute(this.bindToDevice || addr.nic || 0, this.boundAddr, remote, this.netProto);
    if (isError(route)) return route;
    const local = endpointAddress(route.localAddress, this.netProto);
    // The registrations copy the flags: no object per connection unless a flag is set.
    const flags = this.reuseAddr || this.reusePort ? { reuseAddr: this.reuseAddr, reusePort: this.reusePort } : NO_FLAGS;
    let newPort = false;
    if (!this.portReserved) {
      const p = this.stack.reservePort(TCP_PROTOCOL, protos, null, 0, flags, this.bindToDevice, this);
      if (isError(p)) {
        this.stack.stats.tcp.failedPortReservations++;
        return p;
      }
      this.portProtos = protos;
      this.boundAddr = null;
      this.boundPort = p;
      this.portReserved = true;
      this.userBound = false;
      newPort = true;
    }
    const id: TransportEndpointId = {
      localPort: this.boundPort, localAddress: local, remotePort: addr.port, remoteAddress: remote,
    };
    const err = this.stack.registerTransportEndpoint(TCP_PROTOCOL, protos, id, this, flags, this.bindToDevice);
    if (err) {
      if (newPort) this.releasePort();
      return err;
    }
    this.regId = id;
    this.regProtos = protos;
    this.setRoute(route);
    this.localAddr = local;
    this.localPort = this.boundPort;
    this.remoteAddr = remote;
    this.remotePort = addr.port;
    this.writeParams.ttl = this.ttl || route.defaultTtl;
    this.activeOpen = true;
    this.pendingError = null;
    this.softError = null;
    this.connectStart = this.now();
    const snd = this.snd;
    this.rcv.advMss = this.advertisedMss();
    this.wsOffer = this.chooseWindowScale();
    this.tsOffer = this.proto.options.timestamps;
    this.tsOffset = this.stack.random.uint32() | 0;
    this.sackOffer = this.proto.options.sack;
    snd.init(this.proto.isn.generate(local, this.boundPort, remote, addr.port, this.now()));
    this.ecn.startActive(snd.iss);
    this.setState(TcpState.SynSent);
    this.stack.stats.tcp.activeConnectionOpenings++;
    snd.sendSyn(false);
    this.rtxTimer.schedule(snd.rtt.rto);
    return Err.ConnectStarted;
  }

  disconnect(): TcpipError | null {
    return Err.NotSupported;
  }

  shutdown(flags: number): TcpipError | null {
    this.enter();
    const r = this.doShutdown(flags);
    this.leave();
    return r;
  }

  private doShutdown(flags: number): TcpipError | null {
    if ((flags & (ShutdownRead | ShutdownWrite)) === 0) return Err.InvalidArgument;
    switch (this.state) {
      case TcpState.Listen:
        if (flags & ShutdownRead) {
          // Linux: shutting a listener's read side stops it listening; queued connections are reset.
          this.stopListening();
          this.setState(TcpState.Closed);
          this.events |= EventIn | EventHup;
          return null;
        }
        return Err.NotConnected;
      case TcpState.Closed:
      case TcpState.SynSent:
        return Err.NotConnected;
    }
    if (flags & ShutdownRead && !this.shutRead) {
      this.shutRead = true;
      this.events |= EventIn | EventRdHup;
    }
    if (flags & ShutdownWrite && !this.shutWrite) {
      this.shutWrite = true;
      this.closeSendSide();
      this.events |= EventOut;
    }
    if (this.shutWrite && (this.shutRead || this.rcv.finReceived)) this.events |= EventHup;
    this.scheduleFlush();
    return null;
  }

  /** RFC 9293 §3.10.4 CLOSE: the FIN is queued after the data; the state moves on at once. */
  private closeSendSide(): void {
    switch (this.state) {
      case TcpState.Established:
        this.snd.queueFin();
        this.setState(TcpState.FinWait1);
        break;
      case TcpState.CloseWait:
        this.snd.queueFin();
        this.setState(TcpState.LastAck);
        break;
      case TcpState.SynReceived:
        // "Queue for processing after entering ESTABLISHED state" (see establish()).
        break;
    }
  }

  /** Resets the connections waiting in the queues and unregisters the listener. */
  private stopListening(): void {
    this.stack.setPortListening?.(TCP_PROTOCOL, this.boundPort, this, false);
    for (const c of [...this.synQueue]) {
      c.enter();
      c.abortConnection(null, false);
      c.leave();
    }
    this.synQueue.clear();
    const q = this.acceptQueue.splice(0);
    for (const c of q) {
      // Linux: connections nobody accepted are reset when the listener closes.
      c.enter();
      c.listener = null;
      c.appClosed = true;
      c.abortConnection(null, true);
      c.release();
      c.leave();
    }
    this.unregister();
  }

  close(): void {
    this.enter();
    this.doClose();
    this.leave();
  }

  private doClose(): void {
    if (this.appClosed) return;
    this.appClosed = true;
    this.shutRead = true;
    this.shutWrite = true;
    switch (this.state) {
      case TcpState.Closed:
        this.release();
        return;
      case TcpState.Listen:
        this.stopListening();
        this.setState(TcpState.Closed);
        this.release();
        return;
      case TcpState.SynSent:
        // Linux just forgets a connection attempt on close.
        this.enterClosed(null);
        return;
    }
    if (this.linger.enabled && this.linger.timeout === 0) {
      // SO_LINGER with a zero timeout: abortive close.
      this.abortConnection(null, true);
      return;
    }
    if (this.rcv.queue.size > 0) {
      // RFC 2525 §2.17 / Linux: closing with unread data resets the connection.
      this.abortConnection(null, true);
      return;
    }
    this.closeSendSide();
    if (this.state === TcpState.FinWait2) this.waitTimer.schedule(this.proto.options.finTimeoutMs);
    this.scheduleFlush();
  }

  abort(): void {
    this.enter();
    this.appClosed = true;
    this.shutRead = true;
    this.shutWrite = true;
    if (this.state === TcpState.Listen) {
      this.stopListening();
      this.setState(TcpState.Closed);
    }
    if (this.state === TcpState.Closed) this.release();
    else this.abortConnection(null, true);
    this.leave();
  }

  getLocalAddress(): FullAddress | TcpipError {
    if (this.localAddr && this.state !== TcpState.Closed) return { addr: this.localAddr, port: this.localPort };
    const any = this.netProto === IPV4_PROTOCOL ? Address.ANY4 : Address.ANY6;
    return { addr: this.boundAddr ?? this.localAddr ?? any, port: this.boundPort || this.localPort };
  }

  getRemoteAddress(): FullAddress | TcpipError {
    const s = this.state;
    if (!this.remoteAddr || s === TcpState.Closed || s === TcpState.Listen || s === TcpState.SynSent) return Err.NotConnected;
    return { addr: this.remoteAddr, port: this.remotePort };
  }

  readiness(mask: number): number {
    let r = 0;
    const s = this.state;
    if (s === TcpState.Listen) {
      if (this.acceptQueue.length > 0) r |= EventIn;
      return r & mask;
    }
    const eof = this.rcv.finReceived || this.shutRead;
    const dead = s === TcpState.Closed && this.done;
    if (this.rcv.queue.size > 0 || eof || dead || this.pendingError) r |= EventIn;
    if (eof || dead) r |= EventRdHup;
    if (this.pendingError) r |= EventErr;
    if (s === TcpState.Closed || (this.shutWrite && eof)) r |= EventHup;
    if (s !== TcpState.SynSent && s !== TcpState.SynReceived) {
      if (s === TcpState.Closed || this.shutWrite || this.writable()) r |= EventOut;
    }
    return r & mask;
  }

  // ================================================================== options

  getSockOpt<K extends SockOptionName>(name: K): SockOptions[K] | TcpipError {
    const v = this.getOpt(name);
    return v as SockOptions[K] | TcpipError;
  }

  private getOpt(name: SockOptionName): SockOptions[SockOptionName] | TcpipError {
    switch (name) {
      case "reuseAddress": return this.reuseAddr;
      case "reusePort": return this.reusePort;
      case "keepAlive": return this.keepAlive;
      case "broadcast": return this.broadcast;
      case "receiveBufferSize": return this.rcvBufSize;
      case "sendBufferSize": return this.sndBufSize;
      case "linger": return { ...this.linger };
      case "bindToDevice": return this.bindToDevice;
      case "error": {
        this.enter();
        const e = this.takeError();
        this.leave();
        return e;
      }
      case "receiveQueueSize": return this.state === TcpState.Listen ? Err.InvalidEndpointState : this.rcv.queue.size;
      case "sendQueueSize": return this.state === TcpState.Listen ? Err.InvalidEndpointState : this.snd.buf.size;
      case "ttl": return this.ttl || this.route?.defaultTtl || 64;
      case "tos": return this.tos;
      case "v6Only": return this.netProto === IPV6_PROTOCOL ? this.v6Only : Err.UnknownProtocolOption;
      case "receiveTos": return this.receiveTos;
      case "receiveTtl": return this.receiveTtl;
      case "receivePacketInfo": return this.receivePacketInfo;
      case "noDelay": return this.noDelay;
      case "cork": return this.cork;
      case "keepIdle": return this.keepIdle;
      case "keepInterval": return this.keepInterval;
      case "keepCount": return this.keepCount;
      case "userTimeout": return this.userTimeout;
      case "maxSegment":
        // Linux: the current MSS once connected, else TCP_MAXSEG as set, else 536.
        if (isConnectedState(this.state) || this.state === TcpState.TimeWait) return this.snd.mss;
        return this.userMss || DEFAULT_MSS;
      case "quickAck": return this.quickAckForced || this.rcv.quickAcks > 0;
      case "tcpInfo": return tcpInfo(this);
      case "congestionControl": return this.ccName;
    }
    return Err.UnknownProtocolOption;
  }

  setSockOpt<K extends SockOptionName>(name: K, value: SockOptions[K]): TcpipError | null {
    this.enter();
    const r = this.setOpt(name, value);
    this.leave();
    return r;
  }

  private setOpt(name: SockOptionName, value: unknown): TcpipError | null {
    const o = this.proto.options;
    switch (name) {
      case "reuseAddress":
        this.reuseAddr = value === true;
        return null;
      case "reusePort":
        this.reusePort = value === true;
        return null;
      case "broadcast":
        this.broadcast = value === true;
        return null;
      case "keepAlive": {
        const on = value === true;
        if (on === this.keepAlive) return null;
        this.keepAlive = on;
        if (!on) this.keepaliveTimer.cancel();
        else if (isConnectedState(this.state)) this.keepaliveTimer.schedule(this.keepIdle * 1000);
        return null;
      }
      case "receiveBufferSize": {
        const v = intValue(value);
        if (v === null) return Err.InvalidOptionValue;
        // Linux: capped at rmem_max, then doubled, never below SOCK_MIN_RCVBUF.
        this.rcvBufSize = Math.max(2 * Math.min(Math.max(v, 0), o.maxReceiveBuffer), MIN_RECEIVE_BUFFER);
        this.rcvBufLocked = true;
        if (this.rcv.windowUpdateDue() && this.canAckState()) {
          this.rcv.ackNow = true;
          this.scheduleFlush();
        }
        return null;
      }
      case "sendBufferSize": {
        const v = intValue(value);
        if (v === null) return Err.InvalidOptionValue;
        this.sndBufSize = Math.max(2 * Math.min(Math.max(v, 0), o.maxSendBuffer), MIN_SEND_BUFFER);
        this.sndBufLocked = true;
        if (this.writeBlocked && this.writable()) {
          this.writeBlocked = false;
          this.events |= EventOut;
        }
        return null;
      }
      case "linger": {
        const l = value as LingerOption | null;
        if (!l || typeof l.enabled !== "boolean" || !(l.timeout >= 0)) return Err.InvalidOptionValue;
        this.linger = { enabled: l.enabled, timeout: Math.floor(l.timeout) };
        return null;
      }
      case "bindToDevice": {
        const v = intValue(value);
        if (v === null || v < 0) return Err.InvalidOptionValue;
        this.bindToDevice = v;
        return null;
      }
      case "ttl": {
        const v = intValue(value);
        // Linux: -1 restores the default; otherwise 1..255.
        if (v === null || v === 0 || v < -1 || v > 255) return Err.InvalidOptionValue;
        this.ttl = v === -1 ? 0 : v;
        this.writeParams.ttl = this.ttl || this.route?.defaultTtl || 64;
        return null;
      }
      case "tos": {
        const v = intValue(value);
        if (v === null || v < 0 || v > 255) return Err.InvalidOptionValue;
        this.tos = v;
        this.writeParams.tos = v;
        return null;
      }
      case "receiveTos":
        this.receiveTos = value === true;
        return null;
      case "receiveTtl":
        this.receiveTtl = value === true;
        return null;
      case "receivePacketInfo":
        this.receivePacketInfo = value === true;
        return null;
      case "noDelay":
        this.noDelay = value === true;
        // Linux pushes what Nagle held back.
        if (this.noDelay) this.scheduleFlush();
        return null;
      case "cork":
        this.cork = value === true;
        // Uncorking sends what was held.
        if (!this.cork) this.scheduleFlush();
        return null;
      case "keepIdle":
      case "keepInterval": {
        const v = intValue(value);
        // Seconds, like Linux's TCP_KEEPIDLE / TCP_KEEPINTVL (1 .. 32767).
        if (v === null || v < 1 || v > 32767) return Err.InvalidOptionValue;
        if (name === "keepIdle") {
          this.keepIdle = v;
          if (this.keepAlive && isConnectedState(this.state)) {
            const left = v * 1000 - (this.now() - this.lastRcvTime);
            this.keepaliveTimer.schedule(left > 0 ? left : 0);
          }
        } else this.keepInterval = v;
        return null;
      }
      case "keepCount": {
        const v = intValue(value);
        if (v === null || v < 1 || v > 127) return Err.InvalidOptionValue;
        this.keepCount = v;
        return null;
      }
      case "userTimeout": {
        const v = intValue(value);
        if (v === null || v < 0) return Err.InvalidOptionValue;
        this.userTimeout = v;
        return null;
      }
      case "maxSegment": {
        const v = intValue(value);
        // Linux: 0 clears; otherwise TCP_MIN_MSS (88) .. 65535 - 40... (MAX_TCP_WINDOW).
        if (v === null || (v !== 0 && (v < MIN_USER_MSS || v > 32767))) return Err.InvalidOptionValue;
        this.userMss = v;
        if (isConnectedState(this.state)) this.snd.mss = this.sendMss();
        return null;
      }
      case "quickAck":
        this.quickAckForced = value === true;
        if (this.quickAckForced && this.rcv.ackPending && this.canAckState()) {
          this.rcv.ackNow = true;
          this.scheduleFlush();
        }
        return null;
      case "congestionControl": {
        if (typeof value !== "string") return Err.InvalidOptionValue;
        const cc = createCongestionControl(value, this.snd.mss, o.initialCwnd, this.ccEnv);
        if (!cc) return Err.InvalidOptionValue;
        this.ccName = value;
        if (this.wasConnected) {
          cc.cwnd = this.snd.cc.cwnd;
          cc.ssthresh = this.snd.cc.ssthresh;
          this.snd.cc = cc;
        }
        return null;
      }
      case "v6Only":
        if (this.netProto !== IPV6_PROTOCOL) return Err.UnknownProtocolOption;
        if (typeof value !== "boolean") return Err.InvalidOptionValue;
        // Linux: IPV6_V6ONLY cannot change once the socket is bound (EINVAL).
        if (this.portReserved || this.regId || this.state !== TcpState.Closed) return Err.InvalidEndpointState;
        this.v6Only = value;
        return null;
      case "error":
      case "receiveQueueSize":
      case "sendQueueSize":
      case "tcpInfo":
        return Err.UnknownProtocolOption;
    }
    return Err.UnknownProtocolOption;
  }

  // ================================================================== introspection (tests, TCP_INFO)

  /** Current receive window offered (bytes): what the peer was last told, less what arrived since. */
  get receiveWindow(): number {
    return this.rcv.peerWindow();
  }

  /** True once released (nothing of it is left in the stack). */
  get isReleased(): boolean {
    return this.released;
  }
}

defineFlags(TcpEndpoint.prototype, [
  "portReserved",
  "userBound",
  "v6Only",
  "notifyListener",
  "appClosed",
  "shutRead",
  "shutWrite",
  "wasConnected",
  "activeOpen",
  "forwarded",
  "done",
  "writeBlocked",
  "released",
  "noDelay",
  "cork",
  "keepAlive",
  "quickAckForced",
  "sndBufLocked",
  "reuseAddr",
  "reusePort",
  "broadcast",
  "receiveTos",
  "receiveTtl",
  "receivePacketInfo",
  "corkExpired",
  "nowValid",
  "holdEvents",
  "flushWanted",
  "wsOk",
  "tsOffer",
], [
  "sackOffer",
  "tsOk",
  "tsEcrValid",
  "rcvBufLocked",
]);

function intValue(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}
