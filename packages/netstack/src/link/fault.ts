/**
 * A link wrapper that damages what the stack writes (the outbound direction), the way Linux's
 * netem does on an interface: loss, duplication, reordering, bit corruption, delay with jitter,
 * and a bandwidth limit with a bounded queue. Every decision comes from the injected
 * RandomSource and every wait from the injected Clock, so a seed replays the same damage.
 * Inbound packets pass through untouched; to damage both directions of a pipe, wrap both ends.
 *
 * Per packet, in this order:
 *   1. loss       dropped with probability `loss`.
 *   1b. ceMark    an ECN-capable packet (ECT(0) or ECT(1) in the IP header) is, with probability
 *                 `ceMark`, sent as a copy marked CE instead, as an AQM router does rather than
 *                 drop it (RFC 3168 §5); packets that are not ECT are left alone.
 *   2. corrupt    with probability `corrupt`, a copy with one random bit flipped is sent instead
 *                 (the caller's packet is never modified: TCP may retransmit it).
 *   3. reorder    with probability `reorder` the packet is held back (one at a time) and sent
 *                 right after the next packet, or after `reorderHoldMs` if none follows.
 *   4. duplicate  with probability `duplicate` the packet is sent twice (the copy passes the
 *                 reorder step on its own).
 *   5. bandwidth  the packet is serialized at `bandwidthBps`: it leaves when the one before has
 *                 finished plus its own size/rate; when the bytes waiting or being serialized
 *                 would exceed `queueBytes`, it is dropped (tail drop).
 *   6. delay      `delayMs` plus a uniform [0, jitterMs) is added. The delay line is a FIFO:
 *                 jitter never reorders (a packet never leaves before the one ahead of it);
 *                 reordering is the `reorder` knob's job.
 *
 * Delayed packets wait in one queue driven by one timer, and held packets by another; both are
 * created once, so pending timers never grow with traffic. `close()` cancels them.
 */
import type { Clock, Timer } from "../clock/clock.js";
import type { RandomSource } from "../clock/random.js";
import { PacketBuffer } from "../buffer/packet.js";
import { CapTxNoRetain, type LinkEndpoint, type NetworkDispatcher } from "./link.js";

/** Fault settings; omitted ones are off. Probabilities are in [0, 1]. */
export interface Faults {
  loss: number;
  /** Probability that an ECT packet is marked CE (RFC 3168); non-ECT packets are never touched. */
  ceMark: number;
  duplicate: number;
  reorder: number;
  /** How long a held packet waits for a successor before it is sent anyway. Default 1 ms. */
  reorderHoldMs: number;
  corrupt: number;
  delayMs: number;
  jitterMs: number;
  /** Bits per second; 0 = unlimited. */
  bandwidthBps: number;
  /** Bytes the bandwidth queue may hold (including the packet being serialized). Default 256 KiB. */
  queueBytes: number;
}

export interface FaultOptions extends Partial<Faults> {
  random: RandomSource;
  clock: Clock;
}

/** Counters per fault kind. */
export interface FaultStats {
  /** Packets handed to the inner link (duplicates and corrupted copies included). */
  sent: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  /** ECT packets marked CE. */
  ceMarked: number;
  /** Packets that waited in the delay/bandwidth queue. */
  delayed: number;
  /** Packets dropped because the bandwidth queue was full. */
  queueDrops: number;
  /** Packets written after close, or still queued at close. */
  closedDrops: number;
}

const DEFAULTS: Faults = {
  loss: 0,
  ceMark: 0,
  duplicate: 0,
  reorder: 0,
  reorderHoldMs: 1,
  corrupt: 0,
  delayMs: 0,
  jitterMs: 0,
  bandwidthBps: 0,
  queueBytes: 256 * 1024,
};

// Release times within this much of `now` count as due (float rounding of deadline arithmetic).
const EPSILON_MS = 1e-9;

export class FaultEndpoint implements LinkEndpoint {
  readonly stats: FaultStats = {
    sent: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    ceMarked: 0,
    delayed: 0,
    queueDrops: 0,
    closedDrops: 0,
  };

  private f: Faults;
  /** True when some fault is configured; false lets writes go straight through. */
  private active = false;
  private readonly random: RandomSource;
  private readonly clock: Clock;
  private closed = false;

  // Reorder: at most one packet held back.
  private held: PacketBuffer | null = null;
  private readonly holdTimer: Timer;

  // Delay line: FIFO of packets and their release times, consumed from `head`.
  private dq: (PacketBuffer | undefined)[] = [];
  private dt: number[] = [];
  private head = 0;
  private lastRelease = -Infinity;
  private readonly delayTimer: Timer;
  /** When the bandwidth limiter finishes serializing what it has accepted. */
  private busyUntil = -Infinity;

  constructor(
    readonly inner: LinkEndpoint,
    opts: FaultOptions,
  ) {
    this.random = opts.random;
    this.clock = opts.clock;
    this.f = { ...DEFAULTS };
    this.setFaults(opts);
    this.holdTimer = this.clock.createTimer(this.onHoldTimer);
    this.delayTimer = this.clock.createTimer(this.onDelayTimer);
  }

