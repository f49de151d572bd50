/**
 * Bulk transfers: 64 MiB each way at once between two stacks over a pipe (MTU 1500, checksums
 * computed and verified: no offload), contents compared by SHA-256 of what was written and what
 * was read; and the same over a fault link dropping 5 % of the packets in each direction.
 * The wall-clock throughput is printed for reference (tests never assert timings).
 */
import { describe, expect, it } from "vitest";
import { Pattern, Reader, TcpPair, Writer, ok, type TcpPairOptions } from "./helpers/tcp-harness.js";
import { ShutdownWrite } from "../src/tcpip/endpoint.js";
import { TcpState } from "../src/transport/tcp/index.js";

const MiB = 1 << 20;

function bidirectional(opts: TcpPairOptions, bytes: number, maxVirtualMs: number) {
  const p = new TcpPair(opts);
  const { client, server, listener } = p.connectPair();
  listener.close();
  const w1 = new Writer(client, bytes, new Pattern(11));
  const w2 = new Writer(server, bytes, new Pattern(22));
  const r1 = new Reader(server);
  const r2 = new Reader(client);
  let shut1 = false;
  let shut2 = false;
  const t0 = performance.now();
  p.runUntil(() => r1.eof && r2.eof, maxVirtualMs, () => {
    w1.pump();
    w2.pump();
    r1.pump();
    r2.pump();
    if (w1.done && !shut1) {
      shut1 = true;
      ok(client.shutdown(ShutdownWrite));
    }
    if (w2.done && !shut2) {
      shut2 = true;
      ok(server.shutdown(ShutdownWrite));
    }
  });
  const wall = performance.now() - t0;
  expect(w1.error).toBeNull();
  expect(w2.error).toBeNull();
  expect(r1.received).toBe(bytes);
  expect(r2.received).toBe(bytes);
  expect(r1.hash.digest("hex")).toBe(w1.hash.digest("hex"));
  expect(r2.hash.digest("hex")).toBe(w2.hash.digest("hex"));
  const virtual = p.clock.now();
  client.close();
  server.close();
  p.runUntilIdle();
  expect(client.state).toBe(TcpState.Closed);
  expect(server.state).toBe(TcpState.Closed);
  expect(p.a.endpointCount() + p.b.endpointCount()).toBe(0);
  expect(p.clock.pendingTimers()).toBe(0);
  return { p, wall, virtual };
}

describe("bulk transfer", () => {
  it("moves 64 MiB each way over a pipe (MTU 1500, checksums on) with the contents intact", () => {
    const { p, wall, virtual } = bidirectional({ mtu: 1500 }, 64 * MiB, 3_600_000);
    expect(p.a.stats.tcp.retransmits + p.b.stats.tcp.retransmits).toBe(0);
    expect(p.a.stats.tcp.checksumErrors + p.b.stats.tcp.checksumErrors).toBe(0);
    console.log(`64 MiB each way, MTU 1500: ${wall.toFixed(0)} ms wall (${((128 * 1000) / wall).toFixed(1)} MiB/s both ways), ${virtual.toFixed(0)} ms virtual`);
  });

  it("moves 64 MiB each way through 5 % loss in both directions with the contents intact", () => {
    const faults = { loss: 0.05 };
    const { p, wall, virtual } = bidirectional({ mtu: 1500, faultsA: faults, faultsB: faults, seed: 5 }, 64 * MiB, 48 * 3_600_000);
    expect(p.faultA!.stats.lost).toBeGreaterThan(1000);
    // Both directions carry data, so every duplicate ACK carries data too and does not count as
    // one (RFC 5681 §2 (b)): recovery is by retransmission timeout here.
    expect(p.a.stats.tcp.retransmits + p.b.stats.tcp.retransmits).toBeGreaterThan(1000);
    console.log(`64 MiB each way, 5 % loss: ${wall.toFixed(0)} ms wall, ${(virtual / 1000).toFixed(0)} s virtual, ` +
      `${p.a.stats.tcp.retransmits + p.b.stats.tcp.retransmits} retransmissions, ` +
      `${p.a.stats.tcp.timeouts + p.b.stats.tcp.timeouts} timeouts`);
  });
});
