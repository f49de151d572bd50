/**
 * The interfaces between the stack and the protocols it is given (like gVisor's
 * stack/registration.go). The stack imports no protocol: network and transport protocols are
 * handed to `new Stack({ networkProtocols, transportProtocols })` as factories, and reach the
 * stack only through `StackServices`.
 */
import type { Address, Subnet } from "../tcpip/address.js";
import type { TcpipError } from "../tcpip/errors.js";
import type { Endpoint } from "../tcpip/endpoint.js";
import type { PacketBuffer } from "../buffer/packet.js";
import type { WaiterQueue } from "../waiter/queue.js";
import type { Clock } from "../clock/clock.js";
import type { RandomSource } from "../clock/random.js";
import type { StackStats } from "./stats.js";

/** The 4-tuple an endpoint is registered under; null addresses / port 0 are wildcards. */
export interface TransportEndpointId {
  localPort: number;
  localAddress: Address | null;
  remotePort: number;
  remoteAddress: Address | null;
}

/** Kinds of ICMP errors delivered to the transport endpoint whose packet caused them. */
export type TransportErrorKind =
  | "port-unreachable"
  | "proto-unreachable"
  | "host-unreachable"
  | "net-unreachable"
  | "admin-prohibited"
  | "packet-too-big"
  | "ttl-exceeded"
  | "reassembly-timeout"
  | "parameter-problem";

export interface TransportError {
  kind: TransportErrorKind;
  /** For "packet-too-big": the next-hop MTU the router reported. */
  info: number;
}

/** What the demuxer delivers to: the receive side of a transport endpoint. */
export interface TransportEndpointHandler {
  /**
   * An inbound packet addressed to this endpoint. `pkt.start` is at the transport header; the
   * network addresses are at `pkt.srcAddrOff` / `pkt.dstAddrOff` (length `pkt.addrLen`) in
   * `pkt.buf`; `pkt.nicId` is the arrival NIC; `pkt.networkProtocol` is set. The checksum is NOT
   * yet verified (unless `pkt.checksumOffloaded`): the endpoint's protocol verifies it.
   */
  handlePacket(pkt: PacketBuffer): void;
  /**
   * An ICMP error about a packet this endpoint sent. `pkt.start` is at the quoted transport
   * header (at least 8 bytes of it).
   */
  handleError(err: TransportError, pkt: PacketBuffer): void;
}

/** Called back at the end of the current inbound batch (see StackServices.deferUntilBatchEnd). */
export interface BatchFlusher {
  flushDeferred(): void;
}

/** Per-packet parameters for the network layer. */
export interface NetworkWriteParams {
  protocol: number;
  ttl: number;
  tos: number;
  /** Do not fragment (IPv4 DF). */
  df?: boolean;
}

/**
 * A resolved path to a remote address, chosen once per connection and cached by the endpoint.
 * Writing through it adds the network header (and the link header and neighbor resolution below).
 */
export interface Route {
  readonly nicId: number;
  readonly netProto: number;
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  /** Gateway, or null when the destination is on-link. */
  readonly nextHop: Address | null;
  /** Bytes to reserve in front of a transport header (network + link headers). */
  readonly maxHeaderLength: number;
  /** The link will fill transport checksums (or none are needed): skip computing them. */
  readonly txChecksumOffload: boolean;
  /**
   * The route's link takes TCP super-segments (CapGso) of up to this many bytes, network header
   * included (see PacketBuffer.gsoSize); 0 when it does not.
   */
  readonly gsoMaxSize: number;
  /**
   * Nothing keeps a reference to a packet written on this route once `writePacket` returns: the
   * link has CapTxNoRetain and needs no link-address resolution (so no packet waits in a
   * neighbor queue either). Payload memory may then be reused once no retransmission needs it.
   */
  readonly txNoRetain: boolean;
  /** The stack's default TTL / hop limit for this route. */
  readonly defaultTtl: number;
  /** Goes to the loopback device, or to one of the stack's own addresses. */
  readonly isLocal: boolean;
  /** Largest transport header + payload per packet without IP fragmentation (path MTU aware). */
  mtu(): number;
  /** Ones'-complement sum (folded, not inverted) of the pseudo-header for `transProto`/`length`. */
  pseudoHeaderChecksum(transProto: number, length: number): number;
  /** Prepends the network header and sends. Errors: no route, host unreachable, message too long. */
  writePacket(pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | null;
  /** False once the route's NIC or address went away (endpoints then look up a new route). */
  readonly valid: boolean;
}

/** Flags that decide whether two endpoints may share a port (SO_REUSEADDR / SO_REUSEPORT). */
export interface PortFlags {
  reuseAddr: boolean;
  reusePort: boolean;
}

/** What protocols may use of the stack. */
export interface StackServices {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly stats: StackStats;

