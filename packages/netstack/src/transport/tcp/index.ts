/** TCP (RFC 9293): the protocol factory to hand to a Stack, and the endpoint type. */
export { tcp, tcpWith, TcpProtocol, DEFAULT_TCP_OPTIONS, MIN_RECEIVE_BUFFER, MIN_SEND_BUFFER } from "./protocol.js";
export type { TcpProtocolOptions } from "./protocol.js";
export { TCP_MEM_NORMAL, TCP_MEM_PRESSURE, TCP_MEM_HIGH, type TcpMemoryInfo } from "./protocol.js";
export { SynCookies, COOKIE_SLOT_MS, COOKIE_MAX_AGE, encodeCookieTs, decodeCookieTs } from "./syncookie.js";
export { TcpEndpoint } from "./endpoint.js";
export { packetEcn, TcpEcn, ECN_NOT_ECT, ECN_ECT0, ECN_ECT1, ECN_CE } from "./ecn.js";
export type { EcnPolicy, EcnCounters } from "./ecn.js";
export {
  setTcpForwarder, TcpForwarder, type TcpForwarderOptions, type TcpForwarderRequest, type TcpForwarderStats,
} from "./forwarder.js";
export { TcpState, TCP_STATE_NAMES, tcpStateName } from "./state.js";
export type { TcpStateValue } from "./state.js";
export {
  congestionControlNames, registerCongestionControl, Cubic, cubicWindow, cubicK, CUBIC_BETA, CUBIC_C,
} from "./congestion.js";
export type { CongestionControl, CongestionEnv } from "./congestion.js";
