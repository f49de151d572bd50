/**
 * NIC: a link endpoint attached to the stack, with its addresses, flags and counters. It is the
 * link's dispatcher (inbound packets enter the stack here) and the network layer's way out
 * (`writeNetworkPacket` resolves the next hop's link address when the link needs it).
 */
import { Address, IPV6_PROTOCOL, Subnet } from "../tcpip/address.js";
import { Err, type TcpipError } from "../tcpip/errors.js";
import type { PacketBuffer } from "../buffer/packet.js";
import { CapLoopback, CapResolutionRequired, type LinkEndpoint, type NetworkDispatcher } from "../link/link.js";
import { NeighborCache, NeighborState, type NeighborResolver } from "./neighbor.js";
import { newNicStats, type NicStats } from "./stats.js";
import { selectSourceAddress } from "./source-select.js";
import type { AddressOptions, AddressState, NetworkProtocol, NicServices } from "./registration.js";

/** What the NIC needs from its stack. */
export interface NicHost {
  networkProtocol(num: number): NetworkProtocol | undefined;
  linkResolver(nic: Nic, netProto: number): NeighborResolver | null;
  beginBatch(): void;
  endBatch(): void;
  countUnknownProtocol(): void;
  onNeighborFailure(nic: Nic, target: Address, pkts: PacketBuffer[]): void;
  /** An address was added (the network protocol of its family may start DAD, join groups). */
  onAddressAdded(nic: Nic, addr: Subnet, opts: AddressOptions): void;
  onAddressRemoved(nic: Nic, addr: Subnet): void;
  readonly clock: import("../clock/clock.js").Clock;
  readonly random: import("../clock/random.js").RandomSource;
}

interface AddressEntry {
  subnet: Subnet;
  state: AddressState;
}

interface GroupEntry {
  group: Address;
  refs: number;
}

export interface NicOptions {
  name?: string;
  /** Accept packets for any destination address (transparent mode). */
  promiscuous?: boolean;
  /** Allow sending from any source address. */
  spoofing?: boolean;
  /** Create the NIC down. */
  disabled?: boolean;
}

