/**
 * The queue discipline shared by the in-memory links that hand a stack's own writes to a stack
 * (the pipe, which delivers to the peer, and the loopback, which delivers back to the writer).
 *
 * Delivering inside `writePackets` would recurse without bound: stack A writes, stack B receives
 * and answers from inside the delivery, stack A receives and answers from inside that, and so on.
 * So a write only appends a private copy of the packet to the receiver's queue and schedules ONE
 * drain; a drain delivers what is queued at that moment as one batch and ends it with
 * `deliverBatchEnd`. How the drain is scheduled is the delivery mode:
 *
 * - "timer": a zero-delay timer on the injected Clock (one timer per queue, created once). With a
 *   ManualClock, `clock.advance(0)` (or `step()`) delivers, and keeps delivering the answers that
 *   deliveries provoke, until the links are quiet: deterministic and replayable.
 * - "microtask": `queueMicrotask`, for real-time use without a clock.
 * - "sync": delivered before the outermost `writePackets` returns. Writes made from inside a
 *   delivery are queued and delivered by that outermost call's loop (a trampoline), so the call
 *   stack stays flat; such nested writes return before their packets are delivered. Two
 *   dispatchers that answer each other forever keep that outermost call busy forever.
 */
import type { Clock, Timer } from "../clock/clock.js";
import { PacketBuffer } from "../buffer/packet.js";
import { protocolFromVersion } from "./link.js";
import type { NetworkDispatcher } from "./link.js";

export type DeliveryMode = "sync" | "microtask" | "timer";

/** Counters of one direction of an in-memory link. */
export interface DirectionStats {
  /** Packets delivered to the receiving dispatcher. */
  readonly packets: number;
  /** Bytes of those packets. */
  readonly bytes: number;
  /** Packets dropped: receiver unattached or closed, or its queue full. */
  readonly drops: number;
}

/** Picks the documented default: a clock means "timer", no clock means "microtask". */
export function resolveDeliveryMode(mode: DeliveryMode | undefined, clock: Clock | undefined): DeliveryMode {
  const m = mode ?? (clock ? "timer" : "microtask");
  if (m === "timer" && !clock) throw new TypeError('delivery mode "timer" needs a clock');
  return m;
}

/**
 * Queues that drain together: both directions of a pipe share one group, so that "sync" delivery
 * runs one trampoline for both, and `drainAll` pumps both until they are empty.
 */
export class DeliveryGroup {
  readonly queues: DeliveryQueue[] = [];
  private pumping = false;

  /**
   * Drains every queue, again and again, until all are empty (deliveries may provoke answers).
   * Returns the number of packets delivered. Throws after `maxRounds` rounds: the dispatchers
   * keep answering each other forever, which a test wants to hear about rather than hang on.
   */
  drainAll(maxRounds = 1_000_000): number {
    let delivered = 0;
    for (let round = 0; ; round++) {
      let queued = 0;
      for (const q of this.queues) queued += q.length;
      if (queued === 0) return delivered;
      if (round >= maxRounds) throw new Error(`in-memory link still busy after ${maxRounds} drain rounds`);
      for (const q of this.queues) delivered += q.drain();
    }
  }

  /** "sync" mode: the outermost caller delivers until quiet; nested callers only queue. */
  pumpSync(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.drainAll(Number.MAX_SAFE_INTEGER);
    } finally {
      this.pumping = false;
    }
  }
}

/** Bytes per receive slab of a DeliveryQueue (packets up to a quarter of it are carved from it). */
const SLAB_BYTES = 256 * 1024;
const EMPTY_SLAB = new Uint8Array(0);

/**
 * The inbound queue of one receiver. Holds private inbound copies (carved from a slab, see
 * `copyOut`), so the two stacks never share memory and the writer's packet may change or
 * be reused the moment `writePackets` returns.
 */
export class DeliveryQueue implements DirectionStats {
  /** Who receives; null while unattached (writes are then dropped and counted). */
  dispatcher: NetworkDispatcher | null = null;
  packets = 0;
  bytes = 0;
  drops = 0;

