/**
 * The stack fuzzer: a live victim stack, connected to a peer stack over a pipe and serving real
 * traffic, is fed a stream of random frames and mutations of valid frames while invariants are
 * checked continuously:
 *  - no exception escapes the stack (victim or peer);
 *  - every injected frame is accounted for: some counter other than the "received" ones moves
 *    (delivered, answered, or dropped with a reason);
 *  - the heap after GC stays within a fixed bound of the baseline;
 *  - the peer's verified flows (UDP echo, and TCP echo when TCP is available) keep working, and a
 *    new connection still succeeds at the end.
 * Deterministic: a seed fixes every random choice (ManualClock + SeededRandom everywhere), so a
 * failure replays exactly by running the same seed to the same frame.
 */
import * as v8 from "node:v8";
import * as vm from "node:vm";
import {
  Address, Err, EventIn, EventOut, IPV4_PROTOCOL, ManualClock, Pipe, SeededRandom, Stack, UDP_PROTOCOL, WaiterQueue, icmp,
  ipv4, isError, udp, type Endpoint, type LinkEndpoint, type NetworkDispatcher, type PacketBuffer,
  type TransportProtocolFactory,
} from "@netstack-ts/netstack";
import * as netstack from "@netstack-ts/netstack";
import { fixChecksums, mutate, randInt, randomFrame } from "./mutate.js";

const tcpFactory = (netstack as { tcp?: TransportProtocolFactory }).tcp;
const TCP = 6;

/** Sits between the victim's NIC and the pipe: records what arrives, lets the fuzzer inject. */
class InjectorLink implements LinkEndpoint, NetworkDispatcher {
  private dispatcher: NetworkDispatcher | null = null;
  /** Recent valid frames that crossed toward the victim (templates for mutation). */
  readonly samples: Uint8Array[] = [];
  private sampleAt = 0;
  sampling = true;

  constructor(readonly inner: LinkEndpoint, private readonly exclude: (b: Uint8Array) => boolean) {}
  get mtu() { return this.inner.mtu; }
  get maxHeaderLength() { return this.inner.maxHeaderLength; }
  get linkAddress() { return this.inner.linkAddress; }
  get capabilities() { return this.inner.capabilities; }
  get isAttached() { return this.dispatcher !== null; }
  attach(d: NetworkDispatcher | null): void {
    this.dispatcher = d;
    this.inner.attach(d ? this : null);
  }
  writePackets(pkts: readonly PacketBuffer[]): number {
    return this.inner.writePackets(pkts);
  }
  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    if (this.sampling) {
      const b = pkt.buf.slice(pkt.start, pkt.end);
      if (!this.exclude(b)) {
        if (this.samples.length < 512) this.samples.push(b);
        else this.samples[this.sampleAt++ % 512] = b;
      }
    }
    this.dispatcher?.deliverNetworkPacket(protocol, pkt);
  }
  deliverBatchEnd(): void {
    this.dispatcher?.deliverBatchEnd();
  }
  inject(b: Uint8Array): void {
    const d = this.dispatcher;
    if (!d) return;
    const v = b[0] === undefined ? 0 : b[0] >> 4;
    const pkt = netstack.PacketBuffer.inbound(b.slice());
    d.deliverNetworkPacket(v === 4 ? 0x0800 : v === 6 ? 0x86dd : 0, pkt);
    d.deliverBatchEnd();
  }
}

export interface FuzzOptions {
  frames: number;
  seed: number;
  /** Check the flows every this many frames. */
  checkEvery?: number;
  /** Allowed heap growth over the baseline (bytes). */
  heapBound?: number;
  /** Called with progress every 100,000 frames. */
  progress?: (done: number) => void;
}

export interface FuzzFailure {
  seed: number;
  index: number;
  reason: string;
  frame: string; // base64
}

export interface FuzzResult {
  frames: number;
  seconds: number;
  failures: FuzzFailure[];
  heapGrowth: number;
  flowChecks: number;
  counters: ReturnType<Stack["snapshot"]>;
}

