/**
 * The stack side of the soak (run inside a test namespace by test/soak/soak.ts and soak.test.ts,
 * never in the root namespace): a stack on a TUN device whose link damages traffic both ways —
 * FaultEndpoint on what the stack sends, InboundFaults on what it receives — serving the echo
 * server on port 7. Every second it samples the heap after a full GC. It prints "READY" once
 * serving, and on SIGTERM (or after --seconds) one JSON line: heap samples, the stack's counters,
 * the fault counters and the echo server's counters.
 *
 *   node --expose-gc --import tsx soak-peer.ts --tun NAME --addr CIDR --host-addr CIDR
 *        [--addr6 CIDR --host-addr6 CIDR] [--loss P] [--reorder P] [--duplicate P] [--seed N] [--seconds S]
 *        [--pcap FILE]
 */
import { parseArgs } from "node:util";
import {
  FaultEndpoint, RealClock, SeededRandom, SnifferEndpoint, NestedLink, type LinkEndpoint, type PacketBuffer, type RandomSource,
} from "@netstack-ts/netstack";
import { EchoServer, TunEndpoint, waitKernelAddress6 } from "@netstack-ts/link-tun";
import { buildLinkStack } from "../../packages/link-tun/src/setup.js";

/** Damages what the stack receives: loss, duplication, and reordering (a packet held behind the next). */
class InboundFaults extends NestedLink {
  private held: { proto: number; pkt: PacketBuffer } | null = null;
  readonly stats = { received: 0, lost: 0, duplicated: 0, reordered: 0 };

  constructor(inner: LinkEndpoint, private readonly r: RandomSource, private readonly f: { loss: number; duplicate: number; reorder: number }) {
    super(inner);
  }
  override deliverNetworkPacket(proto: number, pkt: PacketBuffer): void {
    const d = this.dispatcher;
    if (!d) return;
    this.stats.received++;
    if (this.r.float() < this.f.loss) {
      this.stats.lost++;
      return;
    }
    if (this.r.float() < this.f.reorder && this.held === null) {
      this.held = { proto, pkt };
      this.stats.reordered++;
      return;
    }
    const dup = this.r.float() < this.f.duplicate;
    // The duplicate is a copy: the stack may keep views into the original.
    const copy = dup ? pkt.cloneInbound() : null;
    if (copy) {
      copy.networkProtocol = pkt.networkProtocol;
      copy.checksumOffloaded = pkt.checksumOffloaded;
    }
    d.deliverNetworkPacket(proto, pkt);
    if (copy) {
      this.stats.duplicated++;
      d.deliverNetworkPacket(proto, copy);
    }
    const h = this.held;
    if (h) {
      this.held = null;
      d.deliverNetworkPacket(h.proto, h.pkt);
    }
  }
  override deliverBatchEnd(): void {
    const d = this.dispatcher;
    if (!d) return;
    const h = this.held;
    if (h) {
      this.held = null;
      d.deliverNetworkPacket(h.proto, h.pkt);
    }
    d.deliverBatchEnd();
  }
}

const { values: a } = parseArgs({
  options: {
    tun: { type: "string", default: "nsoak0" }, addr: { type: "string" }, "host-addr": { type: "string" },
    addr6: { type: "string" }, "host-addr6": { type: "string" }, loss: { type: "string", default: "0.02" },
    reorder: { type: "string", default: "0.02" }, duplicate: { type: "string", default: "0.02" },
    seed: { type: "string", default: "1" }, seconds: { type: "string", default: "600" }, pcap: { type: "string" },
  },
});
const faults = { loss: Number(a.loss), reorder: Number(a.reorder), duplicate: Number(a.duplicate) };
const clock = new RealClock();
const seeds = new SeededRandom(Number(a.seed));
const tun = TunEndpoint.open({ name: a.tun!, host: { address: a["host-addr"], address6: a["host-addr6"], noDad: true } });
// --pcap: a capture of what crosses the device (the sniffer sits on the wire side of the faults).
const sniffer = a.pcap ? new SnifferEndpoint(tun, { path: a.pcap, clock, linkType: "raw" }) : null;
const out = new FaultEndpoint(sniffer ?? tun, { ...faults, clock, random: new SeededRandom(seeds.uint32()) });
const inbound = new InboundFaults(out, new SeededRandom(seeds.uint32()), faults);
const { stack } = buildLinkStack({ link: inbound, addr: a.addr!, addr6: a.addr6, clock, nicName: a.tun });
if (a["host-addr6"] && !(await waitKernelAddress6(a.tun!, a["host-addr6"], 5000))) {
  console.log(JSON.stringify({ error: `kernel address ${a["host-addr6"]} stayed tentative` }));
  process.exit(1);
}
const server = new EchoServer({ stack, port: 7, mode: "echo" }).start();
const gc = (globalThis as { gc?: () => void }).gc;
const heap: number[] = [];
const sampler = setInterval(() => {
  gc?.();
  heap.push(process.memoryUsage().heapUsed);
}, 1000);
const t0 = Date.now();
let finished = false;
function finish(reason: string): void {
  if (finished) return;
  finished = true;
  clearInterval(sampler);
  const s = stack.snapshot();
  console.log(JSON.stringify({
    reason, seconds: (Date.now() - t0) / 1000, gcExposed: gc !== undefined, heap,
    echo: server.stats(), faultOut: out.stats, faultIn: inbound.stats, link: tun.stats(),
    tcp: s.tcp, ip: s.ip,
  }));
  server.close();
  stack.close();
  sniffer?.close();
  process.exit(0);
}
process.on("SIGTERM", () => finish("SIGTERM"));
process.on("SIGINT", () => finish("SIGINT"));
setTimeout(() => finish("time limit"), Number(a.seconds) * 1000).unref();
console.log(`READY soak-peer on ${tun.name} loss=${faults.loss} reorder=${faults.reorder} duplicate=${faults.duplicate}`);
