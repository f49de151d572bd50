/**
 * TUN and TAP devices as netstack-ts link endpoints.
 *
 * `TunEndpoint` is one queue of a Linux TUN/TAP device. In "tun" mode it is an L3 link: every
 * read is one bare IPv4 or IPv6 packet, its protocol read from the version nibble. In "tap"
 * mode it carries whole Ethernet frames and is meant to sit under an EthernetEndpoint
 * (`TapEndpoint` below does that), so ARP and NDP run in the stack.
 *
 * Receive: the native poller drains the device on each wakeup into one fresh slab and calls
 * `onBatch` once (a slab of at most 2 KiB is copied once natively into a plain ArrayBuffer, which
 * is cheaper than an external buffer's finalizer; request/response traffic is read one packet per
 * wakeup, which spares the read() that would only answer EAGAIN — see tun.c); each packet
 * becomes a `PacketBuffer.inbound` over that slab (no copy in JavaScript) and is
 * handed to the dispatcher, then `deliverBatchEnd` runs once. Ownership: the slab is never
 * reused, so the stack may keep views into it for as long as it likes (zero-copy receive).
 *
 * Send: `writePackets` gives the native side, per packet, the header buffer (with the header's
 * offset and length in a reused Uint32Array of spans, so no view is made per packet) and the
 * payload views as separate pieces; it issues one writev per packet (a TUN write is exactly one
 * packet) inside one native call. Nothing is copied in JavaScript.
 *
 * Offloads (`vnetHdr`): the device is opened with IFF_VNET_HDR and TUNSETOFFLOAD, so every read
 * and write carries a virtio-net header. Receive: the kernel hands over TCP segments of up to
 * 64 KiB whose checksums it vouches for. Send (TUN mode): the link advertises CapGso with
 * `gsoMaxSize` 65535, TCP builds super-segments of several MSS (PacketBuffer.gsoSize) with the
 * pseudo-header sum in the checksum field, and the addon writes each with a GSO header (TCPV4 /
 * TCPV6, NEEDS_CSUM): the kernel segments it and completes the checksums. Everything else goes
 * with an all-zero header, exactly as the stack built it. Without `vnetHdr` the link advertises
 * nothing and moves MTU-sized packets with complete checksums.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:os";
import {
  CapGso, CapTxNoRetain, EthernetEndpoint, PacketBuffer, protocolFromVersion, type LinkEndpoint, type NetworkDispatcher,
  disposeSymbol,
} from "@netstack-ts/netstack";
import { LinkTunError, configError, openError } from "./errors.js";
import { loadNative, type NativeHandle, type NativePacket, type NativeStats, type NativeTun } from "./native.js";
import { configureInterface, type InterfaceConfig } from "./netif.js";

export interface TunOptions {
  /** Interface name; "" lets the kernel pick (tun0, tap0, ...). Attaches to it if it exists. */
  name?: string;
  /**
   * MTU to set on the interface. Default: keep the interface's MTU (1500 for a new device) and
   * use it as the link MTU.
   */
  mtu?: number;
  /** Bring the interface up (default true). */
  up?: boolean;
  /** Kernel-side address configuration, applied after the device is attached (see netif.ts). */
  host?: Omit<InterfaceConfig, "mtu" | "up">;
  /** IFF_MULTI_QUEUE: several fds (processes) may attach to the same device. */
  multiQueue?: boolean;
  /**
   * IFF_VNET_HDR with TUNSETOFFLOAD (default false). The kernel may then pass TCP segments of up
   * to 64 KiB (its TSO/GSO output, not cut to the MTU) whose checksum it vouches for: one read and
   * one stack pass per 64 KiB instead of per 1500 bytes. Packets the stack writes are unchanged
   * (an all-zero virtio-net header goes in front: no segmentation, checksum complete).
   */
  vnetHdr?: boolean;
  /**
   * With `vnetHdr` on a TUN (not TAP) device: accept TCP super-segments from the stack and let the
   * kernel segment them (CapGso; default true). False keeps the receive offload only.
   */
  gso?: boolean;
  /** Packets read per wakeup at most (default 256). */
  batchSize?: number;
  /** Whether the open device keeps Node's event loop alive (default true, like a socket). */
  ref?: boolean;
}

