/**
 * The TCP_INFO snapshot of one endpoint. Units follow Linux's struct tcp_info where the
 * interface leaves room: times in milliseconds, snd_cwnd and snd_ssthresh in segments (an
 * "infinite" ssthresh reads 0x7fffffff, TCP_INFINITE_SSTHRESH), unacked in segments (an estimate:
 * outstanding bytes over the MSS, rounded up); windows and byte counters in bytes.
 */
import type { TcpInfo } from "../../tcpip/endpoint.js";
import { INFINITE_SSTHRESH } from "./congestion.js";
import type { TcpEndpoint } from "./endpoint.js";
import { tcpStateName } from "./state.js";

export function tcpInfo(ep: TcpEndpoint): TcpInfo {
  const snd = ep.snd;
  const rcv = ep.rcv;
  const mss = snd.mss > 0 ? snd.mss : 1;
  const ss = snd.cc.ssthresh;
  return {
    state: tcpStateName(ep.state),
    rto: snd.rtt.rto,
    rtt: snd.rtt.srtt,
    rttvar: snd.rtt.rttvar,
    sndCwnd: Math.floor(snd.cc.cwnd / mss),
    sndSsthresh: ss >= INFINITE_SSTHRESH ? INFINITE_SSTHRESH : Math.floor(ss / mss),
    sndMss: snd.mss,
    rcvMss: rcv.rcvMss,
    retransmits: snd.retransmits,
    totalRetrans: ep.totalRetrans,
    bytesAcked: ep.bytesAcked,
    bytesReceived: ep.bytesReceived,
    segsIn: ep.segsIn,
    segsOut: ep.segsOut,
    sndWnd: snd.sndWnd,
    rcvWnd: rcv.window(),
    unacked: Math.ceil(snd.outstanding() / mss),
    options: tcpiOptions(ep),
  };
}

/** Linux's TCPI_OPT_* bits (include/uapi/linux/tcp.h). */
export const TCPI_OPT_TIMESTAMPS = 1;
export const TCPI_OPT_SACK = 2;
export const TCPI_OPT_WSCALE = 4;
export const TCPI_OPT_ECN = 8;
export const TCPI_OPT_ECN_SEEN = 16;

function tcpiOptions(ep: TcpEndpoint): number {
  let o = 0;
  if (ep.tsOk) o |= TCPI_OPT_TIMESTAMPS;
  if (ep.rcv.sackOk) o |= TCPI_OPT_SACK;
  if (ep.wsOk) o |= TCPI_OPT_WSCALE;
  if (ep.ecn.ok) o |= TCPI_OPT_ECN;
  if (ep.ecn.seen) o |= TCPI_OPT_ECN_SEEN;
  return o;
}
