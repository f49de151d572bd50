/**
 * Test fixtures: stacks wired over in-memory links on a ManualClock, and helpers to pump them.
 */
import { ManualClock } from "../../src/clock/clock.js";
import { SeededRandom } from "../../src/clock/random.js";
import { Stack } from "../../src/stack/stack.js";
import { ipv4 } from "../../src/network/ipv4/index.js";
import { arp } from "../../src/network/arp/index.js";
import { udp } from "../../src/transport/udp/index.js";
import { icmp } from "../../src/transport/icmp/index.js";
import { Pipe } from "../../src/link/pipe.js";
import { EthernetEndpoint } from "../../src/link/ethernet.js";
import { FaultEndpoint, type Faults } from "../../src/link/fault.js";
import type { LinkEndpoint } from "../../src/link/link.js";
import type { TransportProtocolFactory } from "../../src/stack/registration.js";
import { Address, IPV4_PROTOCOL, type FullAddress } from "../../src/tcpip/address.js";
import { isError, type TcpipError } from "../../src/tcpip/errors.js";
import type { Endpoint } from "../../src/tcpip/endpoint.js";
import { WaiterQueue } from "../../src/waiter/queue.js";
import { encodeIPv4 } from "../../src/header/ipv4.js";
import { checksum } from "../../src/header/checksum.js";

export interface PairOptions {
  mtu?: number;
  seed?: number;
  capabilities?: number;
  /** Ethernet framing + ARP instead of a bare L3 pipe. */
  ethernet?: boolean;
  /** Faults applied to what each side sends. */
  faults?: Partial<Faults>;
  transports?: TransportProtocolFactory[];
}

export interface Pair {
  clock: ManualClock;
  a: Stack;
  b: Stack;
  pipe: Pipe;
  addrA: Address;
  addrB: Address;
  faultA: FaultEndpoint | null;
  faultB: FaultEndpoint | null;
  /** Delivers until both directions are quiet (without advancing time). */
  pump(): void;
  /** Advances virtual time in `stepMs` steps for `totalMs`, pumping at each step. */
  run(totalMs: number, stepMs?: number): void;
}

/** Two stacks, 198.18.0.1/24 (a) and 198.18.0.2/24 (b), over a pipe on one ManualClock. */
export function makePair(opts: PairOptions = {}): Pair {
  const clock = new ManualClock();
  const random = new SeededRandom(opts.seed ?? 1);
  const mtu = opts.mtu ?? 1500;
  const pipe = new Pipe({
    mtu, clock, capabilities: opts.capabilities ?? 0, maxHeaderLength: opts.ethernet ? 14 : 0,
  });
  const transports = opts.transports ?? [udp, icmp];
  const mk = (seed: number) => new Stack({
    networkProtocols: opts.ethernet ? [ipv4, arp] : [ipv4], transportProtocols: transports, clock,
    random: new SeededRandom(seed),
  });
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
  if (opts.ethernet) {
    linkA = new EthernetEndpoint(linkA, { mac: "02:00:00:00:00:0a" });
    linkB = new EthernetEndpoint(linkB, { mac: "02:00:00:00:00:0b" });
  }
  a.createNic(1, linkA, { name: "a0" });
  b.createNic(1, linkB, { name: "b0" });
  a.addAddress(1, "198.18.0.1/24");
  b.addAddress(1, "198.18.0.2/24");
  a.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  b.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  const pump = () => {
    for (let i = 0; i < 100_000; i++) {
      clock.advance(0);
      if (pipe.queued === 0) return;
      pipe.drainAll();
    }
    throw new Error("pump did not settle");
  };
  return {
    clock, a, b, pipe, addrA: Address.from("198.18.0.1"), addrB: Address.from("198.18.0.2"), faultA, faultB, pump,
    run(totalMs: number, stepMs = 1) {
      for (let t = 0; t < totalMs; t += stepMs) {
        pump();
        clock.advance(stepMs);
      }
      pump();
    },
  };
}

/** Creates an endpoint or fails the test with the error. */
export function newEp(stack: Stack, transProto: number, wq = new WaiterQueue()): Endpoint {
  const ep = stack.newEndpoint(transProto, IPV4_PROTOCOL, wq);
  if (isError(ep)) throw new Error(`newEndpoint: ${ep}`);
  return ep;
}

/** Unwraps a result or throws with the error's name. */
export function ok<T>(v: T | TcpipError): T {
  if (isError(v)) throw new Error(`unexpected error ${v.name} (${v.code})`);
  return v;
}

export function addr(s: string, port: number): FullAddress {
  return { addr: Address.from(s), port };
}

/** An IPv4 packet carrying an ICMP echo request (RFC 792) from `src` to `dst`, checksums correct. */
export function rawPing(src: string, dst: string): Uint8Array {
  const pkt = new Uint8Array(28);
  encodeIPv4(pkt, 0, { tos: 0, totalLength: 28, id: 1, flags: 0, fragmentOffset: 0, ttl: 64, protocol: 1,
    src: Address.from(src), dst: Address.from(dst) });
  pkt[20] = 8;
  const c = ~checksum(pkt, 20, 8) & 0xffff;
  pkt[22] = c >> 8;
  pkt[23] = c & 0xff;
  return pkt;
}