/** Counters of a TUN/TAP link. */
export interface TunLinkStats extends NativeStats {
  /** Packets read while no dispatcher was attached. */
  rxUnattached: number;
  /** Packets handed to writePackets after close. */
  txAfterClose: number;
  /**
   * Received frames longer than the MTU plus the link header (14-byte Ethernet header and a 4-byte
   * VLAN tag on TAP): dropped, never handed to the stack.
   */
  rxOversize: number;
  /** Batch entries whose offset and length fall outside the slab the addon handed over: dropped. */
  rxInvalid: number;
}

const EMPTY = new Uint8Array(0);
/** sizeof(struct virtio_net_hdr) and its flags (linux/virtio_net.h). */
const VNET_HDR_LEN = 10;
const VNET_F_NEEDS_CSUM = 1;
const VNET_F_DATA_VALID = 2;
const VNET_GSO_NONE = 0;

/** One queue of a TUN (L3) or TAP (L2 frames) device. */
export class TunEndpoint implements LinkEndpoint {
  readonly name: string;
  readonly mode: "tun" | "tap";
  readonly mtu: number;
  readonly maxHeaderLength = 0;
  readonly linkAddress: Uint8Array = EMPTY;
  /**
   * CapGso when the device carries virtio-net headers in TUN mode (see the file comment); nothing
   * otherwise: checksums are then computed and verified by the stack.
   */
  readonly capabilities: number;
  /** With CapGso: the largest super-segment accepted (one IP datagram); 0 without. */
  readonly gsoMaxSize: number;
  /** Called once if the device fails for good (e.g. it was deleted); the link stops reading. */
  onError: ((err: LinkTunError) => void) | null = null;

  private readonly native: NativeTun;
  private readonly handle: NativeHandle;
  private readonly l3: boolean;
  /** Reads start with a struct virtio_net_hdr (IFF_VNET_HDR). */
  readonly vnetHdr: boolean;
  private dispatcher: NetworkDispatcher | null = null;
  private readonly meta: Uint32Array;
  private closedFlag = false;
  private rxUnattached = 0;
  private txAfterClose = 0;
  private rxOversize = 0;
  private rxInvalid = 0;
  private gsoSentAtClose = 0;
  /** Longest frame accepted from the device (see TunLinkStats.rxOversize). */
  private readonly maxFrame: number;
  /**
   * The outer list for the common one-packet call (an ACK, a request/response segment), reused
   * with its length fixed at 1. Longer batches get a fresh array sized once: setting a JavaScript
   * array's `length` (to trim or clear a reused one) is a runtime call, dearer than allocating.
   */
  private readonly one: NativePacket[] = [EMPTY];
  /**
   * The pieces of that one packet when it is a header and one payload view (a request/response
   * data segment), reused the same way; both slots are reset after the call.
   */
  private readonly pair: Uint8Array[] = [EMPTY, EMPTY];
  /** Per-slot gso sizes for the addon (grown on demand; only passed when a batch has one). */
  private gso = new Uint32Array(16);
  /**
   * Per-slot header spans for the addon: packet i's first piece is its whole header buffer `buf`,
   * and [spans[2i], spans[2i] + spans[2i+1]) the header bytes in it (no subarray per packet).
   */
  private spans = new Uint32Array(32);

  /** Opens (creating if needed) a TUN device and configures it; throws LinkTunError. */
  static open(opts: TunOptions = {}): TunEndpoint {
    return new TunEndpoint("tun", opts);
  }

  /** Opens a TAP device as a frame carrier (put it under an EthernetEndpoint, or use TapEndpoint). */
  static openFrames(opts: TunOptions = {}): TunEndpoint {
    return new TunEndpoint("tap", opts);
  }

  private constructor(mode: "tun" | "tap", opts: TunOptions) {
    this.native = loadNative();
    this.vnetHdr = opts.vnetHdr === true;
    this.mode = mode;
    this.l3 = mode === "tun";
    const want = opts.name ?? "";
    const batch = opts.batchSize ?? 256;
    if (!Number.isInteger(batch) || batch < 1 || batch > 4096) throw new RangeError(`batchSize must be 1..4096, got ${batch}`);
    try {
      this.handle = this.native.open(want, mode === "tap", opts.multiQueue ?? false, this.vnetHdr);
    } catch (err) {
      throw openError(err, want, mode);
    }
    this.name = this.handle.name;
    try {
      configureInterface(this.name, { mtu: opts.mtu, up: opts.up ?? true, ...opts.host });
      this.mtu = opts.mtu ?? this.native.ifGetMtu(this.name);
    } catch (err) {
      this.native.close(this.handle);
      throw configError(err, this.name, "the interface configuration");
    }
    this.maxFrame = this.mtu + (this.l3 ? 0 : 14 + 4);
    const gso = this.vnetHdr && this.l3 && opts.gso !== false;
    // Each write is done, or copied into the addon's EAGAIN queue, before writePackets returns.
    this.capabilities = (gso ? CapGso : 0) | CapTxNoRetain;
    this.gsoMaxSize = gso ? 0xffff : 0;
    this.meta = new Uint32Array(batch * 2);
    if (opts.ref === false) this.native.setRef(this.handle, false);
    this.native.start(this.handle, this.onBatch, this.meta);
  }

