/**
 * PacketBuffer: one packet moving through the stack.
 *
 * Outbound, a transport endpoint creates it with `PacketBuffer.outbound(reserve, payload)`: the
 * header area is `reserve` bytes of room in `buf` ending at `start` (= `end`: empty), and the
 * payload is kept as views (never copied). `buf` may be a slab shared with other packets' header
 * areas: only `buf[start, end)` (after `prepend`s) is this packet's. Each layer calls
 * `prepend(n)` and writes its header at the returned offset, so headers are written in place,
 * innermost first.
 *
 * Inbound, a link creates it with `PacketBuffer.inbound(bytes)`: the whole packet is in
 * `buf[start, end)` and each layer records where its header starts, validates it, and calls
 * `consume(n)` to move past it (and `trimEnd` to drop link padding).
 *
 * Ownership rule (inbound): a link hands the bytes it delivers to the stack for good; it never
 * reuses or rewrites memory it has delivered. Endpoints may therefore queue views into `buf`
 * (zero-copy receive) without copying. A link that reads into a reusable slab must copy out of
 * it, or allocate a fresh slab per batch, before delivering.
 *
 * Ownership rule (outbound): the payload views belong to the caller of `write` only until the
 * endpoint returns; transport endpoints copy application bytes into their send buffer first, so
 * payload views of an outbound packet stay valid and unchanged for as long as a link (or a
 * retransmission) needs them. A link that must keep a packet past `writePackets` (a queue, a
 * delay) keeps the PacketBuffer itself; it must not modify it. A link that keeps nothing past
 * `writePackets` says so with CapTxNoRetain; on such routes TCP reuses send-buffer memory once
 * the bytes in it are acknowledged (a view kept anyway would then see other bytes).
 */
export class PacketBuffer {
  /**
   * Memory holding the header area (outbound) or the packet (inbound) at `buf[start, end)`; the
   * bytes outside that range may belong to other packets.
   */
  buf: Uint8Array;
  /** First valid byte in `buf`. */
  start: number;
  /** One past the last valid byte in `buf`. */
  end: number;
  /** Outbound payload pieces following `buf[start, end)`; always empty for inbound packets. */
  payload: Uint8Array[];
  /** Sum of the payload pieces' lengths. */
  payloadSize: number;

  /** EtherType of the network protocol (0x0800, 0x86dd, 0x0806), 0 when unknown. */
  networkProtocol = 0;
  /** IANA transport protocol number once known. */
  transportProtocol = 0;
  /** Offsets into `buf` of each layer's header, -1 when not (yet) present. */
  linkHeader = -1;
  networkHeader = -1;
  transportHeader = -1;
  /** Inbound: offsets into `buf` of the network source and destination addresses, and their length (4 or 16). */
  srcAddrOff = -1;
  dstAddrOff = -1;
  addrLen = 0;

  /** Inbound: id of the NIC the packet arrived on. */
  nicId = 0;
  /** Inbound: the link-layer source address (Ethernet), when the link has one. */
  sourceLinkAddress: Uint8Array | null = null;
  /** Outbound on links needing resolution: the next hop's link-layer address. */
  remoteLinkAddress: Uint8Array | null = null;
  /** Inbound: the link-layer destination was broadcast or multicast (not unicast to us). */
  linkBroadcast = false;
  /**
   * Inbound: the link already verified the transport checksum (RX offload) — skip it.
   * Outbound: the transport checksum was left for the link (TX offload) — do not fill it in.
   */
  checksumOffloaded = false;
  /**
   * Outbound TCP over a CapGso link: the packet is a super-segment the link cuts into segments of
   * `gsoSize` payload bytes (headers repeated); the TCP checksum field then holds the pseudo-header
   * sum, not inverted, for the link to complete per segment. 0: an ordinary packet.
   */
  gsoSize = 0;

  /** First byte of `buf` this packet may prepend into (its header area starts there). */
  private floor = 0;

  private constructor(buf: Uint8Array, start: number, end: number, payload: Uint8Array[], payloadSize: number) {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.payload = payload;
    this.payloadSize = payloadSize;
  }

  /** An outbound packet with `reserve` bytes of header room and the given payload views. */
  static outbound(reserve: number, payload?: Uint8Array | readonly Uint8Array[]): PacketBuffer {
    let pieces: Uint8Array[];
    let size = 0;
    if (!payload) pieces = [];
    else if (payload instanceof Uint8Array) {
      pieces = payload.length > 0 ? [payload] : [];
      size = payload.length;
    } else {
      pieces = [];
      for (const p of payload) {
        if (p.length === 0) continue;
        pieces.push(p);
        size += p.length;
      }
    }
    return PacketBuffer.withHeaderArea(reserve, pieces, size);
  }

  /**
   * An outbound packet whose payload is `pieces` itself (non-empty views, `size` bytes in all):
   * the array is taken over, not copied, so the caller must not use it afterwards. Saves the
   * per-packet array copy of `outbound` on the TCP send path.
   */
  static outboundTaking(reserve: number, pieces: Uint8Array[], size: number): PacketBuffer {
    return PacketBuffer.withHeaderArea(reserve, pieces, size);
  }

