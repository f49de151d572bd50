import { describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, createReadStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pcapp from "pcap-parser";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import { Pipe } from "../src/link/pipe.js";
import { SnifferEndpoint } from "../src/link/sniffer.js";
import { EthernetEndpoint } from "../src/link/ethernet.js";
import type { LinkEndpoint } from "../src/link/link.js";
import { Stack } from "../src/stack/stack.js";
import { ipv4 } from "../src/network/ipv4/index.js";
import { arp } from "../src/network/arp/index.js";
import { udp } from "../src/transport/udp/index.js";
import { icmp } from "../src/transport/icmp/index.js";
import { ICMPV4_PROTOCOL, UDP_PROTOCOL } from "../src/tcpip/address.js";
import { newEp, ok, addr } from "./helpers/net.js";

const hasTshark = spawnSync("which", ["tshark"]).status === 0;

function readPcap(path: string): Promise<{ linkType: number; frames: Uint8Array[] }> {
  return new Promise((resolve, reject) => {
    const p = pcapp.parse(createReadStream(path));
    const frames: Uint8Array[] = [];
    let linkType = -1;
    p.on("globalHeader", (h: { linkLayerType: number }) => (linkType = h.linkLayerType));
    p.on("packetData", (d: Buffer) => frames.push(new Uint8Array(d)));
    p.on("end", () => resolve({ linkType, frames }));
    p.on("error", reject);
  });
}

/** Frames tshark flags as malformed or with a bad IP/ICMP/UDP/TCP checksum (checksum checks on). */
function tsharkProblems(path: string): string[] {
  const out = execFileSync("tshark", [
    "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
    "-Y", "_ws.malformed || ip.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\" || " +
      "tcp.checksum.status == \"Bad\" || icmp.checksum.status == \"Bad\" || _ws.expert.severity == error",
    "-T", "fields", "-e", "frame.number",
  ], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.trim() !== "");
}

function run(ethernet: boolean) {
  const clock = new ManualClock();
  const pipe = new Pipe({ mtu: 1500, clock, maxHeaderLength: ethernet ? 14 : 0 });
  const path = join(mkdtempSync(join(tmpdir(), "netstack-sniff-")), ethernet ? "eth.pcap" : "raw.pcap");
  const sniffer = new SnifferEndpoint(pipe.a, { path, clock, linkType: ethernet ? "ethernet" : "raw" });
  const mk = (link: LinkEndpoint, cidr: string, mac: string, seed: number) => {
    const s = new Stack({ networkProtocols: ethernet ? [ipv4, arp] : [ipv4], transportProtocols: [udp, icmp], clock,
      random: new SeededRandom(seed) });
    s.createNic(1, ethernet ? new EthernetEndpoint(link, { mac }) : link);
    s.addAddress(1, cidr);
    s.addRoute({ destination: "198.18.0.0/24", nic: 1 });
    return s;
  };
  const a = mk(sniffer, "198.18.0.1/24", "02:00:00:00:00:01", 1);
  const b = mk(pipe.b, "198.18.0.2/24", "02:00:00:00:00:02", 2);
  const pump = () => {
    for (let i = 0; i < 1000 && (pipe.queued > 0 || i === 0); i++) {
      clock.advance(0);
      pipe.drainAll();
    }
  };
  const ping = newEp(a, ICMPV4_PROTOCOL);
  const msg = new Uint8Array(40);
  msg[0] = 8;
  ok(ping.write(msg, { to: addr("198.18.0.2", 0) }));
  pump();
  const server = newEp(b, UDP_PROTOCOL);
  ok(server.bind({ port: 7 }));
  const client = newEp(a, UDP_PROTOCOL);
  ok(client.write(new Uint8Array(100).fill(7), { to: addr("198.18.0.2", 7) }));
  ok(client.write(new Uint8Array(5000).fill(9), { to: addr("198.18.0.2", 7) })); // 4 fragments
  ok(client.write(new Uint8Array(10), { to: addr("198.18.0.2", 9) })); // closed port: ICMP back
  pump();
  sniffer.close();
  return { path, a, b, pipe };
}

describe("pcap sniffer on real stack traffic", () => {
  for (const ethernet of [false, true]) {
    it(`captures exactly the ${ethernet ? "Ethernet frames" : "IP packets"} that crossed the link, clean for tshark`, async () => {
      const { path, pipe } = run(ethernet);
      const cap = await readPcap(path);
      expect(cap.linkType).toBe(ethernet ? 1 : 101);
      const total = pipe.aToB.packets + pipe.bToA.packets;
      expect(cap.frames.length).toBe(total);
      // ping + reply, 1 + 4 UDP, 1 to the closed port + its ICMP error (+ ARP request/reply on Ethernet)
      expect(total).toBe(ethernet ? 11 : 9);
      if (hasTshark) {
        expect(tsharkProblems(path)).toEqual([]);
      } else {
        console.info("tshark not installed: the pcap was checked with pcap-parser only");
      }
    });
  }
});
