/**
 * `npm run demo`: two netstack-ts stacks in one process, wired back to back over an in-memory
 * link, with a pcap sniffer on one side. Each stack has an IPv4 and an IPv6 address. Shows ping
 * and ping6 both ways, a UDP echo over IPv4 and IPv6 (one dual-stack IPv6 server socket answers
 * both), a TCP echo (when the TCP protocol is available), and each stack's counters.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Address, Err, EventIn, EventOut, ICMPV4_PROTOCOL, ICMPV6_PROTOCOL, IPV4_PROTOCOL, IPV6_PROTOCOL, Pipe, RealClock,
  SnifferEndpoint, Stack, TCP_PROTOCOL, UDP_PROTOCOL, WaiterQueue, icmp, icmp6, ipv4, ipv6, isError, udp,
  type Endpoint, type FullAddress, type TransportProtocolFactory,
} from "@netstack-ts/netstack";

const tcpModule = await import("@netstack-ts/netstack").then((m) => (m as { tcp?: TransportProtocolFactory }).tcp);

const clock = new RealClock();
const pipe = new Pipe({ mtu: 1500 });
const dir = mkdtempSync(join(tmpdir(), "netstack-demo-"));
const pcapPath = join(dir, "demo.pcap");
const sniffer = new SnifferEndpoint(pipe.a, { path: pcapPath, clock, linkType: "raw" });

function makeStack(name: string, link: import("@netstack-ts/netstack").LinkEndpoint, cidr: string, cidr6: string): Stack {
  const transports = [udp, icmp, icmp6, ...(tcpModule ? [tcpModule] : [])];
  const s = new Stack({ networkProtocols: [ipv4, ipv6], transportProtocols: transports, clock });
  s.createNic(1, link, { name });
  s.addAddress(1, cidr);
  s.addAddress(1, cidr6);
  s.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  s.addRoute({ destination: "fd00::/64", nic: 1 });
  return s;
}

const alice = makeStack("alice0", sniffer, "198.18.0.1/24", "fd00::1/64");
const bob = makeStack("bob0", pipe.b, "198.18.0.2/24", "fd00::2/64");
const A = Address.from("198.18.0.1");
const B = Address.from("198.18.0.2");
const A6 = Address.from("fd00::1");
const B6 = Address.from("fd00::2");

/** Resolves when `ep` is ready for one of `mask`'s events (or rejects after `ms`). */
function ready(ep: Endpoint, wq: WaiterQueue, mask: number, ms = 2000): Promise<void> {
  if (ep.readiness(mask)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const entry = { callback: () => { if (ep.readiness(mask)) { wq.unregister(entry); clearTimeout(t); resolve(); } } };
    const t = setTimeout(() => { wq.unregister(entry); reject(new Error("timed out")); }, ms);
    wq.register(entry, mask);
  });
}

function open(stack: Stack, proto: number, netProto = IPV4_PROTOCOL): [Endpoint, WaiterQueue] {
  const wq = new WaiterQueue();
  const ep = stack.newEndpoint(proto, netProto, wq);
  if (isError(ep)) throw new Error(ep.message);
  return [ep, wq];
}

/** One echo request and its reply: ICMP over IPv4, ICMPv6 (type 128 / 129) over IPv6. */
async function ping(from: Stack, to: Address, seq: number): Promise<number> {
  const v6 = to.isV6;
  const [ep, wq] = v6 ? open(from, ICMPV6_PROTOCOL, IPV6_PROTOCOL) : open(from, ICMPV4_PROTOCOL);
  const msg = new Uint8Array(8 + 32);
  msg[0] = v6 ? 128 : 8;
  msg[7] = seq;
  msg.fill(0x61, 8);
  const t0 = performance.now();
  const w = ep.write(msg, { to: { addr: to, port: 0 } });
  if (isError(w)) throw new Error(w.message);
  await ready(ep, wq, EventIn);
  const buf = new Uint8Array(100);
  const r = ep.read(buf, { needRemoteAddr: true });
  if (isError(r) || buf[0] !== (v6 ? 129 : 0)) throw new Error("no echo reply");
  ep.close();
  return performance.now() - t0;
}

