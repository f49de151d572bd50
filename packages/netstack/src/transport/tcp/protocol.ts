/**
 * The TCP protocol as registered with a stack: endpoint creation, stack-wide settings and
 * defaults, the RFC 6528 ISN secret, and the answer to segments no endpoint owns (a RST, RFC
 * 9293 §3.10.7.1).
 */
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, TCP_PROTOCOL } from "../../tcpip/address.js";
import { Err, isError, type TcpipError } from "../../tcpip/errors.js";
import type { Endpoint } from "../../tcpip/endpoint.js";
import type { PacketBuffer } from "../../buffer/packet.js";
import type { WaiterQueue } from "../../waiter/queue.js";
import type {
  NetworkWriteParams, StackServices, TransportProtocol, TransportProtocolFactory,
} from "../../stack/registration.js";
import { TCP_ACK, TCP_RST } from "../../header/tcp.js";
import { createCongestionControl } from "./congestion.js";
import type { EcnPolicy } from "./ecn.js";
import { TcpEndpoint } from "./endpoint.js";
import { EndpointList } from "./eplist.js";
import { IsnGenerator } from "./isn.js";
import { SynCookies } from "./syncookie.js";
import { buildSegment, Segment, SegmentBadChecksum, SegmentMalformed } from "./segment.js";
import { seqAdd } from "./seqnum.js";
import { ChunkPool, POOL_FLOOR } from "./sendbuf.js";

