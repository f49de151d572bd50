/**
 * TCP test harnesses.
 *
 * - `TcpPair`: two stacks (10.0.0.1 = a, 10.0.0.2 = b) over a pipe, optionally through fault
 *   links, on one ManualClock. Virtual time only moves when the test moves it; `settle()`
 *   delivers what is queued, `runUntil(pred)` jumps from timer to timer until `pred` holds.
 * - `TcpPeer`: one stack on a ChannelEndpoint; the test plays the remote host by injecting
 *   hand-built segments (encodeTcp + encodeIPv4) and parsing what the stack wrote.
 */
import { createHash, type Hash } from "node:crypto";
import { ManualClock } from "../../src/clock/clock.js";
import { SeededRandom } from "../../src/clock/random.js";
import { Stack } from "../../src/stack/stack.js";
import { ipv4 } from "../../src/network/ipv4/index.js";
import { Pipe } from "../../src/link/pipe.js";
import type { DeliveryMode } from "../../src/link/delivery.js";
import { ChannelEndpoint } from "../../src/link/channel.js";
import { FaultEndpoint, type Faults } from "../../src/link/fault.js";
import type { LinkEndpoint } from "../../src/link/link.js";
import { Address, IPV4_PROTOCOL, TCP_PROTOCOL, type FullAddress } from "../../src/tcpip/address.js";
import { isError, type TcpipError } from "../../src/tcpip/errors.js";
import { WaiterQueue } from "../../src/waiter/queue.js";
import { tcpWith, type TcpEndpoint, type TcpProtocolOptions } from "../../src/transport/tcp/index.js";
import { TCPView, encodeTcp, encodeTcpOptions, parseTcp, type TcpOptionsSpec, type TcpRepr, TCP_MIN_HEADER } from "../../src/header/tcp.js";
import { IPv4View, encodeIPv4 } from "../../src/header/ipv4.js";
import { checksum, checksumViews, finishChecksum, pseudoHeaderChecksumAddr } from "../../src/header/checksum.js";
import { isParseError } from "../../src/header/parse.js";
import type { PacketBuffer } from "../../src/buffer/packet.js";

export const A = "10.0.0.1";
export const B = "10.0.0.2";

/** Unwraps a result or throws naming the error. */
export function ok<T>(v: T | TcpipError): T {
  if (isError(v)) throw new Error(`unexpected error ${v.name} (${v.code})`);
  return v;
}

export function addr(s: string, port: number): FullAddress {
  return { addr: Address.from(s), port };
}

export function newTcp(stack: Stack, wq = new WaiterQueue()): TcpEndpoint {
  return ok(stack.newEndpoint(TCP_PROTOCOL, IPV4_PROTOCOL, wq)) as TcpEndpoint;
}

export interface TcpPairOptions {
  mtu?: number;
  seed?: number;
  /** Link capabilities of both pipe ends (CapTx|RxChecksumOffload to skip checksums). */
  capabilities?: number;
  /** Faults on what a sends / what b sends. */
  faultsA?: Partial<Faults>;
  faultsB?: Partial<Faults>;
  /** Stack-wide TCP settings of both stacks. */
  tcp?: Partial<TcpProtocolOptions>;
  /** The pipe's delivery mode (default "timer": deliveries happen as the clock runs). */
  deliver?: DeliveryMode;
  /** Wraps a's link (after faults) before its NIC is created, e.g. with a link offering GSO. */
  wrapA?: (link: LinkEndpoint) => LinkEndpoint;
}

export interface Connection {
  client: TcpEndpoint;
  server: TcpEndpoint;
  listener: TcpEndpoint;
}

export class TcpPair {
  readonly clock = new ManualClock();
  readonly a: Stack;
  readonly b: Stack;
  readonly pipe: Pipe;
  readonly faultA: FaultEndpoint | null = null;
  readonly faultB: FaultEndpoint | null = null;
  readonly addrA = Address.from(A);
  readonly addrB = Address.from(B);

