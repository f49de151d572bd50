/**
 * Explicit Congestion Notification for TCP (RFC 3168 §6.1): negotiation on the SYN / SYN-ACK,
 * ECT marking of new data, the receiver's CE → ECE echo until CWR, and the sender's response to
 * ECE (one congestion-window reduction per window of data, then CWR on the next new data).
 *
 * Policy as Linux's net.ipv4.tcp_ecn: 0 = never, 1 = ask on outgoing connections and accept on
 * incoming ones, 2 (Linux's default) = accept when the peer asks, never ask.
 *
 * The endpoint calls in at five places: connect (`startActive`), a SYN at a listener
 * (`onPassiveSyn`), the SYN-ACK (or simultaneous SYN) in SYN-SENT (`onSynSentSyn`), every segment
 * it emits (`outgoing` / `tos`), and every acceptable segment it receives (`onIncoming`, with the
 * IP ECN field read by `packetEcn`). Nothing here allocates per packet.
 */
import type { PacketBuffer } from "../../buffer/packet.js";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_SYN } from "../../header/tcp.js";
import { seqGT, seqLEQ } from "./seqnum.js";
import { defineFlags } from "./flags.js";

/** RFC 3168 §5: the ECN field, the two low bits of the IPv4 TOS byte / IPv6 traffic class. */
export const ECN_NOT_ECT = 0;
export const ECN_ECT1 = 1;
export const ECN_ECT0 = 2;
export const ECN_CE = 3;
export const ECN_MASK = 3;

/** Linux's tcp_ecn values. */
export type EcnPolicy = 0 | 1 | 2;
export const ECN_OFF: EcnPolicy = 0;
export const ECN_ON: EcnPolicy = 1;
export const ECN_PASSIVE: EcnPolicy = 2;

/** The stack-wide ECN counters (kept in TcpProtocol.counters). */
export interface EcnCounters {
  /** Connections on which ECN was negotiated. */
  ecnNegotiated: number;
  /** Data segments sent with ECT(0). */
  ectSent: number;
  /** Data segments received with CE. */
  ceReceived: number;
  /** Segments sent with ECE (after the handshake). */
  eceSent: number;
  /** Segments received with ECE (after the handshake). */
  eceReceived: number;
  /** Congestion-window reductions made in answer to ECE. */
  ecnCwndReductions: number;
  /** Segments sent / received with CWR (after the handshake). */
  cwrSent: number;
  cwrReceived: number;
}

/** What the ECE response needs of the sender (snd.ts's Sender). */
export interface EcnSender {
  readonly sndMax: number;
  readonly inRecovery: boolean;
  readonly recover: number;
  /** One multiplicative decrease: ssthresh per the algorithm, cwnd = ssthresh (no retransmission). */
  congestionEvent(): void;
}

/**
 * The ECN field of a received IP packet (IPv4 TOS or IPv6 traffic class), read in place from the
 * network header the IP layer recorded; NOT-ECT when there is none.
 */
export function packetEcn(pkt: PacketBuffer): number {
  const nh = pkt.networkHeader;
  if (nh < 0 || nh + 2 > pkt.buf.length) return ECN_NOT_ECT;
  const b = pkt.buf;
  const version = b[nh]! >> 4;
  // IPv4: TOS is byte 1. IPv6: the traffic class spans bytes 0-1; its low bits are byte 1's bits 4-5.
  if (version === 4) return b[nh + 1]! & ECN_MASK;
  if (version === 6) return (b[nh + 1]! >> 4) & ECN_MASK;
  return ECN_NOT_ECT;
}

/** RFC 3168 §6.1.1: an "ECN-setup SYN" carries both ECE and CWR. */
export function isEcnSetupSyn(flags: number): boolean {
  return (flags & (TCP_SYN | TCP_ACK | TCP_ECE | TCP_CWR)) === (TCP_SYN | TCP_ECE | TCP_CWR);
}

/** RFC 3168 §6.1.1: an "ECN-setup SYN-ACK" carries ECE and not CWR. */
export function isEcnSetupSynAck(flags: number): boolean {
  return (flags & (TCP_SYN | TCP_ACK | TCP_ECE | TCP_CWR)) === (TCP_SYN | TCP_ACK | TCP_ECE);
}

/** Per-connection ECN state. */
export class TcpEcn {
  /** The boolean fields below (`declare`d), one bit each: see flags.ts. */
  protected flagBits = 0;
  /** The policy this endpoint follows (the protocol's `ecn` option unless overridden). */
  policy: EcnPolicy;
  /** Our SYN asks for ECN (active open with policy 1). */
  declare offer: boolean;
  /** ECN was negotiated: data is ECT-marked and ECE / CWR carry meaning. */
  declare ok: boolean;
  /** Receiver: CE was seen; every ACK carries ECE until a CWR arrives (RFC 3168 §6.1.3). */
  declare echoing: boolean;
  /** Sender: the window was reduced; the next new data segment carries CWR (RFC 3168 §6.1.2). */
  declare cwrPending: boolean;
  /**
   * Sender: SND.MAX at the last response to ECE. ECE on ACKs up to it belongs to the window
   * already answered (RFC 3168 §6.1.2: at most one reduction per window of data).
   */
  private recover32 = 0;
  get recover(): number {
    return this.recover32 >>> 0;
  }
  set recover(v: number) {
    this.recover32 = v | 0;
  }
  /** The ECN field of the packet being processed (set by the endpoint before the segment rules). */
  rxField = ECN_NOT_ECT;
  /** Some ECT or CE packet arrived on this connection (TCP_INFO's TCPI_OPT_ECN_SEEN). */
  declare seen: boolean;
  /** The segment `outgoing` just prepared carries ECT(0). */
  private declare ect: boolean;

