/**
 * SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the SYN-ACK's initial
 * sequence number carries what the half-open connection would have remembered, so the listener
 * keeps no state until the handshake's ACK returns the cookie (as SEG.ACK - 1).
 *
 * The cookie (our ISN), 32 bits:
 *
 *     31..30  time slot mod 4      (slots of COOKIE_SLOT_MS = 64 s, as Linux's tcp_cookie_time)
 *     29..28  MSS index            (into a table of four common MSS values per address family)
 *     27..0   keyed hash           (low 28 bits of SipHash-2-4 over local address and port,
 *                                   remote address and port, the peer's ISN, the full slot
 *                                   number and the MSS index)
 *
 * A cookie is accepted while it is from the current slot or the one before (COOKIE_MAX_AGE = 2,
 * like Linux's MAX_SYNCOOKIE_AGE): 64-128 s. The hash is SipHash-2-4 (clock/siphash.ts) under a
 * 16-byte secret drawn once per stack from its RandomSource: a keyed PRF built from 32-bit
 * operations, no node:crypto call per SYN. Forging an ACK for one 4-tuple succeeds with
 * probability 2^-28 per attempt.
 *
 * Options (Linux's cookie_init_timestamp): when the SYN carried timestamps, the SYN-ACK's TSval
 * has its low 6 bits replaced by the peer's window scale (4 bits, 15 = none), SACK-permitted
 * (1 bit) and ECN (1 bit); the peer echoes TSval in the ACK's TSecr, so the options survive.
 * Without timestamps the connection gets the MSS only (no window scaling, no SACK), as on Linux.
 * The timestamp clock's offset for the 4-tuple is derived from the secret too (Linux's
 * secure_tcp_ts_off), so the connection created from the ACK continues the SYN-ACK's clock.
 */
import type { RandomSource } from "../../clock/random.js";
import { SipHash } from "../../clock/siphash.js";
import { writeTupleInput } from "./isn.js";
import type { PacketBuffer } from "../../buffer/packet.js";
import { isError } from "../../tcpip/errors.js";
import type { Address } from "../../tcpip/address.js";
import { TCP_ACK, TCP_ECE, TCP_SYN } from "../../header/tcp.js";
import { packetDestinationAddress, packetSourceAddress } from "../../stack/dualstack.js";
import { isEcnSetupSyn } from "./ecn.js";
import type { TcpEndpoint } from "./endpoint.js";
import { DEFAULT_MSS, DEFAULT_MSS_V6 } from "./rcv.js";
import { buildSegment, OutOptions, type Segment } from "./segment.js";
import { seqAdd } from "./seqnum.js";

/** Length of one cookie time slot (ms): Linux counts cookie time in 64-second units. */
export const COOKIE_SLOT_MS = 64_000;
/** A cookie is valid in the slot it was made in and the next one (Linux's MAX_SYNCOOKIE_AGE). */
export const COOKIE_MAX_AGE = 2;

/** MSS values a cookie can carry (the largest not above the peer's MSS is chosen). */
export const COOKIE_MSS_V4: readonly number[] = [536, 1300, 1440, 1460];
export const COOKIE_MSS_V6: readonly number[] = [1220, 1420, 1440, 8940];

/** Low TSval bits that carry options (Linux's TSBITS = 6). */
const TS_OPT_BITS = 6;
const TS_OPT_MASK = (1 << TS_OPT_BITS) - 1;
const TS_WSCALE_NONE = 0xf;
const TS_SACK = 1 << 4;
const TS_ECN = 1 << 5;
/** RFC 7323 §2.3: the largest shift. */
const MAX_WSCALE = 14;

const HASH_BITS = 28;
const HASH_MASK = (1 << HASH_BITS) - 1;

/** The options a valid cookie's ACK restored (see `decodeCookieTs`). */
export interface CookieTsOptions {
  /** The peer's window scale shift, -1 when it offered none. */
  wscale: number;
  sackOk: boolean;
  ecn: boolean;
}

