/** TCP (RFC 9293): the protocol factory to hand to a Stack, and the endpoint type. */
export { tcp, tcpWith, TcpProtocol, DEFAULT_TCP_OPTIONS, MIN_RECEIVE_BUFFER, MIN_SEND_BUFFER } from "./protocol.js";
export type { TcpProtocolOptions } from "./protocol.js";
export { TcpEndpoint } from "./endpoint.js";
export { TcpState, TCP_STATE_NAMES, tcpStateName } from "./state.js";
export type { TcpStateValue } from "./state.js";
export {
  congestionControlNames, registerCongestionControl, Cubic, cubicWindow, cubicK, CUBIC_BETA, CUBIC_C,
} from "./congestion.js";
export type { CongestionControl, CongestionEnv } from "./congestion.js";
