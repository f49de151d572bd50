/**
 * Send-side GSO (transport/tcp/gso.ts): over a link with CapGso, TCP hands the link super-segments
 * of several MSS (PacketBuffer.gsoSize = MSS) with the pseudo-header sum in the checksum field, as
 * a TUN device with virtio-net headers takes them. The test link below does what the kernel does
 * with such a packet: cuts it into MSS-sized segments (headers repeated, sequence numbers advanced,
 * FIN/PSH on the last piece only, CWR on the first only, IPv4 ID incremented), and completes each
 * segment's checksum from the pseudo-header. The receiving stack verifies every checksum (no
 * offload on its side), so a wrong partial sum or a wrong cut shows up as a checksum error or
 * corrupted data.
 */
import { describe, expect, it } from "vitest";
import { Pattern, Reader, TcpPair, Writer, ok, type TcpPairOptions } from "./helpers/tcp-harness.js";
import { ShutdownWrite } from "../src/tcpip/endpoint.js";
import { PacketBuffer } from "../src/buffer/packet.js";
import { CapGso, type LinkEndpoint } from "../src/link/link.js";
import { NestedLink } from "../src/link/nested.js";
import { checksum, finishChecksum, pseudoHeaderChecksum } from "../src/header/checksum.js";

const MiB = 1 << 20;

/** A CapGso link that segments super-segments in software before the wire, checking each one. */
class SoftGso extends NestedLink {
  superSegments = 0;
  wireFromSuper = 0;
  /** Problems found in super-segments (wrong partial checksum, not whole MSS multiples, ...). */
  readonly problems: string[] = [];
  largestWire = 0;
  private readonly one: PacketBuffer[] = [];

  constructor(inner: LinkEndpoint, private readonly maxSize = 0xffff, private readonly gso = true) {
    super(inner);
  }

  override get gsoMaxSize(): number {
    return this.maxSize;
  }

  override get capabilities(): number {
    return this.inner.capabilities | (this.gso ? CapGso : 0);
  }

  override writePackets(pkts: readonly PacketBuffer[]): number {
    let n = 0;
    for (const p of pkts) {
      if (p.gsoSize === 0) {
        this.largestWire = Math.max(this.largestWire, p.size);
        this.one[0] = p;
        n += this.inner.writePackets(this.one);
        continue;
      }
      this.superSegments++;
      for (const seg of this.cut(p)) {
        this.largestWire = Math.max(this.largestWire, seg.length);
        this.one[0] = PacketBuffer.inbound(seg);
        this.inner.writePackets(this.one);
        this.wireFromSuper++;
      }
      n++;
    }
    this.one.length = 0;
    return n;
  }

  /** IPv4 + TCP super-segment -> MSS-sized wire segments with complete checksums. */
  private cut(p: PacketBuffer): Uint8Array[] {
    const b = p.toBytes();
    const ihl = (b[0]! & 0x0f) * 4;
    const thl = (b[ihl + 12]! >> 4) * 4;
    const hdr = ihl + thl;
    const data = b.length - hdr;
    const mss = p.gsoSize;
    if (p.size > this.gsoMaxSize) this.problems.push(`super-segment of ${p.size} bytes over ${this.gsoMaxSize}`);
    if (data <= mss || data % mss !== 0) this.problems.push(`payload ${data} is not a multiple (>1) of ${mss}`);
    const field = (b[ihl + 16]! << 8) | b[ihl + 17]!;
    const pseudo = pseudoHeaderChecksum(6, b, 12, b, 16, 4, b.length - ihl);
    if (field !== pseudo) this.problems.push(`checksum field ${field} is not the pseudo-header sum ${pseudo}`);
    if (!p.checksumOffloaded) this.problems.push("super-segment not marked checksumOffloaded");
    const out: Uint8Array[] = [];
    const seq0 = ((b[ihl + 4]! << 24) | (b[ihl + 5]! << 16) | (b[ihl + 6]! << 8) | b[ihl + 7]!) >>> 0;
    const id0 = (b[4]! << 8) | b[5]!;
    const flags = b[ihl + 13]!;
    for (let off = 0, k = 0; off < data; off += mss, k++) {
      const len = Math.min(mss, data - off);
      const last = off + len === data;
      const s = new Uint8Array(hdr + len);
      s.set(b.subarray(0, hdr), 0);
      s.set(b.subarray(hdr + off, hdr + off + len), hdr);
      // IPv4: total length, ID + k, header checksum.
      s[2] = (hdr + len) >> 8;
      s[3] = (hdr + len) & 0xff;
      const id = (id0 + k) & 0xffff;
      s[4] = id >> 8;
      s[5] = id & 0xff;
      s[10] = 0;
      s[11] = 0;
      const hc = finishChecksum(checksum(s, 0, ihl));
      s[10] = hc >> 8;
      s[11] = hc & 0xff;
      // TCP: sequence number, FIN/PSH on the last piece only, CWR on the first only.
      const seq = (seq0 + off) >>> 0;
      s[ihl + 4] = seq >>> 24;
      s[ihl + 5] = (seq >>> 16) & 0xff;
      s[ihl + 6] = (seq >>> 8) & 0xff;
      s[ihl + 7] = seq & 0xff;
      let f = flags;
      if (!last) f &= ~(0x01 | 0x08);
      if (k > 0) f &= ~0x80;
      s[ihl + 13] = f;
      s[ihl + 16] = 0;
      s[ihl + 17] = 0;
      const sum = pseudoHeaderChecksum(6, s, 12, s, 16, 4, thl + len);
      const c = finishChecksum(checksum(s, ihl, thl + len, sum));
      s[ihl + 16] = c >> 8;
      s[ihl + 17] = c & 0xff;
      out.push(s);
    }
    return out;
  }
}

