/**
 * Two link endpoints wired back to back, like a cable between two stacks in one process: what `a`
 * writes, `b` delivers, and the other way round. Each delivered packet is a fresh inbound copy,
 * so the two stacks never share memory. Delivery is queued, never recursive; see delivery.ts for
 * the modes. Default: "timer" on the given clock (with a ManualClock, `clock.advance(0)` or
 * `clock.step()` delivers), "microtask" when no clock is given.
 *
 * The pipe does not enforce the MTU: a stack that writes larger packets gets them delivered, so a
 * test can see the mistake instead of a silent loss.
 */
import "../dispose.js";
import type { Clock } from "../clock/clock.js";
import type { PacketBuffer } from "../buffer/packet.js";
import { CapRxChecksumOffload, CapTxNoRetain } from "./link.js";
import type { LinkEndpoint, NetworkDispatcher } from "./link.js";
import { DeliveryGroup, DeliveryQueue, resolveDeliveryMode } from "./delivery.js";
import type { DeliveryMode, DirectionStats } from "./delivery.js";

export interface PipeOptions {
  mtu: number;
  /** Cap* flags of both ends. With CapTxChecksumOffload also give CapRxChecksumOffload: the
   *  receiving stack must then skip the checksums the sender left out. */
  capabilities?: number;
  linkAddressA?: Uint8Array;
  linkAddressB?: Uint8Array;
  /**
   * Reported as the link's maxHeaderLength. 0 (default): the pipe carries IP packets and the
   * delivered protocol is read from the IP version nibble. Nonzero marks a frame carrier (under
   * an EthernetEndpoint): the delivered protocol is 0 and the layer above reads its own header.
   */
  maxHeaderLength?: number;
  clock?: Clock;
  deliver?: DeliveryMode;
  /** Packets each direction may hold before the next drain; more are dropped. Default 4096. */
  queueSize?: number;
}

const EMPTY = new Uint8Array(0);

/** One end of a pipe. */
export class PipeEndpoint implements LinkEndpoint {
  readonly mtu: number;
  readonly maxHeaderLength: number;
  readonly linkAddress: Uint8Array;
  readonly capabilities: number;
  private closed = false;

  /** @internal Created by `Pipe`. */
  constructor(
    /** The pipe this end belongs to (counters, `drainAll`). */
    readonly pipe: Pipe,
    private readonly rx: DeliveryQueue,
    private readonly tx: DeliveryQueue,
    opts: PipeOptions,
    linkAddress: Uint8Array | undefined,
  ) {
    this.mtu = opts.mtu;
    this.maxHeaderLength = opts.maxHeaderLength ?? 0;
    this.linkAddress = linkAddress ?? EMPTY;
    // Every write is copied into the peer's queue before writePackets returns (delivery.ts).
    this.capabilities = (opts.capabilities ?? 0) | CapTxNoRetain;
  }

  attach(dispatcher: NetworkDispatcher | null): void {
    this.rx.dispatcher = this.closed ? null : dispatcher;
  }

  get isAttached(): boolean {
    return this.rx.dispatcher !== null;
  }

  /** Queues copies for the peer; returns how many were taken (the rest count as drops). */
  writePackets(pkts: readonly PacketBuffer[]): number {
    let n = 0;
    if (this.closed) {
      this.tx.drops += pkts.length;
      return 0;
    }
    for (let i = 0; i < pkts.length; i++) if (this.tx.push(pkts[i]!)) n++;
    if (n > 0) this.tx.schedule();
    return n;
  }

  /** Detaches this end and drops what is queued for it; the peer's writes then count as drops. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rx.dispatcher = null;
    this.rx.close();
  }
}

/** A pair of back-to-back endpoints, their counters and a pump. */
export class Pipe {
  readonly a: PipeEndpoint;
  readonly b: PipeEndpoint;
  readonly mode: DeliveryMode;
  /** What `a` wrote and `b` received. */
  readonly aToB: DirectionStats;
  /** What `b` wrote and `a` received. */
  readonly bToA: DirectionStats;
  private readonly group = new DeliveryGroup();

  constructor(opts: PipeOptions) {
    this.mode = resolveDeliveryMode(opts.deliver, opts.clock);
    const caps = opts.capabilities ?? 0;
    const l3 = (opts.maxHeaderLength ?? 0) === 0;
    const rxOffload = (caps & CapRxChecksumOffload) !== 0;
    const size = opts.queueSize ?? 4096;
    const toB = new DeliveryQueue(this.group, this.mode, opts.clock, size, l3, rxOffload);
    const toA = new DeliveryQueue(this.group, this.mode, opts.clock, size, l3, rxOffload);
    this.aToB = toB;
    this.bToA = toA;
    this.a = new PipeEndpoint(this, toA, toB, opts, opts.linkAddressA);
    this.b = new PipeEndpoint(this, toB, toA, opts, opts.linkAddressB);
  }

  /**
   * Delivers both ways until neither direction has anything queued (answers included), without
   * waiting for the scheduled drains; lets synchronous tests pump. Returns packets delivered.
   */
  drainAll(maxRounds?: number): number {
    return this.group.drainAll(maxRounds);
  }

  /** Packets queued in both directions, not yet delivered. */
  get queued(): number {
    let n = 0;
    for (const q of this.group.queues) n += q.length;
    return n;
  }

  close(): void {
    this.a.close();
    this.b.close();
  }

  /** `using pipe = new Pipe(...)`: closes both ends at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Creates a pipe and returns its two ends; `a.pipe` (=== `b.pipe`) has the counters and `drainAll`. */
export function createPipe(opts: PipeOptions): [PipeEndpoint, PipeEndpoint] {
  const p = new Pipe(opts);
  return [p.a, p.b];
}
