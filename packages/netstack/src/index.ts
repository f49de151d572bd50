/**
 * netstack-ts: a userspace TCP/IP stack. This is the package's public surface; everything else
 * is internal.
 */
export { disposeSymbol, asyncDisposeSymbol } from "./dispose.js";
export * from "./tcpip/address.js";
export * from "./tcpip/errors.js";
export * from "./tcpip/endpoint.js";
export * from "./waiter/queue.js";
export * from "./clock/clock.js";
export * from "./clock/random.js";
export { PacketBuffer } from "./buffer/packet.js";
export * from "./link/index.js";
export * as header from "./header/index.js";
export { Stack, StackRoute, type StackOptions } from "./stack/stack.js";
export { Nic, type NicOptions } from "./stack/nic.js";
export type { RouteSpec, RouteEntry } from "./stack/route-table.js";
export { newStackStats, type StackStats, type NicStats } from "./stack/stats.js";
export type * from "./stack/registration.js";
export { NeighborCache, NeighborState, NEIGHBOR_STATE_NAMES, type NeighborEntry } from "./stack/neighbor.js";
export { selectSourceAddress, policyLabel } from "./stack/source-select.js";
export {
  endpointNetProtos, packetSourceAddress, packetDestinationAddress, endpointAddress, NET_PROTOS_V4, NET_PROTOS_V6,
  NET_PROTOS_DUAL,
} from "./stack/dualstack.js";
export { ipv4, ipv4With, Ipv4Protocol, type Ipv4Options } from "./network/ipv4/index.js";
export { ipv6, ipv6With, Ipv6Protocol, type Ipv6Options } from "./network/ipv6/index.js";
export { Ndp, type NdpOptions } from "./network/ndp/index.js";
export { arp, ArpProtocol } from "./network/arp/index.js";
export { udp, UdpEndpoint, UdpProtocol, setUdpForwarder, UdpForwarder, type UdpForwarderOptions, type UdpForwarderRequest, type UdpForwarderStats } from "./transport/udp/index.js";
export { icmp, icmp6, PingEndpoint } from "./transport/icmp/index.js";
export { tcp, tcpWith, TcpEndpoint, TcpState, tcpStateName, type TcpProtocolOptions } from "./transport/tcp/index.js";
export {
  setTcpForwarder, TcpForwarder, type TcpForwarderOptions, type TcpForwarderRequest, type TcpForwarderStats,
} from "./transport/tcp/index.js";
export { formatStackStats } from "./stats-format.js";
