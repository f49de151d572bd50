export * from "./link.js";
export * from "./delivery.js";
export * from "./channel.js";
export * from "./pipe.js";
export * from "./loopback.js";
export * from "./sniffer.js";
export * from "./fault.js";
export * from "./ethernet.js";
