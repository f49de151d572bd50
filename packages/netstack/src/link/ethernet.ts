/**
 * Ethernet II framing over a link that carries whole frames (a TAP device, or an in-memory link
 * used as a wire). Outbound, it prepends the 14-byte header using the next hop's link address
 * the NIC resolved (ARP/NDP); inbound, it checks the destination MAC, records the source MAC for
 * the neighbor protocols, strips the header and dispatches on the EtherType.
 */
import type { PacketBuffer } from "../buffer/packet.js";
import { BROADCAST_MAC, ETHERNET_HEADER, EthernetView, encodeEthernet, parseMac } from "../header/ethernet.js";
import { isParseError } from "../header/parse.js";
import { CapResolutionRequired, type LinkEndpoint, type NetworkDispatcher } from "./link.js";

export interface EthernetOptions {
  /** This interface's MAC (6 bytes or "02:00:00:00:00:01"). */
  mac: Uint8Array | string;
  /** Accept frames for any destination MAC. */
  promiscuous?: boolean;
}

export class EthernetEndpoint implements LinkEndpoint, NetworkDispatcher {
  readonly linkAddress: Uint8Array;
  promiscuous: boolean;
  /** Frames dropped: too short, or addressed to another MAC. */
  readonly stats = { malformed: 0, notForUs: 0 };
  private dispatcher: NetworkDispatcher | null = null;

  constructor(
    readonly inner: LinkEndpoint,
    opts: EthernetOptions,
  ) {
    const mac = typeof opts.mac === "string" ? parseMac(opts.mac) : opts.mac;
    if (!mac || mac.length !== 6) throw new RangeError(`invalid MAC address: ${String(opts.mac)}`);
    this.linkAddress = mac.slice();
    this.promiscuous = opts.promiscuous ?? false;
  }

  /** The L3 MTU; the carrier moves frames of up to mtu + 14 bytes. */
  get mtu(): number {
    return this.inner.mtu;
  }
  get maxHeaderLength(): number {
    return this.inner.maxHeaderLength + ETHERNET_HEADER;
  }
  get capabilities(): number {
    return this.inner.capabilities | CapResolutionRequired;
  }
  get isAttached(): boolean {
    return this.dispatcher !== null;
  }

  attach(d: NetworkDispatcher | null): void {
    this.dispatcher = d;
    this.inner.attach(d ? this : null);
  }

  deliverNetworkPacket(_protocol: number, pkt: PacketBuffer): void {
    const d = this.dispatcher;
    if (!d) return;
    const b = pkt.buf;
    const v = EthernetView.check(b, pkt.start, pkt.end - pkt.start);
    if (isParseError(v)) {
      this.stats.malformed++;
      return;
    }
    const multicast = v.isDstMulticast;
    if (!multicast && !this.promiscuous) {
      const m = this.linkAddress;
      const o = v.dstOff;
      if (b[o] !== m[0] || b[o + 1] !== m[1] || b[o + 2] !== m[2] || b[o + 3] !== m[3] || b[o + 4] !== m[4] ||
        b[o + 5] !== m[5]) {
        this.stats.notForUs++;
        return;
      }
    }
    pkt.linkHeader = pkt.start;
    pkt.sourceLinkAddress = b.subarray(v.srcOff, v.srcOff + 6);
    pkt.linkBroadcast = multicast;
    const type = v.type;
    pkt.consume(ETHERNET_HEADER);
    d.deliverNetworkPacket(type, pkt);
  }

  deliverBatchEnd(): void {
    this.dispatcher?.deliverBatchEnd();
  }

  writePackets(pkts: readonly PacketBuffer[]): number {
    for (const pkt of pkts) {
      const off = pkt.prepend(ETHERNET_HEADER);
      encodeEthernet(pkt.buf, off, { dst: pkt.remoteLinkAddress ?? BROADCAST_MAC, src: this.linkAddress, type: pkt.networkProtocol });
      pkt.linkHeader = off;
    }
    return this.inner.writePackets(pkts);
  }

  close(): void {
    this.inner.close?.();
  }
}
