/**
 * Observability for embedded stacks, without patching the stack:
 *
 * - `NODE_DEBUG=netstack` (util.debuglog): one human-readable line per event, prefixed by layer
 *   (`link`, `ip`, `tcp`/`udp`/`icmp`, `conn`, `drop`, `rto`, `stack`). Nothing is formatted
 *   unless the section is enabled.
 * - node:diagnostics_channel: `netstack:connection:open`, `netstack:connection:close`,
 *   `netstack:connection:reset`, `netstack:drop` and `netstack:tcp:rto` (names in `channels`).
 *   Drops and retransmission timeouts are derived from the stack's counters ("every dropped
 *   packet increments a counter that names why"): after each delivered batch and each timer
 *   that fires (never per packet), the watched counters are compared with their previous values
 *   and every increase is published with the counter's name as the reason. Drops on the send
 *   path are reported at the next batch end, timer or `stats()` call.
 * - `ObservedLink`: the link wrapper `createStack` puts under the NIC. It carries the hooks
 *   above and a pcap capture that can be started and stopped on a running stack.
 * - `formatStackStats`: a `netstat -s`-style pretty printer for `stack.stats()` snapshots.
 */
import "./dispose.js";
import dc from "node:diagnostics_channel";
import { debuglog } from "node:util";
import {
  SnifferEndpoint, TCP_PROTOCOL, TcpForwarder, formatStackStats, type Clock, type LinkEndpoint, type NetworkDispatcher,
  type PacketBuffer, type Stack, type StackStats, type TcpForwarderStats, type Timer,
} from "@netstack-ts/netstack";

/** diagnostics_channel names published by netstack-ts embeddings. */
export const channels = {
  /** `{ stack, protocol: "tcp", localAddress, localPort, remoteAddress, remotePort, direction }` */
  connectionOpen: "netstack:connection:open",
  /** `{ stack, protocol, localAddress, localPort, remoteAddress, remotePort, bytesRead, bytesWritten, error? }` */
  connectionClose: "netstack:connection:close",
  /** The same shape as close, for connections that ended with a reset (ECONNRESET, or resetAndDestroy). */
  connectionReset: "netstack:connection:reset",
  /** `{ stack, reason, count }`: `reason` is the counter's path, e.g. "ip.checksumErrors". */
  drop: "netstack:drop",
  /** `{ stack, count, total }`: TCP retransmission timeouts (RFC 6298 §5.4) that fired. */
  rto: "netstack:tcp:rto",
} as const;

/** Message of `netstack:connection:open` / `close` / `reset`. */
export interface ConnectionEvent {
  stack: string;
  protocol: "tcp";
  direction: "inbound" | "outbound";
  localAddress: string | undefined;
  localPort: number | undefined;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  bytesRead?: number;
  bytesWritten?: number;
  error?: Error;
}

/** Message of `netstack:drop`. */
export interface DropEvent {
  stack: string;
  /**
   * The counter that counted the drop, e.g. "tcp.checksumErrors", "udp.unknownPortErrors": a
   * path in `StackStats`, except "tcp.maxConnectionsDrops", "tcp.memHighDrops" and
   * "tcp.memPressureOfoDrops" (the TCP protocol's own counters) and "tcpForwarder.overflow"
   * (the installed TCP forwarder's stats).
   */
  reason: string;
  /** How many packets since the previous event for this reason. */
  count: number;
}

/** Message of `netstack:tcp:rto`. */
export interface RtoEvent {
  stack: string;
  /** Timeouts since the previous event. */
  count: number;
  /** The stack's total so far. */
  total: number;
}

const openCh = dc.channel(channels.connectionOpen);
const closeCh = dc.channel(channels.connectionClose);
const resetCh = dc.channel(channels.connectionReset);
const dropCh = dc.channel(channels.drop);
const rtoCh = dc.channel(channels.rto);

/** The `NODE_DEBUG=netstack` logger (util.debuglog). */
export const debug = debuglog("netstack");

/** Whether `NODE_DEBUG` enables the netstack section. */
export function debugEnabled(): boolean {
  return debug.enabled;
}

