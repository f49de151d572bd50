/**
 * In-memory benchmarks: two netstack-ts stacks in this process over the `pipe` link, real clock,
 * TCP endpoints driven by their waiter queues (the way socket-api drives them).
 */
import {
  Address, CapRxChecksumOffload, CapTxChecksumOffload, Err, EventIn, EventOut, IPV4_PROTOCOL, Pipe, RealClock, Stack, TCP_PROTOCOL,
  WaiterQueue, ipv4, isError, type Accepted, type Endpoint, type TransportProtocolFactory,
} from "@netstack-ts/netstack";
import * as netstack from "@netstack-ts/netstack";
import { PATTERN, PATTERN_MASK, checkPattern, cpuNow, type Measurement } from "./common.js";

export const tcpFactory = (netstack as { tcp?: TransportProtocolFactory }).tcp;

export interface InMemPair {
  a: Stack;
  b: Stack;
  pipe: Pipe;
  close(): void;
}

export function makeInMemPair(mtu: number, offload: boolean): InMemPair {
  if (!tcpFactory) throw new Error("TCP is not available in @netstack-ts/netstack");
  const caps = offload ? CapRxChecksumOffload | CapTxChecksumOffload : 0;
  const pipe = new Pipe({ mtu, capabilities: caps, queueSize: 1 << 16 });
  const mk = (link: import("@netstack-ts/netstack").LinkEndpoint, cidr: string) => {
    const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [tcpFactory!] });
    s.createNic(1, link);
    s.addAddress(1, cidr);
    s.addRoute({ destination: "198.18.0.0/24", nic: 1 });
    return s;
  };
  const a = mk(pipe.a, "198.18.0.1/24");
  const b = mk(pipe.b, "198.18.0.2/24");
  // Nothing else keeps the process alive while a transfer waits for a retransmission timer (an
  // in-memory pipe has no handle): the clocks' timers do, until the pair is closed.
  const clocks = [a.clock, b.clock].filter((c): c is RealClock => c instanceof RealClock);
  for (const c of clocks) c.ref();
  return { a, b, pipe, close: () => { a.close(); b.close(); for (const c of clocks) c.unref(); } };
}

function open(s: Stack, wq: WaiterQueue): Endpoint {
  const ep = s.newEndpoint(TCP_PROTOCOL, IPV4_PROTOCOL, wq);
  if (isError(ep)) throw new Error(ep.message);
  return ep;
}

/** Sets large socket buffers (like a tuned bulk sender) when the endpoint supports them. */
function bigBuffers(ep: Endpoint): void {
  ep.setSockOpt("sendBufferSize", 2 * 1024 * 1024);
  ep.setSockOpt("receiveBufferSize", 2 * 1024 * 1024);
}

export interface Connected {
  client: Endpoint;
  cwq: WaiterQueue;
  server: Endpoint;
  swq: WaiterQueue;
}

export interface ConnectedPair extends Connected {
  listener: Endpoint;
  /** Another connection to the same listener (paired by the client's port). */
  connectMore(): Promise<Connected>;
}

/** The accepted connections not yet paired, and the clients waiting for theirs (by client port). */
interface Pairing {
  accepted: Map<number, Accepted>;
  waiting: Map<number, PendingConnect>;
}

/**
 * One connection being set up by connectMore. It is its own waiter entry and settles its promise
 * from methods, so a connection costs the harness no closures (under tsx each closure created
 * also costs a defineProperty for its name): harness overhead that is not the stack's.
 */
class PendingConnect {
  resolve: (c: Connected) => void = settleNothing;
  reject: (e: Error) => void = settleNothing;
  constructor(readonly client: Endpoint, readonly cwq: WaiterQueue, private readonly pairing: Pairing) {}

  /** WaiterEntry: EventOut on the client. */
  callback(): void {
    if (!this.client.readiness(EventOut)) return;
    this.cwq.unregister(this);
    this.connected();
  }

  connected(): void {
    const la = this.client.getLocalAddress();
    if (isError(la)) {
      this.reject(new Error(la.message));
      return;
    }
    // The listener's waiter (drain) has taken every connection established so far.
    const a = this.pairing.accepted.get(la.port);
    if (a) {
      this.pairing.accepted.delete(la.port);
      this.paired(a);
    } else this.pairing.waiting.set(la.port, this);
  }

  paired(a: Accepted): void {
    this.resolve({ client: this.client, cwq: this.cwq, server: a.endpoint, swq: a.waiterQueue });
  }
}

function settleNothing(): void {}

/** The PendingConnect whose promise is being constructed (the executor runs synchronously). */
let constructing: PendingConnect | null = null;
function takeSettlers(resolve: (c: Connected) => void, reject: (e: Error) => void): void {
  constructing!.resolve = resolve;
  constructing!.reject = reject;
}

