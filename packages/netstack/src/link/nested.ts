/**
 * A link that wraps another and forwards everything (like gVisor's nested.Endpoint): the base for
 * links that watch, inject or damage traffic in one direction and pass the rest through. A
 * subclass overrides `deliverNetworkPacket` (inbound) and/or `writePackets` (outbound).
 */
import type { PacketBuffer } from "../buffer/packet.js";
import { CapTxNoRetain, type LinkEndpoint, type NetworkDispatcher } from "./link.js";

export class NestedLink implements LinkEndpoint, NetworkDispatcher {
  /** The NIC (or outer link) this link delivers to. */
  protected dispatcher: NetworkDispatcher | null = null;

  constructor(readonly inner: LinkEndpoint) {}

  get mtu(): number {
    return this.inner.mtu;
  }
  get maxHeaderLength(): number {
    return this.inner.maxHeaderLength;
  }
  get linkAddress(): Uint8Array {
    return this.inner.linkAddress;
  }
  /**
   * The inner link's, less CapTxNoRetain: a subclass may keep what passes through. One that
   * never keeps a packet past `writePackets` overrides this to pass the flag on.
   */
  get capabilities(): number {
    return this.inner.capabilities & ~CapTxNoRetain;
  }
  get gsoMaxSize(): number {
    return this.inner.gsoMaxSize ?? 0;
  }
  get isAttached(): boolean {
    return this.dispatcher !== null;
  }

  attach(d: NetworkDispatcher | null): void {
    this.dispatcher = d;
    this.inner.attach(d ? this : null);
  }

  writePackets(pkts: readonly PacketBuffer[]): number {
    return this.inner.writePackets(pkts);
  }

  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    this.dispatcher?.deliverNetworkPacket(protocol, pkt);
  }

  deliverBatchEnd(): void {
    this.dispatcher?.deliverBatchEnd();
  }

  close(): void {
    this.inner.close?.();
  }
}
