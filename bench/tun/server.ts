/**
 * The netstack-ts side of the TUN benchmarks, run inside a bench namespace (never in the root
 * namespace): a stack on a TUN device with the echo server's wire contract — `echo` on port 7,
 * `sink` on port 8 — plus a `source` port 9 for the download test: the client sends a decimal
 * byte count and `\n`, the server sends that many bytes of the bench pattern (see PATTERN_BLOCK)
 * and closes. Prints `READY` when serving; exits on SIGTERM/SIGINT.
 *
 *   node --import tsx bench/tun/server.ts --tun NAME --addr 198.18.0.2/24 --host-addr 198.18.0.1/24 [--mtu N] [--vnet [--no-gso]]
 *
 * --vnet opens the device with IFF_VNET_HDR offloads: large TCP segments from the kernel, and TCP
 * super-segments to it that the kernel cuts to the MTU (send-side GSO); --no-gso keeps only the
 * receive half.
 *
 * --gc-stats (bench/tun-rr.ts): on each SIGUSR2 the server prints one `GCSTATS {json}` line to
 * stderr with running totals since start: JavaScript heap bytes allocated (from v8.GCProfiler: the
 * used heap before each GC minus the used heap after the previous one, plus the growth since the
 * last GC), scavenges, mark-compacts, GC pause ms, and the process CPU seconds. The harness takes
 * the difference of two snapshots around a measurement. --heap-sample FILE additionally records a
 * sampling heap profile of every allocation (collected objects included) from the first SIGUSR2 to
 * the second, written to FILE (a .heapprofile: load it in Chrome DevTools' Memory panel).
 */
import { parseArgs } from "node:util";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { GCProfiler, getHeapStatistics } from "node:v8";
import {
  Err, EventErr, EventHup, EventIn, EventOut, IPV4_PROTOCOL, RealClock, ShutdownWrite, TCP_PROTOCOL, WaiterQueue, isError,
  type Endpoint, type Stack, type WaiterEntry,
} from "@netstack-ts/netstack";
import { EchoServer, TunEndpoint } from "@netstack-ts/link-tun";
import { buildLinkStack } from "../../packages/link-tun/src/setup.js";
import { patternBlock } from "./pattern.js";

const { values } = parseArgs({
  options: { tun: { type: "string" }, addr: { type: "string" }, "host-addr": { type: "string" }, mtu: { type: "string" }, vnet: { type: "boolean" },
    "no-gso": { type: "boolean" }, "gc-stats": { type: "boolean" },
    "heap-sample": { type: "string" } },
});
if (!values.tun || !values.addr) {
  console.error("usage: server.ts --tun NAME --addr CIDR [--host-addr CIDR] [--mtu N]");
  process.exit(2);
}

const BLOCK = patternBlock();

/** Port 9: sends the requested number of pattern bytes, then FIN. */
class SourceConn implements WaiterEntry {
  private header = "";
  private want = -1;
  private sent = 0;
  private readonly buf = new Uint8Array(64);
  private done = false;

  constructor(private readonly ep: Endpoint, private readonly wq: WaiterQueue) {
    wq.register(this, EventIn | EventOut | EventErr | EventHup);
    this.callback();
  }

  callback(): void {
    if (this.done) return;
    while (this.want < 0) {
      const r = this.ep.read(this.buf);
      if (isError(r)) {
        if (r === Err.WouldBlock) return;
        return this.finish();
      }
      this.header += Buffer.from(this.buf.subarray(0, r.count)).toString("latin1");
      const nl = this.header.indexOf("\n");
      if (nl >= 0) this.want = Number(this.header.slice(0, nl));
    }
    while (this.sent < this.want) {
      const at = this.sent % BLOCK.length;
      const n = Math.min(this.want - this.sent, BLOCK.length - at);
      const w = this.ep.write(BLOCK.subarray(at, at + n));
      if (isError(w)) {
        if (w === Err.WouldBlock) return;
        return this.finish();
      }
      this.sent += w;
    }
    this.ep.shutdown(ShutdownWrite);
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.wq.unregister(this);
    this.ep.close();
  }
}

