/**
 * Row 5, scale: N concurrent established connections between two in-memory stacks (pipe link,
 * MTU 1500, checksums computed): setup rate, heap per idle connection after GC, and aggregate
 * throughput when 1, 100, 1,000 of them carry data at once (each flow's bytes verified).
 * References: node:net over loopback for the same flow counts, and for the setup rate over as
 * many connections as the fd limit allows (each node:net connection costs two fds).
 */
import * as net from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { EventIn, EventOut, Err, isError, type Endpoint, type WaiterQueue } from "@netstack-ts/netstack";
import { PATTERN, PATTERN_MASK, checkPattern, cpuNow, type Measurement } from "./common.js";
import { connectPair, makeInMemPair, type ConnectedPair, type InMemPair } from "./inmem.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export interface ScaleResult {
  connections: number;
  setupPerSec: Measurement;
  /** Aggregate Gbit/s for each active-flow count. */
  flows: Map<number, Measurement>;
}

export interface HeapResult {
  /** Heap per established connection (both endpoints and the stacks' state for it). */
  heapPerConnection: number;
  /** Heap per endpoint (half of the above). */
  heapPerEndpoint: number;
}

/** Connection attempts in flight at once during setup (below the listen backlog of 4096). */
const SETUP_WINDOW = 1000;

interface Conn { client: Endpoint; cwq: WaiterQueue; server: Endpoint; swq: WaiterQueue }

/** Moves `per` bytes on each of `conns` at once, client → server, verified; aggregate Gbit/s. */
async function flowsOnce(p: InMemPair, conns: Conn[], per: number): Promise<Measurement> {
  const st0 = lossCounters(p);
  const rbuf = new Uint8Array(256 * 1024);
  const cpu0 = cpuNow();
  const t0 = performance.now();
  let bad = 0;
  await Promise.all(conns.map((c) => new Promise<void>((resolve, reject) => {
    let sent = 0;
    let received = 0;
    const wEntry = { callback: () => write() };
    const rEntry = { callback: () => read() };
    let writing = false;
    const write = () => {
      if (writing) return;
      writing = true;
      try { writeLoop(); } finally { writing = false; }
    };
    const writeLoop = () => {
      while (sent < per) {
        const at = sent & PATTERN_MASK;
        const n = Math.min(per - sent, 64 * 1024, PATTERN.length - at);
        const w = c.client.write(PATTERN.subarray(at, at + n));
        if (isError(w)) {
          if (w !== Err.WouldBlock) reject(new Error(`write: ${w.message}`));
          return;
        }
        sent += w;
      }
      c.cwq.unregister(wEntry);
    };
    // A read can provoke deliveries (a window update answered by new data) that call back in:
    // the callback then only asks the running loop to continue.
    let reading = false;
    const read = () => {
      if (reading) return;
      reading = true;
      try { readLoop(); } finally { reading = false; }
    };
    const readLoop = () => {
      for (;;) {
        const r = c.server.read(rbuf);
        if (isError(r)) {
          if (r !== Err.WouldBlock) reject(new Error(`read: ${r.message}`));
          return;
        }
        if (!checkPattern(rbuf.subarray(0, r.count), received)) bad++;
        received += r.count;
        if (received >= per) {
          c.swq.unregister(rEntry);
          if (received !== per) bad++;
          resolve();
          return;
        }
      }
    };
    c.cwq.register(wEntry, EventOut);
    c.swq.register(rEntry, EventIn);
    write();
    read();
  })));
  const secs = (performance.now() - t0) / 1000;
  if (bad) throw new Error(`scale: ${bad} flows failed verification`);
  const total = per * conns.length;
  const st1 = lossCounters(p);
  const extra: Record<string, number> = {};
  for (const k of Object.keys(st1) as (keyof typeof st1)[]) extra[k] = st1[k] - st0[k];
  return { value: (total * 8) / secs / 1e9, cpuSeconds: cpuNow() - cpu0, verified: total, extra };
}

/** Link drops and TCP loss recovery on both stacks (a flow-count figure with losses says so). */
function lossCounters(p: InMemPair) {
  const a = p.a.stats.tcp;
  const b = p.b.stats.tcp;
  return {
    linkDrops: p.pipe.aToB.drops + p.pipe.bToA.drops,
    retransmits: a.retransmits + b.retransmits,
    timeouts: a.timeouts + b.timeouts,
  };
}

/**
 * `n` connections over a new pair: the first through connectPair (listener on port 6000), the
 * rest in waves of at most SETUP_WINDOW in flight (a client pool), so the listener's backlog is
 * never the limit being measured. Resolves with them and the wall time of all but the first.
 */
