/**
 * Transparent mode for applications: the netstack TCP and UDP forwarders (setTcpForwarder /
 * setUdpForwarder) with node-shaped results. A TCP request's `accept()` returns a node:net-style
 * `NetSocket` that is "connecting" until the handshake (completed by the stack as the original
 * destination) finishes, then emits 'connect'; a UDP request's `accept()` returns a
 * node:dgram-style `UdpSocket` bound to the original destination and connected to the sender,
 * which emits 'close' when the forwarder closes the quiet flow.
 */
import {
  EventHup, IPV6_PROTOCOL, isError, setTcpForwarder, setUdpForwarder, type FullAddress, type Stack,
  type TcpForwarder, type TcpForwarderOptions, type TcpForwarderRequest, type UdpForwarder, type UdpForwarderOptions,
  type UdpForwarderRequest,
} from "@netstack-ts/netstack";
import { AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM } from "../constants.js";
import { SocketError } from "../errors.js";
import { NetSocket } from "../net.js";
import { UdpSocket } from "../dgram.js";
import { Socket } from "../socket.js";

/** One side of a forwarded flow, as node reports addresses. */
export interface FlowAddress {
  address: string;
  port: number;
  family: "IPv4" | "IPv6";
}

/** A new TCP connection to any destination, waiting for the application's decision. */
export interface TcpForwardRequest {
  /** The client that sent the SYN. */
  readonly source: FlowAddress;
  /** The address it asked for (what the accepted socket answers as). */
  readonly destination: FlowAddress;
  /** True until accepted, rejected, dropped or timed out. */
  readonly pending: boolean;
  /**
   * The handshake already completed through a SYN cookie (the stack was at its in-flight bound,
   * or answers every SYN with a cookie): `accept()` gives a socket that connects at once.
   */
  readonly viaCookie: boolean;
  /**
   * Completes the handshake as the destination: a NetSocket, connecting until the client's ACK
   * arrives ('connect'), then an ordinary stream. Throws a SocketError once the request is decided.
   */
  accept(opts?: { allowHalfOpen?: boolean }): NetSocket;
  /** Refuses with a RST (the client sees ECONNREFUSED). */
  reject(): void;
  /** Ignores the SYN (the client retries). */
  drop(): void;
}

/** A new UDP flow (4-tuple) to any destination. */
export interface UdpForwardRequest {
  readonly source: FlowAddress;
  readonly destination: FlowAddress;
  /**
   * The flow's socket (call from the handler, synchronously): bound to the destination,
   * connected to the source, the first datagram queued; `send(msg)` answers the client.
   */
  accept(): UdpSocket;
}

function flowAddress(a: FullAddress, netProto: number): FlowAddress {
  return { address: String(a.addr), port: a.port, family: netProto === IPV6_PROTOCOL ? "IPv6" : "IPv4" };
}

/**
 * Installs a TCP forwarder on `stack` (replacing any earlier one; `handler` null removes it).
 * `track` is told about every socket handed out (NetStack closes them with the stack).
 */
export function tcpForwarder(stack: Stack, handler: ((req: TcpForwardRequest) => void) | null,
  opts: TcpForwarderOptions = {}, track?: (s: NetSocket) => void): TcpForwarder | null {
  if (!handler) return setTcpForwarder(stack, null);
  return setTcpForwarder(stack, (req: TcpForwarderRequest) => {
    const r: TcpForwardRequest = {
      source: flowAddress(req.source, req.netProto),
      destination: flowAddress(req.destination, req.netProto),
      get pending() {
        return req.pending;
      },
      viaCookie: req.viaCookie,
      accept(o = {}) {
        const a = req.accept();
        if (isError(a)) throw SocketError.fromTcpip(a, "accept");
        const v6 = req.netProto === IPV6_PROTOCOL;
        const s = new Socket(stack, v6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP, a.endpoint, a.waiterQueue,
          req.netProto, true, false, true);
        s.bound = true;
        const sock = new NetSocket({ allowHalfOpen: o.allowHalfOpen ?? false });
        sock.adoptConnecting(s);
        track?.(sock);
        return sock;
      },
      reject: () => req.reject(),
      drop: () => req.drop(),
    };
    handler(r);
  }, opts);
}

/**
 * Installs a UDP forwarder on `stack` (replacing any earlier one; `handler` null removes it).
 * A request the handler does not accept is dropped.
 */
export function udpForwarder(stack: Stack, handler: ((req: UdpForwardRequest) => void) | null,
  opts: UdpForwarderOptions = {}, track?: (s: UdpSocket) => void): UdpForwarder | null {
  if (!handler) return setUdpForwarder(stack, null);
  return setUdpForwarder(stack, (req: UdpForwarderRequest) => {
    const r: UdpForwardRequest = {
      source: flowAddress(req.source, req.netProto),
      destination: flowAddress(req.destination, req.netProto),
      accept() {
        const a = req.accept();
        if (isError(a)) throw SocketError.fromTcpip(a, "accept");
        const v6 = req.netProto === IPV6_PROTOCOL;
        const s = new Socket(stack, v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP, a.endpoint, a.waiterQueue,
          req.netProto, true, false);
        s.bound = true;
        s.connected = true;
        const u = new UdpSocket({ type: v6 ? "udp6" : "udp4", stack, socket: s });
        // The forwarder closes a quiet flow: the socket closes with it ('close').
        a.waiterQueue.register({ callback: () => u.close() }, EventHup);
        track?.(u);
        return u;
      },
    };
    handler(r);
  }, opts);
}