/** The MSS table for a connection's address family (a v4-mapped address is IPv4). */
function mssTable(local: Address): readonly number[] {
  return local.length === 16 && !local.isV4Mapped ? COOKIE_MSS_V6 : COOKIE_MSS_V4;
}

/** The stack's cookie secret and the cookie arithmetic. One per TcpProtocol. */
export class SynCookies {
  private readonly hasher: SipHash;
  /** local address, remote address (4 or 16 bytes each), ports, peer ISN, slot, MSS index. */
  private readonly input = new Uint8Array(48);

  constructor(random: RandomSource) {
    const secret = new Uint8Array(16);
    random.fill(secret);
    this.hasher = new SipHash(secret);
  }

  /**
   * The cookie ISN for a SYN from `remote`:`remotePort` (ISN `peerIsn`) to `local`:`localPort`,
   * made at `now` (ms), carrying `peerMss` rounded down to the table.
   */
  make(local: Address, localPort: number, remote: Address, remotePort: number, peerIsn: number, peerMss: number, now: number): number {
    const table = mssTable(local);
    let idx = 0;
    for (let i = table.length - 1; i > 0; i--) {
      if (table[i]! <= peerMss) {
        idx = i;
        break;
      }
    }
    const slot = Math.floor(now / COOKIE_SLOT_MS);
    const h = this.hash(local, localPort, remote, remotePort, peerIsn, slot, idx);
    return ((((slot & 3) << 30) | (idx << 28) | (h & HASH_MASK)) >>> 0);
  }

  /**
   * Checks `cookie` (SEG.ACK - 1 of an ACK at a listener) for the ACK's 4-tuple and `peerIsn`
   * (SEG.SEQ - 1). Returns the MSS it carries, or 0 when it is forged or older than
   * COOKIE_MAX_AGE slots.
   */
  check(local: Address, localPort: number, remote: Address, remotePort: number, peerIsn: number, cookie: number, now: number): number {
    const cur = Math.floor(now / COOKIE_SLOT_MS);
    // The slot the cookie names: the latest one not after `cur` with the same two low bits.
    const age = (cur - (cookie >>> 30)) & 3;
    if (age >= COOKIE_MAX_AGE) return 0;
    const slot = cur - age;
    const idx = (cookie >>> 28) & 3;
    const h = this.hash(local, localPort, remote, remotePort, peerIsn, slot, idx);
    if ((h & HASH_MASK) !== (cookie & HASH_MASK)) return 0;
    return mssTable(local)[idx]!;
  }

  /** The timestamp clock offset for a 4-tuple (fixed per tuple, unpredictable without the secret). */
  tsOffset(local: Address, localPort: number, remote: Address, remotePort: number): number {
    // Slot -1 and index 0xff never occur in a cookie: a separate domain of the same PRF.
    return this.hash(local, localPort, remote, remotePort, 0, -1, 0xff);
  }

  private hash(local: Address, localPort: number, remote: Address, remotePort: number, peerIsn: number, slot: number, idx: number): number {
    const b = this.input;
    let o = writeTupleInput(b, local, localPort, remote, remotePort);
    b[o++] = peerIsn >>> 24;
    b[o++] = peerIsn >>> 16;
    b[o++] = peerIsn >>> 8;
    b[o++] = peerIsn;
    b[o++] = slot >>> 24;
    b[o++] = slot >>> 16;
    b[o++] = slot >>> 8;
    b[o++] = slot;
    b[o++] = idx;
    return this.hasher.hash(b, 0, o);
  }
}

/**
 * The TSval of a cookie SYN-ACK: the timestamp clock `tsNow` with its low 6 bits replaced by the
 * options (`wscale` -1 = none), never ahead of `tsNow` (Linux's cookie_init_timestamp), so the
 * connection's later TSvals never go backwards.
 */
