/**
 * `npm run demo`: two netstack-ts stacks in one process, wired back to back over an in-memory
 * link, with a pcap sniffer on one side. Shows ping both ways, a UDP echo, a TCP echo (when the
 * TCP protocol is available), and each stack's counters.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Address, Err, EventIn, EventOut, ICMPV4_PROTOCOL, IPV4_PROTOCOL, Pipe, RealClock, SnifferEndpoint, Stack,
  TCP_PROTOCOL, UDP_PROTOCOL, WaiterQueue, icmp, ipv4, isError, udp, type Endpoint, type FullAddress,
  type TransportProtocolFactory,
} from "@netstack-ts/netstack";

const tcpModule = await import("@netstack-ts/netstack").then((m) => (m as { tcp?: TransportProtocolFactory }).tcp);

const clock = new RealClock();
const pipe = new Pipe({ mtu: 1500 });
const dir = mkdtempSync(join(tmpdir(), "netstack-demo-"));
const pcapPath = join(dir, "demo.pcap");
const sniffer = new SnifferEndpoint(pipe.a, { path: pcapPath, clock, linkType: "raw" });

function makeStack(name: string, link: import("@netstack-ts/netstack").LinkEndpoint, cidr: string): Stack {
  const transports = [udp, icmp, ...(tcpModule ? [tcpModule] : [])];
  const s = new Stack({ networkProtocols: [ipv4], transportProtocols: transports, clock });
  s.createNic(1, link, { name });
  s.addAddress(1, cidr);
  s.addRoute({ destination: "10.0.0.0/24", nic: 1 });
  return s;
}

const alice = makeStack("alice0", sniffer, "10.0.0.1/24");
const bob = makeStack("bob0", pipe.b, "10.0.0.2/24");
const A = Address.from("10.0.0.1");
const B = Address.from("10.0.0.2");

/** Resolves when `ep` is ready for one of `mask`'s events (or rejects after `ms`). */
function ready(ep: Endpoint, wq: WaiterQueue, mask: number, ms = 2000): Promise<void> {
  if (ep.readiness(mask)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const entry = { callback: () => { if (ep.readiness(mask)) { wq.unregister(entry); clearTimeout(t); resolve(); } } };
    const t = setTimeout(() => { wq.unregister(entry); reject(new Error("timed out")); }, ms);
    wq.register(entry, mask);
  });
}

function open(stack: Stack, proto: number): [Endpoint, WaiterQueue] {
  const wq = new WaiterQueue();
  const ep = stack.newEndpoint(proto, IPV4_PROTOCOL, wq);
  if (isError(ep)) throw new Error(ep.message);
  return [ep, wq];
}

async function ping(from: Stack, to: Address, seq: number): Promise<number> {
  const [ep, wq] = open(from, ICMPV4_PROTOCOL);
  const msg = new Uint8Array(8 + 32);
  msg[0] = 8;
  msg[7] = seq;
  msg.fill(0x61, 8);
  const t0 = performance.now();
  const w = ep.write(msg, { to: { addr: to, port: 0 } });
  if (isError(w)) throw new Error(w.message);
  await ready(ep, wq, EventIn);
  const buf = new Uint8Array(100);
  const r = ep.read(buf, { needRemoteAddr: true });
  if (isError(r) || buf[0] !== 0) throw new Error("no echo reply");
  ep.close();
  return performance.now() - t0;
}

async function udpEcho(): Promise<void> {
  const [server, swq] = open(bob, UDP_PROTOCOL);
  server.bind({ port: 7 });
  const sbuf = new Uint8Array(2048);
  swq.register({
    callback: () => {
      for (;;) {
        const r = server.read(sbuf, { needRemoteAddr: true });
        if (isError(r)) return;
        server.write(sbuf.subarray(0, r.count), { to: r.from as FullAddress });
      }
    },
  }, EventIn);
  const [client, cwq] = open(alice, UDP_PROTOCOL);
  client.connect({ addr: B, port: 7 });
  const buf = new Uint8Array(2048);
  for (const text of ["hello over UDP", "netstack-ts echoes you"]) {
    client.write(new TextEncoder().encode(text));
    await ready(client, cwq, EventIn);
    const r = client.read(buf);
    if (isError(r)) throw new Error(r.message);
    console.log(`  udp  10.0.0.1 -> 10.0.0.2:7  sent ${JSON.stringify(text)}, echoed ${JSON.stringify(new TextDecoder().decode(buf.subarray(0, r.count)))}`);
  }
  client.close();
  server.close();
}

