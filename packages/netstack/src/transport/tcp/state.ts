/** TCP connection states (RFC 9293 §3.3.2), as small integers for the hot path. */
export const TcpState = {
  Closed: 0,
  Listen: 1,
  SynSent: 2,
  SynReceived: 3,
  Established: 4,
  FinWait1: 5,
  FinWait2: 6,
  CloseWait: 7,
  Closing: 8,
  LastAck: 9,
  TimeWait: 10,
} as const;

export type TcpStateValue = (typeof TcpState)[keyof typeof TcpState];

/** The RFC's names, indexed by state value (what TCP_INFO's `state` reports). */
export const TCP_STATE_NAMES: readonly string[] = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];

export function tcpStateName(s: number): string {
  return TCP_STATE_NAMES[s] ?? "UNKNOWN";
}

/** ESTABLISHED and CLOSE-WAIT: what Linux counts as CurrEstab. */
export function isEstablishedState(s: number): boolean {
  return s === TcpState.Established || s === TcpState.CloseWait;
}

/** Synchronized states that still carry a live connection (ESTABLISHED .. LAST-ACK). */
export function isConnectedState(s: number): boolean {
  return s >= TcpState.Established && s <= TcpState.LastAck;
}