/** Publishes a connection lifecycle event (and logs it under NODE_DEBUG=netstack). */
export function publishConnection(kind: "open" | "close" | "reset", ev: ConnectionEvent): void {
  const ch = kind === "open" ? openCh : kind === "close" ? closeCh : resetCh;
  if (ch.hasSubscribers) ch.publish(ev);
  if (debug.enabled) {
    const extra = kind === "open" ? ev.direction : `read ${ev.bytesRead ?? 0} written ${ev.bytesWritten ?? 0}` +
      (ev.error ? ` (${(ev.error as NodeJS.ErrnoException).code ?? ev.error.message})` : "");
    debug("conn %s %s %s:%s <-> %s:%s %s", ev.stack, kind, ev.localAddress, ev.localPort, ev.remoteAddress, ev.remotePort, extra);
  }
}

/** The TCP protocol's own drop counters (TcpProtocol.counters), which StackStats does not hold. */
interface TcpProtocolDrops {
  readonly maxConnectionsDrops: number;
  readonly memHighDrops: number;
  readonly memPressureOfoDrops: number;
}

/** What a getter may read besides StackStats: TCP's own counters, the TCP forwarder's stats. */
interface TcpView {
  counters: TcpProtocolDrops | null;
  forwarder: TcpForwarderStats | null;
}

type Getter = (s: StackStats, t: TcpView) => number;

/** Counters that count a dropped (or refused) packet, by name. RTOs are separate. */
const DROP_COUNTERS: readonly [string, Getter][] = [
  ["malformedRcvdPackets", (s) => s.malformedRcvdPackets],
  ["unknownProtocolRcvdPackets", (s) => s.unknownProtocolRcvdPackets],
  ["droppedPackets", (s) => s.droppedPackets],
  ["ip.invalidDestinationAddressesReceived", (s) => s.ip.invalidDestinationAddressesReceived],
  ["ip.invalidSourceAddressesReceived", (s) => s.ip.invalidSourceAddressesReceived],
  ["ip.malformedPacketsReceived", (s) => s.ip.malformedPacketsReceived],
  ["ip.malformedFragmentsReceived", (s) => s.ip.malformedFragmentsReceived],
  ["ip.checksumErrors", (s) => s.ip.checksumErrors],
  ["ip.ttlExpired", (s) => s.ip.ttlExpired],
  ["ip.reassemblyTimeouts", (s) => s.ip.reassemblyTimeouts],
  ["ip.reassemblyMemoryDrops", (s) => s.ip.reassemblyMemoryDrops],
  ["ip.fragmentationNeededDrops", (s) => s.ip.fragmentationNeededDrops],
  ["ip.noRoute", (s) => s.ip.noRoute],
  ["ip.outgoingPacketErrors", (s) => s.ip.outgoingPacketErrors],
  ["ipv6.extensionChainTooLong", (s) => s.ipv6.extensionChainTooLong],
  ["ipv6.malformedExtensionHeaders", (s) => s.ipv6.malformedExtensionHeaders],
  ["ipv6.unknownOptionDrops", (s) => s.ipv6.unknownOptionDrops],
  ["ipv6.routingHeaderDrops", (s) => s.ipv6.routingHeaderDrops],
  ["ipv6.unknownNextHeader", (s) => s.ipv6.unknownNextHeader],
  ["ipv6.incompleteFirstFragments", (s) => s.ipv6.incompleteFirstFragments],
  ["ipv6.notJoinedOrTentative", (s) => s.ipv6.notJoinedOrTentative],
  ["icmp.v4.received.invalid", (s) => s.icmp.v4.received.invalid],
  ["icmp.v6.received.invalid", (s) => s.icmp.v6.received.invalid],
  ["icmp.v4.sent.rateLimited", (s) => s.icmp.v4.sent.rateLimited],
  ["icmp.v6.sent.rateLimited", (s) => s.icmp.v6.sent.rateLimited],
  ["ndp.invalidMessages", (s) => s.ndp.invalidMessages],
  ["arp.malformedPacketsReceived", (s) => s.arp.malformedPacketsReceived],
  ["arp.pendingPacketsDropped", (s) => s.arp.pendingPacketsDropped],
  ["tcp.invalidSegmentsReceived", (s) => s.tcp.invalidSegmentsReceived],
  ["tcp.checksumErrors", (s) => s.tcp.checksumErrors],
  ["tcp.listenOverflowSynDrop", (s) => s.tcp.listenOverflowSynDrop],
  ["tcp.listenOverflowAckDrop", (s) => s.tcp.listenOverflowAckDrop],
  ["tcp.synCookiesFailed", (s) => s.tcp.synCookiesFailed],
  ["tcp.maxConnectionsDrops", (_s, t) => t.counters?.maxConnectionsDrops ?? 0],
  ["tcp.memHighDrops", (_s, t) => t.counters?.memHighDrops ?? 0],
  ["tcp.memPressureOfoDrops", (_s, t) => t.counters?.memPressureOfoDrops ?? 0],
  // A forwarder replaced or removed restarts from 0: the decrease only moves the baseline.
  ["tcpForwarder.overflow", (_s, t) => t.forwarder?.overflow ?? 0],
  ["udp.unknownPortErrors", (s) => s.udp.unknownPortErrors],
  ["udp.receiveBufferErrors", (s) => s.udp.receiveBufferErrors],
  ["udp.malformedPacketsReceived", (s) => s.udp.malformedPacketsReceived],
  ["udp.checksumErrors", (s) => s.udp.checksumErrors],
];