async function tcpEcho(): Promise<void> {
  const [listener, lwq] = open(bob, TCP_PROTOCOL);
  listener.bind({ port: 7 });
  listener.listen(16);
  lwq.register({
    callback: () => {
      for (;;) {
        const a = listener.accept();
        if (isError(a)) return;
        const conn = a.endpoint;
        const cbuf = new Uint8Array(65536);
        a.waiterQueue.register({
          callback: () => {
            for (;;) {
              const r = conn.read(cbuf);
              if (r === Err.ClosedForReceive) { conn.shutdown(2); return; }
              if (isError(r)) return;
              conn.write(cbuf.slice(0, r.count));
            }
          },
        }, EventIn);
      }
    },
  }, EventIn);
  const [client, cwq] = open(alice, TCP_PROTOCOL);
  const c = client.connect({ addr: B, port: 7 });
  if (c !== Err.ConnectStarted && c !== null) throw new Error(c.message);
  await ready(client, cwq, EventOut);
  const payload = new Uint8Array(256 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  let written = 0;
  const got = new Uint8Array(payload.length);
  let read = 0;
  const t0 = performance.now();
  while (read < payload.length) {
    if (written < payload.length) {
      const w = client.write(payload.subarray(written));
      if (!isError(w)) written += w;
    }
    const r = client.read(got.subarray(read));
    if (!isError(r)) { read += r.count; continue; }
    await ready(client, cwq, EventIn | (written < payload.length ? EventOut : 0));
  }
  const ok = Buffer.compare(got, payload) === 0;
  console.log(`  tcp  10.0.0.1 -> 10.0.0.2:7  echoed ${payload.length} bytes in ${(performance.now() - t0).toFixed(1)} ms, contents ${ok ? "verified" : "DIFFER"}`);
  client.shutdown(2);
  client.close();
  listener.close();
}

console.log("netstack-ts demo: two userspace stacks over an in-memory link (alice 10.0.0.1, bob 10.0.0.2)\n");
console.log(`  ping 10.0.0.1 -> 10.0.0.2  ${(await ping(alice, B, 1)).toFixed(2)} ms`);
console.log(`  ping 10.0.0.2 -> 10.0.0.1  ${(await ping(bob, A, 2)).toFixed(2)} ms`);
await udpEcho();
if (tcpModule) await tcpEcho();
else console.log("  tcp  (not built yet)");

await new Promise((r) => setTimeout(r, 20));
const show = (name: string, s: Stack) => {
  const st = s.stats;
  console.log(`\n${name} counters:`);
  console.log(`  ip   received ${st.ip.packetsReceived}, delivered ${st.ip.packetsDelivered}, sent ${st.ip.packetsSent}, malformed ${st.ip.malformedPacketsReceived}`);
  console.log(`  icmp echo requests in/out ${st.icmp.v4.received.echoRequest}/${st.icmp.v4.sent.echoRequest}, echo replies in/out ${st.icmp.v4.received.echoReply}/${st.icmp.v4.sent.echoReply}`);
  console.log(`  udp  datagrams in ${st.udp.packetsReceived}, out ${st.udp.packetsSent}, unknown port ${st.udp.unknownPortErrors}`);
  console.log(`  tcp  active opens ${st.tcp.activeConnectionOpenings}, passive opens ${st.tcp.passiveConnectionOpenings}, segments in/out ${st.tcp.validSegmentsReceived}/${st.tcp.segmentsSent}, retransmits ${st.tcp.retransmits}, resets out ${st.tcp.resetsSent}`);
  const n = s.nic(1)!.stats;
  console.log(`  nic  rx ${n.rx.packets} packets / ${n.rx.bytes} bytes, tx ${n.tx.packets} packets / ${n.tx.bytes} bytes`);
};
show("alice", alice);
show("bob", bob);
sniffer.close();
console.log(`\nalice's side of the link was captured to ${pcapPath} (${sniffer.records} packets; open it with Wireshark or tshark -r).`);
alice.close();
bob.close();
