/**
 * Neighbor Discovery (RFC 4861) and stateless address autoconfiguration's duplicate address
 * detection and link-local addresses (RFC 4862) for a host.
 *
 * - Address resolution: registered as the IPv6 link resolver, so the NIC's neighbor cache
 *   (stack/neighbor.ts, which holds the RFC 4861 §7.3.2 states) asks NDP to send Neighbor
 *   Solicitations: multicast to the target's solicited-node group while INCOMPLETE, unicast to
 *   the cached link address while PROBE.
 * - Neighbor Solicitations for our addresses get Neighbor Advertisements (§7.2.4); received
 *   solicitations and advertisements update the cache (§7.2.3, §7.2.5).
 * - Duplicate address detection (RFC 4862 §5.4) on links with neighbor resolution: an added
 *   address stays tentative for DupAddrDetectTransmits × RetransTimer; a solicitation from the
 *   unspecified address or an advertisement for it marks it duplicate. Like Linux, links without
 *   link-layer addresses (IFF_NOARP: TUN) skip DAD.
 * - Every NIC but loopback gets a link-local address (RFC 4862 §5.3): the modified EUI-64 of
 *   its MAC, or a stable opaque identifier (RFC 7217) when it has none.
 * - Router solicitations are optional (off by default); router advertisements only feed the
 *   neighbor cache (this host does not autoconfigure from prefixes nor pick default routers).
 */
import { createHash } from "node:crypto";
import { Address, ICMPV6_PROTOCOL, IPV6_PROTOCOL, Subnet } from "../../tcpip/address.js";
import { PacketBuffer } from "../../buffer/packet.js";
import { CapResolutionRequired } from "../../link/link.js";
import type { Timer } from "../../clock/clock.js";
import {
  encodeNdp, ndpSize, NdpView, ICMPV6_NEIGHBOR_ADVERT, ICMPV6_NEIGHBOR_SOLICIT, ICMPV6_ROUTER_ADVERT,
  NDP_NA_OVERRIDE, NDP_NA_SOLICITED, NDP_OPT_SOURCE_LINK_ADDRESS, NDP_OPT_TARGET_LINK_ADDRESS, type NdpMessage,
  type NdpOption,
} from "../../header/icmpv6.js";
import { isParseError } from "../../header/parse.js";
import type { AddressOptions, NicServices } from "../../stack/registration.js";
import type { Ipv6Protocol } from "../ipv6/ipv6.js";

export interface NdpOptions {
  /** DupAddrDetectTransmits (RFC 4862 §5.1; Linux dad_transmits = 1). 0 turns DAD off. */
  dadTransmits?: number;
  /** RetransTimer: between DAD solicitations (RFC 4861 §10: 1 s). */
  retransmitMs?: number;
  /**
   * How link-local addresses are formed: "eui64" from the MAC (RFC 4291 Appendix A), "stable"
   * (RFC 7217), "none". "auto" (default): EUI-64 when the link has a 6-byte MAC, else stable.
   */
  linkLocal?: "auto" | "eui64" | "stable" | "none";
  /** Secret key of RFC 7217 §5 for stable identifiers; default 16 bytes from the stack's random source. */
  stableSecret?: Uint8Array;
  /** Router solicitations sent once a NIC's link-local address is usable (RFC 4861 §6.3.7). Default 0. */
  routerSolicitations?: number;
}

/** RFC 4861 §10: RTR_SOLICITATION_INTERVAL. */
const RTR_SOLICITATION_INTERVAL_MS = 4000;
/** RFC 4861 §6.1, §7.1: NDP messages are sent and accepted with hop limit 255 only. */
const NDP_HOP_LIMIT = 255;

interface DadRun {
  nic: NicServices;
  addr: Address;
  sent: number;
  timer: Timer;
}

interface RsRun {
  sent: number;
  timer: Timer;
}

export class Ndp {
  readonly dadTransmits: number;
  readonly retransmitMs: number;
  readonly routerSolicitations: number;
  readonly linkLocalMode: "auto" | "eui64" | "stable" | "none";
  private secret: Uint8Array | null;
  private readonly dadRuns = new Map<NicServices, DadRun[]>();
  private readonly rsRuns = new Map<NicServices, RsRun>();

  constructor(
    private readonly ip: Ipv6Protocol,
    opts: NdpOptions = {},
  ) {
    this.dadTransmits = opts.dadTransmits ?? 1;
    this.retransmitMs = opts.retransmitMs ?? 1000;
    this.routerSolicitations = opts.routerSolicitations ?? 0;
    this.linkLocalMode = opts.linkLocal ?? "auto";
    this.secret = opts.stableSecret ? opts.stableSecret.slice() : null;
    ip.stack.registerLinkResolver(IPV6_PROTOCOL, (nic) => ({
      sendRequest: (target: Address, local: Address | null, linkAddress?: Uint8Array | null) =>
        this.sendSolicit(nic, target, local, linkAddress ?? null),
    }));
  }

