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

  /**
   * The queued packets' private copies: packet k is `q[k]` (a slab, or a buffer of its own) from
   * `pos[2k]`, `pos[2k + 1]` bytes long, for k < `count`. Its view and its PacketBuffer are made
   * at delivery, not here: made right before use they are still in cache, while objects made at
   * the write have gone cold behind a whole window of other packets by the time the receiver
   * gets to them. The arrays are kept from batch to batch (slots past `count` are stale; `drain`
   * clears the buffer references it has delivered so no slab stays reachable from here), so
   * queueing a packet allocates nothing once they have grown to the usual batch size.
   */
  private q: (Uint8Array | null)[] = [];
  private pos: number[] = [];
  private count = 0;
  /** The arrays of the batch last delivered, kept for the next one (null while a drain runs). */
  private spareQ: (Uint8Array | null)[] | null = [];
  private sparePos: number[] | null = [];
  private slab: Uint8Array = EMPTY_SLAB;
  /** `slab` as 32-bit words, for copying word-aligned header areas. */
  private slabWords: Int32Array<ArrayBufferLike> = new Int32Array(0);
  /** The buffer of the last header area copied as words, and its words (reused while it lasts). */
  private srcBuffer: ArrayBufferLike | null = null;
  private srcWords: Int32Array<ArrayBufferLike> = new Int32Array(0);
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
    return this.count;
  }

  /** Queues a private copy of `pkt`; false (and counted as a drop) when it cannot be taken. */
  push(pkt: PacketBuffer): boolean {
    if (this.closed || this.dispatcher === null || this.count >= this.capacity) {
      this.drops++;
      return false;
    }
    this.copyOut(pkt);
    return true;
  }

  /**
   * Queues a private copy of `pkt`, carved from a slab: one ArrayBuffer serves many packets (a
   * fresh slab when this one is full, never reused, so delivered bytes are never rewritten).
   * Large packets get their own buffer so a small view cannot pin a big slab for long.
   */
  private copyOut(pkt: PacketBuffer): void {
    const n = pkt.size;
    if (n > SLAB_BYTES >>> 2) {
      this.enqueue(pkt.toBytes(), 0, n);
      return;
    }
    if (this.slabOff + n > SLAB_BYTES) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabWords = new Int32Array(this.slab.buffer);
      this.slabOff = 0;
    }
    const off = this.slabOff;
    const slab = this.slab;
    // The header area by hand (a few dozen bytes: cheaper than a subarray view to `set` from):
    // as 32-bit words when source and destination are word-aligned (the usual TCP/IPv4 header
    // area is), else byte by byte. Then the payload pieces.
    const hb = pkt.buf;
    const start = pkt.start;
    const end = pkt.end;
    let o = off;
    if ((((hb.byteOffset + start) | (end - start)) & 3) === 0) {
      if (hb.buffer !== this.srcBuffer) {
        this.srcBuffer = hb.buffer;
        this.srcWords = new Int32Array(hb.buffer, 0, hb.buffer.byteLength >>> 2);
      }
      const src = this.srcWords;
      const dst = this.slabWords;
      // Exact: both offsets are multiples of 4 (slab offsets are multiples of 8).
      for (let w = (hb.byteOffset + start) >>> 2, d = off >>> 2, e = w + ((end - start) >>> 2); w < e; w++, d++) dst[d] = src[w]!;
      o += end - start;
    } else {
      for (let i = start; i < end; i++) slab[o++] = hb[i]!;
    }
    const pieces = pkt.payload;
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k]!;
      slab.set(p, o);
      o += p.length;
    }
    // Keep every packet 8-byte aligned, so the checksum's word path sees aligned headers.
    this.slabOff = (off + n + 7) & ~7;
    this.enqueue(slab, off, n);
  }

  /** Appends packet `count` (`n` bytes of `b` from `off`), reusing stale slots. */
  private enqueue(b: Uint8Array, off: number, n: number): void {
    const k = this.count++;
    if (k < this.q.length) {
      this.q[k] = b;
      this.pos[2 * k] = off;
      this.pos[2 * k + 1] = n;
    } else {
      this.q.push(b);
      this.pos.push(off, n);
    }
  }

  /** Arranges for one drain, per the delivery mode. Called once per `writePackets` batch. */
  schedule(): void {
    if (this.count === 0) return;
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
    const count = this.count;
    if (count === 0) return 0;
    const batch = this.q;
    const pos = this.pos;
    // Packets written during the batch go to the spare arrays (the previous batch's), or to
    // fresh ones when a dispatcher drains re-entrantly (the spare is then in use further up).
    if (this.spareQ !== null) {
      this.q = this.spareQ;
      this.pos = this.sparePos!;
      this.spareQ = null;
      this.sparePos = null;
    } else {
      this.q = [];
      this.pos = [];
    }
    this.count = 0;
    const d = this.dispatcher;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const buf = batch[i]!;
      batch[i] = null;
      if (d === null || this.dispatcher !== d || this.closed) {
        this.drops++;
        continue;
      }
      const at = pos[2 * i]!;
      const len = pos[2 * i + 1]!;
      // The packet is `buf[at, at + len)`; PacketBuffer's offsets say so, without a view per packet.
      const pkt = PacketBuffer.inbound(buf, at, len);
      const proto = this.l3 ? protocolFromVersion(buf, at) : 0;
      pkt.networkProtocol = proto;
      pkt.checksumOffloaded = this.rxChecksumOffload;
      this.packets++;
      this.bytes += len;
      n++;
      d.deliverNetworkPacket(proto, pkt);
    }
    // Every slot below `count` is null again: keep the arrays for the next batch.
    this.spareQ = batch;
    this.sparePos = pos;
    if (n > 0) d!.deliverBatchEnd();
    return n;
  }

  /** Drops what is queued (counted), disarms the timer, and refuses further packets. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.drops += this.count;
    this.q = [];
    this.pos = [];
    this.count = 0;
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