/**
 * Turns counter increases into `netstack:drop` / `netstack:tcp:rto` events (and debug lines).
 */
export class CounterWatch {
  private readonly last = new Float64Array(DROP_COUNTERS.length);
  private lastRto = 0;
  private stack: Stack | null = null;
  private readonly tcp: TcpView = { counters: null, forwarder: null };

  constructor(private readonly name: string) {}

  /** Starts watching `stack` (called once the stack exists). */
  bind(stack: Stack): void {
    this.stack = stack;
  }

  /**
   * Compares the counters with their previous values and publishes every increase. Runs once per
   * delivered batch and per fired timer (not per packet); the baseline is kept current even while
   * nobody listens, so a new subscriber sees only drops that happen after it subscribed.
   */
  check(): void {
    const stack = this.stack;
    if (!stack) return;
    const s = stack.stats;
    const tcp = this.tcp;
    const proto = stack.transportProtocol(TCP_PROTOCOL) as { counters?: TcpProtocolDrops; forwarder?: unknown } | undefined;
    tcp.counters = proto?.counters ?? null;
    const fwd = proto?.forwarder;
    tcp.forwarder = fwd instanceof TcpForwarder ? fwd.stats : null;
    const publish = dropCh.hasSubscribers || debug.enabled;
    for (let i = 0; i < DROP_COUNTERS.length; i++) {
      const v = DROP_COUNTERS[i]![1](s, tcp);
      const d = v - this.last[i]!;
      if (d === 0) continue;
      this.last[i] = v;
      if (d > 0 && publish) {
        const reason = DROP_COUNTERS[i]![0];
        if (dropCh.hasSubscribers) dropCh.publish({ stack: this.name, reason, count: d } satisfies DropEvent);
        if (debug.enabled) debug("drop %s %s +%d", this.name, reason, d);
      }
    }
    const rto = s.tcp.timeouts;
    const d = rto - this.lastRto;
    if (d === 0) return;
    this.lastRto = rto;
    if (d > 0) {
      if (rtoCh.hasSubscribers) rtoCh.publish({ stack: this.name, count: d, total: rto } satisfies RtoEvent);
      if (debug.enabled) debug("rto %s retransmission timeout x%d (total %d)", this.name, d, rto);
    }
  }
}

/**
 * A Clock that runs the counter watch after every timer callback (retransmission timeouts,
 * reassembly timeouts and neighbor failures happen there, outside any packet batch). One closure
 * per timer created, none per firing.
 */
export class ObservedClock implements Clock {
  constructor(
    /** The clock that keeps time. */
    readonly inner: Clock,
    private readonly watch: CounterWatch,
  ) {}

  /** Monotonic milliseconds of the inner clock. */
  now(): number {
    return this.inner.now();
  }

  /** Wall-clock milliseconds of the inner clock (capture timestamps). */
  wallNow(): number {
    return this.inner.wallNow();
  }

  /** A timer of the inner clock whose callback is followed by a counter check. */
  createTimer(fn: () => void): Timer {
    const watch = this.watch;
    return this.inner.createTimer(() => {
      fn();
      watch.check();
    });
  }

  /** Timers pending on the inner clock. */
  pendingTimers(): number {
    return this.inner.pendingTimers();
  }
}

/** A link that accepts and drops everything: the inner side of a capture-only sniffer. */
const NULL_LINK: LinkEndpoint = {
  mtu: 65535,
  maxHeaderLength: 0,
  linkAddress: new Uint8Array(0),
  capabilities: 0,
  isAttached: false,
  attach(): void {},
  writePackets(pkts: readonly PacketBuffer[]): number {
    return pkts.length;
  },
};