  constructor(opts: TcpPairOptions = {}) {
    const clock = this.clock;
    const seeds = new SeededRandom(opts.seed ?? 1);
    this.pipe = new Pipe({
      mtu: opts.mtu ?? 1500, clock, capabilities: opts.capabilities ?? 0, queueSize: 1 << 16, deliver: opts.deliver ?? "timer",
    });
    const t = tcpWith(opts.tcp ?? {});
    const mk = () => new Stack({ networkProtocols: [ipv4], transportProtocols: [t], clock, random: new SeededRandom(seeds.uint32()) });
    this.a = mk();
    this.b = mk();
    let la: LinkEndpoint = this.pipe.a;
    let lb: LinkEndpoint = this.pipe.b;
    if (opts.faultsA) la = this.faultA = new FaultEndpoint(la, { ...opts.faultsA, clock, random: new SeededRandom(seeds.uint32()) });
    if (opts.faultsB) lb = this.faultB = new FaultEndpoint(lb, { ...opts.faultsB, clock, random: new SeededRandom(seeds.uint32()) });
    if (opts.wrapA) la = opts.wrapA(la);
    this.a.createNic(1, la, { name: "a0" });
    this.b.createNic(1, lb, { name: "b0" });
    this.a.addAddress(1, `${A}/24`);
    this.b.addAddress(1, `${B}/24`);
    this.a.addRoute({ destination: "10.0.0.0/24", nic: 1 });
    this.b.addRoute({ destination: "10.0.0.0/24", nic: 1 });
  }

  /** Delivers everything queued and runs everything due now, without moving time. */
  settle(): void {
    this.clock.advance(0);
  }

  /** Moves virtual time forward; every timer due on the way fires at its own deadline. */
  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /**
   * Jumps from timer to timer until `pred()` holds. Throws when it has not after `maxMs` of
   * virtual time, or when nothing is left to happen.
   */
  runUntil(pred: () => boolean, maxMs = 600_000, each?: () => void): void {
    const end = this.clock.now() + maxMs;
    each?.();
    while (!pred()) {
      const next = this.clock.nextDeadline();
      if (next === undefined) throw new Error(`runUntil: idle at t=${this.clock.now()} before the condition held`);
      if (next > end) throw new Error(`runUntil: condition not met within ${maxMs} ms (t=${this.clock.now()})`);
      this.clock.step();
      each?.();
    }
  }

  /** Runs until no timer at all is armed (e.g. after TIME-WAIT), at most `maxMs`. */
  runUntilIdle(maxMs = 600_000, each?: () => void): void {
    this.runUntil(() => this.clock.pendingTimers() === 0, maxMs, each);
  }

  /**
   * A listener on b:`port` and a client on a connected to it, both ESTABLISHED and accepted.
   * `setup` runs on the client and the listener before connect (options to set).
   */
  connectPair(port = 80, setup?: (client: TcpEndpoint, listener: TcpEndpoint) => void, backlog = 16): Connection {
    const listener = newTcp(this.b);
    const client = newTcp(this.a);
    setup?.(client, listener);
    expectNull(listener.bind(addr(B, port)));
    expectNull(listener.listen(backlog));
    const r = client.connect(addr(B, port));
    if (!isError(r) || r.name !== "connect-started") throw new Error(`connect: ${r}`);
    let server: TcpEndpoint | null = null;
    this.runUntil(() => {
      if (!server) {
        const acc = listener.accept();
        if (!isError(acc)) server = acc.endpoint as TcpEndpoint;
      }
      return server !== null && client.state === 4;
    }, 10_000);
    return { client, server: server!, listener };
  }

  close(): void {
    this.a.close();
    this.b.close();
  }
}

export function expectNull(e: TcpipError | null): void {
  if (e !== null) throw new Error(`unexpected error ${e.name}`);
}

// ---------------------------------------------------------------------------------------- outbound packets

/** The views' bytes, one after another, in a new array. */
export function concatViews(views: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const v of views) n += v.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const v of views) {
    out.set(v, o);
    o += v.length;
  }
  return out;
}

/** The TCP sequence number of an outbound packet as the stack built it (transportHeader set). */
export function outboundSeq(pkt: PacketBuffer): number {
  const b = pkt.buf;
  const t = pkt.transportHeader;
  return ((b[t + 4]! << 24) | (b[t + 5]! << 16) | (b[t + 6]! << 8) | b[t + 7]!) >>> 0;
}

// ---------------------------------------------------------------------------------------- streams

/** A deterministic byte stream: a random block with a prime period, read at any offset. */
export class Pattern {
  static readonly PERIOD = 65521;
  private readonly bytes: Uint8Array;

  constructor(seed: number, maxChunk = 1 << 20) {
    const r = new SeededRandom(seed);
    this.bytes = new Uint8Array(Pattern.PERIOD + maxChunk);
    const base = new Uint8Array(Pattern.PERIOD);
    r.fill(base);
    for (let i = 0; i < this.bytes.length; i += Pattern.PERIOD) this.bytes.set(base.subarray(0, Math.min(Pattern.PERIOD, this.bytes.length - i)), i);
  }

