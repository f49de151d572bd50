/**
 * IP reassembly (RFC 791 §3.2, RFC 815), shared by IPv4 and IPv6. Fragments of one datagram are
 * keyed by (source, destination, protocol, identification). Rules:
 * - a fragment that only repeats bytes already held at the same offset and length (a duplicate) is
 *   ignored;
 * - any other overlap discards the whole datagram (RFC 5722 for IPv6; Linux does the same for
 *   IPv4 since 4.19);
 * - every datagram has a timeout (30 s like Linux's ipfrag_time) after which it is dropped and,
 *   if its first fragment had arrived, the network layer may send ICMP time exceeded
 *   (reassembly);
 * - the memory held is bounded (4 MiB like ipfrag_high_thresh); when a new fragment would exceed
 *   the bound, the oldest other datagrams are evicted first.
 * The bound charges what a datagram really costs, as Linux charges an skb's truesize rather than
 * its payload: every datagram pays DATAGRAM_COST for its bookkeeping (entry, timer, header copy)
 * and every piece PIECE_COST, so a flood of empty or 8-byte fragments with distinct ids cannot
 * pin hundreds of bytes of heap per byte of payload.
 * Fragment payloads are held as views (the inbound ownership rule allows it) and copied once,
 * into the reassembled packet; a small fragment inside a much larger buffer is copied on arrival,
 * so that a view never pins more than it is charged for.
 */
import type { Clock, Timer } from "../../clock/clock.js";
import { PacketBuffer } from "../../buffer/packet.js";
import { Address } from "../../tcpip/address.js";

interface Piece {
  off: number;
  end: number;
  data: Uint8Array;
}

export interface Reassembly {
  hash: number;
  src: Uint8Array;
  dst: Uint8Array;
  proto: number;
  id: number;
  pieces: Piece[];
  /** Total payload length, known once the last fragment (MF = 0) arrived; -1 until then. */
  total: number;
  bytes: number;
  /** Network header of the first fragment (offset 0), copied; null until it arrives. */
  firstHeader: Uint8Array | null;
  /** First 8+ bytes of the first fragment's payload (for ICMP time exceeded). */
  firstPayload: Uint8Array | null;
  nicId: number;
  timer: Timer;
  createdAt: number;
}

export type ReassemblyResult =
  | { kind: "incomplete" }
  | { kind: "done"; header: Uint8Array; payload: Uint8Array }
  | { kind: "dropped"; reason: "overlap" | "memory" | "inconsistent" };

const INCOMPLETE = { kind: "incomplete" } as const;
const OVERLAP = { kind: "dropped", reason: "overlap" } as const;
const MEMORY = { kind: "dropped", reason: "memory" } as const;
const INCONSISTENT = { kind: "dropped", reason: "inconsistent" } as const;

/** Bytes charged per datagram being reassembled (entry, timer, table slots, first header). */
export const DATAGRAM_COST = 1024;
/** Bytes charged per fragment held (the piece record and its view). */
export const PIECE_COST = 128;

export interface ReassemblerOptions {
  timeoutMs?: number;
  memoryLimit?: number;
  /** Called when a datagram times out (after it was removed). */
  onTimeout?(r: Reassembly): void;
  /** Called when an incomplete datagram is evicted to make room for newer fragments. */
  onEvict?(r: Reassembly): void;
}

export class Reassembler {
  readonly timeoutMs: number;
  readonly memoryLimit: number;
  private readonly table = new Map<number, Reassembly[]>();
  /** Insertion order, oldest first, for eviction. */
  private readonly order = new Set<Reassembly>();
  private held = 0;
  private readonly onTimeout: ((r: Reassembly) => void) | undefined;
  private readonly onEvict: ((r: Reassembly) => void) | undefined;
  /** Incomplete datagrams evicted for memory. */
  evictions = 0;

  constructor(
    private readonly clock: Clock,
    opts: ReassemblerOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.memoryLimit = opts.memoryLimit ?? 4 * 1024 * 1024;
    this.onTimeout = opts.onTimeout;
    this.onEvict = opts.onEvict;
  }

  /** Bytes of fragment payload currently held. */
  get memoryUsed(): number {
    return this.held;
  }

  /** Datagrams being reassembled. */
  get size(): number {
    return this.order.size;
  }

