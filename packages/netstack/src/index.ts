/**
 * netstack-ts: a userspace TCP/IP stack. This is the package's public surface; everything else
 * is internal.
 */
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
export { ipv4, ipv4With, Ipv4Protocol, type Ipv4Options } from "./network/ipv4/index.js";
export { arp, ArpProtocol } from "./network/arp/index.js";
export { udp, UdpEndpoint } from "./transport/udp/index.js";
export { icmp, PingEndpoint } from "./transport/icmp/index.js";