  constructor(policy: EcnPolicy, private readonly counters: EcnCounters) {
    this.policy = policy;
  }

  /** Both directions of the negotiation are decided from here on (used by the endpoint's hooks). */
  get active(): boolean {
    return this.ok || this.offer;
  }

  /** connect(): RFC 3168 §6.1.1: ask with an ECN-setup SYN when the policy says so. */
  startActive(iss: number): void {
    this.reset(iss);
    this.offer = this.policy === ECN_ON;
  }

  /** A SYN at a listener (or forwarder): accept ECN when the peer asked and the policy allows. */
  onPassiveSyn(flags: number, iss: number): void {
    this.reset(iss);
    if (this.policy !== ECN_OFF && isEcnSetupSyn(flags)) this.negotiated();
  }

  /**
   * SYN-SENT received a SYN: with ACK it is the SYN-ACK, which must be an ECN-setup SYN-ACK
   * answering our ECN-setup SYN (one with both ECE and CWR, or ECE from a peer we did not ask,
   * is "not ECN-setup" and ignored); without ACK it is a simultaneous open, which needs the
   * peer's ECN-setup SYN.
   */
  onSynSentSyn(flags: number): void {
    const setup = flags & TCP_ACK ? isEcnSetupSynAck(flags) : isEcnSetupSyn(flags);
    if (this.offer && setup) this.negotiated();
    this.offer = false;
  }

  private negotiated(): void {
    this.ok = true;
    this.counters.ecnNegotiated++;
  }

  private reset(iss: number): void {
    this.offer = false;
    this.ok = false;
    this.echoing = false;
    this.cwrPending = false;
    this.recover = iss;
    this.seen = false;
  }

  /**
   * The flags of a segment about to be sent, with ECN's added, and whether it is ECT (read back
   * with `tos`). `retransmit`: the segment starts below SND.MAX.
   */
  outgoing(flags: number, len: number, retransmit: boolean): number {
    this.ect = false;
    if (flags & TCP_SYN) {
      if (flags & TCP_ACK) {
        // RFC 3168 §6.1.1: the SYN-ACK accepting ECN carries ECE only.
        if (this.ok) flags |= TCP_ECE;
      } else if (this.offer) {
        // RFC 3168 §6.1.1.1: a SYN sent again after a timeout goes without ECN (a middlebox may
        // drop ECN-setup SYNs), as Linux's tcp_ecn_fallback does; ECN is then off.
        if (retransmit) this.offer = false;
        else flags |= TCP_ECE | TCP_CWR;
      }
      // SYNs are never ECT (RFC 3168 §6.1.1).
      return flags;
    }
    if (!this.ok) return flags;
    const c = this.counters;
    // RFC 3168 §6.1.3: ECE on every ACK while echoing a CE.
    if (this.echoing && flags & TCP_ACK) {
      flags |= TCP_ECE;
      c.eceSent++;
    }
    // RFC 3168 §6.1.4 / §6.1.5: pure ACKs and retransmissions are not ECT; new data is.
    if (len > 0 && !retransmit) {
      this.ect = true;
      c.ectSent++;
      if (this.cwrPending) {
        // RFC 3168 §6.1.2: CWR on the first new data segment after the reduction.
        this.cwrPending = false;
        flags |= TCP_CWR;
        c.cwrSent++;
      }
    }
    return flags;
  }

  /**
   * The TOS / traffic class for the segment `outgoing` prepared: the socket's value with the ECN
   * field replaced (for TCP the application does not set ECN bits, as on Linux).
   */
  tos(base: number): number {
    return (base & ~ECN_MASK) | (this.ect ? ECN_ECT0 : ECN_NOT_ECT);
  }

  /** Notes the ECN field of an arriving packet (called for every packet while ECN is on). */
  onPacket(field: number): void {
    this.rxField = field;
    if (field !== ECN_NOT_ECT) this.seen = true;
  }

  /**
   * An acceptable segment in a synchronized state (before its text is processed), with the ECN
   * field noted by `onPacket`. Returns true when an ACK should go out at once (the first CE of
   * an episode: echo it promptly, as Linux's quick-ACK on CE).
   */
  onIncoming(flags: number, payloadLen: number, ack: number, snd: EcnSender): boolean {
    const c = this.counters;
    if (flags & TCP_SYN) return false;
    // Sender side: RFC 3168 §6.1.2.
    if (flags & TCP_ECE && flags & TCP_ACK) {
      c.eceReceived++;
      this.onEce(ack, snd);
    }
    // Receiver side: RFC 3168 §6.1.3. CWR ends the echo; a CE in the same packet starts a new one.
    if (flags & TCP_CWR) {
      c.cwrReceived++;
      this.echoing = false;
    }
    if (payloadLen > 0 && this.rxField === ECN_CE) {
      c.ceReceived++;
      if (!this.echoing) {
        this.echoing = true;
        return true;
      }
    }
    return false;
  }

  /**
   * RFC 3168 §6.1.2: ECE on an ACK: halve the window (the algorithm's multiplicative decrease,
   * without retransmitting) once per window of data and ask for CWR on the next new segment.
   * When a loss already reduced the window for this data (fast recovery, or since the last
   * timeout: the sender's `recover`), only CWR is owed: "the TCP sender SHOULD NOT ... reduce
   * ... more than once per window".
   */
  private onEce(ack: number, snd: EcnSender): void {
    if (seqLEQ(ack, this.recover)) return;
    this.recover = snd.sndMax;
    this.cwrPending = true;
    if (snd.inRecovery || !seqGT(ack, snd.recover)) return;
    snd.congestionEvent();
    this.counters.ecnCwndReductions++;
  }
}

defineFlags(TcpEcn.prototype, [
  "offer",
  "ok",
  "echoing",
  "cwrPending",
  "seen",
  "ect",
]);