  /** A route from `local` (null = choose) to `remote` via `nic` (0 = any). */
  findRoute(nic: number, local: Address | null, remote: Address, netProto: number): Route | TcpipError;
  /** The NIC id owning `addr` (optionally only on `nic`), or 0 when the address is not ours. */
  nicForAddress(addr: Address, nic?: number): number;

  /**
   * Reserves a local port. `port` 0 picks an ephemeral one (Linux range 32768–60999 by
   * default). Returns the port, or Err.PortInUse.
   */
  reservePort(transProto: number, netProtos: readonly number[], addr: Address | null, port: number,
    flags: PortFlags, bindToDevice: number, owner: object): number | TcpipError;
  releasePort(transProto: number, netProtos: readonly number[], addr: Address | null, port: number,
    owner: object): void;
  /**
   * Marks `owner`'s reservation of `port` as listening (TCP listen) or not; Err.PortInUse when
   * another endpoint shares the port through SO_REUSEADDR alone (Linux refuses that listen()).
   * Optional so that test doubles of the stack need not provide it.
   */
  setPortListening?(transProto: number, port: number, owner: object, listening: boolean): TcpipError | null;
  /**
   * Picks an ephemeral port starting at a position derived from `hint` (RFC 6056 style) and
   * returns the first one for which `tryPort` returns true.
   */
  pickEphemeralPort(hint: number, tryPort: (port: number) => boolean): number | TcpipError;

  /** Registers `ep` in the demuxer under `id`. */
  registerTransportEndpoint(transProto: number, netProtos: readonly number[], id: TransportEndpointId,
    ep: TransportEndpointHandler, flags: PortFlags, bindToDevice: number): TcpipError | null;
  unregisterTransportEndpoint(transProto: number, netProtos: readonly number[], id: TransportEndpointId,
    ep: TransportEndpointHandler): void;

