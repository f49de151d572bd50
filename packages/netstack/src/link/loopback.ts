/**
 * The loopback device: what the stack writes comes back to the same stack. Delivery follows the
 * pipe's queue discipline (delivery.ts), so an answer written from inside a delivery waits for
 * the next drain instead of recursing. Nothing leaves the process, so checksums are neither
 * filled in nor verified (CapTxChecksumOffload | CapRxChecksumOffload), as on Linux's `lo`.
 */
import type { Clock } from "../clock/clock.js";
import type { PacketBuffer } from "../buffer/packet.js";
import { CapLoopback, CapRxChecksumOffload, CapTxChecksumOffload, CapTxNoRetain } from "./link.js";
import type { LinkEndpoint, NetworkDispatcher } from "./link.js";
import { DeliveryGroup, DeliveryQueue, resolveDeliveryMode } from "./delivery.js";
import type { DeliveryMode, DirectionStats } from "./delivery.js";

export interface LoopbackOptions {
  /** Default 65536, like Linux's `lo`. */
  mtu?: number;
  /** With a clock the default mode is "timer" (ManualClock: `advance(0)` delivers). */
  clock?: Clock;
  deliver?: DeliveryMode;
  /** Packets held before the next drain; more are dropped. Default 4096. */
  queueSize?: number;
}

const EMPTY = new Uint8Array(0);

export class LoopbackEndpoint implements LinkEndpoint {
  readonly mtu: number;
  readonly maxHeaderLength = 0;
  readonly linkAddress = EMPTY;
  // Delivery copies each packet out before writePackets returns (delivery.ts): CapTxNoRetain.
  readonly capabilities = CapLoopback | CapRxChecksumOffload | CapTxChecksumOffload | CapTxNoRetain;
  readonly mode: DeliveryMode;
  private readonly group = new DeliveryGroup();
  private readonly q: DeliveryQueue;
  private closed = false;

  constructor(opts: LoopbackOptions = {}) {
    this.mtu = opts.mtu ?? 65536;
    this.mode = resolveDeliveryMode(opts.deliver, opts.clock);
    this.q = new DeliveryQueue(this.group, this.mode, opts.clock, opts.queueSize ?? 4096, true, true);
  }

  /** Packets and bytes looped back, and drops. */
  get stats(): DirectionStats {
    return this.q;
  }

  /** Packets written and not yet delivered. */
  get queued(): number {
    return this.q.length;
  }

  attach(dispatcher: NetworkDispatcher | null): void {
    this.q.dispatcher = this.closed ? null : dispatcher;
  }

  get isAttached(): boolean {
    return this.q.dispatcher !== null;
  }

  writePackets(pkts: readonly PacketBuffer[]): number {
    let n = 0;
    for (let i = 0; i < pkts.length; i++) if (this.q.push(pkts[i]!)) n++;
    if (n > 0) this.q.schedule();
    return n;
  }

  /** Delivers until nothing is queued (answers included); returns packets delivered. */
  drainAll(maxRounds?: number): number {
    return this.group.drainAll(maxRounds);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.q.dispatcher = null;
    this.q.close();
  }
}