/** Options of `ObservedLink.startCapture`. */
export interface CaptureOptions {
  /** Bytes kept per packet (default 262144). */
  snaplen?: number;
}

/** What a stopped capture recorded. */
export interface CaptureSummary {
  path: string;
  /** Packet records written. */
  packets: number;
  /** Records cut to the snaplen. */
  truncated: number;
}

/**
 * The link `createStack` hands to the NIC: forwards everything to `inner` unchanged, and
 * - records packets to a pcap file (LINKTYPE_RAW) between `startCapture` and `stopCapture`,
 *   on a running stack (it reuses the stack's SnifferEndpoint for the file format);
 * - logs a one-line summary per packet under NODE_DEBUG=netstack;
 * - runs the counter watch at the end of each delivered batch.
 * Idle cost per packet: two boolean tests.
 */
export class ObservedLink implements LinkEndpoint, NetworkDispatcher {
  private dispatcher: NetworkDispatcher | null = null;
  private capture: { sniffer: SnifferEndpoint; path: string } | null = null;
  private closed = false;

  constructor(
    /** The wrapped link (pipe end, TUN, TAP, ...). */
    readonly inner: LinkEndpoint,
    private readonly clock: Clock,
    private readonly watch: CounterWatch,
    private readonly label: string,
  ) {}

  /** The inner link's MTU. */
  get mtu(): number {
    return this.inner.mtu;
  }
  /** The inner link's header length. */
  get maxHeaderLength(): number {
    return this.inner.maxHeaderLength;
  }
  /** The inner link's address. */
  get linkAddress(): Uint8Array {
    return this.inner.linkAddress;
  }
  /** The inner link's capabilities. */
  get capabilities(): number {
    return this.inner.capabilities;
  }
  /** Whether a NIC is attached. */
  get isAttached(): boolean {
    return this.dispatcher !== null;
  }
  /** Whether a capture is running. */
  get capturing(): boolean {
    return this.capture !== null;
  }

  /** Connects the NIC (or detaches with null). */
  attach(dispatcher: NetworkDispatcher | null): void {
    this.dispatcher = dispatcher;
    this.inner.attach(dispatcher !== null && !this.closed ? this : null);
  }

  /** Records and traces (when on), then hands the batch to the inner link. */
  writePackets(pkts: readonly PacketBuffer[]): number {
    const cap = this.capture;
    if (cap !== null) recordIp(cap.sniffer, pkts);
    if (debug.enabled) for (let i = 0; i < pkts.length; i++) debug("%s", describePacket(this.label, "tx", pkts[i]!));
    return this.inner.writePackets(pkts);
  }

  /** NetworkDispatcher side: records and traces (when on), then passes the packet up. */
  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    const cap = this.capture;
    if (cap !== null && (protocol === 0x0800 || protocol === 0x86dd)) cap.sniffer.deliverNetworkPacket(protocol, pkt);
    if (debug.enabled) debug("%s", describePacket(this.label, "rx", pkt));
    this.dispatcher?.deliverNetworkPacket(protocol, pkt);
  }

  /** End of an inbound batch: the stack flushes, then drops are reported. */
  deliverBatchEnd(): void {
    this.dispatcher?.deliverBatchEnd();
    this.watch.check();
  }

  /**
   * Starts writing every packet crossing the link (both directions) to `path` as a pcap file
   * (truncating it). Throws if a capture is already running or the file cannot be created.
   */
  startCapture(path: string, opts: CaptureOptions = {}): void {
    if (this.capture) throw new Error(`a capture to ${this.capture.path} is already running`);
    if (this.closed) throw new Error("the link is closed");
    const sniffer = new SnifferEndpoint(NULL_LINK, {
      path, clock: this.clock, linkType: "raw", ...(opts.snaplen !== undefined ? { snaplen: opts.snaplen } : {}),
    });
    this.capture = { sniffer, path };
    if (debug.enabled) debug("link %s capture started to %s", this.label, path);
  }

  /** Stops the running capture and closes its file; null when none was running. */
  stopCapture(): CaptureSummary | null {
    const cap = this.capture;
    if (!cap) return null;
    this.capture = null;
    cap.sniffer.close();
    if (debug.enabled) debug("link %s capture to %s stopped: %d packets", this.label, cap.path, cap.sniffer.records);
    return { path: cap.path, packets: cap.sniffer.records, truncated: cap.sniffer.truncated };
  }

  /** Stops any capture and closes the inner link. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopCapture();
    this.inner.attach(null);
    this.inner.close?.();
  }

  /** `using link = ...` closes it. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `await using link = ...` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/** Hands the IP packets of a write batch to a capture sniffer (ARP frames are left out of a raw capture). */
