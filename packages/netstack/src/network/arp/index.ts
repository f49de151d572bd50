export { arp, ArpProtocol } from "./arp.js";