async function udpEcho(): Promise<void> {
  // One IPv6 socket that is not v6-only serves both families; IPv4 peers appear as ::ffff:a.b.c.d.
  const [server, swq] = open(bob, UDP_PROTOCOL, IPV6_PROTOCOL);
  server.bind({ port: 7 });
  const sbuf = new Uint8Array(2048);
  const seen: string[] = [];
  swq.register({
    callback: () => {
      for (;;) {
        const r = server.read(sbuf, { needRemoteAddr: true });
        if (isError(r)) return;
        seen.push(String(r.from?.addr));
        server.write(sbuf.subarray(0, r.count), { to: r.from as FullAddress });
      }
    },
  }, EventIn);
  for (const [netProto, src, dst] of [[IPV4_PROTOCOL, A, B], [IPV6_PROTOCOL, A6, B6]] as const) {
    const [client, cwq] = open(alice, UDP_PROTOCOL, netProto);
    client.connect({ addr: dst, port: 7 });
    const buf = new Uint8Array(2048);
    const route = `${src} -> ${netProto === IPV6_PROTOCOL ? `[${dst}]` : dst}:7`.padEnd(26);
    for (const text of ["hello over UDP", "netstack-ts echoes you"]) {
      client.write(new TextEncoder().encode(text));
      await ready(client, cwq, EventIn);
      const r = client.read(buf);
      if (isError(r)) throw new Error(r.message);
      console.log(`  udp${netProto === IPV6_PROTOCOL ? "6" : " "} ${route}  sent ${JSON.stringify(text)}, echoed ${JSON.stringify(new TextDecoder().decode(buf.subarray(0, r.count)))} (server saw ${seen.at(-1)})`);
    }
    client.close();
  }
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
  console.log(`  tcp  198.18.0.1 -> 198.18.0.2:7  echoed ${payload.length} bytes in ${(performance.now() - t0).toFixed(1)} ms, contents ${ok ? "verified" : "DIFFER"}`);
  client.shutdown(2);
  client.close();
  listener.close();
}

console.log("netstack-ts demo: two userspace stacks over an in-memory link (alice 198.18.0.1 fd00::1, bob 198.18.0.2 fd00::2)\n");
console.log(`  ping  198.18.0.1 -> 198.18.0.2  ${(await ping(alice, B, 1)).toFixed(2)} ms`);
console.log(`  ping  198.18.0.2 -> 198.18.0.1  ${(await ping(bob, A, 2)).toFixed(2)} ms`);
console.log(`  ping6 fd00::1  -> fd00::2   ${(await ping(alice, B6, 3)).toFixed(2)} ms`);
console.log(`  ping6 fd00::2  -> fd00::1   ${(await ping(bob, A6, 4)).toFixed(2)} ms`);
await udpEcho();
if (tcpModule) await tcpEcho();
else console.log("  tcp  (not built yet)");

await new Promise((r) => setTimeout(r, 20));
const show = (name: string, s: Stack) => {
  const st = s.stats;
  console.log(`\n${name} counters:`);
  console.log(`  ip   received ${st.ip.packetsReceived}, delivered ${st.ip.packetsDelivered}, sent ${st.ip.packetsSent}, malformed ${st.ip.malformedPacketsReceived}`);
  console.log(`  icmp echo requests in/out ${st.icmp.v4.received.echoRequest}/${st.icmp.v4.sent.echoRequest}, echo replies in/out ${st.icmp.v4.received.echoReply}/${st.icmp.v4.sent.echoReply}`);
  console.log(`  icmp6 echo requests in/out ${st.icmp.v6.received.echoRequest}/${st.icmp.v6.sent.echoRequest}, echo replies in/out ${st.icmp.v6.received.echoReply}/${st.icmp.v6.sent.echoReply}`);
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