export function encodeCookieTs(tsNow: number, wscale: number, sackOk: boolean, ecn: boolean): number {
  let opts = wscale >= 0 ? (wscale > MAX_WSCALE ? MAX_WSCALE : wscale) : TS_WSCALE_NONE;
  if (sackOk) opts |= TS_SACK;
  if (ecn) opts |= TS_ECN;
  let ts = ((tsNow & ~TS_OPT_MASK) | opts) >>> 0;
  if (ts !== tsNow && ((ts - tsNow) | 0) > 0) ts = (ts - (TS_OPT_MASK + 1)) >>> 0;
  return ts;
}

/**
 * The options in a cookie ACK's TSecr, or null when the echo is not one we could have sent:
 * later than our clock `tsNow`, or older than a cookie may be.
 */
export function decodeCookieTs(tsEcr: number, tsNow: number, out: CookieTsOptions): CookieTsOptions | null {
  const age = (tsNow - tsEcr) | 0;
  if (age < 0 || age > COOKIE_MAX_AGE * COOKIE_SLOT_MS + TS_OPT_MASK) return null;
  const ws = tsEcr & 0xf;
  if (ws !== TS_WSCALE_NONE && ws > MAX_WSCALE) return null;
  out.wscale = ws === TS_WSCALE_NONE ? -1 : ws;
  out.sackOk = (tsEcr & TS_SACK) !== 0;
  out.ecn = (tsEcr & TS_ECN) !== 0;
  return out;
}

// ------------------------------------------------------------------ the listener's side

/** Linux's TCP_SYNCOOKIE_VALID: with syncookies = 1, ACKs are checked as cookies this long after one was sent. */
const COOKIE_IN_USE_MS = COOKIE_MAX_AGE * COOKIE_SLOT_MS;

/** What a valid cookie ACK restores for the connection (TcpEndpoint.cookieOpen). */
export interface CookieGrant {
  /** The peer's MSS as the cookie carried it. */
  mss: number;
  /** The peer's window scale shift (-1: no scaling), SACK-permitted, timestamps, ECN. */
  wscale: number;
  sackOk: boolean;
  ts: boolean;
  ecn: boolean;
  /** The timestamp clock offset the SYN-ACK used. */
  tsOffset: number;
}

const synAckOpts = new OutOptions();
const tsScratch: CookieTsOptions = { wscale: -1, sackOk: false, ecn: false };

/**
 * RFC 4987 §3.6: answers a SYN at listener `l` with a cookie SYN-ACK and keeps no state. The
 * SYN-ACK carries our MSS; when the SYN carried timestamps (and they are on), also timestamps,
 * window scale and SACK-permitted as the SYN offered them, the peer's choices encoded in TSval.
 * `nicId` is the NIC to route through (the listener's SO_BINDTODEVICE, else the arrival NIC).
 */