  // ------------------------------------------------------------------ configuration events

  /** A new NIC: join all-nodes (RFC 4291 §2.8) and configure its link-local address (RFC 4862 §5.3). */
  nicAdded(nic: NicServices): void {
    nic.joinGroup(Address.ALL_NODES6);
    if (nic.isLoopback || this.linkLocalMode === "none") return;
    const mac = nic.linkAddress;
    const useMac = mac.length === 6 && (this.linkLocalMode === "auto" || this.linkLocalMode === "eui64");
    const ll = useMac ? Address.linkLocalFromMac(mac) : Address.fromPrefixAndIid(LINK_LOCAL_PREFIX, this.stableIid(nic, LINK_LOCAL_PREFIX, 0));
    nic.addAddress(new Subnet(ll, 64));
  }

  nicRemoved(nic: NicServices): void {
    for (const r of this.dadRuns.get(nic) ?? []) r.timer.cancel();
    this.dadRuns.delete(nic);
    this.rsRuns.get(nic)?.timer.cancel();
    this.rsRuns.delete(nic);
  }

  /** An IPv6 address was added: join its solicited-node group and run DAD when the link needs it. */
  addressAdded(nic: NicServices, s: Subnet, opts: AddressOptions): void {
    const a = s.address;
    // RFC 4861 §7.2.1: solicitations for our addresses go to their solicited-node groups.
    nic.joinGroup(a.solicitedNode());
    const dad = this.dadTransmits > 0 && !opts.noDad && !nic.isLoopback && !a.isMulticast && !a.isUnspecified &&
      (nic.capabilities & CapResolutionRequired) !== 0;
    if (dad) this.startDad(nic, a);
    else this.addressUsable(nic, a);
  }

  addressRemoved(nic: NicServices, s: Subnet): void {
    nic.leaveGroup(s.address.solicitedNode());
    this.stopDad(nic, s.address);
  }

  close(): void {
    for (const nic of [...this.dadRuns.keys(), ...this.rsRuns.keys()]) this.nicRemoved(nic);
  }

  /** The RFC 7217 interface identifier for `prefix` on `nic` (SHA-256 of prefix, NIC name, DAD counter, secret). */
  stableIid(nic: NicServices, prefix: Address, dadCounter: number): Uint8Array {
    if (!this.secret) {
      this.secret = new Uint8Array(16);
      this.ip.stack.random.fill(this.secret);
    }
    const h = createHash("sha256");
    h.update(prefix.bytes.subarray(0, 8));
    h.update(nic.name);
    h.update(Uint8Array.of(dadCounter));
    h.update(this.secret);
    return new Uint8Array(h.digest().subarray(0, 8));
  }

  // ------------------------------------------------------------------ duplicate address detection

  private startDad(nic: NicServices, addr: Address): void {
    nic.setAddressState(addr, "tentative");
    this.ip.stack.stats.ndp.dadStarted++;
    const run: DadRun = { nic, addr, sent: 0, timer: null as unknown as Timer };
    run.timer = this.ip.stack.clock.createTimer(() => this.dadStep(run));
    let list = this.dadRuns.get(nic);
    if (!list) this.dadRuns.set(nic, (list = []));
    list.push(run);
    this.dadStep(run);
  }

  /** RFC 4862 §5.4.2: one solicitation per RetransTimer; no conflict after the last one: the address is usable. */
  private dadStep(run: DadRun): void {
    if (run.sent < this.dadTransmits) {
      run.sent++;
      this.sendDadSolicit(run.nic, run.addr);
      run.timer.schedule(this.retransmitMs);
      return;
    }
    this.removeRun(run);
    run.nic.setAddressState(run.addr, "preferred");
    this.ip.stack.stats.ndp.dadSucceeded++;
    this.addressUsable(run.nic, run.addr);
  }

  private stopDad(nic: NicServices, addr: Address): DadRun | null {
    const list = this.dadRuns.get(nic);
    const run = list?.find((r) => r.addr.equals(addr));
    if (!run) return null;
    this.removeRun(run);
    return run;
  }

  private removeRun(run: DadRun): void {
    run.timer.cancel();
    const list = this.dadRuns.get(run.nic);
    if (!list) return;
    const i = list.indexOf(run);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.dadRuns.delete(run.nic);
  }

  /**
   * RFC 4862 §5.4.5: another node uses (or is claiming) our tentative address: it is not
   * assigned. It stays on the NIC marked "duplicate" (Linux: dadfailed) and is never used.
   */
  private dadConflict(nic: NicServices, addr: Address): void {
    this.stopDad(nic, addr);
    nic.setAddressState(addr, "duplicate");
    this.ip.stack.stats.ndp.dadFailed++;
  }