async function connectAll(n: number): Promise<{ p: InMemPair; first: ConnectedPair; conns: Conn[]; secs: number; cpu: number }> {
  const p = makeInMemPair(1500, false);
  const first = await connectPair(p, 6000, false);
  const conns: Conn[] = [first];
  const cpu0 = cpuNow();
  const t0 = performance.now();
  for (let done = 1; done < n;) {
    const wave = Math.min(SETUP_WINDOW, n - done);
    const pending: Promise<Conn>[] = [];
    for (let i = 0; i < wave; i++) pending.push(first.connectMore());
    conns.push(...(await Promise.all(pending)));
    done += wave;
  }
  return { p, first, conns, secs: (performance.now() - t0) / 1000, cpu: cpuNow() - cpu0 };
}

function closeAll(p: InMemPair, first: ConnectedPair, conns: Conn[]): void {
  for (const c of conns) {
    c.client.abort();
    c.server.abort();
  }
  first.listener.close();
  p.close();
}

/**
 * Heap per idle established connection: the heap after a full GC with `n` connections, less the
 * heap after a full GC before them. Its own pass, apart from the timed setup in stackScale: a
 * forced full GC right before a timed setup resets V8's heap-growing limits and makes that setup
 * pay a full collection of its own, which an application accepting connections does not pay.
 */
export async function stackHeap(n: number): Promise<HeapResult> {
  const heap0 = heapAfterGc();
  const { p, first, conns } = await connectAll(n);
  const heap = heapAfterGc() - heap0;
  closeAll(p, first, conns);
  return { heapPerConnection: heap / n, heapPerEndpoint: heap / (2 * n) };
}

/** Establishes `n` connections (timed), then moves `bytes` over each flow count in `counts`. */
export async function stackScale(n: number, bytes: number, counts: number[]): Promise<ScaleResult> {
  const { p, first, conns, secs, cpu } = await connectAll(n);
  const setupPerSec: Measurement = { value: (n - 1) / secs, cpuSeconds: cpu, verified: n };
  const overflow = p.b.stats.tcp.listenOverflowSynDrop + p.b.stats.tcp.listenOverflowAckDrop;
  setupPerSec.extra = { listenOverflows: overflow };
  const flows = new Map<number, Measurement>();
  for (const k of counts) flows.set(k, await flowsOnce(p, conns.slice(0, k), Math.floor(bytes / k)));
  closeAll(p, first, conns);
  return { connections: n, setupPerSec, flows };
}

/** node:net loopback: `n` connections' setup rate, and aggregate throughput over `counts` flows. */
export async function nodeNetScale(n: number, bytes: number, counts: number[]): Promise<{ setupPerSec: Measurement; flows: Map<number, Measurement> }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => { accepted.push(s); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", 4096, r));
  const port = (server.address() as net.AddressInfo).port;
  const cpu0 = cpuNow();
  const t0 = performance.now();
  const clients = await Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((res, rej) => {
    const c = net.connect(port, "127.0.0.1", () => res(c));
    c.on("error", rej);
  })));
  while (accepted.length < n) await new Promise((r) => setImmediate(r));
  const secs = (performance.now() - t0) / 1000;
  const setupPerSec: Measurement = { value: n / secs, cpuSeconds: cpuNow() - cpu0, verified: n };
  const flows = new Map<number, Measurement>();
  for (const k of counts) {
    if (k > n) continue;
    const per = Math.floor(bytes / k);
    const c0 = cpuNow();
    const s0 = performance.now();
    let bad = 0;
    await Promise.all(Array.from({ length: k }, (_, i) => new Promise<void>((resolve) => {
      const c = clients[i]!;
      const s = accepted[i]!;
      let received = 0;
      const onData = (d: Buffer) => {
        if (!checkPattern(d, received)) bad++;
        received += d.length;
        if (received >= per) {
          s.off("data", onData);
          if (received !== per) bad++;
          resolve();
        }
      };
      s.on("data", onData);
      let sent = 0;
      const pump = () => {
        while (sent < per) {
          const at = sent & PATTERN_MASK;
          const m = Math.min(per - sent, 64 * 1024, PATTERN.length - at);
          sent += m;
          if (!c.write(PATTERN.subarray(at, at + m))) return;
        }
        c.off("drain", pump);
      };
      c.on("drain", pump);
      pump();
    })));
    if (bad) throw new Error(`node:net scale: ${bad} flows failed verification`);
    const secs2 = (performance.now() - s0) / 1000;
    flows.set(k, { value: (per * k * 8) / secs2 / 1e9, cpuSeconds: cpuNow() - c0, verified: per * k });
  }
  for (const c of clients) c.destroy();
  for (const s of accepted) s.destroy();
  server.close();
  return { setupPerSec, flows };
}
