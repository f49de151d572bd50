/**
 * ARP (RFC 826) for IPv4 over Ethernet: answers requests for the NIC's addresses, learns
 * senders (the RFC's "merge" rule: update an existing entry from any ARP packet, create one only
 * when the packet is for us), and resolves next hops for the NIC's neighbor cache.
 */
import { Address, ARP_PROTOCOL, IPV4_PROTOCOL } from "../../tcpip/address.js";
import type { TcpipError } from "../../tcpip/errors.js";
import { PacketBuffer } from "../../buffer/packet.js";
import { ARPView, ARP_REPLY, ARP_REQUEST, ARP_SIZE, encodeArp } from "../../header/arp.js";
import { BROADCAST_MAC } from "../../header/ethernet.js";
import { isParseError } from "../../header/parse.js";
import type {
  NetworkProtocol, NetworkProtocolFactory, NetworkStackServices, NicServices, Route,
} from "../../stack/registration.js";

const ZERO_MAC = new Uint8Array(6);

export class ArpProtocol implements NetworkProtocol {
  readonly number = ARP_PROTOCOL;
  readonly addressLength = 0;
  readonly maxHeaderLength = ARP_SIZE;

  constructor(private readonly stack: NetworkStackServices) {
    stack.registerLinkResolver(IPV4_PROTOCOL, (nic) => ({
      sendRequest: (target: Address, local: Address | null, linkAddress?: Uint8Array | null) =>
        this.sendRequest(nic, target, local, linkAddress ?? null),
    }));
  }

  handlePacket(nic: NicServices, pkt: PacketBuffer): void {
    const s = this.stack.stats.arp;
    s.packetsReceived++;
    const b = pkt.buf;
    const v = ARPView.check(b, pkt.start, pkt.end - pkt.start);
    if (isParseError(v)) {
      s.malformedPacketsReceived++;
      this.stack.stats.malformedRcvdPackets++;
      return;
    }
    const forUs = nic.hasAddress(b, v.tpaOff, 4);
    const sha = b.subarray(v.shaOff, v.shaOff + 6);
    // Never learn broadcast/multicast hardware addresses or an unspecified sender (an ARP probe).
    const senderOk = (sha[0]! & 1) === 0 && Address.hashBytes(b, v.spaOff, 4) !== 0;
    if (senderOk) this.stack.confirmNeighbor(nic, IPV4_PROTOCOL, v.spa(), sha, forUs);
    if (v.op === ARP_REQUEST) {
      s.requestsReceived++;
      if (!forUs) return;
      const reply = PacketBuffer.outbound(nic.linkAddress.length > 0 ? 14 + ARP_SIZE + 2 : ARP_SIZE);
      const o = reply.prepend(ARP_SIZE);
      encodeArp(reply.buf, o, { op: ARP_REPLY, sha: nic.linkAddress, spa: v.tpa(), tha: sha.slice(), tpa: v.spa() });
      reply.networkHeader = o;
      reply.remoteLinkAddress = sha.slice();
      if (nic.writeNetworkPacket(reply, v.spa(), ARP_PROTOCOL) === null) s.repliesSent++;
    } else if (v.op === ARP_REPLY) {
      s.repliesReceived++;
    } else {
      // Neither request nor reply (RARP and InARP opcodes included): nothing to answer. Counted,
      // so that every ARP packet received shows up in a counter other than packetsReceived.
      s.malformedPacketsReceived++;
    }
  }

  /**
   * Broadcasts "who has `target`? tell `local`", or unicasts it to `linkAddress` when the
   * neighbor cache probes a known neighbor (RFC 4861 §7.3.3's PROBE, as Linux's ARP does).
   */
  sendRequest(nic: NicServices, target: Address, local: Address | null, linkAddress: Uint8Array | null = null): TcpipError | null {
    const src = local ?? nic.primaryAddress(4) ?? Address.ANY4;
    const pkt = PacketBuffer.outbound(nic.linkAddress.length > 0 ? 14 + ARP_SIZE + 2 : ARP_SIZE);
    const o = pkt.prepend(ARP_SIZE);
    encodeArp(pkt.buf, o, { op: ARP_REQUEST, sha: nic.linkAddress, spa: src, tha: ZERO_MAC, tpa: target });
    pkt.networkHeader = o;
    pkt.remoteLinkAddress = linkAddress ?? BROADCAST_MAC;
    const err = nic.writeNetworkPacket(pkt, target, ARP_PROTOCOL);
    if (!err) this.stack.stats.arp.requestsSent++;
    return err;
  }

  writePacket(_nic: NicServices, _route: Route, _pkt: PacketBuffer): TcpipError | null {
    // ARP carries no transport protocol.
    return null;
  }
}

export const arp: NetworkProtocolFactory = (stack) => new ArpProtocol(stack);