  private addressUsable(nic: NicServices, addr: Address): void {
    if (addr.isLinkLocal && this.routerSolicitations > 0 && !this.rsRuns.has(nic) && !nic.isLoopback) {
      const run: RsRun = { sent: 0, timer: null as unknown as Timer };
      run.timer = this.ip.stack.clock.createTimer(() => this.rsStep(nic, run));
      this.rsRuns.set(nic, run);
      this.rsStep(nic, run);
    }
  }

  private rsStep(nic: NicServices, run: RsRun): void {
    if (run.sent >= this.routerSolicitations) {
      this.rsRuns.delete(nic);
      return;
    }
    run.sent++;
    // RFC 4861 §6.3.7: from a link-local address with our link-layer address, or from :: without.
    const src = nic.sourceAddressFor(Address.ALL_ROUTERS6) ?? Address.ANY6;
    const options: NdpOption[] = [];
    if (!src.isUnspecified && nic.linkAddress.length > 0) options.push({ type: "source-link-address", address: nic.linkAddress });
    if (this.send(nic, src, Address.ALL_ROUTERS6, { type: "router-solicit", options }, null))
      this.ip.stack.stats.icmp.v6.sent.routerSolicit++;
    run.timer.schedule(RTR_SOLICITATION_INTERVAL_MS);
  }

  // ------------------------------------------------------------------ sending

  /** RFC 4862 §5.4.2: from the unspecified address to the target's solicited-node group, no options. */
  private sendDadSolicit(nic: NicServices, target: Address): void {
    if (this.send(nic, Address.ANY6, target.solicitedNode(), { type: "neighbor-solicit", target, options: [] }, null))
      this.ip.stack.stats.icmp.v6.sent.neighborSolicit++;
  }

  /**
   * RFC 4861 §7.2.2: a solicitation for `target`, multicast to its solicited-node group, or
   * unicast to `linkAddress` when probing a known neighbor. The source is `local` when it is one
   * of the NIC's usable addresses (the prompting packet's source), else the NIC's best one.
   */
  sendSolicit(nic: NicServices, target: Address, local: Address | null, linkAddress: Uint8Array | null): void {
    const src = local && nic.hasAddress(local.bytes, 0, 16) ? local : nic.sourceAddressFor(target);
    if (!src) return;
    const options: NdpOption[] = [];
    if (nic.linkAddress.length > 0) options.push({ type: "source-link-address", address: nic.linkAddress });
    const dst = linkAddress ? target : target.solicitedNode();
    if (this.send(nic, src, dst, { type: "neighbor-solicit", target, options }, linkAddress))
      this.ip.stack.stats.icmp.v6.sent.neighborSolicit++;
  }

  /** Builds and sends one NDP message (hop limit 255). False when the NIC refused it. */
  private send(nic: NicServices, src: Address, dst: Address, msg: NdpMessage, remoteLinkAddress: Uint8Array | null): boolean {
    const len = ndpSize(msg);
    const pkt = PacketBuffer.outbound((nic.linkAddress.length > 0 ? 14 : 0) + 40 + len + 2);
    const o = pkt.prepend(len);
    encodeNdp(pkt.buf, o, msg, src, dst);
    pkt.transportHeader = o;
    return this.ip.writeRaw(nic, pkt, src, dst, ICMPV6_PROTOCOL, NDP_HOP_LIMIT, remoteLinkAddress) === null;
  }

  // ------------------------------------------------------------------ receiving

  /** An NDP message (`pkt.start` at the ICMPv6 header; the checksum is verified). */
  handle(nic: NicServices, pkt: PacketBuffer, multicast: boolean): void {
    const st = this.ip.stack.stats;
    const b = pkt.buf;
    const o = pkt.start;
    const ip = pkt.networkHeader;
    const v = NdpView.check(b, o, pkt.end - o);
    // RFC 4861 §7.1.1-2, §6.1: hop limit 255 (so the message came from this link), code 0,
    // options well formed.
    if (isParseError(v) || b[ip + 7] !== NDP_HOP_LIMIT || v.code !== 0) {
      st.ndp.invalidMessages++;
      st.icmp.v6.received.invalid++;
      return;
    }
    switch (v.type) {
      case ICMPV6_NEIGHBOR_SOLICIT:
        st.icmp.v6.received.neighborSolicit++;
        this.handleSolicit(nic, pkt, v);
        return;
      case ICMPV6_NEIGHBOR_ADVERT:
        st.icmp.v6.received.neighborAdvert++;
        this.handleAdvert(nic, pkt, v, multicast);
        return;
      case ICMPV6_ROUTER_ADVERT: {
        st.icmp.v6.received.routerAdvert++;
        // RFC 4861 §6.1.2: from a link-local address; §6.3.4: its source link-layer address
        // option updates the neighbor cache like a solicitation's.
        const so = ip + 8;
        if (b[so] !== 0xfe || (b[so + 1]! & 0xc0) !== 0x80) {
          st.ndp.invalidMessages++;
          return;
        }
        const lla = v.linkAddressOff(NDP_OPT_SOURCE_LINK_ADDRESS);
        if (lla >= 0 && nic.linkAddress.length === 6) this.cache(nic)?.handleSolicitation(Address.fromBytes(b, so, 16), b.slice(lla, lla + 6));
        return;
      }
      default:
        // Router solicitations are for routers (§6.2.6); redirects are not followed (no default router here).
        st.icmp.v6.received.other++;
    }
  }

