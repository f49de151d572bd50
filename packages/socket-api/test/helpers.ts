/**
 * Test fixtures for socket-api: two stacks over an in-memory pipe, either on a ManualClock
 * (deterministic: `settle()` pumps packets and moves virtual time) or on the real clock with
 * microtask delivery (for real Node streams: node:http, node:tls).
 */
import {
  Address, ManualClock, Pipe, SeededRandom, Stack, icmp, ipv4, ipv6, tcp, udp, type TransportProtocolFactory,
} from "@netstack-ts/netstack";

export interface StackPair {
  a: Stack;
  b: Stack;
  pipe: Pipe;
  addrA: string;
  addrB: string;
  clock: ManualClock | null;
  /** ManualClock pairs: deliver everything queued and advance virtual time by `ms` (in 5 ms steps). */
  settle(ms?: number): void;
  close(): void;
}

function transports(): TransportProtocolFactory[] {
  return [udp, icmp, tcp];
}

function build(clock: ManualClock | null, mtu: number, seed: number, v6 = false): StackPair {
  const pipe = clock ? new Pipe({ mtu, clock }) : new Pipe({ mtu });
  const rnd = new SeededRandom(seed);
  const mk = (s: number) => new Stack({
    networkProtocols: v6 ? [ipv4, ipv6] : [ipv4], transportProtocols: transports(),
    ...(clock ? { clock, random: new SeededRandom(s) } : {}),
  });
  const a = mk(rnd.uint32());
  const b = mk(rnd.uint32());
  a.createNic(1, pipe.a, { name: "eth0" });
  b.createNic(1, pipe.b, { name: "eth0" });
  a.addAddress(1, "198.18.0.1/24");
  b.addAddress(1, "198.18.0.2/24");
  a.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  b.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  if (v6) {
    a.addAddress(1, "fd00:198:18::1/64");
    b.addAddress(1, "fd00:198:18::2/64");
    a.addRoute({ destination: "fd00:198:18::/64", nic: 1 });
    b.addRoute({ destination: "fd00:198:18::/64", nic: 1 });
  }
  const pump = () => {
    if (!clock) return;
    for (let i = 0; i < 100_000; i++) {
      clock.advance(0);
      if (pipe.queued === 0) return;
      pipe.drainAll();
    }
    throw new Error("pump did not settle");
  };
  return {
    a, b, pipe, addrA: "198.18.0.1", addrB: "198.18.0.2", clock,
    settle(ms = 0) {
      pump();
      if (!clock) return;
      for (let t = 0; t < ms; t += 5) {
        clock.advance(Math.min(5, ms - t));
        pump();
      }
    },
    close() {
      a.close();
      b.close();
    },
  };
}

/**
 * Two stacks (198.18.0.1 and 198.18.0.2 on NIC "eth0", the benchmarking range: nothing real
 * lives there) on one ManualClock.
 */
export function manualPair(opts: { mtu?: number; seed?: number; ipv6?: boolean } = {}): StackPair {
  return build(new ManualClock(), opts.mtu ?? 1500, opts.seed ?? 7, opts.ipv6 ?? false);
}

/** Two stacks on the real clock with microtask delivery (for node:http / node:tls tests). */
export function realPair(opts: { mtu?: number } = {}): StackPair {
  return build(null, opts.mtu ?? 1500, 1);
}

/** Drives a ManualClock pair until `p` settles (bounded), then returns its value. */
export async function drive<T>(pair: StackPair, p: Promise<T>, maxMs = 120_000): Promise<T> {
  let done = false;
  const wrapped = p.finally(() => {
    done = true;
  });
  wrapped.catch(() => {});
  for (let t = 0; t < maxMs && !done; t += 5) {
    pair.settle(5);
    await new Promise<void>((r) => setImmediate(r));
  }
  return wrapped;
}

export { Address };