/** Stack-wide TCP settings. Times in milliseconds unless named otherwise. */
export interface TcpProtocolOptions {
  /**
   * Maximum segment lifetime. TIME-WAIT lasts 2 * MSL (RFC 9293 §3.4.2); the default of 30 s
   * gives Linux's fixed 60 s TIME-WAIT (TCP_TIMEWAIT_LEN).
   */
  msl: number;
  /** SYN retransmissions before connect fails with timed-out (Linux tcp_syn_retries = 6). */
  synRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped (tcp_synack_retries = 5). */
  synAckRetries: number;
  /** Data retransmissions before the connection fails with timed-out (tcp_retries2 = 15). */
  retries2: number;
  /** RFC 6298 initial RTO (1 s). */
  initialRto: number;
  /** Linux's TCP_RTO_MIN (200 ms). */
  minRto: number;
  /** Linux's TCP_RTO_MAX (120 s). */
  maxRto: number;
  /** Delayed-ACK timeout (Linux TCP_DELACK_MIN, 40 ms). */
  delayedAckMs: number;
  /** How long an orphaned connection may sit in FIN-WAIT-2 (tcp_fin_timeout = 60 s). */
  finTimeoutMs: number;
  /** Keepalive defaults in SECONDS like Linux's tcp_keepalive_time / _intvl, and the probe count. */
  keepIdleSec: number;
  keepIntervalSec: number;
  keepCount: number;
  /**
   * Default SO_RCVBUF / SO_SNDBUF in bytes. Receive: tcp_rmem[1] = 131072. Send: Linux starts at
   * tcp_wmem[1] = 16384 and autotunes upward within the first round trips; there is no send
   * buffer autotuning here, so the default is fixed at the same 131072 (two full unscaled
   * windows).
   */
  receiveBufferSize: number;
  sendBufferSize: number;
  /**
   * Largest value SO_RCVBUF / SO_SNDBUF accept before doubling (net.core.rmem_max / wmem_max;
   * 4 MiB as on current Linux distributions).
   */
  maxReceiveBuffer: number;
  maxSendBuffer: number;
  /**
   * Linux's tcp_rmem[2] (6 MiB): how far receive-buffer auto-tuning may grow a buffer the
   * application did not size with SO_RCVBUF, and what the window scale is chosen for.
   */
  maxAutoReceiveBuffer: number;
  /** Receive-buffer auto-tuning for sockets without SO_RCVBUF (Linux tcp_moderate_rcvbuf = 1; see rcv.ts). */
  moderateReceiveBuffer: boolean;
  /** RFC 7323 §2: offer / accept window scaling (Linux tcp_window_scaling = 1). */
  windowScaling: boolean;
  /** RFC 7323 §3: offer / accept timestamps (Linux tcp_timestamps = 1). */
  timestamps: boolean;
  /** RFC 2018: offer / accept SACK (Linux tcp_sack = 1); D-SACK comes with it (tcp_dsack = 1). */
  sack: boolean;
  /** listen() backlog ceiling (net.core.somaxconn = 4096). */
  maxBacklog: number;
  /** Default TCP_CONGESTION: "cubic" (RFC 9438, as Linux); "reno" is NewReno. */
  congestionControl: string;
  /** Initial congestion window in segments (RFC 6928, Linux: 10). */
  initialCwnd: number;
  /** RFC 5961 §7: challenge ACKs the stack sends per second at most (tcp_challenge_ack_limit, 1000). */
  challengeAckLimit: number;
  /** RFC 8985 RACK-TLP loss detection with SACK (Linux tcp_recovery = 1). */
  rack: boolean;
  /** RFC 9406 HyStart++ in CUBIC's slow start (Linux's CUBIC hystart = 1). */
  hystart: boolean;
  /** RFC 5681 §4.1 / RFC 2861 §3: decay cwnd after an idle period (Linux tcp_slow_start_after_idle = 1). */
  slowStartAfterIdle: boolean;
  /**
   * RFC 3168 ECN, as Linux's tcp_ecn: 0 = off, 1 = ask on outgoing connections and accept on
   * incoming ones, 2 (default) = accept when the peer asks, never ask (see ecn.ts).
   */
  ecn: EcnPolicy;
  /**
   * The ceiling on how long TCP_CORK or a write with MSG_MORE holds a partial segment (ms; the
   * 200 ms tcp(7) documents for TCP_CORK).
   */
  corkMs: number;
  /**
   * RFC 4987 §3.6 SYN cookies, as Linux's net.ipv4.tcp_syncookies: 0 = never (a SYN that finds
   * the SYN queue full is dropped), 1 (default) = only when a listener's SYN queue is full,
   * 2 = always (no SYN-RECEIVED state is kept at all). See syncookie.ts.
   */
  syncookies: 0 | 1 | 2;
  /**
   * Most live TCP endpoints the stack holds (sockets, listeners and connections, counted in
   * `endpoints`). Past it, a SYN (or cookie ACK) that would create a connection is dropped and
   * counted, and connect() fails with no-buffer-space (ENOBUFS, what Linux's connect returns when
   * it cannot allocate). Default Infinity: Linux and gVisor have no such cap (descriptors and
   * memory bound them); the memory an attacker can pin is bounded by the SYN/accept queues,
   * SYN cookies and `tcpMem` instead, so a finite default would only add an arbitrary failure.
   */
  maxConnections: number;
  /**
   * Stack-wide TCP memory thresholds in bytes, like Linux's tcp_mem (low, pressure, high; Linux
   * counts pages): bytes held in every endpoint's receive queue, out-of-order queue and send
   * buffer. Above `pressure` the stack is under memory pressure until it falls below `low`
   * (receive windows stop growing, new out-of-order data is dropped, buffers stop auto-growing);
   * above `high`, new data that would need memory is dropped (see tcpMemory()).
   */
  tcpMem: readonly [low: number, pressure: number, high: number];
}

export const DEFAULT_TCP_OPTIONS: Readonly<TcpProtocolOptions> = {
  msl: 30_000,
  synRetries: 6,
  synAckRetries: 5,
  retries2: 15,
  initialRto: 1000,
  minRto: 200,
  maxRto: 120_000,
  delayedAckMs: 40,
  finTimeoutMs: 60_000,
  keepIdleSec: 7200,
  keepIntervalSec: 75,
  keepCount: 9,
  receiveBufferSize: 131072,
  sendBufferSize: 16384, // tcp_wmem[1]; grows with cwnd unless SO_SNDBUF is set (see sendBufferLimit)
  maxReceiveBuffer: 4194304,
  maxSendBuffer: 4194304,
  maxAutoReceiveBuffer: 6291456,
  moderateReceiveBuffer: true,
  windowScaling: true,
  timestamps: true,
  sack: true,
  maxBacklog: 4096,
  congestionControl: "cubic",
  initialCwnd: 10,
  challengeAckLimit: 1000,
  rack: true,
  hystart: true,
  slowStartAfterIdle: true,
  ecn: 2,
  corkMs: 200,
  syncookies: 1,
  maxConnections: Infinity,
  // Of the order Linux computes for a few GiB of RAM (it sizes tcp_mem from free memory).
  tcpMem: [192 * 1024 * 1024, 256 * 1024 * 1024, 384 * 1024 * 1024],
};

