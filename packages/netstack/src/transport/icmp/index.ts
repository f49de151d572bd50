export { icmp, icmp6, PingEndpoint, PingProtocol } from "./ping.js";