/** Connects a client on `p.a` to a listener on `p.b`; resolves with both ends. */
export async function connectPair(p: InMemPair, port: number, big = true): Promise<ConnectedPair> {
  const lwq = new WaiterQueue();
  const listener = open(p.b, lwq);
  if (big) bigBuffers(listener);
  if (listener.bind({ port })) throw new Error("bind failed");
  listener.listen(4096);
  // Accepted connections by the client's port; clients waiting for theirs, by their own port.
  const pairing: Pairing = { accepted: new Map(), waiting: new Map() };
  const drain = () => {
    for (;;) {
      const a = listener.accept();
      if (isError(a)) return;
      const rp = a.peer.port;
      const w = pairing.waiting.get(rp);
      if (w) {
        pairing.waiting.delete(rp);
        w.paired(a);
      } else pairing.accepted.set(rp, a);
    }
  };
  lwq.register({ callback: drain }, EventIn);
  // Parsed once: the peer's address is the harness's constant, not work the stack does per connection.
  const peer = { addr: Address.from("198.18.0.2"), port };
  // One promise per connection: it settles once the client is connected (EventOut) and the
  // listener has handed out the server end with the client's port.
  const connectMore = (): Promise<Connected> => {
    const cwq = new WaiterQueue();
    const client = open(p.a, cwq);
    if (big) bigBuffers(client);
    const pc = new PendingConnect(client, cwq, pairing);
    constructing = pc;
    const done = new Promise<Connected>(takeSettlers);
    constructing = null;
    const r = client.connect(peer);
    if (r !== Err.ConnectStarted && r !== null) {
      pc.reject(new Error(`connect: ${r.message}`));
      return done;
    }
    if (client.readiness(EventOut)) pc.connected();
    else cwq.register(pc, EventOut);
    return done;
  };
  const first = await connectMore();
  return { ...first, listener, connectMore };
}

export function waitFor(ep: Endpoint, wq: WaiterQueue, mask: number): Promise<void> {
  if (ep.readiness(mask)) return Promise.resolve();
  return new Promise((resolve) => {
    const entry = { callback: () => { if (ep.readiness(mask)) { wq.unregister(entry); resolve(); } } };
    wq.register(entry, mask);
  });
}

/** Bulk: `bytes` from a to b over one connection, verified; Gbit/s. */
export async function stackBulk(bytes: number, mtu: number, offload: boolean): Promise<Measurement> {
  const p = makeInMemPair(mtu, offload);
  const { client, cwq, server, swq, listener } = await connectPair(p, 5001);
  let received = 0;
  let ok = true;
  const rbuf = new Uint8Array(1 << 20);
  const cpu0 = cpuNow();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    const write = () => {
      while (sent < bytes) {
        const at = sent & PATTERN_MASK;
        const n = Math.min(bytes - sent, 256 * 1024, PATTERN.length - at);
        const w = client.write(PATTERN.subarray(at, at + n));
        if (isError(w)) {
          if (w === Err.WouldBlock) return;
          reject(new Error(`write: ${w.message}`));
          return;
        }
        sent += w;
      }
    };
    const read = () => {
      for (;;) {
        const r = server.read(rbuf);
        if (isError(r)) {
          if (r !== Err.WouldBlock) reject(new Error(`read: ${r.message}`));
          return;
        }
        if (ok && !checkPattern(rbuf.subarray(0, r.count), received)) ok = false;
        received += r.count;
        if (received >= bytes) {
          resolve();
          return;
        }
      }
    };
    cwq.register({ callback: write }, EventOut);
    swq.register({ callback: read }, EventIn);
    write();
    read();
  });
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - cpu0;
  client.abort();
  server.abort();
  listener.close();
  p.close();
  if (!ok || received !== bytes) throw new Error(`stack bulk: verification failed (${received}/${bytes})`);
  return { value: (bytes * 8) / secs / 1e9, cpuSeconds: cpu, verified: received };
}

/** `count` 64-byte round trips over one connection (TCP_NODELAY); round trips/s. */
export async function stackPingPong(count: number): Promise<Measurement> {
  const p = makeInMemPair(1500, false);
  const { client, cwq, server, swq, listener } = await connectPair(p, 5002);
  client.setSockOpt("noDelay", true);
  server.setSockOpt("noDelay", true);
  const msg = PATTERN.subarray(0, 64);
  const sbuf = new Uint8Array(4096);
  let pendingEcho = 0;
  swq.register({ callback: () => {
    for (;;) {
      const r = server.read(sbuf);
      if (isError(r)) break;
      pendingEcho += r.count;
    }
    while (pendingEcho >= 64) {
      const w = server.write(msg);
      if (isError(w)) break;
      pendingEcho -= 64;
    }
  } }, EventIn);
  const lat: number[] = [];
  const cbuf = new Uint8Array(4096);
  const cpu0 = cpuNow();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let done = 0;
    let got = 0;
    let ts = 0;
    const send = () => {
      ts = performance.now();
      client.write(msg);
    };
    cwq.register({ callback: () => {
      for (;;) {
        const r = client.read(cbuf);
        if (isError(r)) break;
        got += r.count;
      }
      while (got >= 64) {
        got -= 64;
        lat.push(performance.now() - ts);
        if (++done === count) {
          resolve();
          return;
        }
        send();
      }
    } }, EventIn);
    send();
  });
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - cpu0;
  client.abort();
  server.abort();
  listener.close();
  p.close();
  lat.sort((a, b) => a - b);
  return {
    value: count / secs, cpuSeconds: cpu, verified: count,
    extra: { medianUs: lat[lat.length >> 1]! * 1000, p99Us: lat[Math.floor(lat.length * 0.99)]! * 1000 },
  };
}
