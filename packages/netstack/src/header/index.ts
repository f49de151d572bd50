/** Wire formats and checksums: checked views, builders and plain representations. */
export * from "./parse.js";
export * from "./checksum.js";
export * from "./tcp.js";
export * from "./ipv4.js";
export * from "./udp.js";
export * from "./icmpv4.js";
export * from "./ethernet.js";
export * from "./arp.js";
export * from "./ipv6.js";
export * from "./ipv6-ext.js";
export * from "./icmpv6.js";
