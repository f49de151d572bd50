/**
 * TCP_INFO in Linux's `struct tcp_info` layout (linux/tcp.h). Field order, sizes and units are
 * Linux's: u8 state/ca_state/retransmits/probes/backoff/options/wscale nibbles/flags, then u32
 * fields with times in MICROseconds (rto, ato, rtt, rttvar) and last_* times in milliseconds,
 * u64 counters from offset 104 on. 280 bytes as on Linux 6.18 (the AccECN counters at the end
 * stay zero); callers get it cut to their optlen, as the kernel does.
 */
import type { TcpInfo } from "@netstack-ts/netstack";
import {
  TCP_CLOSE, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_LAST_ACK, TCP_LISTEN,
  TCP_SYN_RECV, TCP_SYN_SENT, TCP_TIME_WAIT,
} from "./constants.js";

export const TCP_INFO_SIZE = 280;

/** Byte offsets of struct tcp_info's fields. */
export const TcpInfoOffset = {
  state: 0, caState: 1, retransmits: 2, probes: 3, backoff: 4, options: 5, wscale: 6, flags: 7,
  rto: 8, ato: 12, sndMss: 16, rcvMss: 20, unacked: 24, sacked: 28, lost: 32, retrans: 36, fackets: 40,
  lastDataSent: 44, lastAckSent: 48, lastDataRecv: 52, lastAckRecv: 56,
  pmtu: 60, rcvSsthresh: 64, rtt: 68, rttvar: 72, sndSsthresh: 76, sndCwnd: 80, advmss: 84, reordering: 88,
  rcvRtt: 92, rcvSpace: 96, totalRetrans: 100,
  pacingRate: 104, maxPacingRate: 112, bytesAcked: 120, bytesReceived: 128, segsOut: 136, segsIn: 140,
  notsentBytes: 144, minRtt: 148, dataSegsIn: 152, dataSegsOut: 156, deliveryRate: 160,
  busyTime: 168, rwndLimited: 176, sndbufLimited: 184, delivered: 192, deliveredCe: 196,
  bytesSent: 200, bytesRetrans: 208, dsackDups: 216, reordSeen: 220, rcvOoopack: 224,
  sndWnd: 228, rcvWnd: 232, rehash: 236, totalRto: 240, totalRtoRecoveries: 242, totalRtoTime: 244,
} as const;

/** The endpoint's RFC state names → Linux's TCP state numbers (include/net/tcp_states.h). */
export function linuxTcpState(name: string): number {
  switch (name) {
    case "ESTABLISHED": return TCP_ESTABLISHED;
    case "SYN-SENT": return TCP_SYN_SENT;
    case "SYN-RECEIVED": return TCP_SYN_RECV;
    case "FIN-WAIT-1": return TCP_FIN_WAIT1;
    case "FIN-WAIT-2": return TCP_FIN_WAIT2;
    case "TIME-WAIT": return TCP_TIME_WAIT;
    case "CLOSE-WAIT": return TCP_CLOSE_WAIT;
    case "LAST-ACK": return TCP_LAST_ACK;
    case "LISTEN": return TCP_LISTEN;
    case "CLOSING": return TCP_CLOSING;
    default: return TCP_CLOSE;
  }
}

const u32 = (v: number) => Math.max(0, Math.min(0xffffffff, Math.round(v))) >>> 0;

/** Encodes the snapshot (null: a zeroed structure in state CLOSE). */
export function encodeTcpInfo(info: TcpInfo | null, extra?: { listening?: boolean }): Buffer {
  const b = Buffer.alloc(TCP_INFO_SIZE);
  const O = TcpInfoOffset;
  if (!info) {
    b[O.state] = extra?.listening ? TCP_LISTEN : TCP_CLOSE;
    return b;
  }
  b[O.state] = linuxTcpState(info.state);
  b[O.retransmits] = Math.min(255, info.retransmits);
  b[O.options] = (info.options ?? 0) & 0xff;
  // Times: the endpoint reports milliseconds; tcp_info carries microseconds.
  b.writeUInt32LE(u32(info.rto * 1000), O.rto);
  b.writeUInt32LE(u32(info.sndMss), O.sndMss);
  b.writeUInt32LE(u32(info.rcvMss), O.rcvMss);
  b.writeUInt32LE(u32(info.unacked), O.unacked);
  b.writeUInt32LE(u32(info.rtt * 1000), O.rtt);
  b.writeUInt32LE(u32(info.rttvar * 1000), O.rttvar);
  b.writeUInt32LE(u32(info.sndSsthresh), O.sndSsthresh);
  b.writeUInt32LE(u32(info.sndCwnd), O.sndCwnd);
  b.writeUInt32LE(u32(info.sndMss), O.advmss);
  b.writeUInt32LE(3, O.reordering); // Linux's initial tcp_reordering
  b.writeUInt32LE(u32(info.totalRetrans), O.totalRetrans);
  b.writeBigUInt64LE(0xffffffffffffffffn, O.maxPacingRate); // ~0: no SO_MAX_PACING_RATE
  b.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(info.bytesAcked))), O.bytesAcked);
  b.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(info.bytesReceived))), O.bytesReceived);
  b.writeUInt32LE(u32(info.segsOut), O.segsOut);
  b.writeUInt32LE(u32(info.segsIn), O.segsIn);
  b.writeUInt32LE(u32(info.sndWnd), O.sndWnd);
  b.writeUInt32LE(u32(info.rcvWnd), O.rcvWnd);
  return b;
}

/** Decodes the fields this stack fills (for tests and tools). */
export function decodeTcpInfo(b: Uint8Array) {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const O = TcpInfoOffset;
  const u = (o: number) => (buf.length >= o + 4 ? buf.readUInt32LE(o) : 0);
  const q = (o: number) => (buf.length >= o + 8 ? Number(buf.readBigUInt64LE(o)) : 0);
  return {
    state: buf[O.state] ?? 0, retransmits: buf[O.retransmits] ?? 0, options: buf[O.options] ?? 0, rto: u(O.rto), sndMss: u(O.sndMss),
    rcvMss: u(O.rcvMss), unacked: u(O.unacked), rtt: u(O.rtt), rttvar: u(O.rttvar), sndSsthresh: u(O.sndSsthresh),
    sndCwnd: u(O.sndCwnd), totalRetrans: u(O.totalRetrans), bytesAcked: q(O.bytesAcked),
    bytesReceived: q(O.bytesReceived), segsOut: u(O.segsOut), segsIn: u(O.segsIn), sndWnd: u(O.sndWnd),
    rcvWnd: u(O.rcvWnd),
  };
}