  /**
   * Inside an inbound batch: remembers `f` (once) and returns true; `f.flushDeferred()` runs
   * when the batch ends. Outside a batch: returns false and the caller flushes now.
   */
  deferUntilBatchEnd(f: BatchFlusher): boolean;
  /** Sends an ICMP/ICMPv6 error about the received packet `pkt` (network layer decides rate limits). */
  sendIcmpError(pkt: PacketBuffer, kind: TransportErrorKind): void;
}

/** A transport protocol (TCP, UDP) as given to the stack. */
export interface TransportProtocol {
  readonly number: number;
  /** Smallest valid header; shorter packets are counted malformed before demux. */
  readonly minimumPacketSize: number;
  newEndpoint(netProto: number, waiterQueue: WaiterQueue): Endpoint | TcpipError;
  /**
   * No endpoint matched the packet. "handled": the protocol answered it (TCP's RST) or dropped
   * it silently; "port-unreachable": the network layer should send ICMP port unreachable;
   * "malformed": count and drop.
   */
  handleUnknownDestinationPacket(pkt: PacketBuffer): "handled" | "port-unreachable" | "malformed";
  /**
   * Reads (srcPort << 16 | dstPort) from the transport header at `b[off]`, or -1 when too short.
   * Optional: without it the demuxer reads the first four bytes (TCP and UDP layout). ICMP echo
   * endpoints use it to demultiplex on the echo identifier.
   */
  ports?(b: Uint8Array, off: number, len: number): number;
  /** Stack shutdown: release timers. */
  close?(): void;
}

export type TransportProtocolFactory = (stack: StackServices) => TransportProtocol;

/**
 * State of an address on a NIC (RFC 4862 §2): "tentative" while duplicate address detection
 * runs (not usable as a source, packets to it are dropped), "preferred" when usable, "duplicate"
 * when DAD found another node using it (kept, never used: Linux's "dadfailed").
 */
export type AddressState = "tentative" | "preferred" | "duplicate";

/** Per-address configuration flags. */
export interface AddressOptions {
  /** Skip duplicate address detection (Linux's `nodad`). */
  noDad?: boolean;
}

/** The subset of a NIC a network protocol sees. */
export interface NicServices {
  readonly id: number;
  readonly name: string;
  readonly mtu: number;
  readonly linkAddress: Uint8Array;
  readonly capabilities: number;
  readonly isLoopback: boolean;
  readonly promiscuous: boolean;
  readonly spoofing: boolean;
  /** Hands a fully built network packet to the link, resolving the next hop's link address if the link needs it. */
  writeNetworkPacket(pkt: PacketBuffer, nextHop: Address, netProto: number): TcpipError | null;
  /** True when `addr` (bytes at off, length len) is one of this NIC's addresses. */
  hasAddress(b: Uint8Array, off: number, len: number): boolean;
  /** True when the bytes are a broadcast address for one of this NIC's IPv4 subnets (or limited broadcast). */
  isBroadcast(b: Uint8Array, off: number, len: number): boolean;
  /** The NIC's primary address of the given family (4 or 16 bytes), or null. */
  primaryAddress(addrLen: number): Address | null;
  /** Every address of the NIC with its prefix length, whatever its state. */
  addresses(): readonly Subnet[];
  /** Adds an address (a network protocol configuring one, e.g. an IPv6 link-local address). */
  addAddress(addr: Subnet, opts?: AddressOptions): TcpipError | null;
  /** The state of one of the NIC's addresses, or null when it is not one. */
  addressState(addr: Address): AddressState | null;
  setAddressState(addr: Address, state: AddressState): void;
  /** The best usable source address on this NIC for `remote` (RFC 6724 for IPv6), or null. */
  sourceAddressFor(remote: Address): Address | null;
  /** Multicast group membership, reference counted (all-nodes, solicited-node groups ...). */
  joinGroup(group: Address): void;
  leaveGroup(group: Address): void;
  /** True when the bytes are a multicast group this NIC has joined. */
  isInGroup(b: Uint8Array, off: number, len: number): boolean;
  /** False while the NIC is administratively down. */
  readonly enabled: boolean;
}

/** A network protocol (IPv4, IPv6, ARP) as given to the stack. */
export interface NetworkProtocol {
  /** EtherType. */
  readonly number: number;
  /** Address length (4 / 16), or 0 for protocols without transport (ARP). */
  readonly addressLength: number;
  /** Largest header this protocol prepends. */
  readonly maxHeaderLength: number;
  /**
   * The fixed header without options or extension headers (IPv4 20, IPv6 40): what `Route.mtu()`
   * subtracts from the path MTU. Defaults to 20 for 4-byte and 40 for 16-byte addresses.
   */
  readonly fixedHeaderLength?: number;
  /** An inbound packet (`pkt.start` at the network header). */
  handlePacket(nic: NicServices, pkt: PacketBuffer): void;
  /** Prepends this protocol's header to a transport packet and sends it via `nic`. */
  writePacket(nic: NicServices, route: Route, pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | null;
  /** Sends an ICMP error about `pkt` (received on `nic`), rate-limited. */
  sendIcmpError?(nic: NicServices, pkt: PacketBuffer, kind: TransportErrorKind): void;
  /** A NIC was created (IPv6: join all-nodes, configure a link-local address). */
  nicAdded?(nic: NicServices): void;
  /** A NIC is being removed (cancel its timers). */
  nicRemoved?(nic: NicServices): void;
  /** An address of this protocol's family was added to `nic` (IPv6: solicited-node group, DAD). */
  addressAdded?(nic: NicServices, addr: Subnet, opts: AddressOptions): void;
  addressRemoved?(nic: NicServices, addr: Subnet): void;
  close?(): void;
}

/** What network protocols may use of the stack, beyond what transports see. */
export interface NetworkStackServices extends StackServices {
  /** Default TTL / hop limit (64, like Linux). */
  readonly defaultTtl: number;
  /** The NIC with id `id`, or undefined. */
  nic(id: number): NicServices | undefined;
  /**
   * Hands a packet (`pkt.start` at the transport header, addresses and nicId set) to the
   * transport demuxer. "unknown-transport" means no such transport protocol is registered.
   */
  deliverTransportPacket(nic: NicServices, pkt: PacketBuffer, transProto: number, broadcast: boolean):
    "delivered" | "port-unreachable" | "malformed" | "unknown-transport";
  /**
   * Hands an ICMP error to the endpoint that sent the quoted packet: `pkt.start` at the quoted
   * transport header, `pkt.srcAddrOff`/`dstAddrOff` at the quoted (our → them) addresses.
   */
  deliverTransportError(pkt: PacketBuffer, transProto: number, err: TransportError): void;
  /** Records a smaller path MTU for `remote` (RFC 1191 / RFC 8201). */
  updatePathMtu(remote: Address, mtu: number): void;
  /** Registers the resolver (ARP, NDP) that finds link addresses for `netProto` on a NIC. */
  registerLinkResolver(netProto: number, factory: (nic: NicServices) => import("./neighbor.js").NeighborResolver): void;
  /** The neighbor cache of `nic` for `netProto` (NDP drives its RFC 4861 states directly). */
  neighbors(nic: NicServices, netProto: number): import("./neighbor.js").NeighborCache | null;
  /** Tells the neighbor cache of `nic` that `addr` is at `linkAddress` (from an ARP/NDP message). */
  confirmNeighbor(nic: NicServices, netProto: number, addr: Address, linkAddress: Uint8Array, create: boolean): void;
}

export type NetworkProtocolFactory = (stack: NetworkStackServices) => NetworkProtocol;