  private q: PacketBuffer[] = [];
  private slab: Uint8Array = EMPTY_SLAB;
  private slabOff = SLAB_BYTES;
  private readonly timer: Timer | null;
  private microtaskPending = false;
  private closed = false;

  /**
   * @param l3 packets are bare IP (the protocol is read from the version nibble); otherwise they
   *   are frames and the protocol is delivered as 0 for the L2 wrapper to read from the frame.
   * @param rxChecksumOffload mark delivered packets as checksum-verified (CapRxChecksumOffload).
   */
  constructor(
    private readonly group: DeliveryGroup,
    readonly mode: DeliveryMode,
    clock: Clock | undefined,
    private readonly capacity: number,
    private readonly l3: boolean,
    private readonly rxChecksumOffload: boolean,
  ) {
    this.timer = mode === "timer" ? clock!.createTimer(this.runDrain) : null;
    group.queues.push(this);
  }

  /** Packets waiting for the next drain. */
  get length(): number {
    return this.q.length;
  }

  /** Queues a private copy of `pkt`; false (and counted as a drop) when it cannot be taken. */
  push(pkt: PacketBuffer): boolean {
    if (this.closed || this.dispatcher === null || this.q.length >= this.capacity) {
      this.drops++;
      return false;
    }
    this.q.push(PacketBuffer.inbound(this.copyOut(pkt)));
    return true;
  }

  /**
   * A private copy of `pkt`, carved from a slab: one ArrayBuffer serves many packets (a fresh
   * slab when this one is full, never reused, so delivered bytes are never rewritten). Large
   * packets get their own buffer so a small view cannot pin a big slab for long.
   */
  private copyOut(pkt: PacketBuffer): Uint8Array {
    const n = pkt.size;
    if (n > SLAB_BYTES >>> 2) return pkt.toBytes();
    if (this.slabOff + n > SLAB_BYTES) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabOff = 0;
    }
    const off = this.slabOff;
    pkt.copyTo(this.slab, off);
    // Keep every packet 8-byte aligned, so the checksum's word path sees aligned headers.
    this.slabOff = (off + n + 7) & ~7;
    return this.slab.subarray(off, off + n);
  }

  /** Arranges for one drain, per the delivery mode. Called once per `writePackets` batch. */
  schedule(): void {
    if (this.q.length === 0) return;
    switch (this.mode) {
      case "sync":
        this.group.pumpSync();
        return;
      case "microtask":
        if (!this.microtaskPending) {
          this.microtaskPending = true;
          queueMicrotask(this.runMicrotask);
        }
        return;
      case "timer":
        if (!this.timer!.pending) this.timer!.schedule(0);
        return;
    }
  }

  /**
   * Delivers everything queued right now as one batch, then `deliverBatchEnd`. Packets written
   * during the batch wait for the next drain. Returns the number delivered.
   */
  drain(): number {
    // A drain covers the scheduled one: disarm it so no idle timer is left behind.
    this.timer?.cancel();
    if (this.q.length === 0) return 0;
    const batch = this.q;
    this.q = []; // one array per batch, not per packet; safe if a dispatcher drains re-entrantly
    const d = this.dispatcher;
    let n = 0;
    for (let i = 0; i < batch.length; i++) {
      const pkt = batch[i]!;
      if (d === null || this.dispatcher !== d || this.closed) {
        this.drops++;
        continue;
      }
      const b = pkt.buf;
      const proto = this.l3 ? protocolFromVersion(b, 0) : 0;
      pkt.networkProtocol = proto;
      pkt.checksumOffloaded = this.rxChecksumOffload;
      this.packets++;
      this.bytes += b.length;
      n++;
      d.deliverNetworkPacket(proto, pkt);
    }
    if (n > 0) d!.deliverBatchEnd();
    return n;
  }

  /** Drops what is queued (counted), disarms the timer, and refuses further packets. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.drops += this.q.length;
    this.q = [];
    this.timer?.cancel();
  }

  private readonly runDrain = (): void => {
    this.drain();
  };

  private readonly runMicrotask = (): void => {
    this.microtaskPending = false;
    this.drain();
  };
}
