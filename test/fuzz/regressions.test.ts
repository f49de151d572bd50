/**
 * Regression tests for the fuzzer's findings: each input that once escaped every counter (or
 * exhausted memory) replays here, and so does the end-of-run finding of seed 9 (a new connection
 * refused by a listener the fuzzer had flooded). The memory findings (fragment and neighbor
 * floods) have their own tests in test/robustness/exhaustion-net.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  Address, ChannelEndpoint, IPV6_PROTOCOL, ManualClock, SeededRandom, Stack, WaiterQueue, header, ipv6, isError, tcpWith,
  type Endpoint,
} from "@netstack-ts/netstack";
import { replayFrame } from "./harness.js";
import { fixChecksums } from "./mutate.js";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

describe("fuzz findings", () => {
  it("an IPv6 packet whose Next Header is 59 (RFC 8200 §4.7, No Next Header) is counted as delivered (seed 5, frame 54595)", () => {
    // fd00:198:18::2 -> fd00:198:18::1, next header 59, 12 bytes that must be ignored.
    const frame = hex(`60000000 000c3b40 fd000198 00180000 00000000 00000002 fd000198 00180000 00000000 00000001
      80005e7e 12060001 09090909`);
    const { counters, error } = replayFrame(frame);
    expect(error).toBeNull();
    expect(counters.ip.packetsReceived).toBe(1);
    expect(counters.ip.packetsDelivered).toBe(1);
  });

  it("an ARP packet with an opcode that is neither request nor reply is counted as malformed (RFC 826; seed 5 --ethernet, frame 71)", () => {
    // Broadcast ARP, opcode 0, sender 198.18.0.2, target 198.18.0.1.
    const frame = hex(`ffffffffffff 020000000002 0806 0001 0800 06 04 0000 020000000002 c6120002 000000000000 c6120001`);
    const { counters, error } = replayFrame(frame, true);
    expect(error).toBeNull();
    expect(counters.arp.packetsReceived).toBe(1);
    expect(counters.arp.malformedPacketsReceived).toBe(1);
  });

  // Seed 9, 10,000,000 frames: "a new TCP connection to fd00:198:18::1 failed after fuzzing".
  // Mutated SYNs from other addresses of the on-link /64 filled the IPv6 listener's SYN queue
  // with half-open connections nobody answers (each lives ~63 s of SYN-ACK retransmissions), and
  // the legitimate SYN was dropped on the full queue. Not a stack bug but a SYN flood: with
  // syncookies 1 (Linux's default) a full queue answers with a cookie (RFC 4987 §3.6) and the
  // client gets in at once; with syncookies 0 it must wait for the queue to drain (as Linux).
  it.each([
    { syncookies: 1 as const, connects: true, outcome: "a SYN cookie lets a new IPv6 client in within 200 ms" },
    { syncookies: 0 as const, connects: false, outcome: "the new IPv6 client's SYN is dropped and counted (Linux, tcp_syncookies=0)" },
  ])("SYN queue full of spoofed on-link half-opens, syncookies $syncookies: $outcome (seed 9, 10M-frame finding)",
    ({ syncookies, connects }) => {
      const clock = new ManualClock();
      const mk = (name: string, addr: string, seed: number) => {
        const link = new ChannelEndpoint({ mtu: 1500, queueSize: 1 << 12 });
        const s = new Stack({ networkProtocols: [ipv6], transportProtocols: [tcpWith({ syncookies })], clock, random: new SeededRandom(seed) });
        s.createNic(1, link, { name });
        s.addAddress(1, `${addr}/64`);
        s.addRoute({ destination: "fd00:198:18::/64", nic: 1 });
        return { s, link };
      };
      const victim = mk("victim0", "fd00:198:18::1", 1);
      const peer = mk("peer0", "fd00:198:18::2", 2);
      const V6 = Address.from("fd00:198:18::1");
      const P6 = Address.from("fd00:198:18::2");
      // The wire: only what is addressed to the peer reaches it (a spoofed source gets nothing back).
      let toSpoofed = 0;
      const pump = () => {
        for (let k = 0; k < 100; k++) {
          const fromV = victim.link.drain();
          const fromP = peer.link.drain();
          if (fromV.length === 0 && fromP.length === 0) return;
          for (const f of fromV) {
            if (Address.fromBytes(f, 24, 16).equals(P6)) peer.link.inject(f, 0x86dd);
            else toSpoofed++;
          }
          for (const f of fromP) victim.link.inject(f, 0x86dd);
        }
      };
      const lwq = new WaiterQueue();
      const listener = victim.s.newEndpoint(6, IPV6_PROTOCOL, lwq) as Endpoint;
      expect(listener.bind({ port: 7 })).toBeNull();
      expect(listener.listen(128)).toBeNull();
      // 128 SYNs from fd00:198:18::1000, ::1001, ... (as the fuzzer's mutated SYN templates).
      for (let i = 0; i < 128; i++) {
        const b = new Uint8Array(40 + 24);
        header.encodeIPv6(b, 0, { trafficClass: 0, flowLabel: 0, payloadLength: 24, nextHeader: 6, hopLimit: 64,
          src: Address.from(`fd00:198:18::${(0x1000 + i).toString(16)}`), dst: V6 });
        header.encodeTcp(b, 40, { srcPort: 50000, dstPort: 7, seq: 1000 + i, ack: 0, flags: 0x02, window: 65535 }, 4);
        b.set([2, 4, 5, 0xb4], 60);
        fixChecksums(b);
        victim.link.inject(b, 0x86dd);
      }
      pump();
      expect(toSpoofed).toBe(128); // one SYN-ACK per half-open connection, unanswered
      const c = peer.s.newEndpoint(6, IPV6_PROTOCOL, new WaiterQueue()) as Endpoint;
      c.connect({ addr: V6, port: 7 });
      for (let i = 0; i < 20; i++) { pump(); clock.advance(10); }
      const acc = listener.accept();
      const state = c.getSockOpt("tcpInfo");
      expect(isError(state) ? state.code : state.state).toBe(connects ? "ESTABLISHED" : "SYN-SENT");
      const t = victim.s.stats.tcp;
      if (connects) {
        expect(t.synCookiesSent).toBeGreaterThanOrEqual(1);
        expect(isError(acc)).toBe(false);
        if (isError(acc)) return;
        // Data both ways over the cookie connection.
        expect(c.write(Uint8Array.of(7, 7, 7))).toBe(3);
        for (let i = 0; i < 5; i++) { pump(); clock.advance(10); }
        const got = new Uint8Array(8);
        const r = acc.endpoint.read(got);
        expect(isError(r) ? r.code : r.count).toBe(3);
        expect(acc.endpoint.write(got.subarray(0, 3))).toBe(3);
        for (let i = 0; i < 5; i++) { pump(); clock.advance(10); }
        const back = c.read(got);
        expect(isError(back) ? back.code : back.count).toBe(3);
      } else {
        expect(t.listenOverflowSynDrop).toBeGreaterThanOrEqual(1);
        expect(isError(acc)).toBe(true);
      }
    });
});
