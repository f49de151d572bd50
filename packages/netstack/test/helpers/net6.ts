/**
 * IPv6 test fixtures: two dual-stack stacks (10.0.0.1/24 + fd00::1/64 and 10.0.0.2/24 +
 * fd00::2/64) over an in-memory pipe (L3) or Ethernet (L2 with ARP and NDP) on one ManualClock.
 */
import { ManualClock } from "../../src/clock/clock.js";
import { SeededRandom } from "../../src/clock/random.js";
import { Stack } from "../../src/stack/stack.js";
import { ipv4 } from "../../src/network/ipv4/index.js";
import { ipv6With, type Ipv6Options } from "../../src/network/ipv6/index.js";
import { arp } from "../../src/network/arp/index.js";
import { udp } from "../../src/transport/udp/index.js";
import { icmp, icmp6 } from "../../src/transport/icmp/index.js";
import { Pipe } from "../../src/link/pipe.js";
import { EthernetEndpoint } from "../../src/link/ethernet.js";
import { FaultEndpoint, type Faults } from "../../src/link/fault.js";
import type { LinkEndpoint } from "../../src/link/link.js";
import type { TransportProtocolFactory } from "../../src/stack/registration.js";
import { Address, IPV6_PROTOCOL } from "../../src/tcpip/address.js";
import { isError } from "../../src/tcpip/errors.js";
import type { Endpoint } from "../../src/tcpip/endpoint.js";
import { WaiterQueue } from "../../src/waiter/queue.js";
import { ChannelEndpoint } from "../../src/link/channel.js";
import { encodeIPv6, IPv6View } from "../../src/header/ipv6.js";
import { encodeUdp } from "../../src/header/udp.js";
import { checksum, pseudoHeaderChecksum } from "../../src/header/checksum.js";
import { ICMPv6View, encodeIcmpv6 } from "../../src/header/icmpv6.js";
import { walkIPv6Chain } from "../../src/header/ipv6-ext.js";
import { isParseError } from "../../src/header/parse.js";

export interface Pair6Options {
  mtu?: number;
  seed?: number;
  capabilities?: number;
  /** Ethernet framing with ARP and NDP instead of a bare L3 pipe. */
  ethernet?: boolean;
  /** Faults applied to what each side sends. */
  faults?: Partial<Faults>;
  transports?: TransportProtocolFactory[];
  ipv6?: Ipv6Options;
  /** Skip the 1.1 s of virtual time that lets DAD finish on Ethernet pairs. */
  noSettle?: boolean;
  /** Skip adding the fd00:: addresses and routes. */
  noGlobal?: boolean;
  /** Packets each pipe direction holds between drains (default 4096). */
  queueSize?: number;
  /** Wraps a's link (inside the Ethernet framing, outside the faults): a router, a sniffer ... */
  wrapA?: (link: LinkEndpoint) => LinkEndpoint;
}

export interface Pair6 {
  clock: ManualClock;
  a: Stack;
  b: Stack;
  pipe: Pipe;
  addrA: Address;
  addrB: Address;
  addrA4: Address;
  addrB4: Address;
  faultA: FaultEndpoint | null;
  faultB: FaultEndpoint | null;
  pump(): void;
  run(totalMs: number, stepMs?: number): void;
}

export const MAC_A = "02:00:00:00:00:0a";
export const MAC_B = "02:00:00:00:00:0b";

export function makePair6(opts: Pair6Options = {}): Pair6 {
  const clock = new ManualClock();
  const random = new SeededRandom(opts.seed ?? 1);
  const mtu = opts.mtu ?? 1500;
  const pipe = new Pipe({ mtu, clock, capabilities: opts.capabilities ?? 0, maxHeaderLength: opts.ethernet ? 14 : 0,
    ...(opts.queueSize ? { queueSize: opts.queueSize } : {}) });
  const transports = opts.transports ?? [udp, icmp, icmp6];
  const net = opts.ethernet ? [ipv4, ipv6With(opts.ipv6 ?? {}), arp] : [ipv4, ipv6With(opts.ipv6 ?? {})];
  const mk = (seed: number) => new Stack({ networkProtocols: net, transportProtocols: transports, clock,
    random: new SeededRandom(seed) });
  const a = mk(random.uint32());
  const b = mk(random.uint32());
  let linkA: LinkEndpoint = pipe.a;
  let linkB: LinkEndpoint = pipe.b;
  let faultA: FaultEndpoint | null = null;
  let faultB: FaultEndpoint | null = null;
  if (opts.faults) {
    faultA = new FaultEndpoint(linkA, { ...opts.faults, clock, random: new SeededRandom(random.uint32()) });
    faultB = new FaultEndpoint(linkB, { ...opts.faults, clock, random: new SeededRandom(random.uint32()) });
    linkA = faultA;
    linkB = faultB;
  }
  if (opts.wrapA) linkA = opts.wrapA(linkA);
  if (opts.ethernet) {
    linkA = new EthernetEndpoint(linkA, { mac: MAC_A });
    linkB = new EthernetEndpoint(linkB, { mac: MAC_B });
  }
  a.createNic(1, linkA, { name: "a0" });
  b.createNic(1, linkB, { name: "b0" });
  a.addAddress(1, "10.0.0.1/24");
  b.addAddress(1, "10.0.0.2/24");
  a.addRoute({ destination: "10.0.0.0/24", nic: 1 });
  b.addRoute({ destination: "10.0.0.0/24", nic: 1 });
  if (!opts.noGlobal) {
    a.addAddress(1, "fd00::1/64");
    b.addAddress(1, "fd00::2/64");
    a.addRoute({ destination: "fd00::/64", nic: 1 });
    b.addRoute({ destination: "fd00::/64", nic: 1 });
  }
  const pump = () => {
    for (let i = 0; i < 100_000; i++) {
      clock.advance(0);
      if (pipe.queued === 0) return;
      pipe.drainAll();
    }
    throw new Error("pump did not settle");
  };
  const run = (totalMs: number, stepMs = 1) => {
    for (let t = 0; t < totalMs; t += stepMs) {
      pump();
      clock.advance(stepMs);
    }
    pump();
  };
  // DAD (RFC 4862 §5.4) keeps Ethernet addresses tentative for one RetransTimer (1 s).
  if (opts.ethernet && !opts.noSettle) run(1100, 100);
  return {
    clock, a, b, pipe, addrA: Address.from("fd00::1"), addrB: Address.from("fd00::2"), addrA4: Address.from("10.0.0.1"),
    addrB4: Address.from("10.0.0.2"), faultA, faultB, pump, run,
  };
}

