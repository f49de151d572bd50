export { icmp, PingEndpoint, PingProtocol } from "./ping.js";
