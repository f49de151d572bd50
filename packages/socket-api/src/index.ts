/**
 * socket-api: what applications touch. Linux socket semantics over the stack's endpoints
 * (syscall-shaped `Socket`, options, ioctl, poll), node:net-compatible streams, and a
 * Demikernel-style queue-token API.
 */
export * from "./constants.js";
export { SocketError, isSocketError } from "./errors.js";
export {
  decodeSockaddr, encodeSockaddr, encodeSockAddr, toSockAddr, sockAddrInfo, SOCKADDR_IN_SIZE, SOCKADDR_IN6_SIZE,
  type SockAddr, type SockAddrInfo, type SockAddrInput,
} from "./sockaddr.js";
export {
  socket, socketsOf, Socket, cmsgSpace, encodeControl,
  type ControlMessage, type RecvFromResult, type RecvMsgResult, type BlockingOptions,
} from "./socket.js";
export { getSockOpt, setSockOpt, optionBytes, RMEM_MAX, WMEM_MAX } from "./options.js";
export { ioctl, makeIfreq, parseIfconf, interfaceFlags } from "./ioctl.js";
export { poll, pollNow, Epoll, type PollFd, type EpollEvent } from "./poll.js";
export { encodeTcpInfo, decodeTcpInfo, linuxTcpState, TCP_INFO_SIZE, TcpInfoOffset } from "./tcpinfo.js";
export { socketTable, procNetTcp, procNetUdp, stackStats, formatStats, type SocketRow } from "./procnet.js";
export {
  NetSocket, NetServer, createServer, connect, createConnection, netFor,
  type NetConnectOptions, type NetSocketOptions, type NetServerOptions, type NetListenOptions,
} from "./net.js";
export { UdpSocket, createSocket, type DgramOptions, type RemoteInfo } from "./dgram.js";
export { LibOS, type QDesc, type QToken, type QOpcode, type QResult } from "./qtoken.js";
export * from "./embed/index.js";
