/**
 * A link whose far side is the test (the role of gVisor's channel.Endpoint): the test injects
 * packets as if they arrived from the wire and reads back what the stack wrote.
 */
import { PacketBuffer } from "../buffer/packet.js";
import { CapRxChecksumOffload, CapTxNoRetain, protocolFromVersion } from "./link.js";
import type { LinkEndpoint, NetworkDispatcher } from "./link.js";

export interface ChannelOptions {
  mtu: number;
  linkAddress?: Uint8Array;
  capabilities?: number;
  maxHeaderLength?: number;
  /** Outbound packets kept for `read`; writes beyond it are dropped and counted. Default 1024. */
  queueSize?: number;
}

const EMPTY = new Uint8Array(0);

export class ChannelEndpoint implements LinkEndpoint {
  readonly mtu: number;
  readonly maxHeaderLength: number;
  readonly linkAddress: Uint8Array;
  readonly capabilities: number;

  /** Outbound packets dropped because the queue was full (the newest are dropped). */
  drops = 0;
  /** Injected packets dropped because no dispatcher was attached. */
  injectDrops = 0;
  /** Packets the stack wrote and the queue took. */
  written = 0;
  /**
   * Called after every `writePackets` with the number of packets the queue took from that call
   * (a test can `read()` from inside it, or wake something up).
   */
  onWrite: ((accepted: number) => void) | null = null;

  private dispatcher: NetworkDispatcher | null = null;
  // Ring buffer of flattened outbound packets.
  private readonly ring: (Uint8Array | undefined)[];
  private head = 0;
  private count = 0;
  private closed = false;

  constructor(opts: ChannelOptions) {
    this.mtu = opts.mtu;
    this.maxHeaderLength = opts.maxHeaderLength ?? 0;
    this.linkAddress = opts.linkAddress ?? EMPTY;
    // The channel keeps written packets for `read`, by reference: never CapTxNoRetain.
    this.capabilities = (opts.capabilities ?? 0) & ~CapTxNoRetain;
    const size = opts.queueSize ?? 1024;
    if (!(size >= 1)) throw new RangeError(`queueSize must be at least 1, got ${size}`);
    this.ring = new Array<Uint8Array | undefined>(size);
  }

  attach(dispatcher: NetworkDispatcher | null): void {
    this.dispatcher = this.closed ? null : dispatcher;
  }

  get isAttached(): boolean {
    return this.dispatcher !== null;
  }

  /**
   * Delivers one packet to the stack as if received, then ends the batch. The stack takes
   * ownership of `bytes` (PacketBuffer's inbound rule): do not modify them afterwards. `protocol`
   * defaults to the EtherType implied by the IP version nibble. False when unattached.
   */
  inject(bytes: Uint8Array, protocol?: number): boolean {
    const d = this.dispatcher;
    if (d === null) {
      this.injectDrops++;
      return false;
    }
    this.deliver(d, bytes, protocol);
    d.deliverBatchEnd();
    return true;
  }

  /** Delivers several packets as one batch (one `deliverBatchEnd`); returns how many were delivered. */
  injectBatch(list: readonly Uint8Array[], protocol?: number): number {
    const d = this.dispatcher;
    if (d === null) {
      this.injectDrops += list.length;
      return 0;
    }
    for (let i = 0; i < list.length; i++) this.deliver(d, list[i]!, protocol);
    if (list.length > 0) d.deliverBatchEnd();
    return list.length;
  }

  private deliver(d: NetworkDispatcher, bytes: Uint8Array, protocol: number | undefined): void {
    const proto = protocol ?? protocolFromVersion(bytes, 0);
    const pkt = PacketBuffer.inbound(bytes);
    pkt.networkProtocol = proto;
    pkt.checksumOffloaded = (this.capabilities & CapRxChecksumOffload) !== 0;
    d.deliverNetworkPacket(proto, pkt);
  }

  /** Queues a flat copy of each packet; when full, the newest are dropped and counted. */
  writePackets(pkts: readonly PacketBuffer[]): number {
    const cap = this.ring.length;
    let n = 0;
    if (this.closed) {
      this.drops += pkts.length;
      return 0;
    }
    for (let i = 0; i < pkts.length; i++) {
      if (this.count >= cap) {
        this.drops += pkts.length - i;
        break;
      }
      this.ring[(this.head + this.count) % cap] = pkts[i]!.toBytes();
      this.count++;
      n++;
    }
    this.written += n;
    this.onWrite?.(n);
    return n;
  }

  /** The oldest written packet not yet read, or null. */
  read(): Uint8Array | null {
    if (this.count === 0) return null;
    const b = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    return b;
  }

  /** Every written packet not yet read, oldest first. */
  drain(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let b = this.read(); b !== null; b = this.read()) out.push(b);
    return out;
  }

  /** Packets waiting to be read. */
  get pending(): number {
    return this.count;
  }

  /** Detaches and forgets queued packets; later writes are dropped (counted in `drops`). */
  close(): void {
    this.closed = true;
    this.dispatcher = null;
    while (this.read() !== null);
  }
}