function recordIp(sniffer: SnifferEndpoint, pkts: readonly PacketBuffer[]): void {
  let allIp = true;
  for (let i = 0; i < pkts.length && allIp; i++) allIp = isIp(pkts[i]!);
  if (allIp) {
    sniffer.writePackets(pkts);
    return;
  }
  const ip = pkts.filter(isIp);
  if (ip.length > 0) sniffer.writePackets(ip);
}

function firstByte(pkt: PacketBuffer): number {
  if (pkt.end > pkt.start) return pkt.buf[pkt.start]!;
  const p = pkt.payload[0];
  return p && p.length > 0 ? p[0]! : 0;
}

function isIp(pkt: PacketBuffer): boolean {
  const v = firstByte(pkt) >> 4;
  return v === 4 || v === 6;
}

const TCP_FLAG_NAMES = ["F", "S", "R", "P", ".", "U", "E", "C"];

/**
 * One line per packet for NODE_DEBUG, e.g. `link tun0 rx | ip 198.18.0.1 > 198.18.0.2 len 60 |
 * tcp 40000 > 80 [S] seq 1 ack 0 win 64240`. Reads only bytes that are there; never throws.
 */
export function describePacket(label: string, dir: "rx" | "tx", pkt: PacketBuffer): string {
  const b = pkt.flat();
  const head = `link ${label} ${dir} ${b.length}B`;
  if (b.length < 1) return head;
  const v = b[0]! >> 4;
  let proto = -1;
  let off = 0;
  let ip: string;
  if (v === 4 && b.length >= 20) {
    const ihl = (b[0]! & 0x0f) * 4;
    proto = b[9]!;
    off = ihl;
    ip = `ip ${b[12]}.${b[13]}.${b[14]}.${b[15]} > ${b[16]}.${b[17]}.${b[18]}.${b[19]} ttl ${b[8]} proto ${proto}`;
  } else if (v === 6 && b.length >= 40) {
    proto = b[6]!;
    off = 40;
    ip = `ip6 ${v6text(b, 8)} > ${v6text(b, 24)} hlim ${b[7]} next ${proto}`;
  } else return `${head} | not IP`;
  let l4 = "";
  if ((proto === 6 || proto === 17) && b.length >= off + 4) {
    const sp = (b[off]! << 8) | b[off + 1]!;
    const dp = (b[off + 2]! << 8) | b[off + 3]!;
    if (proto === 17) l4 = ` | udp ${sp} > ${dp}`;
    else if (b.length >= off + 20) {
      const seq = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>> 0;
      const ack = ((b[off + 8]! << 24) | (b[off + 9]! << 16) | (b[off + 10]! << 8) | b[off + 11]!) >>> 0;
      const fl = b[off + 13]!;
      let flags = "";
      for (let i = 0; i < 8; i++) if (fl & (1 << i)) flags += TCP_FLAG_NAMES[i];
      const win = (b[off + 14]! << 8) | b[off + 15]!;
      const dataLen = b.length - off - (b[off + 12]! >> 4) * 4;
      l4 = ` | tcp ${sp} > ${dp} [${flags}] seq ${seq} ack ${ack} win ${win} len ${Math.max(0, dataLen)}`;
    } else l4 = ` | tcp ${sp} > ${dp} (truncated)`;
  } else if ((proto === 1 || proto === 58) && b.length >= off + 2) {
    l4 = ` | icmp${proto === 58 ? "6" : ""} type ${b[off]} code ${b[off + 1]}`;
  }
  return `${head} | ${ip}${l4}`;
}

function v6text(b: Uint8Array, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[off + i]! << 8) | b[off + i + 1]!).toString(16));
  return parts.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** A `stack.stats()` snapshot as `createStack` returns it. */
export type StatsSnapshot = ReturnType<Stack["snapshot"]> & {
  /** The stack's name (`createStack({ name })`). */
  name: string;
  /** The link wrapper's own state. */
  capture: { running: boolean };
};

/** `netstat -s`-style text for a `Stack.snapshot()` (re-exported from @netstack-ts/netstack). */
export { formatStackStats };
