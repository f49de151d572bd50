/**
 * The send-buffer chunk pool (sendbuf.ts ChunkPool) and the link capability that gates it
 * (CapTxNoRetain, Route.txNoRetain):
 * - released chunks are reused, newest first, within the pool's byte limit, by size class;
 * - a chunk goes back only once every byte it can hold is acknowledged (never the tail chunk
 *   that later writes still fill);
 * - a transfer over a link that copies what it writes (the pipe) recycles its chunks and still
 *   delivers every byte; the limit follows the stack's TCP memory;
 * - routes over links that may keep packets (fault injection, channels, NestedLink subclasses,
 *   links needing resolution) never recycle; a link that claimed the flag while keeping
 *   packets would see their payload rewritten, which is what the gate prevents.
 */
import { describe, expect, it } from "vitest";
import type { PacketBuffer } from "../src/buffer/packet.js";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import { ChannelEndpoint, CapTxNoRetain, EthernetEndpoint, FaultEndpoint, LoopbackEndpoint, NestedLink, Pipe } from "../src/link/index.js";
import type { LinkEndpoint } from "../src/link/link.js";
import { ipv4 } from "../src/network/ipv4/ipv4.js";
import { Stack } from "../src/stack/stack.js";
import { Address, TCP_PROTOCOL } from "../src/tcpip/address.js";
import { isError } from "../src/tcpip/errors.js";
import type { TcpProtocol } from "../src/transport/tcp/protocol.js";
import { tcp } from "../src/transport/tcp/protocol.js";
import { ChunkPool, POOL_FLOOR, SendBuffer } from "../src/transport/tcp/sendbuf.js";
import { Pattern, Reader, TcpPair, Writer, concatViews, outboundSeq } from "./helpers/tcp-harness.js";

const K16 = 16 * 1024;
const K64 = 64 * 1024;
const K256 = 256 * 1024;

function tcpOf(s: Stack): TcpProtocol {
  return s.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
}

describe("ChunkPool", () => {
  it("hands a released chunk out again (newest first) and counts the reuse", () => {
    const pool = new ChunkPool();
    const a = pool.take(K64);
    const b = pool.take(K64);
    expect(a.length).toBe(K64);
    expect(a).not.toBe(b);
    expect(pool.reused).toBe(0);
    pool.give(a);
    pool.give(b);
    expect(pool.bytes).toBe(2 * K64);
    expect(pool.take(K64)).toBe(b);
    expect(pool.take(K64)).toBe(a);
    expect(pool.reused).toBe(2);
    expect(pool.bytes).toBe(0);
  });

  it("keeps sizes apart and refuses sizes it does not hand out", () => {
    const pool = new ChunkPool();
    const small = pool.take(K16);
    const large = pool.take(K256);
    pool.give(small);
    pool.give(large);
    pool.give(new Uint8Array(1000));
    expect(pool.bytes).toBe(K16 + K256);
    expect(pool.take(K64)).not.toBe(small);
    expect(pool.take(K256)).toBe(large);
    expect(pool.take(K16)).toBe(small);
  });

  it("keeps no more free bytes than its limit, and clear() drops them all", () => {
    const pool = new ChunkPool();
    pool.limit = 2 * K64;
    const cs = [pool.take(K64), pool.take(K64), pool.take(K64)];
    for (const c of cs) pool.give(c);
    expect(pool.bytes).toBe(2 * K64);
    expect(pool.take(K64)).toBe(cs[1]);
    pool.clear();
    expect(pool.bytes).toBe(0);
    expect(pool.take(K64)).not.toBe(cs[0]);
  });
});

describe("SendBuffer with a pool", () => {
  it("gives back only chunks whose every byte is acknowledged, and refills them with the right bytes", () => {
    const pool = new ChunkPool();
    const sb = new SendBuffer();
    sb.pool = pool;
    const pattern = new Pattern(3);
    let w = 0;
    for (let i = 0; i < 5; i++) {
      sb.append(pattern.at(w, K64), 0, K64);
      w += K64;
    }
    sb.append(pattern.at(w, 1000), 0, 1000); // a partly filled tail chunk
    w += 1000;
    sb.release(K64 - 1);
    expect(pool.bytes).toBe(0);
    sb.release(1);
    expect(pool.bytes).toBe(K64);
    // Everything written is acknowledged: the full chunks go back, the tail chunk stays.
    sb.release(sb.size);
    expect(sb.size).toBe(0);
    const inPool = pool.bytes;
    expect(inPool).toBe(5 * K64);
    // Later writes fill the kept tail chunk first, then reuse pooled ones.
    for (let i = 0; i < 4; i++) {
      sb.append(pattern.at(w, K64), 0, K64);
      w += K64;
    }
    expect(pool.reused).toBeGreaterThan(0);
    const out = new Uint8Array(sb.size);
    sb.copyOut(sb.headOffset, sb.size, out);
    expect(Buffer.compare(out, pattern.at(sb.headOffset, sb.size))).toBe(0);
  });

  it("without a pool, released chunks are simply dropped", () => {
    const sb = new SendBuffer();
    sb.append(new Uint8Array(K64), 0, K64);
    sb.release(K64);
    expect(sb.size).toBe(0);
    expect(sb.pool).toBeNull();
  });
});