  /** The current settings (a copy). */
  get faults(): Faults {
    return { ...this.f };
  }

  /** Changes some settings at run time; packets already queued keep their release times. */
  setFaults(partial: Partial<Faults>): void {
    const next: Faults = { ...this.f };
    for (const k of Object.keys(DEFAULTS) as (keyof Faults)[]) {
      const v = partial[k];
      if (v !== undefined) next[k] = v;
    }
    for (const k of ["loss", "ceMark", "duplicate", "reorder", "corrupt"] as const)
      if (!(next[k] >= 0 && next[k] <= 1)) throw new RangeError(`${k} must be a probability in [0, 1], got ${next[k]}`);
    for (const k of ["reorderHoldMs", "delayMs", "jitterMs", "bandwidthBps", "queueBytes"] as const)
      if (!(next[k] >= 0)) throw new RangeError(`${k} must be >= 0, got ${next[k]}`);
    this.f = next;
    this.active =
      next.loss > 0 ||
      next.ceMark > 0 ||
      next.duplicate > 0 ||
      next.reorder > 0 ||
      next.corrupt > 0 ||
      next.delayMs > 0 ||
      next.jitterMs > 0 ||
      next.bandwidthBps > 0;
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
  get capabilities(): number {
    // Held, delayed and duplicated packets are kept by reference.
    return this.inner.capabilities & ~CapTxNoRetain;
  }

  /** Inbound is untouched: the inner link delivers straight to the dispatcher. */
  attach(dispatcher: NetworkDispatcher | null): void {
    this.inner.attach(this.closed ? null : dispatcher);
  }

  get isAttached(): boolean {
    return this.inner.isAttached;
  }

  /** Packets waiting in the delay/bandwidth queue or held for reordering. */
  get queued(): number {
    return this.dq.length - this.head + (this.held ? 1 : 0);
  }

  /**
   * Applies the faults and passes on what survives. With no fault configured (and nothing
   * queued) the batch goes straight to the inner link and its count is returned; otherwise the
   * whole batch counts as taken, since a lossy wire does not tell the sender what it lost.
   */
  writePackets(pkts: readonly PacketBuffer[]): number {
    if (this.closed) {
      this.stats.closedDrops += pkts.length;
      return 0;
    }
    if (!this.active && this.held === null && this.head === this.dq.length) {
      const n = this.inner.writePackets(pkts);
      this.stats.sent += n;
      return n;
    }
    // A local batch array: the inner link may deliver synchronously and provoke a nested write.
    const out: PacketBuffer[] = [];
    for (let i = 0; i < pkts.length; i++) this.admit(pkts[i]!, out);
    if (out.length > 0) this.inner.writePackets(out);
    return pkts.length;
  }

  /** Cancels the timers, drops what is queued or held (counted), and closes the inner link. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.holdTimer.cancel();
    this.delayTimer.cancel();
    this.stats.closedDrops += this.queued;
    this.held = null;
    this.dq = [];
    this.dt = [];
    this.head = 0;
    this.inner.attach(null);
    this.inner.close?.();
  }

  private admit(pkt: PacketBuffer, out: PacketBuffer[]): void {
    const f = this.f;
    const r = this.random;
    if (f.loss > 0 && r.float() < f.loss) {
      this.stats.lost++;
      return;
    }
    let p = pkt;
    if (f.ceMark > 0) {
      // Only ECT packets draw a number, so marking never changes what happens to the others.
      const ip = ipHeaderOffset(p);
      if (ip >= 0 && isEct(p.buf, ip) && r.float() < f.ceMark) {
        p = markCe(p, ip);
        this.stats.ceMarked++;
      }
    }
    if (f.corrupt > 0 && p.size > 0 && r.float() < f.corrupt) {
      p = flipBit(p, Math.floor(r.float() * p.size * 8));
      this.stats.corrupted++;
    }
    this.reorderStage(p, out);
    if (f.duplicate > 0 && r.float() < f.duplicate) {
      this.stats.duplicated++;
      this.reorderStage(p, out);
    }
  }

  private reorderStage(p: PacketBuffer, out: PacketBuffer[]): void {
    if (this.held === null && this.f.reorder > 0 && this.random.float() < this.f.reorder) {
      this.held = p;
      this.stats.reordered++;
      this.holdTimer.schedule(this.f.reorderHoldMs);
      return;
    }
    this.lineStage(p, out);
    const h = this.held;
    if (h !== null) {
      // The held packet leaves right behind the one that overtook it.
      this.held = null;
      this.holdTimer.cancel();
      this.lineStage(h, out);
    }
  }

  /** Bandwidth and delay: computes the release time and sends now or queues. */
  private lineStage(p: PacketBuffer, out: PacketBuffer[]): void {
    const f = this.f;
    const now = this.clock.now();
    let t = now;
    if (f.bandwidthBps > 0) {
      const start = this.busyUntil > now ? this.busyUntil : now;
      const backlogBytes = ((start - now) * f.bandwidthBps) / 8000;
      if (backlogBytes + p.size > f.queueBytes) {
        this.stats.queueDrops++;
        return;
      }
      t = start + (p.size * 8000) / f.bandwidthBps;
      this.busyUntil = t;
    }
    if (f.delayMs > 0) t += f.delayMs;
    if (f.jitterMs > 0) t += this.random.float() * f.jitterMs;
    const empty = this.head === this.dq.length;
    if (t <= now && empty) {
      this.stats.sent++;
      out.push(p);
      return;
    }
    if (t < this.lastRelease) t = this.lastRelease; // FIFO: never overtake the packet ahead
    this.lastRelease = t;
    this.dq.push(p);
    this.dt.push(t);
    this.stats.delayed++;
    if (empty) this.delayTimer.schedule(t - now);
  }

  private readonly onHoldTimer = (): void => {
    const h = this.held;
    if (h === null) return;
    this.held = null;
    const out: PacketBuffer[] = [];
    this.lineStage(h, out);
    if (out.length > 0) this.inner.writePackets(out);
  };

  private readonly onDelayTimer = (): void => {
    const now = this.clock.now();
    const out: PacketBuffer[] = [];
    const dq = this.dq;
    const dt = this.dt;
    let h = this.head;
    while (h < dq.length && dt[h]! <= now + EPSILON_MS) {
      out.push(dq[h]!);
      dq[h] = undefined;
      h++;
    }
    if (h === dq.length) {
      this.dq = [];
      this.dt = [];
      h = 0;
    } else if (h >= 1024 && h * 2 >= dq.length) {
      this.dq = dq.slice(h);
      this.dt = dt.slice(h);
      h = 0;
    }
    this.head = h;
    // Re-arm before sending: the inner link may write back into this queue synchronously.
    if (h < this.dq.length) this.delayTimer.schedule(Math.max(0, this.dt[h]! - now));
    this.stats.sent += out.length;
    if (out.length > 0) this.inner.writePackets(out);
  };
}

/**
 * Where the IP header of an outbound packet starts in `buf`: the offset the network layer
 * recorded, or the packet's start when that holds an IPv4 / IPv6 header; -1 when there is none.
 */
function ipHeaderOffset(pkt: PacketBuffer): number {
  let off = pkt.networkHeader;
  if (off < pkt.start || off + 20 > pkt.end) off = pkt.start;
  if (off + 20 > pkt.end) return -1;
  const v = pkt.buf[off]! >> 4;
  return v === 4 || v === 6 ? off : -1;
}

/** RFC 3168 §5: the ECN field (IPv4 TOS / IPv6 traffic class, low two bits) is ECT(1) or ECT(0). */
function isEct(b: Uint8Array, ip: number): boolean {
  const ecn = b[ip]! >> 4 === 4 ? b[ip + 1]! & 3 : (b[ip + 1]! >> 4) & 3;
  return ecn === 1 || ecn === 2;
}

/**
 * A copy of `pkt` with the ECN field set to CE (11). IPv4's header checksum is updated
 * incrementally (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')); IPv6 has none.
 */
function markCe(pkt: PacketBuffer, ip: number): PacketBuffer {
  const c = copyOf(pkt);
  const b = c.buf;
  const o = ip - pkt.start;
  if (b[o]! >> 4 === 4) {
    const m = (b[o]! << 8) | b[o + 1]!;
    b[o + 1]! |= 3;
    const m2 = (b[o]! << 8) | b[o + 1]!;
    const hc = (b[o + 10]! << 8) | b[o + 11]!;
    let sum = (~hc & 0xffff) + (~m & 0xffff) + m2;
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const nc = ~sum & 0xffff;
    b[o + 10] = nc >>> 8;
    b[o + 11] = nc & 0xff;
  } else {
    b[o + 1]! |= 0x30;
  }
  return c;
}

/** A copy of `pkt` with bit `bit` (counted from the first byte's most significant bit) flipped. */
function flipBit(pkt: PacketBuffer, bit: number): PacketBuffer {
  const c = copyOf(pkt);
  c.buf[bit >> 3]! ^= 0x80 >> (bit & 7);
  return c;
}

/** A contiguous copy of `pkt` (the caller's packet is never modified: TCP may retransmit it). */
function copyOf(pkt: PacketBuffer): PacketBuffer {
  const c = PacketBuffer.inbound(pkt.toBytes());
  // Keep the metadata a lower link may need (next-hop address, protocol numbers, offload flag).
  c.networkProtocol = pkt.networkProtocol;
  c.transportProtocol = pkt.transportProtocol;
  c.remoteLinkAddress = pkt.remoteLinkAddress;
  c.checksumOffloaded = pkt.checksumOffloaded;
  c.nicId = pkt.nicId;
  c.linkHeader = shifted(pkt, pkt.linkHeader);
  c.networkHeader = shifted(pkt, pkt.networkHeader);
  c.transportHeader = shifted(pkt, pkt.transportHeader);
  return c;
}

function shifted(pkt: PacketBuffer, off: number): number {
  return off >= pkt.start && off < pkt.end ? off - pkt.start : -1;
}
