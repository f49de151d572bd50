export { udp, UdpEndpoint, UdpProtocol, UDP_DEFAULT_BUFFER, verifyUdpChecksum } from "./udp.js";
export { setUdpForwarder, UdpForwarder, type UdpForwarderOptions, type UdpForwarderRequest, type UdpForwarderStats } from "./forwarder.js";