/** Moves `total` pattern bytes a → b over a TcpPair; returns whether the hashes matched. */
function transfer(p: TcpPair, total: number, seed = 7): { ok: boolean; got: number } {
  const { client, server, listener } = p.connectPair();
  listener.close();
  const pattern = new Pattern(seed);
  const w = new Writer(client, total, pattern);
  const r = new Reader(server);
  p.runUntil(() => r.received >= total, 600_000, () => {
    w.pump();
    r.pump();
  });
  return { ok: w.hash.digest("hex") === r.hash.digest("hex"), got: r.received };
}

describe("TCP send-chunk recycling over links that keep no packets (CapTxNoRetain)", () => {
  it("a bulk transfer over the pipe reuses released chunks and delivers every byte", () => {
    const p = new TcpPair({ mtu: 1500 });
    const { ok, got } = transfer(p, 6 << 20);
    expect(got).toBe(6 << 20);
    expect(ok).toBe(true);
    const pool = tcpOf(p.a).chunkPool;
    expect(pool.reused).toBeGreaterThan(10);
    // Traffic over: what the pool keeps is bounded by its floor (the stack holds little now).
    expect(pool.bytes).toBeLessThanOrEqual(Math.max(POOL_FLOOR, pool.limit));
    expect(pool.limit).toBe(POOL_FLOOR);
    p.close();
  });

  it("routes say which links qualify: pipe and loopback do; fault injection, channels, wrappers and Ethernet do not", () => {
    const clock = new ManualClock();
    const routeOver = (link: LinkEndpoint) => {
      const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [tcp], clock });
      s.createNic(1, link);
      s.addAddress(1, "10.9.0.1/24");
      s.addRoute({ destination: "10.9.0.0/24", nic: 1 });
      const r = s.findRoute(0, null, Address.from("10.9.0.2"), 0x0800);
      if (isError(r)) throw new Error(r.message);
      return r.txNoRetain;
    };
    const pipe = () => new Pipe({ mtu: 1500, clock }).a;
    expect(pipe().capabilities & CapTxNoRetain).toBe(CapTxNoRetain);
    expect(routeOver(pipe())).toBe(true);
    expect(routeOver(new LoopbackEndpoint({ clock }))).toBe(true);
    expect(routeOver(new FaultEndpoint(pipe(), { clock, random: new SeededRandom(1), delayMs: 5 }))).toBe(false);
    expect(routeOver(new ChannelEndpoint({ mtu: 1500, capabilities: CapTxNoRetain }))).toBe(false);
    expect(routeOver(new NestedLink(pipe()))).toBe(false);
    expect(routeOver(new EthernetEndpoint(new Pipe({ mtu: 1514, maxHeaderLength: 14, clock }).a, { mac: "02:00:00:00:00:01" }))).toBe(false);
  });
});

/** Keeps every packet written through it by reference; optionally (wrongly) claims CapTxNoRetain. */
class Keeper extends NestedLink {
  readonly kept: PacketBuffer[] = [];
  constructor(inner: LinkEndpoint, private readonly claim: boolean) {
    super(inner);
  }
  override get capabilities(): number {
    return this.claim ? this.inner.capabilities : super.capabilities;
  }
  override writePackets(pkts: readonly PacketBuffer[]): number {
    for (const p of pkts) this.kept.push(p);
    return this.inner.writePackets(pkts);
  }
}

/** How many kept data packets no longer carry the stream bytes their sequence number names. */
function rewrittenPackets(k: Keeper, pattern: Pattern): { data: number; rewritten: number } {
  const iss = outboundSeq(k.kept[0]!);
  let data = 0;
  let rewritten = 0;
  for (const pkt of k.kept) {
    if (pkt.payloadSize === 0) continue;
    data++;
    const off = (outboundSeq(pkt) - iss - 1) >>> 0;
    const payload = concatViews(pkt.payload);
    if (Buffer.compare(payload, pattern.at(off, payload.length)) !== 0) rewritten++;
  }
  return { data, rewritten };
}

describe("the gate matters: packets kept by reference", () => {
  const total = 3 << 20;

  it("a link that keeps packets (no CapTxNoRetain) sees every payload unchanged after the transfer", () => {
    let keeper: Keeper | null = null;
    const p = new TcpPair({ mtu: 1500, wrapA: (l) => (keeper = new Keeper(l, false)) });
    const { ok } = transfer(p, total, 9);
    expect(ok).toBe(true);
    expect(tcpOf(p.a).chunkPool.reused).toBe(0);
    const { data, rewritten } = rewrittenPackets(keeper!, new Pattern(9));
    expect(data).toBeGreaterThan(1000);
    expect(rewritten).toBe(0);
    p.close();
  });

  it("a link that claimed CapTxNoRetain while keeping packets would see recycled memory (why the flag is a promise)", () => {
    let keeper: Keeper | null = null;
    const p = new TcpPair({ mtu: 1500, wrapA: (l) => (keeper = new Keeper(l, true)) });
    const { ok } = transfer(p, total, 9);
    // The peer got every byte (a recycled chunk only ever held acknowledged data) ...
    expect(ok).toBe(true);
    expect(tcpOf(p.a).chunkPool.reused).toBeGreaterThan(0);
    // ... but what the link kept was rewritten under it.
    const { rewritten } = rewrittenPackets(keeper!, new Pattern(9));
    expect(rewritten).toBeGreaterThan(0);
    p.close();
  });
});
