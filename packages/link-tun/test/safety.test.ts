/**
 * The receive path's safety rules, against a fake addon: a packet is only ever a view inside the
 * slab the addon handed over (entries pointing past it are dropped and counted), frames longer
 * than the MTU plus the link header are dropped and counted, and a batch count larger than the
 * meta array is clamped. The real addon's descriptor hygiene is tested in
 * test/interop/addon-safety.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { NetworkDispatcher, PacketBuffer } from "@netstack-ts/netstack";
import { TunEndpoint } from "../src/tun.js";
import { setNativeForTesting, type NativeHandle, type NativeTun } from "../src/native.js";

function fakeNative(mtu = 1500): NativeTun & { onBatch: ((slab: ArrayBuffer | null, count: number) => void) | null; meta: Uint32Array | null } {
  const f = {
    onBatch: null as ((slab: ArrayBuffer | null, count: number) => void) | null,
    meta: null as Uint32Array | null,
    open: (name: string) => ({ fd: 42, name: name || "tun7" }) as NativeHandle,
    start: (_h: NativeHandle, cb: (slab: ArrayBuffer | null, count: number) => void, meta: Uint32Array) => { f.onBatch = cb; f.meta = meta; },
    setReading: () => {},
    setRef: () => {},
    writePackets: (_h: NativeHandle, pkts: readonly unknown[]) => pkts.length,
    close: () => {},
    stats: () => ({ rxPackets: 0, rxBytes: 0, rxBatches: 0, rxErrors: 0, txPackets: 0, txBytes: 0, txQueued: 0, txDrops: 0,
      txErrors: 0, txEagain: 0, txGsoPackets: 0, queueLength: 0, lastRxErrno: 0, lastTxErrno: 0 }),
    ifGetMtu: () => mtu,
    ifSetMtu: () => {},
    ifGetFlags: () => 1,
    ifSetUp: () => {},
    ifSetTxQueueLen: () => {},
    ifIndex: () => 3,
    ifSetAddress4: () => {},
    ifSetAddress6: () => {},
    ifGetHwAddr: () => new Uint8Array([2, 0, 0, 0, 0, 1]),
  };
  return f;
}

class Recorder implements NetworkDispatcher {
  pkts: PacketBuffer[] = [];
  ends = 0;
  deliverNetworkPacket(_protocol: number, pkt: PacketBuffer): void {
    this.pkts.push(pkt);
  }
  deliverBatchEnd(): void {
    this.ends++;
  }
}

afterEach(() => setNativeForTesting(null));

describe("TunEndpoint receive safety", () => {
  it("drops and counts frames longer than the MTU (TUN) and delivers the MTU-sized one", () => {
    const f = fakeNative(1500);
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0", batchSize: 4 });
    const d = new Recorder();
    t.attach(d);
    const slab = new ArrayBuffer(1500 + 1501 + 9000);
    const u = new Uint8Array(slab);
    u[0] = 0x45;
    u[1500] = 0x45;
    u[3001] = 0x60;
    f.meta!.set([0, 1500, 1500, 1501, 3001, 9000]);
    f.onBatch!(slab, 3);
    expect(d.pkts.map((p) => p.size)).toEqual([1500]);
    expect(d.ends).toBe(1);
    expect(t.stats().rxOversize).toBe(2);
  });

  it("allows the Ethernet header and a VLAN tag on top of the MTU for TAP frames, not more", () => {
    const f = fakeNative(1500);
    setNativeForTesting(f);
    const t = TunEndpoint.openFrames({ name: "nt1", batchSize: 4 });
    const d = new Recorder();
    t.attach(d);
    const slab = new ArrayBuffer(1518 + 1519);
    f.meta!.set([0, 1518, 1518, 1519]);
    f.onBatch!(slab, 2);
    expect(d.pkts.map((p) => p.size)).toEqual([1518]);
    expect(t.stats().rxOversize).toBe(1);
  });

  it("never reads past the slab: entries beyond it are dropped and counted, and the count is clamped to the meta array", () => {
    const f = fakeNative();
    setNativeForTesting(f);
    const t = TunEndpoint.open({ name: "nt0", batchSize: 2 });
    const d = new Recorder();
    t.attach(d);
    const slab = new ArrayBuffer(100);
    new Uint8Array(slab)[0] = 0x45;
    f.meta!.set([0, 60, 60, 41]); // the second runs one byte past the end
    f.onBatch!(slab, 5); // more than the 2 entries meta holds
    expect(d.pkts.map((p) => [p.start, p.end])).toEqual([[0, 60]]);
    expect(d.pkts.every((p) => p.end <= p.buf.length)).toBe(true);
    expect(t.stats().rxInvalid).toBe(1 + 3);
  });
});