function transfer(opts: TcpPairOptions, bytes: number) {
  let link: SoftGso | null = null;
  const p = new TcpPair({ ...opts, wrapA: (l) => (link = new SoftGso(l)) });
  const { client, server, listener } = p.connectPair();
  listener.close();
  const w = new Writer(client, bytes, new Pattern(7));
  const r = new Reader(server);
  let shut = false;
  p.runUntil(() => r.eof, 3_600_000, () => {
    w.pump();
    r.pump();
    if (w.done && !shut) {
      shut = true;
      ok(client.shutdown(ShutdownWrite));
    }
  });
  expect(w.error).toBeNull();
  expect(r.received).toBe(bytes);
  expect(r.hash.digest("hex")).toBe(w.hash.digest("hex"));
  return { p, link: link! };
}

describe("TCP send-side GSO (super-segments over a CapGso link)", () => {
  it("sends whole-MSS super-segments with the pseudo-header sum in the checksum field; cut to the MTU, every segment verifies and the data is intact", () => {
    const { p, link } = transfer({ mtu: 1500 }, 16 * MiB);
    expect(link.problems).toEqual([]);
    // Most of the data went as super-segments: far fewer writes than wire segments.
    expect(link.superSegments).toBeGreaterThan(100);
    expect(link.wireFromSuper).toBeGreaterThan(10 * link.superSegments);
    expect(link.largestWire).toBeLessThanOrEqual(1500);
    expect(p.b.stats.tcp.checksumErrors).toBe(0);
    expect(p.a.stats.tcp.retransmits).toBe(0);
  });

  it("recovers from wire segments lost out of the middle of super-segments (2 % loss after the cut)", () => {
    const { p, link } = transfer({ mtu: 1500, faultsA: { loss: 0.02 }, seed: 9 }, 8 * MiB);
    expect(link.problems).toEqual([]);
    expect(link.superSegments).toBeGreaterThan(10);
    expect(p.faultA!.stats.lost).toBeGreaterThan(50);
    expect(p.a.stats.tcp.retransmits).toBeGreaterThan(0);
    expect(p.b.stats.tcp.checksumErrors).toBe(0);
  });

  it("without gsoMaxSize (or without CapGso) every packet is an ordinary segment within the MTU", () => {
    for (const wrap of [(l: LinkEndpoint) => new SoftGso(l, 0, true), (l: LinkEndpoint) => new SoftGso(l, 0xffff, false)]) {
      let link: SoftGso | null = null;
      const p = new TcpPair({ mtu: 1500, wrapA: (l) => (link = wrap(l)) });
      const { client, server, listener } = p.connectPair();
      listener.close();
      const w = new Writer(client, 2 * MiB, new Pattern(3));
      const r = new Reader(server);
      p.runUntil(() => r.received === 2 * MiB, 600_000, () => {
        w.pump();
        r.pump();
      });
      expect(r.hash.digest("hex")).toBe(w.hash.digest("hex"));
      expect(link!.superSegments).toBe(0);
      expect(link!.largestWire).toBeLessThanOrEqual(1500);
    }
  });
});
