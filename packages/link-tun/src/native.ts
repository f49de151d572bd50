/**
 * Loads the native addon (build/Release/tun.node, built by scripts/build-addon.mjs when the
 * package installs). Loading is lazy: importing link-tun never fails; opening a device without
 * the addon throws LinkTunError("addon-not-built") with the command that builds it.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { BUILD_HINT, LinkTunError } from "./errors.js";

/** The wrapped native state of one open queue of a TUN/TAP device. */
export interface NativeHandle {
  readonly fd: number;
  /** The interface name the kernel attached us to (it picks one for an empty name). */
  readonly name: string;
}

/** Counters the native side keeps per handle. */
export interface NativeStats {
  rxPackets: number;
  rxBytes: number;
  rxBatches: number;
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  /** Packets copied into the EAGAIN queue. */
  txQueued: number;
  /** Packets dropped: the queue was full, or the device closed with packets queued. */
  txDrops: number;
  /** Writes the kernel refused (EIO while down, EINVAL for a malformed packet, ...). */
  txErrors: number;
  txEagain: number;
  /** TCP super-segments written (or queued) with a GSO virtio-net header for the kernel to cut. */
  txGsoPackets: number;
  queueLength: number;
  lastRxErrno: number;
  lastTxErrno: number;
}

/** One packet for writePackets: a contiguous Uint8Array or its pieces (written with one writev). */
export type NativePacket = Uint8Array | Uint8Array[];

export interface NativeTun {
  open(name: string, tap: boolean, multiQueue: boolean, vnetHdr: boolean): NativeHandle;
  /**
   * Starts the poller. `onBatch(slab, count)` runs once per wakeup: packet i is
   * `slab[meta[2i], meta[2i] + meta[2i+1])`; count < 0 reports a fatal read error (-errno).
   * `meta.length / 2` bounds the packets per batch.
   */
  start(h: NativeHandle, onBatch: (slab: ArrayBuffer | null, count: number) => void, meta: Uint32Array): void;
  setReading(h: NativeHandle, on: boolean): void;
  setRef(h: NativeHandle, ref: boolean): void;
  /**
   * One writev per packet. With vnetHdr, `gso[i] > 0` makes packet i a TCP super-segment: its
   * virtio-net header asks the kernel to cut it into `gso[i]`-byte segments and fill their checksums.
   * `spans`, when given: packet i's first piece is narrowed to `spans[2i]` bytes in, `spans[2i+1]`
   * long (the header inside the stack's header buffer); a span that does not fit fails the packet.
   */
  writePackets(h: NativeHandle, packets: readonly NativePacket[], gso?: Uint32Array, spans?: Uint32Array): number;
  close(h: NativeHandle): void;
  stats(h: NativeHandle): NativeStats;
  ifGetMtu(name: string): number;
  ifSetMtu(name: string, mtu: number): void;
  ifGetFlags(name: string): number;
  ifSetUp(name: string, up: boolean): void;
  ifSetTxQueueLen(name: string, len: number): void;
  ifIndex(name: string): number;
  ifSetAddress4(name: string, addr: string, prefixLen: number): void;
  ifSetAddress6(name: string, addr: string, prefixLen: number): void;
  ifGetHwAddr(name: string): Uint8Array;
}

/** Where the addon is; NETSTACK_TUN_ADDON overrides it (tests use that to see the "not built" path). */
const addonPath = process.env.NETSTACK_TUN_ADDON ?? fileURLToPath(new URL("../build/Release/tun.node", import.meta.url));
let cached: NativeTun | null = null;

/** Tests: replace the addon with a fake (or null to load the real one again). Not exported from index. */
export function setNativeForTesting(n: NativeTun | null): void {
  cached = n;
}

/** True when the addon file exists (it may still fail to load). */
export function addonBuilt(): boolean {
  return existsSync(addonPath);
}

/** The addon, loaded once; throws LinkTunError("addon-not-built") when it cannot be loaded. */
export function loadNative(): NativeTun {
  if (cached) return cached;
  if (process.platform !== "linux") throw new LinkTunError("unsupported", "TUN/TAP links need Linux");
  if (!existsSync(addonPath))
    throw new LinkTunError("addon-not-built", `link-tun addon not built: run \`${BUILD_HINT}\` (needs python3, make and a C compiler)`);
  try {
    cached = createRequire(import.meta.url)(addonPath) as NativeTun;
  } catch (err) {
    throw new LinkTunError("addon-not-built",
      `link-tun addon failed to load (${err instanceof Error ? err.message.split("\n")[0] : String(err)}): rebuild it with \`${BUILD_HINT}\``);
  }
  return cached;
}
