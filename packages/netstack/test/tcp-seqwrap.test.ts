/**
 * Sequence numbers are stored as int32 inside Sender, Receiver and TcpEcn (a uint32 above 2^30
 * is a boxed number in V8: heap per endpoint, issue #8) and read back as uint32. A lossy transfer
 * in both directions whose sequence numbers cross 2^31 (client) and 2^32 (server) must deliver
 * every byte, and every sequence field must read as the same uint32 the wire carries
 * (RFC 9293 §3.4: arithmetic modulo 2^32).
 */
import { describe, expect, it, vi } from "vitest";
import { isError } from "../src/tcpip/errors.js";
import { TCP_PROTOCOL } from "../src/tcpip/address.js";
import type { TcpProtocol } from "../src/transport/tcp/protocol.js";
import type { TcpEndpoint } from "../src/transport/tcp/endpoint.js";
import type { Stack } from "../src/stack/stack.js";
import { TcpPair, bytes } from "./helpers/tcp-harness.js";

function forceIsn(s: Stack, isn: number): void {
  const p = s.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
  vi.spyOn(p.isn, "generate").mockReturnValue(isn);
}

const U32 = (x: number) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff;

function seqFields(ep: TcpEndpoint): number[] {
  const s = ep.snd;
  const r = ep.rcv;
  return [s.iss, s.sndUna, s.sndNxt, s.sndMax, s.sndWl1, s.sndWl2, s.bufHeadSeq, s.rttSeq, s.recover, s.finSeq, s.highRxt,
    s.tlpEndSeq, r.irs, r.rcvNxt, r.rcvAdvEdge, r.peerEdge, r.rcvWup, ep.ecn.recover];
}

describe("sequence numbers across 2^31 and 2^32 (RFC 9293 §3.4)", () => {
  it("a lossy transfer both ways from ISNs just below 2^31 and 2^32 delivers every byte; the fields read as uint32", () => {
    const pair = new TcpPair({ seed: 11, faultsA: { loss: 0.03 }, faultsB: { loss: 0.03 } });
    forceIsn(pair.a, 0x7fffff00);
    forceIsn(pair.b, 0xffffff00);
    const { client, server } = pair.connectPair(90);
    expect(client.snd.iss).toBe(0x7fffff00);
    expect(server.snd.iss).toBe(0xffffff00);
    expect(server.rcv.irs).toBe(0x7fffff00);
    expect(client.rcv.irs).toBe(0xffffff00);
    const n = 300_000;
    const sent = [0, 0];
    const got = [0, 0];
    let bad = 0;
    const buf = new Uint8Array(65536);
    const ends: [TcpEndpoint, TcpEndpoint][] = [[client, server], [server, client]];
    pair.runUntil(() => {
      for (let d = 0; d < 2; d++) {
        const [w, r] = ends[d]!;
        if (sent[d]! < n) {
          const k = Math.min(20_000, n - sent[d]!);
          const x = w.write(bytes(k, sent[d]! + d));
          if (!isError(x)) sent[d]! += x;
        }
        for (;;) {
          const y = r.read(buf);
          if (isError(y) || y.count === 0) break;
          if (buf.subarray(0, y.count).some((v, i) => v !== ((got[d]! + d + i) & 0xff))) bad++;
          got[d]! += y.count;
        }
      }
      return got[0] === n && got[1] === n;
    }, 600_000);
    expect(bad).toBe(0);
    expect(got).toEqual([n, n]);
    // Losses were repaired (so recovery, SACK and RACK ran on wrapped numbers).
    expect(pair.faultA!.stats.lost + pair.faultB!.stats.lost).toBeGreaterThan(0);
    pair.settle();
    // Client: ISS + 1 + n crosses 2^31; server: crosses 2^32 back to small numbers.
    expect(client.snd.sndNxt).toBe((0x7fffff00 + 1 + n) >>> 0);
    expect(client.snd.sndNxt).toBeGreaterThan(0x80000000);
    expect(server.snd.sndNxt).toBe((0xffffff00 + 1 + n) >>> 0);
    expect(server.snd.sndNxt).toBeLessThan(0x80000000);
    expect(server.rcv.rcvNxt).toBe(client.snd.sndNxt);
    expect(client.rcv.rcvNxt).toBe(server.snd.sndNxt);
    expect(client.snd.sndUna).toBe(client.snd.sndNxt);
    expect(server.snd.sndUna).toBe(server.snd.sndNxt);
    for (const ep of [client, server]) for (const v of seqFields(ep)) expect(U32(v)).toBe(true);
    pair.close();
  });

  it("a field written with any uint32 reads back the same uint32", () => {
    const pair = new TcpPair();
    const { client } = pair.connectPair(91);
    for (const v of [0, 1, 0x3fffffff, 0x40000000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff]) {
      client.snd.sndWl1 = v;
      client.rcv.rcvWup = v;
      client.ecn.recover = v;
      client.tsEcr = v;
      expect([client.snd.sndWl1, client.rcv.rcvWup, client.ecn.recover, client.tsEcr]).toEqual([v, v, v, v]);
    }
    pair.close();
  });
});