  private cache(nic: NicServices) {
    if ((nic.capabilities & CapResolutionRequired) === 0) return null;
    return this.ip.stack.neighbors(nic, IPV6_PROTOCOL);
  }

  /** RFC 4861 §7.1.1 validation, then §7.2.3 (and RFC 4862 §5.4.3 for tentative targets). */
  private handleSolicit(nic: NicServices, pkt: PacketBuffer, v: NdpView): void {
    const st = this.ip.stack.stats;
    const b = pkt.buf;
    const ip = pkt.networkHeader;
    const to = v.targetOff;
    const srcUnspecified = isZeroAt(b, ip + 8);
    const slla = v.linkAddressOff(NDP_OPT_SOURCE_LINK_ADDRESS);
    if (b[to] === 0xff || (srcUnspecified && (!isSolicitedNodeAt(b, ip + 24) || slla >= 0))) {
      st.ndp.invalidMessages++;
      return;
    }
    const target = Address.fromBytes(b, to, 16);
    const state = nic.addressState(target);
    if (state === null || state === "duplicate") return; // not ours: this host proxies nothing
    if (state === "tentative") {
      // RFC 4862 §5.4.3: another node is running DAD for the same address: ours is a duplicate.
      // A solicitation from a unicast source is not processed while tentative.
      if (srcUnspecified) this.dadConflict(nic, target);
      return;
    }
    const src = srcUnspecified ? null : Address.fromBytes(b, ip + 8, 16);
    const sourceMac = slla >= 0 && nic.linkAddress.length === 6 ? b.slice(slla, slla + 6) : null;
    if (src && sourceMac) this.cache(nic)?.handleSolicitation(src, sourceMac);
    // RFC 4861 §7.2.4: answer from the target, to the solicitation's source (all-nodes when it was
    // unspecified, then with S clear), with our link-layer address; Override set (not a proxy).
    const options: NdpOption[] = [];
    if (nic.linkAddress.length > 0) options.push({ type: "target-link-address", address: nic.linkAddress });
    const msg: NdpMessage = { type: "neighbor-advert", router: false, solicited: src !== null, override: true, target, options };
    if (this.send(nic, target, src ?? Address.ALL_NODES6, msg, sourceMac)) st.icmp.v6.sent.neighborAdvert++;
  }

  /** RFC 4861 §7.1.2 validation, then §7.2.5 (and RFC 4862 §5.4.4 for tentative targets). */
  private handleAdvert(nic: NicServices, pkt: PacketBuffer, v: NdpView, multicast: boolean): void {
    const st = this.ip.stack.stats;
    const b = pkt.buf;
    const to = v.targetOff;
    const flags = v.flags;
    const solicited = (flags & NDP_NA_SOLICITED) !== 0;
    if (b[to] === 0xff || (multicast && solicited)) {
      st.ndp.invalidMessages++;
      return;
    }
    const target = Address.fromBytes(b, to, 16);
    const state = nic.addressState(target);
    if (state === "tentative") {
      // RFC 4862 §5.4.4: someone already uses the address we are testing.
      this.dadConflict(nic, target);
      return;
    }
    if (state !== null) return; // another node claims one of our addresses (Linux only logs it)
    const tlla = v.linkAddressOff(NDP_OPT_TARGET_LINK_ADDRESS);
    const mac = tlla >= 0 && nic.linkAddress.length === 6 ? b.slice(tlla, tlla + 6) : null;
    this.cache(nic)?.handleAdvertisement(target, mac, solicited, (flags & NDP_NA_OVERRIDE) !== 0);
  }
}

const LINK_LOCAL_PREFIX = Address.from("fe80::");

function isZeroAt(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0) return false;
  return true;
}

/** ff02::1:ffXX:XXXX at `b[o]`. */
function isSolicitedNodeAt(b: Uint8Array, o: number): boolean {
  if (b[o] !== 0xff || b[o + 1] !== 0x02) return false;
  for (let i = 2; i < 11; i++) if (b[o + i] !== 0) return false;
  return b[o + 11] === 1 && b[o + 12] === 0xff;
}