function listenSource(stack: Stack, port: number): void {
  const wq = new WaiterQueue();
  const ep = stack.newEndpoint(TCP_PROTOCOL, IPV4_PROTOCOL, wq);
  if (isError(ep)) throw new Error(ep.message);
  const b = ep.bind({ port });
  if (b) throw new Error(`bind ${port}: ${b.message}`);
  const l = ep.listen(64);
  if (l) throw new Error(`listen ${port}: ${l.message}`);
  const accept = () => {
    for (;;) {
      const a = ep.accept();
      if (isError(a)) return;
      a.endpoint.setSockOpt("sendBufferSize", 4 << 20);
      new SourceConn(a.endpoint, a.waiterQueue);
    }
  };
  wq.register({ callback: accept }, EventIn);
}

/** Running GC totals for --gc-stats (see the file comment). */
class GcStats {
  private prof = new GCProfiler();
  private allocated = 0;
  private lastUsed = getHeapStatistics().used_heap_size;
  private scavenges = 0;
  private markCompacts = 0;
  private pauseMs = 0;

  constructor() {
    this.prof.start();
  }

  snapshot(): Record<string, number> {
    const r = this.prof.stop();
    this.prof = new GCProfiler();
    this.prof.start();
    for (const g of r.statistics) {
      this.allocated += g.beforeGC.heapStatistics.usedHeapSize - this.lastUsed;
      this.lastUsed = g.afterGC.heapStatistics.usedHeapSize;
      if (g.gcType === "Scavenge" || g.gcType === "MinorMarkSweep" || g.gcType === "MinorMarkCompact") this.scavenges++;
      else if (g.gcType === "MarkSweepCompact") this.markCompacts++;
      this.pauseMs += g.cost / 1000; // µs
    }
    const used = getHeapStatistics().used_heap_size;
    const cpu = process.cpuUsage();
    const out: Record<string, number> = {
      allocated: this.allocated + (used - this.lastUsed), scavenges: this.scavenges, markCompacts: this.markCompacts,
      pauseMs: this.pauseMs, cpuSeconds: (cpu.user + cpu.system) / 1e6, userSeconds: cpu.user / 1e6,
      systemSeconds: cpu.system / 1e6,
    };
    // Per-thread CPU (main thread, GC helpers, compiler threads, ...) from /proc, summed by name.
    try {
      for (const t of readdirSync("/proc/self/task")) {
        const st = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
        const name = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")"));
        const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
        const k = `thread:${name}`;
        out[k] = (out[k] ?? 0) + (Number(f[11]) + Number(f[12])) / 100;
      }
    } catch {
      // not Linux
    }
    return out;
  }
}
if (values["gc-stats"]) {
  const gc = new GcStats();
  const file = values["heap-sample"];
  let snaps = 0;
  const session = file ? new Session() : null;
  session?.connect();
  process.on("SIGUSR2", () => {
    const n = ++snaps;
    if (session && n === 2) {
      session.post("HeapProfiler.stopSampling", (err, r) => {
        if (err) console.error(`server: heap sampling: ${err.message}`);
        else writeFileSync(file!, JSON.stringify(r.profile));
      });
    }
    console.error(`GCSTATS ${JSON.stringify(gc.snapshot())}`);
    if (session && n === 1) {
      session.post("HeapProfiler.startSampling", {
        samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
      });
    }
  });
}

const clock = new RealClock();
const tun = TunEndpoint.open({
  name: values.tun,
  mtu: values.mtu ? Number(values.mtu) : undefined,
  up: true,
  host: { address: values["host-addr"] },
  vnetHdr: values.vnet ?? false,
  gso: values["no-gso"] !== true,
});
const { stack } = buildLinkStack({ link: tun, addr: values.addr, nicName: tun.name, clock });
const echo = new EchoServer({ stack, port: 7, mode: "echo", udp: false }).start();
const sink = new EchoServer({ stack, port: 8, mode: "sink", udp: false }).start();
listenSource(stack, 9);
const stop = () => {
  console.error(`STATS ${JSON.stringify({ link: tun.stats(), tcp: stack.stats.tcp })}`);
  echo.close();
  sink.close();
  stack.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
tun.onError = (err) => {
  console.error(`server: ${err.message}`);
  process.exit(1);
};
console.log(`READY ${tun.name} mtu ${tun.mtu}`);
