export { ipv6, ipv6With, Ipv6Protocol, type Ipv6Options } from "./ipv6.js";
export { Icmpv6 } from "./icmp.js";