  /** `len` bytes of the stream from `offset` (a view; len <= maxChunk). */
  at(offset: number, len: number): Uint8Array {
    const o = offset % Pattern.PERIOD;
    return this.bytes.subarray(o, o + len);
  }
}

/** Streams `total` pattern bytes into an endpoint as fast as it takes them, hashing what it accepted. */
export class Writer {
  sent = 0;
  readonly hash: Hash = createHash("sha256");
  error: TcpipError | null = null;

  constructor(
    readonly ep: TcpEndpoint,
    readonly total: number,
    readonly pattern: Pattern,
    readonly chunk = 65536,
  ) {}

  get done(): boolean {
    return this.sent >= this.total;
  }

  /** Writes until the endpoint refuses; returns bytes written in this call. */
  pump(): number {
    let n = 0;
    while (this.sent < this.total && !this.error) {
      const want = Math.min(this.chunk, this.total - this.sent);
      const data = this.pattern.at(this.sent, want);
      const r = this.ep.write(data);
      if (isError(r)) {
        if (r.name !== "would-block") this.error = r;
        break;
      }
      if (r === 0) break;
      this.hash.update(data.subarray(0, r));
      this.sent += r;
      n += r;
    }
    return n;
  }
}

/** Reads everything an endpoint has, hashing it, until end of stream. */
export class Reader {
  received = 0;
  eof = false;
  error: TcpipError | null = null;
  readonly hash: Hash = createHash("sha256");
  private readonly buf: Uint8Array;

  constructor(
    readonly ep: TcpEndpoint,
    bufSize = 65536,
  ) {
    this.buf = new Uint8Array(bufSize);
  }

  pump(limit = Infinity): number {
    let n = 0;
    while (!this.eof && !this.error && n < limit) {
      const r = this.ep.read(limit - n < this.buf.length ? this.buf.subarray(0, limit - n) : this.buf);
      if (isError(r)) {
        if (r.name === "closed-for-receive") this.eof = true;
        else if (r.name !== "would-block") this.error = r;
        break;
      }
      if (r.count === 0) break;
      this.hash.update(this.buf.subarray(0, r.count));
      this.received += r.count;
      n += r.count;
    }
    return n;
  }
}

// ---------------------------------------------------------------------------------------- channel peer

export interface SegmentSpec {
  srcPort?: number;
  dstPort?: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  mss?: number;
  payload?: Uint8Array;
  /** Break the checksum on purpose. */
  badChecksum?: boolean;
  /** Options to encode (window scale, SACK, timestamps...); `mss` above is merged in. */
  opts?: TcpOptionsSpec;
  /** Raw option bytes (padded with EOL to a multiple of 4); replaces `mss` and `opts`. */
  rawOptions?: Uint8Array;
  /** The urgent pointer field. */
  urgent?: number;
  /** Overrides the data offset field (in 32-bit words) after encoding, e.g. out of range. */
  dataOffsetWords?: number;
}

export interface SentSegment extends TcpRepr {
  src: string;
  dst: string;
  ttl: number;
  tos: number;
  /** IPv4 flags (DF = 2). */
  ipFlags: number;
  payload: Uint8Array;
  /** The whole IPv4 packet as written. */
  raw: Uint8Array;
  /** Virtual time it was written. */
  at: number;
}

/**
 * One stack (10.0.0.1) on a channel link; the test is the peer 10.0.0.2. `send` injects a
 * segment from the peer; `sent()` returns what the stack wrote, parsed.
 */
export class TcpPeer {
  readonly clock = new ManualClock();
  readonly stack: Stack;
  readonly link: ChannelEndpoint;
  readonly local = Address.from(A);
  readonly remote = Address.from(B);
  /** Default ports for `send`: the peer's port and the stack's port. */
  peerPort = 40000;
  stackPort = 80;
  private readonly log: SentSegment[] = [];

  constructor(opts: { mtu?: number; seed?: number; tcp?: Partial<TcpProtocolOptions>; capabilities?: number } = {}) {
    this.link = new ChannelEndpoint({ mtu: opts.mtu ?? 1500, capabilities: opts.capabilities ?? 0, queueSize: 1 << 16 });
    this.stack = new Stack({
      networkProtocols: [ipv4], transportProtocols: [tcpWith(opts.tcp ?? {})], clock: this.clock,
      random: new SeededRandom(opts.seed ?? 7),
    });
    this.stack.createNic(1, this.link, { name: "c0" });
    this.stack.addAddress(1, `${A}/24`);
    this.stack.addRoute({ destination: "10.0.0.0/24", nic: 1 });
    this.link.onWrite = () => this.collect();
  }