/** TCP memory state (tcpMemory(), memPressure()): below pressure, under pressure, above high. */
export const TCP_MEM_NORMAL = 0;
export const TCP_MEM_PRESSURE = 1;
export const TCP_MEM_HIGH = 2;

/** What `TcpProtocol.tcpMemory()` reports. */
export interface TcpMemoryInfo {
  /** Bytes held in receive, out-of-order and send queues across the stack. */
  bytes: number;
  /** Under memory pressure (or above the hard limit). */
  pressure: boolean;
  /** Above `tcpMem[2]`: new data needing memory is dropped. */
  overLimit: boolean;
  /** The thresholds in force. */
  limits: readonly [number, number, number];
}

/** Linux's SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF (what SO_RCVBUF / SO_SNDBUF never go below). */
export const MIN_RECEIVE_BUFFER = 2304;
export const MIN_SEND_BUFFER = 4608;

export class TcpProtocol implements TransportProtocol {
  readonly number = TCP_PROTOCOL;
  readonly minimumPacketSize = 20;
  readonly options: TcpProtocolOptions;
  readonly isn: IsnGenerator;
  /**
   * Every endpoint the protocol still owns (open sockets and connections living on after close):
   * an intrusive list through the endpoints' own links, no hash table entry per endpoint (#8).
   */
  readonly endpoints = new EndpointList<TcpEndpoint>();
  private readonly seg = new Segment();
  private readonly rstParams: NetworkWriteParams = { protocol: TCP_PROTOCOL, ttl: 64, tos: 0 };
  private closed = false;
  /** The challenge-ACK rate limit's current one-second interval and how many it sent in it. */
  private challengeStart = -Infinity;
  private challengeCount = 0;
  /** Counters beyond the stack-wide TcpStats (the contract's), for tests and diagnostics. */
  readonly counters = {
    challengeAcksSuppressed: 0, pawsRejected: 0,
    /**
     * Receive-side drops for lack of buffer (rcv.ts): out-of-order segments refused or cut
     * (Linux's OFODrop), queued out-of-order pieces pruned to make room for lower ones
     * (OfoPruned), in-order segments cut at the buffer's end (TCPRcvQDrop).
     */
    ofoDrops: 0, ofoPruned: 0, rcvQueueDrops: 0,
    /** RFC 8985: tail loss probes sent, probes that repaired a loss, segments RACK marked lost. */
    tlpProbes: 0, tlpRecoveries: 0, rackLossMarked: 0,
    /** RFC 3168 ECN (ecn.ts). */
    ecnNegotiated: 0, ectSent: 0, ceReceived: 0, eceSent: 0, eceReceived: 0, ecnCwndReductions: 0,
    cwrSent: 0, cwrReceived: 0,
    /**
     * RFC 4987 §3.6 SYN cookies (syncookie.ts), as Linux's SyncookiesSent / SyncookiesRecv /
     * SyncookiesFailed: cookie SYN-ACKs sent, valid cookie ACKs, ACKs at a listener (or the TCP
     * forwarder) that failed the cookie check (while cookies were in use).
     */
    syncookiesSent: 0, syncookiesRecv: 0, syncookiesFailed: 0,
    /** Passive opens refused because the stack held `maxConnections` endpoints. */
    maxConnectionsDrops: 0,
    /**
     * tcp_mem: times the stack entered memory pressure; out-of-order segments dropped under
     * pressure; new data dropped above the hard limit (Linux's TCPMemoryPressures, and its
     * OFODrop / RcvQDrop when memory could not be scheduled).
     */
    memPressureEntered: 0, memPressureOfoDrops: 0, memHighDrops: 0,
  };
  /** Bytes charged by endpoints (memCharge / memUncharge) and the resulting TCP_MEM_* state. */
  private memUsed = 0;
  /**
   * Released send-buffer chunks of endpoints whose route keeps no packet references, for reuse
   * (sendbuf.ts). It may keep as many free bytes as the endpoints hold (at least POOL_FLOOR).
   */
  readonly chunkPool = new ChunkPool();
  private memState = TCP_MEM_NORMAL;
  private cookies: SynCookies | null = null;
  /**
   * Transparent mode: takes bare SYNs (and SYN cookie ACKs) no endpoint owns before a RST would
   * be sent; true when it took the segment (see forwarder.ts, `setTcpForwarder`).
   */
  forwarder: { handle(pkt: PacketBuffer, seg: Segment): boolean } | null = null;