  /**
   * Adds one fragment. `b[srcOff..]`/`b[dstOff..]` are the addresses (addrLen bytes), `off` the
   * fragment offset in bytes, `more` the MF flag, `payload` the fragment's data (a view),
   * `header` the network header (copied only for the first fragment).
   */
  add(b: Uint8Array, srcOff: number, dstOff: number, addrLen: number, proto: number, id: number, off: number,
    more: boolean, payload: Uint8Array, header: Uint8Array, nicId: number): ReassemblyResult {
    const end = off + payload.length;
    let h = Math.imul(Address.hashBytes(b, srcOff, addrLen) ^ proto, 0x9e3779b1);
    h = Math.imul(h ^ Address.hashBytes(b, dstOff, addrLen), 0x85ebca6b);
    h = (h ^ id) >>> 0;
    let r = this.find(h, b, srcOff, dstOff, addrLen, proto, id);
    const cost = payload.length + PIECE_COST + (r ? 0 : DATAGRAM_COST);
    if (cost > this.memoryLimit) {
      if (r) this.discard(r);
      return MEMORY;
    }
    // Evict the oldest other datagrams until this fragment fits; a datagram in progress is only
    // dropped itself when nothing else is left to evict.
    while (this.held + cost > this.memoryLimit && this.order.size > 0) {
      const oldest = this.order.values().next().value as Reassembly;
      if (oldest === r) {
        if (this.order.size === 1) break;
        // Keep r: move it behind the others so the next oldest is evicted instead.
        this.order.delete(r);
        this.order.add(r);
        continue;
      }
      this.discard(oldest);
      this.evictions++;
      this.onEvict?.(oldest);
    }
    if (r && this.held + cost > this.memoryLimit) {
      this.discard(r);
      return MEMORY;
    }
    if (!r) {
      r = {
        hash: h, src: b.slice(srcOff, srcOff + addrLen), dst: b.slice(dstOff, dstOff + addrLen), proto, id, pieces: [],
        total: -1, bytes: 0, firstHeader: null, firstPayload: null, nicId, timer: null as unknown as Timer,
        createdAt: this.clock.now(),
      };
      const rr = r;
      r.timer = this.clock.createTimer(() => this.expire(rr));
      r.timer.schedule(this.timeoutMs);
      let list = this.table.get(h);
      if (!list) this.table.set(h, (list = []));
      list.push(r);
      this.order.add(r);
      r.bytes = DATAGRAM_COST;
      this.held += DATAGRAM_COST;
    }

    if (!more) {
      // The last fragment fixes the total length; it must agree with anything seen so far.
      if ((r.total >= 0 && r.total !== end) || r.pieces.some((p) => p.end > end)) {
        this.discard(r);
        return INCONSISTENT;
      }
      r.total = end;
    } else if (r.total >= 0 && end > r.total) {
      this.discard(r);
      return INCONSISTENT;
    }

    // Find the insertion point and check overlaps with neighbours.
    const pieces = r.pieces;
    let i = 0;
    while (i < pieces.length && pieces[i]!.off < off) i++;
    const prev = i > 0 ? pieces[i - 1]! : null;
    const next = i < pieces.length ? pieces[i]! : null;
    if (next && next.off === off && next.end === end) return INCOMPLETE; // exact duplicate: ignore
    if ((prev && prev.end > off) || (next && next.off < end)) {
      this.discard(r);
      return OVERLAP;
    }
    if (payload.length > 0) {
      // A small view over a large buffer would pin the whole buffer: copy it instead.
      const data = payload.buffer.byteLength > 2 * payload.length + PIECE_COST ? payload.slice() : payload;
      pieces.splice(i, 0, { off, end, data });
      r.bytes += payload.length + PIECE_COST;
      this.held += payload.length + PIECE_COST;
    }
    if (off === 0) {
      r.firstHeader = header.slice();
      r.firstPayload = payload.slice(0, Math.min(payload.length, 8));
    }

    if (r.total < 0 || r.firstHeader === null) return INCOMPLETE;
    // Complete when the pieces cover [0, total) without holes.
    let covered = 0;
    for (const p of pieces) {
      if (p.off !== covered) return INCOMPLETE;
      covered = p.end;
    }
    if (covered !== r.total) return INCOMPLETE;
    const out = new Uint8Array(r.total);
    for (const p of pieces) out.set(p.data, p.off);
    const firstHeader = r.firstHeader;
    this.remove(r);
    return { kind: "done", header: firstHeader, payload: out };
  }

  private find(h: number, b: Uint8Array, srcOff: number, dstOff: number, addrLen: number, proto: number,
    id: number): Reassembly | undefined {
    const list = this.table.get(h);
    if (!list) return undefined;
    for (const r of list) {
      if (r.proto !== proto || r.id !== id || r.src.length !== addrLen) continue;
      let same = true;
      for (let i = 0; i < addrLen && same; i++) same = r.src[i] === b[srcOff + i] && r.dst[i] === b[dstOff + i];
      if (same) return r;
    }
    return undefined;
  }

  private remove(r: Reassembly): void {
    r.timer.cancel();
    this.held -= r.bytes;
    r.bytes = 0;
    this.order.delete(r);
    const list = this.table.get(r.hash);
    if (!list) return;
    const i = list.indexOf(r);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.table.delete(r.hash);
  }

  private discard(r: Reassembly): void {
    this.remove(r);
  }

  private expire(r: Reassembly): void {
    this.remove(r);
    this.onTimeout?.(r);
  }

  /** Drops everything (stack close). */
  clear(): void {
    for (const r of [...this.order]) this.remove(r);
  }
}

/**
 * An inbound packet over `bytes` (a network header at offset 0) carrying the addressing fields
 * the layers above read: the network protocol, where the addresses are, and — from `orig`, when
 * given — the arrival NIC and link-layer facts.
 */
export function inboundAt(bytes: Uint8Array, netProto: number, srcAddrOff: number, addrLen: 4 | 16, nicId: number,
  orig: PacketBuffer | null): PacketBuffer {
  const p = PacketBuffer.inbound(bytes);
  p.nicId = nicId;
  p.networkProtocol = netProto;
  p.networkHeader = 0;
  p.srcAddrOff = srcAddrOff;
  p.dstAddrOff = srcAddrOff + addrLen;
  p.addrLen = addrLen;
  if (orig) {
    p.linkBroadcast = orig.linkBroadcast;
    p.sourceLinkAddress = orig.sourceLinkAddress;
  }
  return p;
}

/** The first fragment of a timed-out datagram (header + the start of its data), for ICMP time exceeded. */
export function firstFragmentOf(r: Reassembly): Uint8Array | null {
  if (!r.firstHeader) return null;
  const bytes = new Uint8Array(r.firstHeader.length + (r.firstPayload?.length ?? 0));
  bytes.set(r.firstHeader, 0);
  if (r.firstPayload) bytes.set(r.firstPayload, r.firstHeader.length);
  return bytes;
}
