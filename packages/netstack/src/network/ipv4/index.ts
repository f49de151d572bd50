export { ipv4, ipv4With, Ipv4Protocol, type Ipv4Options } from "./ipv4.js";
export { Icmpv4 } from "./icmp.js";
