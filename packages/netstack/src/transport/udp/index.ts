export { udp, UdpEndpoint, UdpProtocol, UDP_DEFAULT_BUFFER, verifyUdpChecksum } from "./udp.js";