  constructor(
    readonly stack: StackServices,
    opts: Partial<TcpProtocolOptions> = {},
  ) {
    this.options = { ...DEFAULT_TCP_OPTIONS, ...opts };
    if (!createCongestionControl(this.options.congestionControl, 536))
      throw new RangeError(`unknown congestion control ${JSON.stringify(this.options.congestionControl)}`);
    this.isn = new IsnGenerator(stack.clock, stack.random);
    const m = this.options.tcpMem;
    if (!(m.length === 3 && m[0] <= m[1] && m[1] <= m[2])) throw new RangeError("tcpMem must be [low, pressure, high], ascending");
    if (![0, 1, 2].includes(this.options.syncookies)) throw new RangeError("syncookies must be 0, 1 or 2");
  }

  /** The SYN cookie secret, drawn from the stack's random source the first time it is needed. */
  get synCookies(): SynCookies {
    return (this.cookies ??= new SynCookies(this.stack.random));
  }

  /** True when the stack holds `maxConnections` endpoints or more (no new passive opens). */
  atConnectionLimit(): boolean {
    return this.endpoints.size >= this.options.maxConnections;
  }

  /**
   * Stack-wide TCP memory accounting (tcp_mem): an endpoint charges the bytes it starts holding
   * (negative to give them back). Kept as a running sum; never recomputed by scanning endpoints.
   */
  memCharge(n: number): void {
    const used = (this.memUsed += n);
    const lim = this.options.tcpMem; // indexed, not destructured: this runs per segment
    const low = lim[0];
    const pressure = lim[1];
    const high = lim[2];
    const prev = this.memState;
    let s: number;
    if (used > high) s = TCP_MEM_HIGH;
    else if (used > pressure) s = TCP_MEM_PRESSURE;
    // Linux leaves pressure only once usage falls below tcp_mem[0].
    else if (used < low) s = TCP_MEM_NORMAL;
    else s = prev === TCP_MEM_NORMAL ? TCP_MEM_NORMAL : TCP_MEM_PRESSURE;
    if (prev === TCP_MEM_NORMAL && s !== TCP_MEM_NORMAL) this.counters.memPressureEntered++;
    this.memState = s;
    this.chunkPool.limit = used > POOL_FLOOR ? used : POOL_FLOOR;
  }

  memUncharge(n: number): void {
    this.memCharge(-n);
  }

  /** TCP_MEM_NORMAL, TCP_MEM_PRESSURE or TCP_MEM_HIGH. */
  memPressure(): number {
    return this.memState;
  }

  /** Bytes held by TCP queues across the stack and the pressure state. */
  tcpMemory(): TcpMemoryInfo {
    return {
      bytes: this.memUsed, pressure: this.memState !== TCP_MEM_NORMAL, overLimit: this.memState === TCP_MEM_HIGH,
      limits: this.options.tcpMem,
    };
  }

  newEndpoint(netProto: number, waiterQueue: WaiterQueue): Endpoint | TcpipError {
    if (netProto !== IPV4_PROTOCOL && netProto !== IPV6_PROTOCOL) return Err.AddressFamilyNotSupported;
    if (this.closed) return Err.InvalidEndpointState;
    return new TcpEndpoint(this, netProto, waiterQueue);
  }