/** Creates an IPv6 endpoint (or one of `netProto`) or fails the test. */
export function newEp6(stack: Stack, transProto: number, wq = new WaiterQueue(), netProto = IPV6_PROTOCOL): Endpoint {
  const ep = stack.newEndpoint(transProto, netProto, wq);
  if (isError(ep)) throw new Error(`newEndpoint: ${ep}`);
  return ep;
}

/** An ICMP(v6) echo request message: type, code 0, sequence, data. */
export function echoMessage(type: number, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = type;
  m[6] = seq >> 8;
  m[7] = seq & 0xff;
  m.set(data, 8);
  return m;
}

// ------------------------------------------------------------------ one stack on a channel

export interface Channel6 {
  clock: ManualClock;
  link: ChannelEndpoint;
  s: Stack;
  /** The stack's address fd00::1 and the test's (the far side) fd00::2. */
  local: Address;
  remote: Address;
}

/** One dual-stack stack (fd00::1/64, 10.0.0.1/24) on a ChannelEndpoint: the test plays the peer. */
export function channelStack6(opts: { ipv6?: Ipv6Options; transports?: TransportProtocolFactory[]; mtu?: number } = {}): Channel6 {
  const clock = new ManualClock();
  const link = new ChannelEndpoint({ mtu: opts.mtu ?? 1500 });
  const s = new Stack({ networkProtocols: [ipv4, ipv6With(opts.ipv6 ?? {})], transportProtocols: opts.transports ?? [udp, icmp6],
    clock, random: new SeededRandom(3) });
  s.createNic(1, link);
  s.addAddress(1, "fd00::1/64");
  s.addAddress(1, "10.0.0.1/24");
  s.addRoute({ destination: "fd00::/64", nic: 1 });
  s.addRoute({ destination: "10.0.0.0/24", nic: 1 });
  return { clock, link, s, local: Address.from("fd00::1"), remote: Address.from("fd00::2") };
}

/** An IPv6 packet: fixed header then `payload` (extension headers and upper layer). */
export function ip6(src: Address, dst: Address, nextHeader: number, payload: Uint8Array, hopLimit = 64): Uint8Array {
  const b = new Uint8Array(40 + payload.length);
  encodeIPv6(b, 0, { trafficClass: 0, flowLabel: 0, payloadLength: payload.length, nextHeader, hopLimit, src, dst });
  b.set(payload, 40);
  return b;
}

/** A UDP datagram with a valid IPv6 checksum. */
export function udp6(src: Address, dst: Address, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length);
  encodeUdp(b, 0, { srcPort, dstPort, length: b.length });
  b.set(data, 8);
  let c = ~checksum(b, 0, b.length, pseudoHeaderChecksum(17, src.bytes, 0, dst.bytes, 0, 16, b.length)) & 0xffff;
  if (c === 0) c = 0xffff;
  b[6] = c >>> 8;
  b[7] = c & 0xff;
  return b;
}

/** An ICMPv6 message with a valid checksum. */
export function icmp6Msg(src: Address, dst: Address, type: number, code: number, rest: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  encodeIcmpv6(b, 0, { type, code, rest, payload }, src, dst);
  return b;
}

/** Parses an IPv6 packet the stack wrote: its header view, and the ICMPv6 message when it carries one. */
export function parse6(pkt: Uint8Array): { ip: IPv6View; upper: number; upperOff: number; icmp: ICMPv6View | null } {
  const ip = IPv6View.check(pkt);
  if (isParseError(ip)) throw new Error(`not an IPv6 packet: ${ip.reason}`);
  const c = walkIPv6Chain(pkt);
  if (isParseError(c)) throw new Error(`bad chain: ${c.reason}`);
  let icmp: ICMPv6View | null = null;
  if (c.upperLayer === 58) {
    const v = ICMPv6View.check(pkt, c.upperOffset, ip.totalLength - c.upperOffset);
    if (isParseError(v)) throw new Error("bad icmpv6");
    icmp = v;
  }
  return { ip, upper: c.upperLayer, upperOff: c.upperOffset, icmp };
}