  private collect(): void {
    for (let b = this.link.read(); b !== null; b = this.link.read()) this.log.push(parseSent(b, this.clock.now()));
  }

  /** Every segment the stack wrote since the last call (oldest first). */
  sent(): SentSegment[] {
    this.collect();
    return this.log.splice(0);
  }

  /** The one segment written since the last call; throws if there were none or several. */
  one(): SentSegment {
    const s = this.sent();
    if (s.length !== 1) throw new Error(`expected one segment, got ${s.length}: ${s.map(describe).join(" | ")}`);
    return s[0]!;
  }

  /** Injects a segment from the peer (10.0.0.2) to the stack (10.0.0.1). */
  send(spec: SegmentSpec): void {
    this.link.inject(buildPacket(this.remote, this.local, spec.srcPort ?? this.peerPort, spec.dstPort ?? this.stackPort, spec));
  }

  /**
   * Injects an ICMPv4 error (type/code, and `info` in bytes 6-7: the next-hop MTU for "fragmentation
   * needed") from the peer quoting the start of a packet the stack sent.
   */
  sendIcmpError(about: SentSegment, type: number, code: number, info = 0): void {
    const quote = about.raw.subarray(0, Math.min(about.raw.length, 28));
    const icmpLen = 8 + quote.length;
    const out = new Uint8Array(20 + icmpLen);
    out[20] = type;
    out[21] = code;
    out[26] = info >>> 8;
    out[27] = info & 0xff;
    out.set(quote, 28);
    const c = finishChecksum(checksum(out, 20, icmpLen, 0));
    out[22] = c >>> 8;
    out[23] = c & 0xff;
    encodeIPv4(out, 0, { tos: 0, totalLength: out.length, id: 2, flags: 0, fragmentOffset: 0, ttl: 64, protocol: 1, src: this.remote, dst: this.local });
    this.link.inject(out);
  }

  /** Injects several segments as one batch. */
  sendBatch(specs: SegmentSpec[]): void {
    this.link.injectBatch(specs.map((s) => buildPacket(this.remote, this.local, s.srcPort ?? this.peerPort, s.dstPort ?? this.stackPort, s)));
  }

  advance(ms: number): void {
    this.clock.advance(ms);
  }
}

export function buildPacket(src: Address, dst: Address, srcPort: number, dstPort: number, spec: SegmentSpec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const optBuf = new Uint8Array(40);
  let optLen = spec.mss || spec.opts ? encodeTcpOptions(optBuf, 0, { mss: spec.mss, ...spec.opts }) : 0;
  if (spec.rawOptions) {
    optBuf.fill(0);
    optBuf.set(spec.rawOptions);
    optLen = (spec.rawOptions.length + 3) & ~3;
  }
  const tcpLen = TCP_MIN_HEADER + optLen + payload.length;
  const out = new Uint8Array(20 + tcpLen);
  out.set(optBuf.subarray(0, optLen), 20 + TCP_MIN_HEADER);
  const hl = encodeTcp(out, 20, {
    srcPort, dstPort, seq: spec.seq >>> 0, ack: (spec.ack ?? 0) >>> 0, flags: spec.flags, window: spec.window ?? 65535,
    urgent: spec.urgent ?? 0,
  }, optLen);
  out.set(payload, 20 + hl);
  if (spec.dataOffsetWords !== undefined) out[20 + 12] = (spec.dataOffsetWords & 0xf) << 4;
  let sum = pseudoHeaderChecksumAddr(TCP_PROTOCOL, src, dst, tcpLen);
  sum = checksum(out, 20, tcpLen, sum);
  let c = finishChecksum(sum);
  if (spec.badChecksum) c ^= 0x5a5a;
  out[20 + 16] = c >>> 8;
  out[20 + 17] = c & 0xff;
  encodeIPv4(out, 0, { tos: 0, totalLength: out.length, id: 1, flags: 0, fragmentOffset: 0, ttl: 64, protocol: TCP_PROTOCOL, src, dst });
  return out;
}

export function parseSent(b: Uint8Array, at: number): SentSegment {
  const ip = IPv4View.check(b);
  if (isParseError(ip)) throw new Error(`stack wrote a bad IPv4 packet: ${ip}`);
  const off = ip.headerLength;
  const len = ip.totalLength - off;
  const v = TCPView.check(b, off, len);
  if (isParseError(v)) throw new Error(`stack wrote a bad TCP segment: ${v}`);
  // The stack must have filled the checksum (the channel link offers no offload).
  const sum = checksumViews([b.subarray(off, off + len)], pseudoHeaderChecksumAddr(TCP_PROTOCOL, ip.src(), ip.dst(), len));
  if (sum !== 0xffff) throw new Error("stack wrote a segment with a bad checksum");
  return { ...parseTcp(v), src: ip.src().toString(), dst: ip.dst().toString(), ttl: ip.ttl, tos: ip.tos, ipFlags: ip.flags, payload: v.payload().slice(), raw: b, at };
}