  /** RFC 5961 §7: whether one more challenge ACK fits in this second's budget (counted if so). */
  allowChallengeAck(): boolean {
    const now = this.stack.clock.now();
    if (now - this.challengeStart >= 1000) {
      this.challengeStart = now;
      this.challengeCount = 0;
    }
    if (this.challengeCount >= this.options.challengeAckLimit) {
      this.counters.challengeAcksSuppressed++;
      return false;
    }
    this.challengeCount++;
    return true;
  }

  /** Live endpoints (open sockets plus connections finishing after close). */
  get endpointCount(): number {
    return this.endpoints.size;
  }

  handleUnknownDestinationPacket(pkt: PacketBuffer): "handled" | "port-unreachable" | "malformed" {
    const s = this.stack.stats.tcp;
    const r = this.seg.parse(pkt);
    if (r === SegmentMalformed) {
      s.invalidSegmentsReceived++;
      return "malformed";
    }
    if (r === SegmentBadChecksum) {
      s.checksumErrors++;
      s.invalidSegmentsReceived++;
      return "handled";
    }
    s.validSegmentsReceived++;
    // Transparent mode: a SYN nobody owns becomes a forwarder request (forwarder.ts).
    if (this.forwarder?.handle(pkt, this.seg)) return "handled";
    this.replyReset(pkt, this.seg);
    return "handled";
  }

  /**
   * RFC 9293 §3.10.7.1 (CLOSED state): a segment without RST gets a RST. If it carried an ACK,
   * the RST is <SEQ=SEG.ACK><CTL=RST>; otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
   * Also used by listeners (an ACK in LISTEN) and by endpoints rejecting a segment.
   */
  replyReset(pkt: PacketBuffer, seg: Segment): void {
    if (seg.flags & TCP_RST) return;
    if (pkt.linkBroadcast || pkt.addrLen === 0) return;
    const b = pkt.buf;
    // Never answer a datagram sent to a broadcast or multicast address.
    if (pkt.addrLen === 4 && (b[pkt.dstAddrOff]! >= 224 || Address.hashBytes(b, pkt.dstAddrOff, 4) === 0xffffffff))
      return;
    if (pkt.addrLen === 16 && b[pkt.dstAddrOff] === 0xff) return;
    const local = Address.fromBytes(b, pkt.dstAddrOff, pkt.addrLen);
    const remote = Address.fromBytes(b, pkt.srcAddrOff, pkt.addrLen);
    const route = this.stack.findRoute(pkt.nicId, local, remote, pkt.networkProtocol);
    if (isError(route)) return;
    let seq: number;
    let ack: number;
    let flags: number;
    if (seg.flags & TCP_ACK) {
      seq = seg.ack;
      ack = 0;
      flags = TCP_RST;
    } else {
      seq = 0;
      ack = seqAdd(seg.seq, seg.seqLen);
      flags = TCP_RST | TCP_ACK;
    }
    const out = buildSegment(route, seg.dstPort, seg.srcPort, seq, ack, flags, 0, null, null, 0);
    this.rstParams.ttl = route.defaultTtl;
    const err = route.writePacket(out, this.rstParams);
    const s = this.stack.stats.tcp;
    if (err) s.segmentSendErrors++;
    else {
      s.segmentsSent++;
      s.resetsSent++;
    }
  }

  /** Stack shutdown: every endpoint stops its timers and lets go of the stack. */
  close(): void {
    this.closed = true;
    for (const ep of [...this.endpoints]) ep.destroy();
    this.endpoints.clear();
    this.chunkPool.clear();
  }
}

/** The TCP protocol factory with Linux's defaults: `new Stack({ transportProtocols: [tcp] })`. */
export const tcp: TransportProtocolFactory = (stack) => new TcpProtocol(stack);

/** A TCP factory with some settings changed (e.g. a short MSL in tests). */
export function tcpWith(opts: Partial<TcpProtocolOptions>): TransportProtocolFactory {
  return (stack) => new TcpProtocol(stack, opts);
}
