/**
 * The UDP forwarder (transparent mode, like gVisor's udp.Forwarder): a datagram for an address
 * and port no endpoint owns — typically on a promiscuous NIC that receives traffic for any
 * destination — becomes a request carrying the flow's 4-tuple. The handler may `accept()` it,
 * which creates a datagram endpoint bound to the original destination (IP_TRANSPARENT) and
 * connected to the sender, with the first datagram already queued; later datagrams of the flow
 * reach that endpoint directly through the demuxer. A flow that stays quiet for `idleTimeoutMs`
 * is closed. The number of live flows is bounded; datagrams past the bound are dropped and
 * counted, never queued.
 */
import { Address, type FullAddress } from "../../tcpip/address.js";
import { Err, isError, type TcpipError } from "../../tcpip/errors.js";
import type { Endpoint, WriteOptions } from "../../tcpip/endpoint.js";
import type { PacketBuffer } from "../../buffer/packet.js";
import type { Timer } from "../../clock/clock.js";
import { WaiterQueue } from "../../waiter/queue.js";
import type { StackServices } from "../../stack/registration.js";
import { UdpEndpoint, type UdpProtocol } from "./udp.js";

export interface UdpForwarderRequest {
  /** The sender of the datagram. */
  readonly source: FullAddress;
  /** Where the sender sent it (the address the flow's endpoint will answer from). */
  readonly destination: FullAddress;
  /** NIC it arrived on. */
  readonly nic: number;
  /** Network protocol (0x0800 / 0x86dd). */
  readonly netProto: number;
  /**
   * Creates the flow's endpoint (call synchronously from the handler). The first datagram is
   * queued on it; its waiter queue is `wq` (or a new one: read it back from the result).
   */
  accept(wq?: WaiterQueue): { endpoint: Endpoint; waiterQueue: WaiterQueue } | TcpipError;
}

export interface UdpForwarderOptions {
  /** Close a flow after this long without datagrams either way (default 30 s, like conntrack). */
  idleTimeoutMs?: number;
  /** Live flows at most (default 4096). */
  maxFlows?: number;
}

export interface UdpForwarderStats {
  /** Requests handed to the handler. */
  requests: number;
  /** Flows the handler accepted. */
  accepted: number;
  /** Datagrams the handler did not accept (dropped). */
  ignored: number;
  /** Datagrams dropped because maxFlows flows were live. */
  overflow: number;
  /** Flows closed for idleness. */
  idleClosed: number;
}

/** A forwarded flow's endpoint: records activity so the idle timer can tell. */
class FlowEndpoint extends UdpEndpoint {
  lastActive = 0;
  timer: Timer | null = null;
  onGone: (() => void) | null = null;

  override handlePacket(pkt: PacketBuffer): void {
    this.lastActive = this.stack.clock.now();
    super.handlePacket(pkt);
  }

  override write(data: Uint8Array, opts?: WriteOptions): number | TcpipError {
    const r = super.write(data, opts);
    if (!isError(r)) this.lastActive = this.stack.clock.now();
    return r;
  }

  override close(): void {
    this.timer?.cancel();
    const gone = this.onGone;
    this.onGone = null;
    super.close();
    gone?.();
  }
}

export class UdpForwarder {
  readonly idleTimeoutMs: number;
  readonly maxFlows: number;
  readonly stats: UdpForwarderStats = { requests: 0, accepted: 0, ignored: 0, overflow: 0, idleClosed: 0 };
  private live = 0;

  constructor(
    private readonly proto: UdpProtocol,
    private readonly handler: (req: UdpForwarderRequest) => void,
    opts: UdpForwarderOptions = {},
  ) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.maxFlows = opts.maxFlows ?? 4096;
  }

  /** Flows currently open. */
  get flows(): number {
    return this.live;
  }

  /** Called by the UDP protocol for a valid datagram nobody owns. */
  handle(pkt: PacketBuffer): boolean {
    if (this.live >= this.maxFlows) {
      this.stats.overflow++;
      return true;
    }
    const b = pkt.buf;
    const o = pkt.start;
    const stack: StackServices = this.proto.stack;
    const source: FullAddress = { addr: Address.fromBytes(b, pkt.srcAddrOff, pkt.addrLen), port: (b[o]! << 8) | b[o + 1]! };
    const destination: FullAddress = {
      addr: Address.fromBytes(b, pkt.dstAddrOff, pkt.addrLen), port: (b[o + 2]! << 8) | b[o + 3]!,
    };
    let taken = false;
    const req: UdpForwarderRequest = {
      source, destination, nic: pkt.nicId, netProto: pkt.networkProtocol,
      accept: (wq = new WaiterQueue()) => {
        if (taken) return Err.InvalidEndpointState;
        const ep = new FlowEndpoint(stack, pkt.networkProtocol, wq);
        ep.setSockOpt("transparent", true);
        let err = ep.bind({ addr: destination.addr, port: destination.port, nic: pkt.nicId });
        if (!err) err = ep.connect({ addr: source.addr, port: source.port, nic: pkt.nicId });
        if (err) {
          ep.close();
          return err;
        }
        taken = true;
        this.live++;
        this.stats.accepted++;
        ep.onGone = () => this.live--;
        ep.lastActive = stack.clock.now();
        const timer = stack.clock.createTimer(() => {
          const idle = stack.clock.now() - ep.lastActive;
          if (idle >= this.idleTimeoutMs) {
            this.stats.idleClosed++;
            ep.close(); // wakes the flow's waiters with EventHup
          } else timer.schedule(this.idleTimeoutMs - idle);
        });
        ep.timer = timer;
        timer.schedule(this.idleTimeoutMs);
        ep.handlePacket(pkt);
        return { endpoint: ep, waiterQueue: wq };
      },
    };
    this.stats.requests++;
    this.handler(req);
    if (!taken) this.stats.ignored++;
    return true;
  }
}

/**
 * Installs a UDP forwarder on the stack's UDP protocol (replacing any earlier one), or removes
 * it with `handler` null. Returns the forwarder (its `stats` and `flows`).
 */
export function setUdpForwarder(stack: { transportProtocol(n: number): unknown }, handler: ((req: UdpForwarderRequest) => void) | null,
  opts: UdpForwarderOptions = {}): UdpForwarder | null {
  const proto = stack.transportProtocol(17) as UdpProtocol | undefined;
  if (!proto || !("forwarder" in proto)) throw new Error("setUdpForwarder: the stack has no UDP protocol");
  if (!handler) {
    proto.forwarder = null;
    return null;
  }
  const f = new UdpForwarder(proto, handler, opts);
  proto.forwarder = f;
  return f;
}
