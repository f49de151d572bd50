/**
 * ICMP echo endpoints: Linux's unprivileged "ping sockets" (socket(AF_INET, SOCK_DGRAM,
 * IPPROTO_ICMP) and socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6)). The application writes an
 * echo request (8-byte header + data: ICMP type 8, or ICMPv6 type 128); the stack sets the
 * identifier to the endpoint's bound "port" and fills the checksum (for ICMPv6 over the
 * RFC 8200 §8.1 pseudo-header). Reads return whole echo replies (header included) whose
 * identifier matches, with the sender's address. Everything else — binding, connecting,
 * queues, options — is the datagram endpoint's. ICMPv6 ping sockets are IPv6 only.
 */
import { ICMPV4_PROTOCOL, ICMPV6_PROTOCOL, IPV6_PROTOCOL, type FullAddress } from "../../tcpip/address.js";
import { Err, type TcpipError } from "../../tcpip/errors.js";
import type { Endpoint } from "../../tcpip/endpoint.js";
import { PacketBuffer } from "../../buffer/packet.js";
import type { WaiterQueue } from "../../waiter/queue.js";
import { checksum } from "../../header/checksum.js";
import { ICMPV4_ECHO_REPLY, ICMPV4_ECHO_REQUEST } from "../../header/icmpv4.js";
import { ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST } from "../../header/icmpv6.js";
import type { Route, StackServices, TransportProtocol, TransportProtocolFactory } from "../../stack/registration.js";
import { UdpEndpoint } from "../udp/udp.js";

const ICMP_HEADER = 8;

export class PingEndpoint extends UdpEndpoint {
  private readonly v6: boolean;
  private readonly requestType: number;
  private readonly replyType: number;

  constructor(stack: StackServices, netProto: number, wq: WaiterQueue) {
    super(stack, netProto, wq);
    this.v6 = netProto === IPV6_PROTOCOL;
    this.transProto = this.v6 ? ICMPV6_PROTOCOL : ICMPV4_PROTOCOL;
    this.requestType = this.v6 ? ICMPV6_ECHO_REQUEST : ICMPV4_ECHO_REQUEST;
    this.replyType = this.v6 ? ICMPV6_ECHO_REPLY : ICMPV4_ECHO_REPLY;
    this.dualStackCapable = false;
  }

  protected override buildPacket(route: Route, data: Uint8Array, _remotePort: number): PacketBuffer | TcpipError {
    // Linux: the message must be at least an ICMP header and of type echo request.
    if (data.length < ICMP_HEADER || data[0] !== this.requestType || data[1] !== 0) return Err.InvalidArgument;
    const msg = data.slice();
    msg[4] = this.localPort >>> 8;
    msg[5] = this.localPort & 0xff;
    msg[2] = 0;
    msg[3] = 0;
    // RFC 4443 §2.3: the ICMPv6 checksum includes the pseudo-header; ICMPv4's does not.
    const initial = this.v6 ? route.pseudoHeaderChecksum(ICMPV6_PROTOCOL, msg.length) : 0;
    const c = ~checksum(msg, 0, msg.length, initial) & 0xffff;
    msg[2] = c >>> 8;
    msg[3] = c & 0xff;
    const pkt = PacketBuffer.outbound(route.maxHeaderLength, msg);
    pkt.transportHeader = pkt.start;
    return pkt;
  }

  protected override countSend(ok: boolean): void {
    const sent = this.v6 ? this.stack.stats.icmp.v6.sent : this.stack.stats.icmp.v4.sent;
    if (ok) sent.echoRequest++;
    else sent.dropped++;
  }

  protected override parseInbound(pkt: PacketBuffer): number {
    const len = pkt.end - pkt.start;
    if (len < ICMP_HEADER || pkt.buf[pkt.start] !== this.replyType) return -1;
    this.inboundData = pkt.buf.subarray(pkt.start, pkt.end);
    return (pkt.buf[pkt.start + 4]! << 8) | pkt.buf[pkt.start + 5]!;
  }

  override connect(addr: FullAddress): TcpipError | null {
    // Ping sockets have no remote port: connect only fixes the peer address.
    return super.connect({ ...addr, port: addr.port || 0 });
  }

  override write(data: Uint8Array, opts?: import("../../tcpip/endpoint.js").WriteOptions): number | TcpipError {
    // The destination's "port" is meaningless for ICMP; UDP's sendto rejects port 0, so pass 1.
    if (opts?.to) return super.write(data, { ...opts, to: { ...opts.to, port: opts.to.port || 1 } });
    return super.write(data, opts);
  }
}

export class PingProtocol implements TransportProtocol {
  readonly number: number;
  readonly minimumPacketSize = ICMP_HEADER;
  private readonly requestType: number;

  /** `number`: ICMPV4_PROTOCOL (ping sockets over IPv4) or ICMPV6_PROTOCOL (over IPv6). */
  constructor(private readonly stack: StackServices, number: number = ICMPV4_PROTOCOL) {
    this.number = number;
    this.requestType = number === ICMPV6_PROTOCOL ? ICMPV6_ECHO_REQUEST : ICMPV4_ECHO_REQUEST;
  }

  newEndpoint(netProto: number, wq: WaiterQueue): Endpoint | TcpipError {
    // ICMP echo over IPv4, ICMPv6 echo over IPv6, as Linux pairs them.
    if ((netProto === IPV6_PROTOCOL) !== (this.number === ICMPV6_PROTOCOL)) return Err.UnknownProtocol;
    return new PingEndpoint(this.stack, netProto, wq);
  }

  /**
   * Demultiplexes on the echo identifier, which is the endpoint's local "port": a reply arriving
   * is (remote port 0 → local port id); a request of ours quoted in an ICMP error is (local port
   * id → remote port 0).
   */
  ports(b: Uint8Array, off: number, len: number): number {
    if (len < ICMP_HEADER) return -1;
    const id = (b[off + 4]! << 8) | b[off + 5]!;
    return b[off] === this.requestType ? (id << 16) >>> 0 : id;
  }

  handleUnknownDestinationPacket(): "handled" {
    return "handled"; // an echo reply nobody waits for is dropped silently
  }
}

/** Ping sockets for IPv4 (ICMP echo endpoints). */
export const icmp: TransportProtocolFactory = (stack) => new PingProtocol(stack);

/** Ping sockets for IPv6 (ICMPv6 echo endpoints). */
export const icmp6: TransportProtocolFactory = (stack) => new PingProtocol(stack, ICMPV6_PROTOCOL);
