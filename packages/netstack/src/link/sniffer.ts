/**
 * A link wrapper that records every packet crossing it, both directions, as a libpcap capture
 * file that tcpdump, Wireshark or pcap-parser can read. Packets the stack writes are recorded
 * before they go down (so a reply that a synchronous link delivers at once is still recorded
 * after the request); packets the inner link delivers are recorded before the stack sees them.
 *
 * File format (libpcap "savefile", pcap-savefile(5); draft-ietf-opsawg-pcap §4 and §5): a 24-byte
 * file header, then per packet a 16-byte record header and the captured bytes. Written here in
 * little-endian order, which readers detect from the magic number.
 *
 * This is a debugging tool: it allocates one record per packet and, with `path`, makes one
 * synchronous write per packet, so a test can read the file right after the traffic.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import type { Clock } from "../clock/clock.js";
import type { PacketBuffer } from "../buffer/packet.js";
import type { LinkEndpoint, NetworkDispatcher } from "./link.js";

/** pcap file magic (microsecond timestamps). */
export const PCAP_MAGIC = 0xa1b2c3d4;
/** Link-layer header types (tcpdump.org LINKTYPE_ registry). */
export const LINKTYPE_ETHERNET = 1;
/** Bare IPv4 or IPv6 packets; the reader tells them apart by the version nibble. */
export const LINKTYPE_RAW = 101;

const FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;

export interface SnifferOptions {
  /** Receives the file's bytes in order (the file header first). Give this or `path`. */
  sink?: (chunk: Uint8Array) => void;
  /** File to create (truncated if it exists). Give this or `sink`. */
  path?: string;
  /**
   * What the packets crossing the sniffer are. Default "raw": a sniffer handed to a NIC sees IP
   * packets. Under an EthernetEndpoint (`new EthernetEndpoint(new SnifferEndpoint(wire, ...))`)
   * it sees whole frames: pass "ethernet".
   */
  linkType?: "raw" | "ethernet";
  /** Bytes kept per packet; longer packets are truncated in the file. Default 262144. */
  snaplen?: number;
  /** Record timestamps come from `clock.wallNow()`. */
  clock: Clock;
}

export class SnifferEndpoint implements LinkEndpoint, NetworkDispatcher {
  /** Packet records written so far. */
  records = 0;
  /** Records whose packet was cut to `snaplen`. */
  truncated = 0;
  readonly snaplen: number;
  /** LINKTYPE_RAW or LINKTYPE_ETHERNET, as written in the file header. */
  readonly linkType: number;

  private dispatcher: NetworkDispatcher | null = null;
  private readonly clock: Clock;
  private readonly sink: ((chunk: Uint8Array) => void) | null;
  private fd: number | null = null;
  private closed = false;

  constructor(
    readonly inner: LinkEndpoint,
    opts: SnifferOptions,
  ) {
    if ((opts.sink === undefined) === (opts.path === undefined))
      throw new TypeError("SnifferEndpoint needs exactly one of `sink` or `path`");
    const snaplen = opts.snaplen ?? 262144;
    if (!Number.isInteger(snaplen) || snaplen < 1) throw new RangeError(`invalid snaplen ${snaplen}`);
    this.snaplen = snaplen;
    this.linkType = opts.linkType === "ethernet" ? LINKTYPE_ETHERNET : LINKTYPE_RAW;
    this.clock = opts.clock;
    this.sink = opts.sink ?? null;
    if (opts.path !== undefined) this.fd = openSync(opts.path, "w");

    const h = new Uint8Array(FILE_HEADER_LEN);
    const v = new DataView(h.buffer);
    v.setUint32(0, PCAP_MAGIC, true);
    v.setUint16(4, 2, true); // version 2.4
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true); // thiszone: timestamps are UTC
    v.setUint32(12, 0, true); // sigfigs: always 0
    v.setUint32(16, snaplen, true);
    v.setUint32(20, this.linkType, true);
    this.emit(h);
  }

  get mtu(): number {
    return this.inner.mtu;
  }
  get maxHeaderLength(): number {
    return this.inner.maxHeaderLength;
  }
  get linkAddress(): Uint8Array {
    return this.inner.linkAddress;
  }
  /** The inner link's: every record is a copy made inside `writePackets` (CapTxNoRetain holds). */
  get capabilities(): number {
    return this.inner.capabilities;
  }
  get gsoMaxSize(): number {
    return this.inner.gsoMaxSize ?? 0;
  }

  attach(dispatcher: NetworkDispatcher | null): void {
    this.dispatcher = dispatcher;
    // The sniffer sits between the inner link and the NIC; detached, the inner link drops.
    this.inner.attach(dispatcher !== null && !this.closed ? this : null);
  }

  get isAttached(): boolean {
    return this.dispatcher !== null;
  }

  /** Records each packet, then hands the batch to the inner link. */
  writePackets(pkts: readonly PacketBuffer[]): number {
    for (let i = 0; i < pkts.length; i++) this.record(pkts[i]!);
    return this.inner.writePackets(pkts);
  }

  /** NetworkDispatcher side: records what the inner link delivers and passes it up. */
  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    this.record(pkt);
    this.dispatcher?.deliverNetworkPacket(protocol, pkt);
  }

  deliverBatchEnd(): void {
    this.dispatcher?.deliverBatchEnd();
  }

  /** Closes the file (if any) and the inner link. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    this.inner.attach(null);
    this.inner.close?.();
  }

  private record(pkt: PacketBuffer): void {
    if (this.closed) return;
    const orig = pkt.size;
    const incl = orig < this.snaplen ? orig : this.snaplen;
    if (incl < orig) this.truncated++;
    const rec = new Uint8Array(RECORD_HEADER_LEN + incl);
    const v = new DataView(rec.buffer);
    const ms = this.clock.wallNow();
    let sec = Math.floor(ms / 1000);
    let usec = Math.round((ms - sec * 1000) * 1000);
    if (usec >= 1_000_000) {
      sec++;
      usec -= 1_000_000;
    }
    v.setUint32(0, sec >>> 0, true);
    v.setUint32(4, usec, true);
    v.setUint32(8, incl, true);
    v.setUint32(12, orig, true);
    copyPrefix(pkt, rec, RECORD_HEADER_LEN, incl);
    this.records++;
    this.emit(rec);
  }

  private emit(chunk: Uint8Array): void {
    if (this.fd !== null) {
      let off = 0;
      while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
    } else this.sink!(chunk);
  }
}

/** Copies the first `len` bytes of the packet (header area, then payload pieces) into `dst`. */
function copyPrefix(pkt: PacketBuffer, dst: Uint8Array, off: number, len: number): void {
  let left = len;
  const h = Math.min(pkt.end - pkt.start, left);
  dst.set(pkt.buf.subarray(pkt.start, pkt.start + h), off);
  off += h;
  left -= h;
  for (let i = 0; i < pkt.payload.length && left > 0; i++) {
    const p = pkt.payload[i]!;
    const n = Math.min(p.length, left);
    dst.set(n === p.length ? p : p.subarray(0, n), off);
    off += n;
    left -= n;
  }
}