/** Sum of every counter except those that move on every received packet (not an outcome). */
function outcomeSum(s: Stack): number {
  const skip = new Set(["packetsReceived", "rx", "bytes"]);
  let total = 0;
  const walk = (o: unknown, key: string) => {
    if (typeof o === "number") {
      if (!skip.has(key)) total += o;
      return;
    }
    if (o && typeof o === "object") for (const [k, v] of Object.entries(o)) if (!skip.has(k)) walk(v, k);
  };
  walk(s.stats, "");
  for (const n of s.allNics()) walk({ ...n.stats, rx: 0 }, "");
  return total;
}

let gcFn: (() => void) | null = null;
function gc(): void {
  if (!gcFn) {
    v8.setFlagsFromString("--expose-gc");
    gcFn = vm.runInNewContext("gc") as () => void;
  }
  gcFn();
}

export function runFuzz(opts: FuzzOptions): FuzzResult {
  const r = new SeededRandom(opts.seed);
  const clock = new ManualClock();
  const pipe = new Pipe({ mtu: 1500, clock });
  const transports: TransportProtocolFactory[] = [udp, icmp, ...(tcpFactory ? [tcpFactory] : [])];
  const mk = (seed: number) => new Stack({ networkProtocols: [ipv4], transportProtocols: transports, clock,
    random: new SeededRandom(seed) });
  const victim = mk(r.uint32());
  const peer = mk(r.uint32());
  // The monitored flows use peer ports 41000–41099: never use their frames as templates, since a
  // mutated copy with the exact 4-tuple and sequence numbers is an attack no stack can refuse
  // (an in-window RST from the path).
  const monitored = (b: Uint8Array) => {
    if (b.length < 24 || b[0]! >> 4 !== 4) return false;
    const ihl = (b[0]! & 15) * 4;
    const sp = (b[ihl]! << 8) | b[ihl + 1]!;
    return sp >= 41000 && sp < 41100;
  };
  const inj = new InjectorLink(pipe.a, monitored);
  victim.createNic(1, inj, { name: "victim0" });
  peer.createNic(1, pipe.b, { name: "peer0" });
  victim.addAddress(1, "198.18.0.1/24");
  peer.addAddress(1, "198.18.0.2/24");
  victim.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  peer.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  const V = Address.from("198.18.0.1");
  const failures: FuzzFailure[] = [];
  const fail = (index: number, reason: string, frame: Uint8Array) => {
    if (failures.length < 20) failures.push({ seed: opts.seed, index, reason, frame: Buffer.from(frame).toString("base64") });
  };
  const pump = () => {
    for (let i = 0; i < 10_000; i++) {
      clock.advance(0);
      if (pipe.queued === 0) return;
      pipe.drainAll();
    }
  };

  // Victim services: UDP echo on 7 (and 9 discards), TCP echo on 7 when TCP is available.
  const open = (s: Stack, proto: number, wq = new WaiterQueue()) => {
    const ep = s.newEndpoint(proto, IPV4_PROTOCOL, wq);
    if (isError(ep)) throw new Error(String(ep));
    return ep;
  };
  const uwq = new WaiterQueue();
  const userver = open(victim, UDP_PROTOCOL, uwq);
  userver.bind({ port: 7 });
  const ubuf = new Uint8Array(65536);
  uwq.register({ callback: () => {
    for (let i = 0; i < 1000; i++) {
      const res = userver.read(ubuf, { needRemoteAddr: true });
      if (isError(res)) return;
      userver.write(ubuf.subarray(0, res.count), { to: res.from! });
    }
  } }, EventIn);
  const uclient = open(peer, UDP_PROTOCOL);
  uclient.bind({ port: 41000 });
  uclient.connect({ addr: V, port: 7 });

  let tcpConns: { client: Endpoint; sent: number; got: number }[] = [];
  const tcpEcho = new Map<Endpoint, WaiterQueue>();
  if (tcpFactory) {
    const lwq = new WaiterQueue();
    const listener = open(victim, TCP, lwq);
    listener.bind({ port: 7 });
    listener.listen(128);
    const tbuf = new Uint8Array(65536);
    lwq.register({ callback: () => {
      for (;;) {
        const a = listener.accept();
        if (isError(a)) return;
        const ep = a.endpoint;
        tcpEcho.set(ep, a.waiterQueue);
        // Echo with backpressure: bytes the send buffer cannot take yet wait in `pending`.
        let pending: Uint8Array | null = null;
        const serve = () => {
          for (let i = 0; i < 64; i++) {
            if (pending) {
              const w = ep.write(pending);
              if (isError(w)) return;
              pending = w < pending.length ? pending.subarray(w) : null;
              if (pending) return;
            }
            const res = ep.read(tbuf);
            if (isError(res)) {
              if (res === Err.ClosedForReceive) ep.shutdown(2);
              return;
            }
            pending = tbuf.slice(0, res.count);
          }
        };
        a.waiterQueue.register({ callback: serve }, EventIn | EventOut);
        serve();
      }
    } }, EventIn);
    for (let i = 0; i < 3; i++) {
      const c = open(peer, TCP);
      c.bind({ port: 41001 + i });
      c.connect({ addr: V, port: 7 });
      tcpConns.push({ client: c, sent: 0, got: 0 });
    }
    for (let i = 0; i < 50; i++) { pump(); clock.advance(10); }
  }

  // The pattern byte at stream offset n.
  const pat = (n: number) => (n * 131 + (n >> 8)) & 0xff;
  let flowChecks = 0;
  const checkFlows = (index: number) => {
    flowChecks++;
    // UDP: ten datagrams echoed intact.
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      const d = new Uint8Array(1 + randInt(r, 1200));
      r.fill(d);
      sent.push(d);
      uclient.write(d);
    }
    pump();
    const buf = new Uint8Array(2048);
    for (const d of sent) {
      let res = uclient.read(buf);
      if (res === Err.ConnectionRefused || res === Err.HostUnreachable) res = uclient.read(buf);
      if (isError(res) || res.count !== d.length || Buffer.compare(buf.subarray(0, res.count), d) !== 0) {
        fail(index, `UDP flow broken: ${isError(res) ? res.code : "data mismatch"}`, new Uint8Array(0));
        return;
      }
    }
    // TCP: each monitored connection moves 4 KiB more, verified.
    for (const c of tcpConns) {
      const chunk = new Uint8Array(4096);
      for (let i = 0; i < chunk.length; i++) chunk[i] = pat(c.sent + i);
      let off = 0;
      for (let t = 0; t < 200 && (off < chunk.length || c.got < c.sent + off); t++) {
        if (off < chunk.length) {
          const w = c.client.write(chunk.subarray(off));
          if (!isError(w)) off += w;
        }
        pump();
        for (;;) {
          const res = c.client.read(buf);
          if (isError(res)) break;
          for (let i = 0; i < res.count; i++) {
            if (buf[i] !== pat(c.got + i)) {
              fail(index, "TCP flow data mismatch", new Uint8Array(0));
              return;
            }
          }
          c.got += res.count;
        }
        clock.advance(5);
      }
      c.sent += off;
      if (c.got !== c.sent) fail(index, `TCP flow stalled: sent ${c.sent}, echoed ${c.got}`, new Uint8Array(0));
    }
  };

  // Fixed templates, addressed to the victim, so there is always something valid to mutate.
  const templates: Uint8Array[] = [];
  const mkIp = (proto: number, payload: Uint8Array, src = "198.18.0.2") => {
    const b = new Uint8Array(20 + payload.length);
    netstack.header.encodeIPv4(b, 0, { tos: 0, totalLength: b.length, id: randInt(r, 65536), flags: 0,
      fragmentOffset: 0, ttl: 64, protocol: proto, src: Address.from(src), dst: V });
    b.set(payload, 20);
    fixChecksums(b);
    return b;
  };
  templates.push(mkIp(17, Uint8Array.of(0x9c, 0x40, 0, 7, 0, 12, 0, 0, 1, 2, 3, 4)));
  templates.push(mkIp(17, Uint8Array.of(0x9c, 0x40, 0x30, 0x39, 0, 9, 0, 0, 1)));
  templates.push(mkIp(1, Uint8Array.of(8, 0, 0, 0, 0x12, 0x34, 0, 1, 9, 9, 9, 9)));
  templates.push(mkIp(1, Uint8Array.of(3, 3, 0, 0, 0, 0, 0, 0, ...mkIp(17, Uint8Array.of(0, 7, 0x9c, 0x40, 0, 8, 0, 0)).map((x) => x))));
  const syn = new Uint8Array(24);
  netstack.header.encodeTcp(syn, 0, { srcPort: 50000, dstPort: 7, seq: 1000, ack: 0, flags: 0x02, window: 65535 }, 4);
  syn.set([2, 4, 5, 0xb4], 20);
  templates.push(mkIp(6, syn));
  const frag = mkIp(17, new Uint8Array(64));
  frag[6] = 0x20; // MF
  fixChecksums(frag);
  templates.push(frag);

  gc();
  const baseline = process.memoryUsage().heapUsed;
  let maxGrowth = 0;
  const heapBound = opts.heapBound ?? 64 * 1024 * 1024;
  const checkEvery = opts.checkEvery ?? 5000;
  const t0 = performance.now();
  for (let i = 0; i < opts.frames; i++) {
    let frame: Uint8Array;
    const choice = randInt(r, 10);
    if (choice < 2) frame = randomFrame(r);
    else if (choice < 5) frame = mutate(r, templates[randInt(r, templates.length)]!);
    else {
      const s = inj.samples;
      frame = s.length > 0 ? mutate(r, s[randInt(r, s.length)]!) : mutate(r, templates[randInt(r, templates.length)]!);
    }
    const before = outcomeSum(victim);
    try {
      inj.inject(frame);
    } catch (e) {
      fail(i, `exception: ${(e as Error)?.stack ?? String(e)}`, frame);
      continue;
    }
    if (outcomeSum(victim) === before) fail(i, "frame not accounted for by any counter", frame);
    if ((i & 63) === 63) {
      try {
        pump();
        clock.advance(1);
      } catch (e) {
        fail(i, `exception while pumping: ${(e as Error)?.stack ?? String(e)}`, frame);
      }
    }
    if (i % checkEvery === checkEvery - 1) {
      inj.sampling = false;
      checkFlows(i);
      inj.sampling = true;
    }
    if (i % 50_000 === 49_999) {
      gc();
      const growth = process.memoryUsage().heapUsed - baseline;
      maxGrowth = Math.max(maxGrowth, growth);
      if (growth > heapBound) fail(i, `heap grew by ${growth} bytes (bound ${heapBound})`, new Uint8Array(0));
    }
    if (opts.progress && i % 100_000 === 99_999) opts.progress(i + 1);
    if (failures.length >= 20) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  // Afterwards: flows still verify, and a brand-new exchange succeeds.
  checkFlows(opts.frames);
  const fresh = open(peer, UDP_PROTOCOL);
  fresh.connect({ addr: V, port: 7 });
  fresh.write(Uint8Array.of(1, 2, 3));
  pump();
  const fr = fresh.read(new Uint8Array(8));
  if (isError(fr) || fr.count !== 3) fail(opts.frames, "a new UDP exchange failed after fuzzing", new Uint8Array(0));
  if (tcpFactory) {
    const c = open(peer, TCP);
    c.connect({ addr: V, port: 7 });
    for (let i = 0; i < 20; i++) { pump(); clock.advance(10); }
    const w = c.write(Uint8Array.of(7, 7, 7));
    for (let i = 0; i < 20; i++) { pump(); clock.advance(10); }
    const res = c.read(new Uint8Array(8));
    if (isError(w) || isError(res) || res.count !== 3) fail(opts.frames, "a new TCP connection failed after fuzzing", new Uint8Array(0));
    tcpConns = [];
  }
  gc();
  maxGrowth = Math.max(maxGrowth, process.memoryUsage().heapUsed - baseline);
  return { frames: opts.frames, seconds, failures, heapGrowth: maxGrowth, flowChecks, counters: victim.snapshot() };
}

/** Injects one saved frame into a fresh victim (quick replay of a single-frame finding). */
export function replayFrame(frame: Uint8Array): { counters: ReturnType<Stack["snapshot"]>; error: unknown } {
  const clock = new ManualClock();
  const pipe = new Pipe({ mtu: 1500, clock });
  const transports: TransportProtocolFactory[] = [udp, icmp, ...(tcpFactory ? [tcpFactory] : [])];
  const s = new Stack({ networkProtocols: [ipv4], transportProtocols: transports, clock, random: new SeededRandom(1) });
  const inj = new InjectorLink(pipe.a, () => true);
  s.createNic(1, inj);
  s.addAddress(1, "198.18.0.1/24");
  s.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  let error: unknown = null;
  try {
    inj.inject(frame);
    clock.advance(100_000);
  } catch (e) {
    error = e;
  }
  return { counters: s.snapshot(), error };
}