  /**
   * An outbound packet whose `reserve`-byte header area is carved from the shared header slab
   * (no view object per packet: `buf` is the slab, `floor`..`start` the room).
   */
  private static withHeaderArea(reserve: number, pieces: Uint8Array[], size: number): PacketBuffer {
    if (reserve > HEADER_AREA_MAX) return new PacketBuffer(new Uint8Array(reserve), reserve, reserve, pieces, size);
    const at = carveHeaderArea(reserve);
    const p = new PacketBuffer(headerSlab, at + reserve, at + reserve, pieces, size);
    p.floor = at;
    return p;
  }

  /** An inbound packet over `bytes[off, off+len)`; the stack takes ownership of those bytes. */
  static inbound(bytes: Uint8Array, off = 0, len = bytes.length - off): PacketBuffer {
    return new PacketBuffer(bytes, off, off + len, NO_PIECES, 0);
  }

  /** Total packet length: header area plus payload. */
  get size(): number {
    return this.end - this.start + this.payloadSize;
  }

  /** Length of the contiguous part `buf[start, end)`. */
  get headerSize(): number {
    return this.end - this.start;
  }

  /** Makes room for `n` header bytes in front and returns the offset in `buf` to write them at. */
  prepend(n: number): number {
    if (n > this.start - this.floor) {
      // Not enough reserved room: grow (a programmer sized `reserve` too small; stays correct).
      // The new buffer is this packet's alone: what it held from `floor` on, `extra` bytes later.
      const extra = Math.max(n - (this.start - this.floor), 64);
      const nb = new Uint8Array(this.buf.length - this.floor + extra);
      nb.set(this.buf.subarray(this.start, this.end), this.start - this.floor + extra);
      const shift = extra - this.floor;
      this.buf = nb;
      this.floor = 0;
      this.start += shift;
      this.end += shift;
      if (this.linkHeader >= 0) this.linkHeader += shift;
      if (this.networkHeader >= 0) this.networkHeader += shift;
      if (this.transportHeader >= 0) this.transportHeader += shift;
    }
    this.start -= n;
    return this.start;
  }

  /** Inbound: moves the start past `n` bytes (a header just processed). False if too short. */
  consume(n: number): boolean {
    if (n < 0 || n > this.end - this.start) return false;
    this.start += n;
    return true;
  }

  /** Inbound: limits the packet to `len` bytes from `start` (drops link padding). */
  trimTo(len: number): void {
    if (len < this.end - this.start) this.end = this.start + len;
  }

  /** Inbound: the remaining bytes `buf[start, end)` as a view (no copy). */
  data(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** The packet as views: header area first, then payload pieces. */
  views(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.end > this.start) out.push(this.buf.subarray(this.start, this.end));
    for (const p of this.payload) out.push(p);
    return out;
  }

  /** Copies the whole packet into `dst` at `off`; returns the number of bytes written. */
  copyTo(dst: Uint8Array, off = 0): number {
    const h = this.end - this.start;
    dst.set(this.buf.subarray(this.start, this.end), off);
    let o = off + h;
    for (const p of this.payload) {
      dst.set(p, o);
      o += p.length;
    }
    return o - off;
  }

  /** A fresh contiguous copy of the whole packet. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    this.copyTo(out, 0);
    return out;
  }

  /**
   * A contiguous view of the whole packet: no copy when it already is contiguous (inbound, or
   * outbound without payload), otherwise a copy.
   */
  flat(): Uint8Array {
    if (this.payloadSize === 0) return this.buf.subarray(this.start, this.end);
    return this.toBytes();
  }

  /** An inbound packet holding a private copy of this packet's bytes (for a peer stack). */
  cloneInbound(): PacketBuffer {
    return PacketBuffer.inbound(this.toBytes());
  }
}

/** The payload of every inbound packet: shared, so frozen (an inbound payload stays empty). */
const NO_PIECES = Object.freeze([]) as unknown as Uint8Array[];

/** Bytes per header slab: outbound header areas are carved from it (one ArrayBuffer for many packets). */
const HEADER_SLAB = 64 * 1024;
let headerSlab = new Uint8Array(0);
let headerOff = 0;

/** Header areas up to this size come from the slab; larger ones get a buffer of their own. */
const HEADER_AREA_MAX = 1024;

/**
 * The offset in `headerSlab` (read it after the call: it may be a fresh slab) of a zeroed header
 * area of `n` bytes. Each part is handed out once and never reused (a fresh slab when it runs
 * out), so packets never share header bytes; allocating one ArrayBuffer per packet costs far
 * more, and even a view per packet costs an object.
 */
function carveHeaderArea(n: number): number {
  if (headerOff + n > headerSlab.length) {
    headerSlab = new Uint8Array(HEADER_SLAB);
    headerOff = 0;
  }
  const off = headerOff;
  headerOff = (off + n + 7) & ~7;
  return off;
}