  get isAttached(): boolean {
    return this.dispatcher !== null;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The device's file descriptor (for diagnostics). */
  get fd(): number {
    return this.handle.fd;
  }

  attach(dispatcher: NetworkDispatcher | null): void {
    this.dispatcher = this.closedFlag ? null : dispatcher;
  }

  /**
   * One native call for the whole batch; per packet the header area and payload views are
   * separate pieces of one writev. Returns how many packets the device took (written or queued).
   */
  writePackets(pkts: readonly PacketBuffer[]): number {
    if (this.closedFlag) {
      this.txAfterClose += pkts.length;
      return 0;
    }
    const n = pkts.length;
    if (n === 0) return 0;
    const out = n === 1 ? this.one : new Array<NativePacket>(n);
    if (this.spans.length < 2 * n) this.spans = new Uint32Array(Math.max(2 * n, this.spans.length * 2));
    const spans = this.spans;
    let gso: Uint32Array | undefined;
    for (let i = 0; i < n; i++) {
      const p = pkts[i]!;
      if (p.gsoSize > 0 && this.gsoMaxSize > 0) {
        if (gso === undefined) {
          if (this.gso.length < n) this.gso = new Uint32Array(Math.max(n, this.gso.length * 2));
          gso = this.gso;
          gso.fill(0, 0, n);
        }
        gso[i] = p.gsoSize;
      }
      const head = p.buf;
      spans[2 * i] = p.start;
      spans[2 * i + 1] = p.end - p.start;
      const payload = p.payload;
      const np = payload.length;
      if (np === 0) {
        out[i] = head;
      } else if (np === 1 && n === 1) {
        const pair = this.pair;
        pair[0] = head;
        pair[1] = payload[0]!;
        out[i] = pair;
      } else if (np === 1) {
        out[i] = [head, payload[0]!];
      } else {
        const list = new Array<Uint8Array>(np + 1);
        list[0] = head;
        for (let j = 0; j < np; j++) list[j + 1] = payload[j]!;
        out[i] = list;
      }
    }
    const accepted = this.native.writePackets(this.handle, out, gso, spans);
    // The native side copied what it queued: drop the reused slots' references to the packet.
    if (n === 1) {
      out[0] = EMPTY;
      this.pair[0] = this.pair[1] = EMPTY;
    }
    return accepted;
  }

  /** Pauses (false) or resumes (true) reading from the device; the kernel queues meanwhile. */
  setReading(on: boolean): void {
    if (!this.closedFlag) this.native.setReading(this.handle, on);
  }

  /** Keep the event loop alive while open (the default). */
  ref(): this {
    if (!this.closedFlag) this.native.setRef(this.handle, true);
    return this;
  }

  /** Let the process exit even though the device is open. */
  unref(): this {
    if (!this.closedFlag) this.native.setRef(this.handle, false);
    return this;
  }

  /** TCP super-segments handed to the kernel for segmentation (see TunOptions.gso). */
  get gsoPacketsSent(): number {
    return this.closedFlag ? this.gsoSentAtClose : this.native.stats(this.handle).txGsoPackets;
  }

  stats(): TunLinkStats {
    return {
      ...this.native.stats(this.handle), rxUnattached: this.rxUnattached, txAfterClose: this.txAfterClose,
      rxOversize: this.rxOversize, rxInvalid: this.rxInvalid,
    };
  }

  /** `using tun = TunEndpoint.open(...)`: closes the device at the end of the scope. */
  [disposeSymbol](): void {
    this.close();
  }

  /** Stops the poller and closes the fd (a non-persistent device disappears). Idempotent. */
  close(): void {
    if (this.closedFlag) return;
    this.gsoSentAtClose = this.native.stats(this.handle).txGsoPackets;
    this.closedFlag = true;
    this.dispatcher = null;
    this.native.close(this.handle);
  }

  /** Called by the native poller once per wakeup; see NativeTun.start. */
  private readonly onBatch = (slab: ArrayBuffer | null, count: number): void => {
    if (count < 0 || slab === null) {
      this.failed(-count);
      return;
    }
    const d = this.dispatcher;
    if (d === null) {
      this.rxUnattached += count;
      return;
    }
    const bytes = new Uint8Array(slab);
    const meta = this.meta;
    const l3 = this.l3;
    const vnet = this.vnetHdr;
    const maxFrame = this.maxFrame;
    const n = Math.min(count, meta.length >> 1);
    this.rxInvalid += count - n;
    for (let i = 0; i < n; i++) {
      let off = meta[2 * i]!;
      let len = meta[2 * i + 1]!;
      // A packet is only ever a view inside the slab: an entry pointing past it is dropped.
      if (off + len > bytes.length) {
        this.rxInvalid++;
        continue;
      }
      let vouched = false;
      let limit = maxFrame;
      if (vnet) {
        // struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
        // NEEDS_CSUM (1): the kernel's own packet with the checksum left partial — it never
        // crossed a wire; DATA_VALID (2): the kernel verified it. Either way the stack skips it.
        if (len < VNET_HDR_LEN) continue;
        vouched = (bytes[off]! & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) !== 0;
        // A GSO segment (gso_type != NONE) is the kernel's TSO output: larger than the MTU by
        // design, up to one IP datagram (plus the link header on TAP).
        if (bytes[off + 1] !== VNET_GSO_NONE) limit = maxFrame - this.mtu + 65535;
        off += VNET_HDR_LEN;
        len -= VNET_HDR_LEN;
      }
      if (len > limit) {
        this.rxOversize++;
        continue;
      }
      const pkt = PacketBuffer.inbound(bytes, off, len);
      pkt.checksumOffloaded = vouched;
      const proto = l3 ? protocolFromVersion(bytes, off) : 0;
      pkt.networkProtocol = proto;
      d.deliverNetworkPacket(proto, pkt);
    }
    d.deliverBatchEnd();
  };

  private failed(errno: number): void {
    const code = errnoName(errno);
    const err = new LinkTunError("io-error",
      `${this.mode.toUpperCase()} device "${this.name}" went away or became unusable (${code}); the link stopped reading`,
      code);
    if (this.onError) this.onError(err);
  }
}

function errnoName(n: number): string {
  for (const [k, v] of Object.entries(constants.errno)) if (v === n) return k;
  return `errno ${n}`;
}

export interface TapOptions extends TunOptions {
  /** The stack's MAC on this link (6 bytes or "02:..."); default: a random locally administered one. */
  mac?: Uint8Array | string;
  /** Accept frames for any destination MAC. */
  promiscuous?: boolean;
  /**
   * Wraps the frame carrier before the Ethernet layer (e.g. a SnifferEndpoint with
   * linkType "ethernet" to capture whole frames).
   */
  wrap?: (frames: TunEndpoint) => LinkEndpoint;
}

/**
 * A TAP device as an L3 link for the stack: Ethernet framing, with the next hop resolved by the
 * stack's ARP/NDP (the link has CapResolutionRequired through EthernetEndpoint).
 */
export class TapEndpoint extends EthernetEndpoint {
  /** The TAP device itself (frames). */
  readonly device: TunEndpoint;

  private constructor(device: TunEndpoint, carrier: LinkEndpoint, mac: Uint8Array | string, promiscuous: boolean) {
    super(carrier, { mac, promiscuous });
    this.device = device;
  }

  /** Opens (creating if needed) a TAP device; throws LinkTunError. */
  static open(opts: TapOptions = {}): TapEndpoint {
    const device = TunEndpoint.openFrames(opts);
    let mac = opts.mac;
    if (mac === undefined) {
      const m = randomBytes(6);
      m[0] = (m[0]! & 0xfe) | 0x02; // unicast, locally administered (IEEE 802 U/L bit)
      mac = new Uint8Array(m);
    }
    try {
      const carrier = opts.wrap ? opts.wrap(device) : device;
      return new TapEndpoint(device, carrier, mac, opts.promiscuous ?? false);
    } catch (err) {
      device.close();
      throw err;
    }
  }

  get name(): string {
    return this.device.name;
  }

  /** The device's counters (the Ethernet layer's own are in `stats`). */
  deviceStats(): TunLinkStats {
    return this.device.stats();
  }
}