const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export class Nic implements NetworkDispatcher, NicServices {
  readonly id: number;
  readonly name: string;
  readonly link: LinkEndpoint;
  readonly stats: NicStats = newNicStats();
  promiscuous: boolean;
  spoofing: boolean;
  enabled: boolean;
  private addrs: AddressEntry[] = [];
  /** Directed broadcast addresses (Address.key) of this NIC's IPv4 subnets, kept with `addrs` (checked per packet). */
  private v4Broadcasts: number[] = [];
  /**
   * The preferred IPv4 addresses as int32 (the four bytes big-endian, `| 0`: small integers, no
   * boxed numbers), kept with `addrs` and their states: `hasAddress` runs twice per packet.
   */
  private v4Preferred: number[] = [];
  /** Joined multicast groups, keyed by Address.key (reference counted: several users may join one). */
  private readonly groups = new Map<number, GroupEntry[]>();
  private readonly neighbors = new Map<number, NeighborCache>();
  /**
   * The one-packet batch handed to the link, reused; its length stays 1 (between writes the slot
   * holds undefined). Growing an empty array and trimming it back costs a runtime call per packet.
   */
  private readonly one: PacketBuffer[] = [undefined as unknown as PacketBuffer];

  constructor(
    private readonly host: NicHost,
    id: number,
    link: LinkEndpoint,
    opts: NicOptions = {},
  ) {
    this.id = id;
    this.name = opts.name ?? `nic${id}`;
    this.link = link;
    this.promiscuous = opts.promiscuous ?? false;
    this.spoofing = opts.spoofing ?? false;
    this.enabled = !opts.disabled;
  }

  get mtu(): number {
    return this.link.mtu;
  }
  get linkAddress(): Uint8Array {
    return this.link.linkAddress;
  }
  get capabilities(): number {
    return this.link.capabilities;
  }
  get isLoopback(): boolean {
    return (this.link.capabilities & CapLoopback) !== 0;
  }

  // --- addresses ---

  /** Every address of the NIC with its prefix length, whatever its state. */
  addresses(): readonly Subnet[] {
    return this.addrs.map((e) => e.subnet);
  }

  /**
   * Adds an address, usable at once ("preferred") unless the network protocol of its family
   * starts duplicate address detection, which keeps it "tentative" meanwhile (RFC 4862 §5.4).
   */
  addAddress(s: Subnet, opts: AddressOptions = {}): TcpipError | null {
    if (this.addrs.some((a) => a.subnet.address.equals(s.address))) return Err.DuplicateAddress;
    this.addrs.push({ subnet: s, state: "preferred" });
    this.refreshAddressKeys();
    this.host.onAddressAdded(this, s, opts);
    return null;
  }

  removeAddress(a: Address): TcpipError | null {
    const i = this.addrs.findIndex((x) => x.subnet.address.equals(a));
    if (i < 0) return Err.BadLocalAddress;
    const [e] = this.addrs.splice(i, 1);
    this.refreshAddressKeys();
    this.host.onAddressRemoved(this, e!.subnet);
    return null;
  }

  addressState(a: Address): AddressState | null {
    for (const e of this.addrs) if (e.subnet.address.equals(a)) return e.state;
    return null;
  }

  setAddressState(a: Address, state: AddressState): void {
    for (const e of this.addrs) if (e.subnet.address.equals(a)) e.state = state;
    this.refreshAddressKeys();
  }

  /** True when the bytes are one of this NIC's usable ("preferred") addresses. */
  hasAddress(b: Uint8Array, off: number, len: number): boolean {
    if (len === 4) {
      if (off < 0 || off + 4 > b.length) return false;
      const key = (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
      const keys = this.v4Preferred;
      for (let i = 0; i < keys.length; i++) if (keys[i] === key) return true;
      return false;
    }
    for (const e of this.addrs) {
      const a = e.subnet.address;
      if (a.length === len && e.state === "preferred" && a.equalsBytes(b, off)) return true;
    }
    return false;
  }

  hasAddr(a: Address): boolean {
    return this.hasAddress(a.bytes, 0, a.length);
  }

  isBroadcast(b: Uint8Array, off: number, len: number): boolean {
    if (len !== 4) return false;
    // The address as an int32 (runs twice per received packet: a uint32 would be a boxed number).
    const key = (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
    if (key === -1) return true;
    const bcs = this.v4Broadcasts;
    for (let i = 0; i < bcs.length; i++) if ((bcs[i]! | 0) === key) return true;
    return false;
  }

  /** Recomputes `v4Broadcasts` and `v4Preferred` after a change to `addrs` or to an address state. */
  private refreshAddressKeys(): void {
    const out: number[] = [];
    const pref: number[] = [];
    for (const e of this.addrs) {
      const a = e.subnet.address;
      const bc = a.isV4 ? e.subnet.broadcast() : null;
      if (bc) out.push(bc.key);
      if (a.length === 4 && e.state === "preferred") pref.push(a.key | 0);
    }
    this.v4Broadcasts = out;
    this.v4Preferred = pref;
  }

  primaryAddress(addrLen: number): Address | null {
    for (const e of this.addrs) if (e.subnet.address.length === addrLen && e.state === "preferred") return e.subnet.address;
    return null;
  }

  /**
   * The best usable source address on this NIC for reaching `remote`: for IPv4 the address of a
   * subnet containing it, else the first; for IPv6 the RFC 6724 choice (source-select.ts).
   */
  sourceAddressFor(remote: Address): Address | null {
    if (remote.isV6) {
      const cands: Subnet[] = [];
      for (const e of this.addrs) if (e.state === "preferred" && e.subnet.address.isV6) cands.push(e.subnet);
      return selectSourceAddress(cands, remote);
    }
    let first: Address | null = null;
    for (const e of this.addrs) {
      const s = e.subnet;
      if (s.address.length !== remote.length || e.state !== "preferred") continue;
      if (s.contains(remote)) return s.address;
      if (!first) first = s.address;
    }
    return first;
  }

  // --- multicast groups ---

  /** Joins a multicast group (reference counted, like Linux's ipv6_dev_mc_inc). */
  joinGroup(group: Address): void {
    let list = this.groups.get(group.key);
    if (!list) this.groups.set(group.key, (list = []));
    for (const g of list) {
      if (g.group.equals(group)) {
        g.refs++;
        return;
      }
    }
    list.push({ group, refs: 1 });
  }

  leaveGroup(group: Address): void {
    const list = this.groups.get(group.key);
    if (!list) return;
    const i = list.findIndex((g) => g.group.equals(group));
    if (i < 0) return;
    if (--list[i]!.refs > 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.groups.delete(group.key);
  }

  /** True when the bytes are a multicast group this NIC has joined. */
  isInGroup(b: Uint8Array, off: number, len: number): boolean {
    const list = this.groups.get(Address.hashBytes(b, off, len));
    if (!list) return false;
    for (const g of list) if (g.group.length === len && g.group.equalsBytes(b, off)) return true;
    return false;
  }

  /** The joined groups (for inspection). */
  joinedGroups(): Address[] {
    const out: Address[] = [];
    for (const l of this.groups.values()) for (const g of l) out.push(g.group);
    return out;
  }

  // --- inbound ---

  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    this.host.beginBatch();
    this.stats.rx.packets++;
    this.stats.rx.bytes += pkt.size;
    if (!this.enabled) {
      this.stats.disabledRx++;
      return;
    }
    const np = this.host.networkProtocol(protocol);
    if (!np) {
      this.stats.unknownL3ProtocolRcvdPackets++;
      this.host.countUnknownProtocol();
      return;
    }
    pkt.nicId = this.id;
    pkt.networkProtocol = protocol;
    np.handlePacket(this, pkt);
  }

  deliverBatchEnd(): void {
    this.host.endBatch();
  }

  // --- outbound ---

  writeNetworkPacket(pkt: PacketBuffer, nextHop: Address, netProto: number): TcpipError | null {
    if (!this.enabled) {
      this.stats.txErrors++;
      return Err.NetworkUnreachable;
    }
    pkt.networkProtocol = netProto;
    if ((this.link.capabilities & CapResolutionRequired) !== 0 && !pkt.remoteLinkAddress) {
      const mac = this.linkAddressFor(nextHop, netProto, pkt);
      if (mac === "unreachable") {
        this.stats.txErrors++;
        return Err.HostUnreachable;
      }
      if (mac === null) return null; // queued until resolution finishes
      pkt.remoteLinkAddress = mac;
    }
    return this.writeToLink(pkt);
  }

  /** Writes a packet whose link address is settled. */
  writeToLink(pkt: PacketBuffer): TcpipError | null {
    this.one[0] = pkt;
    const n = this.link.writePackets(this.one);
    this.one[0] = undefined as unknown as PacketBuffer;
    if (n < 1) {
      this.stats.txErrors++;
      return Err.NoBufferSpace;
    }
    this.stats.tx.packets++;
    this.stats.tx.bytes += pkt.size;
    return null;
  }

  private linkAddressFor(nextHop: Address, netProto: number, pkt: PacketBuffer): Uint8Array | null | "unreachable" {
    if (nextHop.isV4) {
      if (this.isBroadcast(nextHop.bytes, 0, 4)) return BROADCAST_MAC;
      if (nextHop.isMulticast) {
        // RFC 1112 §6.4: 01:00:5e + low 23 bits of the group address.
        const b = nextHop.bytes;
        return Uint8Array.of(0x01, 0x00, 0x5e, b[1]! & 0x7f, b[2]!, b[3]!);
      }
    } else if (nextHop.isMulticast) {
      // RFC 2464 §7: 33:33 + low 32 bits of the group address.
      const b = nextHop.bytes;
      return Uint8Array.of(0x33, 0x33, b[12]!, b[13]!, b[14]!, b[15]!);
    }
    const cache = this.neighborCache(netProto);
    const e = cache.get(nextHop);
    if (e && e.linkAddress && e.state !== NeighborState.Incomplete) return cache.resolve(nextHop, null, pkt);
    return cache.resolve(nextHop, this.requestSource(nextHop, netProto, pkt), pkt);
  }

  /**
   * The source address for a resolution request prompted by `pkt`. RFC 4861 §7.2.2: the
   * prompting packet's own source when it is ours, else any of the NIC's addresses.
   */
  private requestSource(nextHop: Address, netProto: number, pkt: PacketBuffer): Address | null {
    const nh = pkt.networkHeader;
    if (netProto === IPV6_PROTOCOL && nh >= 0 && nh + 24 <= pkt.buf.length && this.hasAddress(pkt.buf, nh + 8, 16))
      return Address.fromBytes(pkt.buf, nh + 8, 16);
    return this.sourceAddressFor(nextHop);
  }

  /** The neighbor cache for a network protocol (created on first use). */
  neighborCache(netProto: number): NeighborCache {
    let c = this.neighbors.get(netProto);
    if (!c) {
      c = new NeighborCache(this.host.clock, () => this.host.linkResolver(this, netProto), {
        flush: (pkts, mac) => {
          for (const p of pkts) {
            p.remoteLinkAddress = mac;
            this.writeToLink(p);
          }
        },
        failed: (target, pkts) => {
          this.stats.neighborDrops += pkts.length;
          this.host.onNeighborFailure(this, target, pkts);
        },
      }, this.host.random);
      this.neighbors.set(netProto, c);
    }
    return c;
  }

  /** Stops neighbor timers (NIC removal / stack close). */
  shutdown(): void {
    for (const c of this.neighbors.values()) c.clear();
  }

  info() {
    return {
      id: this.id,
      name: this.name,
      mtu: this.mtu,
      enabled: this.enabled,
      loopback: this.isLoopback,
      promiscuous: this.promiscuous,
      spoofing: this.spoofing,
      addresses: this.addrs.map((a) => a.subnet.toString()),
      addressStates: this.addrs.map((a) => a.state),
      groups: this.joinedGroups().map((g) => g.toString()),
      stats: structuredClone(this.stats),
    };
  }
}