const FLAG_NAMES = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];

export function flagNames(f: number): string {
  return FLAG_NAMES.filter((_, i) => f & (1 << i)).join("|");
}

export function describe(s: SentSegment): string {
  return `${flagNames(s.flags)} seq=${s.seq} ack=${s.ack} win=${s.window} len=${s.payloadLength}`;
}

// ---------------------------------------------------------------------------------------- scripted connections

export const SYN = 0x02;
export const FIN = 0x01;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

/** A connection between the stack and the scripted peer, and the sequence state of the peer's side. */
export interface Scripted {
  ep: TcpEndpoint;
  wq: WaiterQueue;
  /** The stack's ISS and the peer's ISS. */
  iss: number;
  irs: number;
  /** The peer's next sequence number and what it has acknowledged of the stack's. */
  peerNxt: number;
  /** What the peer acknowledges next (the stack's next expected byte from the peer's view). */
  stackNxt: number;
  listener?: TcpEndpoint;
}

export const PEER_ISS = 1_000_000;

/**
 * The stack connects to the peer (10.0.0.2:`port`); the peer answers SYN-ACK (with `mss`,
 * window `window`) and the stack's ACK is consumed. Returns the ESTABLISHED connection.
 */
export function openClient(peer: TcpPeer, opts: {
  port?: number; mss?: number; window?: number; setup?: (ep: TcpEndpoint) => void;
  /** More options on the SYN-ACK (e.g. SACK-permitted). */
  synAckOpts?: TcpOptionsSpec;
} = {}): Scripted {
  const wq = new WaiterQueue();
  const ep = newTcp(peer.stack, wq);
  opts.setup?.(ep);
  const r = ep.connect(addr(B, opts.port ?? 80));
  if (!isError(r) || r.name !== "connect-started") throw new Error(`connect: ${r}`);
  const syn = peer.one();
  peer.peerPort = opts.port ?? 80;
  peer.stackPort = syn.srcPort;
  peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, mss: opts.mss ?? 1460, window: opts.window ?? 65535, opts: opts.synAckOpts });
  const ack = peer.one();
  if (ack.flags !== ACK) throw new Error(`expected the handshake's ACK, got ${describe(ack)}`);
  return { ep, wq, iss: syn.seq, irs: PEER_ISS, peerNxt: PEER_ISS + 1, stackNxt: (syn.seq + 1) >>> 0 };
}

/**
 * A listener on 10.0.0.1:80; the peer connects (SYN with `mss`, SYN-ACK, ACK) and the
 * connection is accepted.
 */
export function openServer(peer: TcpPeer, opts: { mss?: number; window?: number; backlog?: number; setup?: (l: TcpEndpoint) => void } = {}): Scripted {
  const listener = newTcp(peer.stack);
  opts.setup?.(listener);
  expectNull(listener.bind(addr(A, 80)));
  expectNull(listener.listen(opts.backlog ?? 8));
  peer.stackPort = 80;
  peer.send({ seq: PEER_ISS, flags: SYN, mss: opts.mss ?? 1460, window: opts.window ?? 65535 });
  const synack = peer.one();
  if (synack.flags !== (SYN | ACK)) throw new Error(`expected SYN-ACK, got ${describe(synack)}`);
  peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK, window: opts.window ?? 65535 });
  const acc = ok(listener.accept());
  return {
    ep: acc.endpoint as TcpEndpoint, wq: acc.waiterQueue, iss: synack.seq, irs: PEER_ISS, peerNxt: PEER_ISS + 1,
    stackNxt: (synack.seq + 1) >>> 0, listener,
  };
}

/** Records the events notified on a waiter queue. */
export function recordEvents(wq: WaiterQueue, mask = 0xffff): number[] {
  const seen: number[] = [];
  wq.register({ callback: (ev) => seen.push(ev) }, mask);
  return seen;
}

export function bytes(n: number, start = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (start + i) & 0xff;
  return b;
}

/** Reads everything queued (up to `max`) and returns it, or the error. */
export function readAll(ep: TcpEndpoint, max = 1 << 20): Uint8Array | TcpipError {
  const buf = new Uint8Array(max);
  const r = ep.read(buf);
  if (isError(r)) return r;
  return buf.slice(0, r.count);
}