export function sendCookieSynAck(l: TcpEndpoint, pkt: PacketBuffer, seg: Segment, nicId: number): void {
  const proto = l.proto;
  const stack = l.stack;
  const local = packetDestinationAddress(pkt, l.netProto);
  const remote = packetSourceAddress(pkt, l.netProto);
  const route = stack.findRoute(nicId, local, remote, l.netProto);
  if (isError(route)) return;
  const o = proto.options;
  const so = seg.options;
  const now = stack.clock.now();
  const cookies = proto.synCookies;
  const peerMss = so.mss > 0 ? so.mss : route.localAddress.length === 16 ? DEFAULT_MSS_V6 : DEFAULT_MSS;
  const iss = cookies.make(local, seg.dstPort, remote, seg.srcPort, seg.seq, peerMss, now);
  // ECN is accepted only when TSval can carry it back (otherwise the connection made from the
  // ACK could not know the SYN-ACK agreed to it).
  const ecn = o.ecn !== 0 && isEcnSetupSyn(seg.flags) && so.hasTimestamp && o.timestamps;
  const out = synAckOpts;
  out.clear();
  out.mss = l.advertisedMss(route);
  if (so.hasTimestamp && o.timestamps) {
    // RFC 7323 §2.2 / §3.2, RFC 2018 §2: each option only if the SYN offered it.
    const ours = so.wscale >= 0 ? l.chooseWindowScale() : -1;
    if (ours >= 0) out.wscale = ours;
    out.sackPermitted = o.sack && so.sackPermitted;
    out.ts = true;
    const tsNow = (Math.floor(now) + cookies.tsOffset(local, seg.dstPort, remote, seg.srcPort)) >>> 0;
    out.tsVal = encodeCookieTs(tsNow, ours >= 0 ? so.wscale : -1, out.sackPermitted, ecn);
    out.tsEcr = so.tsVal;
  }
  // RFC 7323 §2.2: the window in a SYN-ACK is never scaled.
  const wnd = l.rcvBufSize < 0xffff ? l.rcvBufSize : 0xffff;
  // RFC 3168 §6.1.1: accepting ECN, the SYN-ACK carries ECE.
  const flags = TCP_SYN | TCP_ACK | (ecn ? TCP_ECE : 0);
  const p = buildSegment(route, seg.dstPort, seg.srcPort, iss, seqAdd(seg.seq, 1), flags, wnd, out, null, 0);
  const wp = l.writeParams;
  const ttl = wp.ttl;
  wp.ttl = l.ttl || route.defaultTtl;
  const err = route.writePacket(p, wp);
  wp.ttl = ttl;
  const st = stack.stats.tcp;
  if (err) {
    st.segmentSendErrors++;
    return;
  }
  st.segmentsSent++;
  st.synCookiesSent++;
  proto.counters.syncookiesSent++;
  l.lastCookieAt = now;
}

/**
 * An ACK (no SYN, no RST) reached listener `l`: no SYN-RECEIVED child owns its 4-tuple. Checks it
 * as the return of a cookie (SEG.ACK - 1, for the peer ISN SEG.SEQ - 1) when cookies are in use
 * (always with syncookies = 2; with 1, while the listener sent one within the last two slots, as
 * Linux's tcp_synq_no_recent_overflow). Fills `out` and returns true when the cookie is valid;
 * false otherwise (a failure is counted when the ACK was checked).
 */
export function checkCookieAck(l: TcpEndpoint, pkt: PacketBuffer, seg: Segment, out: CookieGrant): boolean {
  const proto = l.proto;
  const mode = proto.options.syncookies;
  const now = l.stack.clock.now();
  const sentAt = l.lastCookieAt;
  if (mode === 0 || (mode === 1 && (sentAt === null || now - sentAt > COOKIE_IN_USE_MS))) return false;
  const local = packetDestinationAddress(pkt, l.netProto);
  const remote = packetSourceAddress(pkt, l.netProto);
  const cookies = proto.synCookies;
  const mss = cookies.check(local, seg.dstPort, remote, seg.srcPort, seqAdd(seg.seq, -1), seqAdd(seg.ack, -1), now);
  const so = seg.options;
  let ok = mss > 0;
  out.mss = mss;
  out.wscale = -1;
  out.sackOk = false;
  out.ts = false;
  out.ecn = false;
  out.tsOffset = 0;
  if (ok && so.hasTimestamp && proto.options.timestamps) {
    // The echo of our TSval brings back the options; without timestamps only the MSS survives.
    out.tsOffset = cookies.tsOffset(local, seg.dstPort, remote, seg.srcPort);
    const tsNow = (Math.floor(now) + out.tsOffset) >>> 0;
    const d = decodeCookieTs(so.tsEcr, tsNow, tsScratch);
    if (!d) ok = false;
    else {
      out.ts = true;
      out.wscale = proto.options.windowScaling ? d.wscale : -1;
      out.sackOk = d.sackOk && proto.options.sack;
      out.ecn = d.ecn && proto.options.ecn !== 0;
    }
  }
  if (!ok) {
    proto.counters.syncookiesFailed++;
    l.stack.stats.tcp.synCookiesFailed++;
    return false;
  }
  proto.counters.syncookiesRecv++;
  l.stack.stats.tcp.synCookiesValidated++;
  return true;
}
