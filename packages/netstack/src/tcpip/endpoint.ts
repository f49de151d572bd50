import type { Address, FullAddress } from "./address.js";
import type { TcpipError } from "./errors.js";
import type { WaiterQueue } from "../waiter/queue.js";

/** Options for `Endpoint.read`. */
export interface ReadOptions {
  /** Leave the data queued (MSG_PEEK). */
  peek?: boolean;
  /** Fill `ReadResult.from` with the sender (datagram endpoints). */
  needRemoteAddr?: boolean;
}

/** Ancillary data that came with received data (recvmsg control messages). */
export interface ControlMessages {
  /** IP_PKTINFO / IPV6_PKTINFO: the local address the datagram was sent to and the NIC. */
  localAddr?: Address;
  nic?: number;
  /** IP_TTL / IPV6_HOPLIMIT of the received datagram. */
  ttl?: number;
  /** IP_TOS / IPV6_TCLASS of the received datagram. */
  tos?: number;
}

/** What `read` copied. */
export interface ReadResult {
  /** Bytes copied into the destination buffer. */
  count: number;
  /**
   * Bytes available in the message: equal to `count` for streams; for a datagram, its full
   * length even when truncated (so MSG_TRUNC can report it).
   */
  total: number;
  /** Sender address (datagram endpoints, when asked). */
  from?: FullAddress;
  control?: ControlMessages;
}

/** Options for `Endpoint.write`. */
export interface WriteOptions {
  /** Destination for unconnected datagram endpoints (sendto). */
  to?: FullAddress;
  /** More data follows soon (MSG_MORE): hold a partial segment back. */
  more?: boolean;
  /** Write all or nothing (datagrams are always atomic). */
  atomic?: boolean;
}

export const ShutdownRead = 1;
export const ShutdownWrite = 2;

/** Linger setting (SO_LINGER). */
export interface LingerOption {
  enabled: boolean;
  /** Seconds. */
  timeout: number;
}

/**
 * Typed socket options. Each endpoint supports a subset and returns
 * `Err.UnknownProtocolOption` for the rest. Times are in milliseconds unless named otherwise.
 */
export interface SockOptions {
  // SOL_SOCKET
  reuseAddress: boolean;
  reusePort: boolean;
  keepAlive: boolean;
  broadcast: boolean;
  /** SO_RCVBUF / SO_SNDBUF in bytes (as set; Linux doubles on set, getters report the doubled value). */
  receiveBufferSize: number;
  sendBufferSize: number;
  linger: LingerOption;
  /** SO_BINDTODEVICE as a NIC id (0 = none). */
  bindToDevice: number;
  /** SO_ERROR: the pending error, read once (null when none). Read-only. */
  error: TcpipError | null;
  /** Bytes queued for reading (FIONREAD / TIOCINQ). Read-only. */
  receiveQueueSize: number;
  /** Bytes written but not yet acknowledged (TIOCOUTQ). Read-only. */
  sendQueueSize: number;
  // IPPROTO_IP / IPPROTO_IPV6
  ttl: number;
  tos: number;
  v6Only: boolean;
  receiveTos: boolean;
  receiveTtl: boolean;
  receivePacketInfo: boolean;
  /** IP_TRANSPARENT: bind to (and send from) addresses that are not the stack's own. */
  transparent: boolean;
  // IPPROTO_TCP
  noDelay: boolean;
  cork: boolean;
  /** TCP_KEEPIDLE in SECONDS, like Linux (idle time before the first keepalive probe; default 7200). */
  keepIdle: number;
  /** TCP_KEEPINTVL in SECONDS, like Linux (time between keepalive probes; default 75). */
  keepInterval: number;
  /** TCP_KEEPCNT: unanswered keepalive probes before the connection is dropped (default 9). */
  keepCount: number;
  /** TCP_USER_TIMEOUT in milliseconds, like Linux (0 = off). */
  userTimeout: number;
  maxSegment: number;
  quickAck: boolean;
  /** TCP_INFO snapshot. Read-only. */
  tcpInfo: TcpInfo;
  /** TCP_CONGESTION name. */
  congestionControl: string;
}

export type SockOptionName = keyof SockOptions;

/** TCP_INFO-like snapshot (times in milliseconds). */
export interface TcpInfo {
  state: string;
  rto: number;
  rtt: number;
  rttvar: number;
  sndCwnd: number;
  sndSsthresh: number;
  sndMss: number;
  rcvMss: number;
  retransmits: number;
  totalRetrans: number;
  bytesAcked: number;
  bytesReceived: number;
  segsIn: number;
  segsOut: number;
  sndWnd: number;
  rcvWnd: number;
  unacked: number;
  /**
   * tcpi_options: Linux's TCPI_OPT_* bits of what the connection negotiated (1 timestamps,
   * 2 SACK, 4 window scaling, 8 ECN, 16 ECN seen: an ECT or CE packet arrived).
   */
  options?: number;
}

/** A connection handed out by `accept`. */
export interface Accepted {
  endpoint: Endpoint;
  waiterQueue: WaiterQueue;
  peer: FullAddress;
}

/**
 * The contract every transport endpoint implements (gVisor tcpip.Endpoint). Operations never
 * block and never throw for protocol conditions: they return a value or a `TcpipError`
 * singleton. Readiness is signalled through `waiterQueue`.
 */
export interface Endpoint {
  readonly waiterQueue: WaiterQueue;
  /** Copies received data into `dst` (a datagram, or stream bytes coalesced across segments). */
  read(dst: Uint8Array, opts?: ReadOptions): ReadResult | TcpipError;
  /** Queues data to send; returns bytes accepted (streams may accept part). */
  write(data: Uint8Array, opts?: WriteOptions): number | TcpipError;
  /** Connects; stream endpoints return `Err.ConnectStarted` and finish asynchronously. */
  connect(addr: FullAddress): TcpipError | null;
  /** Datagram endpoints: dissolves the association (connect with AF_UNSPEC). */
  disconnect(): TcpipError | null;
  bind(addr: FullAddress): TcpipError | null;
  listen(backlog: number): TcpipError | null;
  accept(): Accepted | TcpipError;
  /** ShutdownRead | ShutdownWrite bit flags. */
  shutdown(flags: number): TcpipError | null;
  /** Releases the endpoint; a stream endpoint may live on in the stack (FIN-WAIT, TIME-WAIT). */
  close(): void;
  /** Immediately resets a connection (linger 0 semantics) and releases the endpoint. */
  abort(): void;
  getLocalAddress(): FullAddress | TcpipError;
  getRemoteAddress(): FullAddress | TcpipError;
  /** Which of the events in `mask` are currently ready. */
  readiness(mask: number): number;
  getSockOpt<K extends SockOptionName>(name: K): SockOptions[K] | TcpipError;
  setSockOpt<K extends SockOptionName>(name: K, value: SockOptions[K]): TcpipError | null;
}
