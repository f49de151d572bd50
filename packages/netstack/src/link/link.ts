import type { PacketBuffer } from "../buffer/packet.js";

/** Link capabilities (bit flags), like gVisor's stack.LinkEndpointCapabilities. */
export const CapRxChecksumOffload = 1 << 0; // the link verified checksums of what it delivers
export const CapTxChecksumOffload = 1 << 1; // the link does not need transport checksums filled in
export const CapResolutionRequired = 1 << 2; // next hops need a link address (ARP/NDP)
export const CapLoopback = 1 << 3; // a loopback device
export const CapGso = 1 << 4; // accepts large segments and segments them itself (see gsoMaxSize)
/**
 * The link keeps no reference to what it writes: `writePackets` copies (or transmits) each packet
 * it accepts before returning, and no view into the packets' memory survives the call. A sender
 * may then reuse payload memory once no retransmission needs it (TCP recycles its send-buffer
 * chunks on such routes). A link that queues, delays or records packets by reference must not
 * set it; a wrapper that forwards its inner link's capabilities must clear it if it holds packets.
 */
export const CapTxNoRetain = 1 << 5;

/** Implemented by the NIC: what a link calls with what it received. */
export interface NetworkDispatcher {
  /**
   * One received packet. `protocol` is the EtherType when the link knows it (L3 links derive it
   * from the IP version nibble: 0x0800 / 0x86dd; 0 when neither). The stack takes ownership of
   * the packet's bytes (see PacketBuffer's ownership rule).
   */
  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void;
  /** The current batch of deliveries is over: upper layers flush (one ACK can cover many segments). */
  deliverBatchEnd(): void;
}

/**
 * A link endpoint (gVisor stack.LinkEndpoint). L3 links carry bare IP packets; an L2 link's
 * packets are whole frames, and the `ethernet` endpoint wraps it to present an L3 face.
 */
export interface LinkEndpoint {
  /** Largest network-layer packet the link carries (excluding its own header). */
  readonly mtu: number;
  /** Bytes of link header this link prepends on write (0 for L3 links, 14 for Ethernet). */
  readonly maxHeaderLength: number;
  /** The link's own address (6-byte MAC for Ethernet; empty for L3 links). */
  readonly linkAddress: Uint8Array;
  /** Cap* bit flags. */
  readonly capabilities: number;
  /**
   * With CapGso: the largest network packet (network header included) the link accepts when the
   * packet's `gsoSize` is set; it cuts such a TCP packet into `gsoSize`-byte segments on the wire
   * and fills in their checksums. Absent or 0: no GSO.
   */
  readonly gsoMaxSize?: number;
  /** Connects the link to its NIC (or detaches with null). Deliveries before attach are dropped. */
  attach(dispatcher: NetworkDispatcher | null): void;
  readonly isAttached: boolean;
  /**
   * Sends packets in order; returns how many were accepted. The link must not modify them; it
   * may keep a reference to them (a queue, a delay) but not to the caller's array.
   */
  writePackets(pkts: readonly PacketBuffer[]): number;
  /** Releases resources (fds, timers). Idempotent. */
  close?(): void;
}

/** Derives the EtherType of a bare IP packet from its version nibble (0 if neither). */
export function protocolFromVersion(b: Uint8Array, off: number): number {
  if (off >= b.length) return 0;
  const v = b[off]! >> 4;
  return v === 4 ? 0x0800 : v === 6 ? 0x86dd : 0;
}
