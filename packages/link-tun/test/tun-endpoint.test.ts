/**
 * TunEndpoint's JavaScript half, against a fake native addon: how a native batch becomes
 * PacketBuffers (one per packet, views into one slab, one batch end), and how writePackets hands
 * each packet's pieces to the native writer without concatenating packets.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CapGso, PacketBuffer, type NetworkDispatcher } from "@netstack-ts/netstack";
import { TunEndpoint, TapEndpoint } from "../src/tun.js";
import { setNativeForTesting, type NativeHandle, type NativePacket, type NativeTun } from "../src/native.js";
import { LinkTunError } from "../src/errors.js";

interface Fake extends NativeTun {
  onBatch: ((slab: ArrayBuffer | null, count: number) => void) | null;
  meta: Uint32Array | null;
  writes: NativePacket[][];
  config: string[];
  closed: number;
}

function fakeNative(): Fake {
  const f: Fake = {
    onBatch: null, meta: null, writes: [], config: [], closed: 0,
    open: (name) => ({ fd: 42, name: name || "tun7" }) as NativeHandle,
    start: (_h, cb, meta) => { f.onBatch = cb; f.meta = meta; },
    setReading: () => {},
    setRef: () => {},
    // Copies the outer array: the endpoint reuses it (and the piece lists) between calls. Applies
    // the header spans as the addon does (packet i's first piece narrowed to its span).
    writePackets: (_h, pkts, _gso, spans) => {
      const cut = (x: Uint8Array, i: number) => (spans ? x.subarray(spans[2 * i]!, spans[2 * i]! + spans[2 * i + 1]!) : x);
      f.writes.push(pkts.map((p, i) => (Array.isArray(p) ? p.map((x, k) => (k === 0 ? cut(x, i) : x)) : cut(p, i))));
      return pkts.length;
    },
    close: () => { f.closed++; },
    stats: () => ({ rxPackets: 0, rxBytes: 0, rxBatches: 0, rxErrors: 0, txPackets: 0, txBytes: 0, txQueued: 0, txDrops: 0,
      txErrors: 0, txEagain: 0, txGsoPackets: 0, queueLength: 0, lastRxErrno: 0, lastTxErrno: 0 }),
    ifGetMtu: () => 1500,
    ifSetMtu: (n, m) => { f.config.push(`mtu ${n} ${m}`); },
    ifGetFlags: () => 1,
    ifSetUp: (n, up) => { f.config.push(`up ${n} ${up}`); },
    ifSetTxQueueLen: () => {},
    ifIndex: () => 3,
    ifSetAddress4: (n, a, p) => { f.config.push(`addr4 ${n} ${a}/${p}`); },
    ifSetAddress6: (n, a, p) => { f.config.push(`addr6 ${n} ${a}/${p}`); },
    ifGetHwAddr: () => new Uint8Array([2, 0, 0, 0, 0, 1]),
  };
  return f;
}

class Recorder implements NetworkDispatcher {
  events: string[] = [];
  pkts: PacketBuffer[] = [];
  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    this.events.push(`pkt ${protocol.toString(16)} ${pkt.size}`);
    this.pkts.push(pkt);
  }
  deliverBatchEnd(): void {
    this.events.push("end");
  }
}

afterEach(() => setNativeForTesting(null));

describe("TunEndpoint (fake addon)", () => {
  it("configures the device in order: MTU, address, up, then IPv6 address", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0", mtu: 9000, host: { address: "198.18.0.1/24", address6: "fd00:198:18::1/64" } });
    expect(f.config).toEqual(["mtu nt0 9000", "addr4 nt0 198.18.0.1/24", "up nt0 true", "addr6 nt0 fd00:198:18::1/64"]);
    expect(t.mtu).toBe(9000);
    expect(t.name).toBe("nt0");
  });

  it("takes the kernel's MTU when none is given, and the name the kernel picked", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({});
    expect(t.mtu).toBe(1500);
    expect(t.name).toBe("tun7");
  });

  it("delivers a native batch as views into one slab, protocol from the version nibble, one batch end", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0", batchSize: 8 });
    const d = new Recorder();
    t.attach(d);
    expect(f.meta!.length).toBe(16);
    const slab = new ArrayBuffer(100);
    const u = new Uint8Array(slab);
    u[0] = 0x45; // IPv4, 20 bytes at 0
    u[20] = 0x60; // IPv6, 40 bytes at 20
    u[60] = 0x00; // neither, 10 bytes at 60
    f.meta!.set([0, 20, 20, 40, 60, 10]);
    f.onBatch!(slab, 3);
    expect(d.events).toEqual(["pkt 800 20", "pkt 86dd 40", "pkt 0 10", "end"]);
    // Zero copy: every packet is a view into the slab the addon handed over.
    expect(d.pkts.every((p) => p.buf.buffer === slab)).toBe(true);
    expect(d.pkts.map((p) => [p.start, p.end])).toEqual([[0, 20], [20, 60], [60, 70]]);
  });

  it("counts packets that arrive while unattached instead of delivering them", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0" });
    f.meta!.set([0, 20]);
    f.onBatch!(new ArrayBuffer(20), 1);
    expect(t.stats().rxUnattached).toBe(1);
  });

  it("reports a fatal read error once through onError as a LinkTunError", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0" });
    const errs: LinkTunError[] = [];
    t.onError = (e) => errs.push(e);
    f.onBatch!(null, -77);
    expect(errs).toHaveLength(1);
    expect(errs[0]!.code).toBe("io-error");
  });

  it("hands each packet to the writer as its own entry: header area and payload views as pieces", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0" });
    const payload = new Uint8Array([9, 9, 9]);
    const a = PacketBuffer.outbound(40, payload);
    a.prepend(20);
    const b = PacketBuffer.outbound(40);
    b.prepend(28);
    expect(t.writePackets([a, b])).toBe(2);
    const [call] = f.writes;
    expect(call).toHaveLength(2);
    const first = call![0] as Uint8Array[];
    expect(Array.isArray(first)).toBe(true);
    expect(first.map((x) => x.length)).toEqual([20, 3]);
    expect(first[1]).toBe(payload); // the payload view itself, not a copy
    expect((call![1] as Uint8Array).length).toBe(28);
  });

  it("one packet with one payload view (request/response): each call gets its own pieces, and the reused piece list keeps no reference afterwards", () => {
    const f = fakeNative();
    const raw: NativePacket[] = [];
    const write = f.writePackets;
    f.writePackets = (h, pkts, gso, spans) => {
      raw.push(pkts[0]!);
      return write(h, pkts, gso, spans);
    };
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0" });
    const p1 = new Uint8Array([1, 1]);
    const p2 = new Uint8Array([2, 2, 2]);
    const a = PacketBuffer.outbound(40, p1);
    a.prepend(20);
    const b = PacketBuffer.outbound(40, p2);
    b.prepend(32);
    a.buf[a.start] = 0xa1;
    a.buf[a.end - 1] = 0xa2;
    b.buf[b.start] = 0xb1;
    expect(t.writePackets([a])).toBe(1);
    expect(t.writePackets([b])).toBe(1);
    // What the native side saw during each call (the fake copied the pieces then).
    const seen = f.writes.map((w) => (w[0] as Uint8Array[]).map((x) => x.length));
    expect(seen).toEqual([[20, 2], [32, 3]]);
    // The header piece is exactly the header bytes (the span the addon is given), first to last.
    const h1 = (f.writes[0]![0] as Uint8Array[])[0]!;
    expect([h1[0], h1[19]]).toEqual([0xa1, 0xa2]);
    expect((f.writes[1]![0] as Uint8Array[])[0]![0]).toBe(0xb1);
    expect((f.writes[0]![0] as Uint8Array[])[1]).toBe(p1);
    expect((f.writes[1]![0] as Uint8Array[])[1]).toBe(p2);
    // The same list was reused, and once a call returns it no longer holds the packet's views.
    expect(raw[0]).toBe(raw[1]);
    expect((raw[0] as Uint8Array[]).map((x) => x.length)).toEqual([0, 0]);
  });

  it("refuses writes after close and counts them; close is idempotent", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0" });
    t.close();
    t.close();
    expect(f.closed).toBe(1);
    expect(t.writePackets([PacketBuffer.outbound(20)])).toBe(0);
    expect(t.stats().txAfterClose).toBe(1);
  });

  it("vnetHdr: asks the addon for IFF_VNET_HDR, strips the virtio-net header, and trusts the kernel's checksum flags", () => {
    const f = fakeNative();
    const opened: boolean[] = [];
    const open = f.open;
    f.open = (n, tap, mq, vnet) => { opened.push(vnet); return open(n, tap, mq, vnet); };
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0", vnetHdr: true });
    expect(opened).toEqual([true]);
    const d = new Recorder();
    t.attach(d);
    const slab = new ArrayBuffer(200);
    const u = new Uint8Array(slab);
    // Packet 1: virtio_net_hdr with NEEDS_CSUM (1), then a 40-byte IPv4 packet.
    u[0] = 1;
    u[10] = 0x45;
    // Packet 2: no flags (the stack must verify), then a 20-byte IPv4 packet.
    u[60] = 0x45;
    // Packet 3: DATA_VALID (2), then a 40-byte IPv6 packet.
    u[80] = 2;
    u[90] = 0x60;
    // Packet 4: shorter than a virtio-net header: dropped.
    f.meta!.set([0, 50, 50, 30, 80, 50, 130, 5]);
    f.onBatch!(slab, 4);
    expect(d.events).toEqual(["pkt 800 40", "pkt 800 20", "pkt 86dd 40", "end"]);
    expect(d.pkts.map((p) => [p.start, p.end])).toEqual([[10, 50], [60, 80], [90, 130]]);
    expect(d.pkts.map((p) => p.checksumOffloaded)).toEqual([true, false, true]);
  });

  it("vnetHdr: a GSO segment (gso_type set) may exceed the MTU up to one IP datagram; a plain oversize packet is dropped", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0", vnetHdr: true });
    const d = new Recorder();
    t.attach(d);
    const slab = new ArrayBuffer(2 * (10 + 4000));
    const u = new Uint8Array(slab);
    u[0] = 1; // NEEDS_CSUM
    u[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4
    u[10] = 0x45;
    u[4010] = 1; // NEEDS_CSUM, no GSO: must fit the MTU
    u[4020] = 0x45;
    f.meta!.set([0, 4010, 4010, 4010]);
    f.onBatch!(slab, 2);
    expect(d.events).toEqual(["pkt 800 4000", "end"]);
    expect(t.stats().rxOversize).toBe(1);
  });

  it("vnetHdr on a TUN advertises CapGso (65535 bytes) and passes each super-segment's gso size by slot; TAP, gso:false and plain devices do not", () => {
    const f = fakeNative();
    const gsoArgs: (number[] | undefined)[] = [];
    const write = f.writePackets;
    f.writePackets = (h, pkts, gso) => { gsoArgs.push(gso ? [...gso.subarray(0, pkts.length)] : undefined); return write(h, pkts, gso); };
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0", vnetHdr: true });
    expect(t.capabilities & CapGso).toBe(CapGso);
    expect(t.gsoMaxSize).toBe(65535);
    const plain = PacketBuffer.outbound(40, new Uint8Array(100));
    plain.prepend(40);
    const big = PacketBuffer.outbound(40, new Uint8Array(4000));
    big.prepend(40);
    big.gsoSize = 1448;
    expect(t.writePackets([plain, big, plain])).toBe(3);
    expect(t.writePackets([plain])).toBe(1);
    expect(t.writePackets([big])).toBe(1);
    // Only batches holding a super-segment carry the array; other slots are 0.
    expect(gsoArgs).toEqual([[0, 1448, 0], undefined, [1448]]);
    expect(t.gsoPacketsSent).toBe(0); // the fake addon counts nothing: the counter is the addon's
    for (const o of [{ vnetHdr: true, gso: false }, {}]) {
      const u = TunEndpoint.open({ name: "nt1", ...o });
      expect(u.capabilities & CapGso).toBe(0);
      expect(u.gsoMaxSize).toBe(0);
    }
    const tap = TapEndpoint.open({ name: "tp0", vnetHdr: true });
    expect(tap.device.capabilities & CapGso).toBe(0);
  });

  it("without vnetHdr the addon is opened plainly and every packet's checksum is left to the stack", () => {
    const f = fakeNative();
    const opened: boolean[] = [];
    const open = f.open;
    f.open = (n, tap, mq, vnet) => { opened.push(vnet); return open(n, tap, mq, vnet); };
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0" });
    expect(opened).toEqual([false]);
    const d = new Recorder();
    t.attach(d);
    const u = new Uint8Array(20);
    u[0] = 0x45;
    f.meta!.set([0, 20]);
    f.onBatch!(u.buffer, 1);
    expect(d.pkts[0]!.checksumOffloaded).toBe(false);
  });

  it("TapEndpoint frames for Ethernet with a locally administered unicast MAC", () => {
    setNativeForTesting(fakeNative());
    const t = TapEndpoint.open({ name: "tp0" });
    expect(t.maxHeaderLength).toBe(14);
    expect(t.linkAddress).toHaveLength(6);
    expect(t.linkAddress[0]! & 0x03).toBe(0x02);
    expect(t.device.mode).toBe("tap");
  });
});
