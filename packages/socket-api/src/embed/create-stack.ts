/**
 * One-call embedding: `createStack(...)` builds a ready stack (protocols, NIC, addresses, on-link
 * routes) on a TUN device, a TAP device or any link endpoint (an in-memory pipe end), and returns
 * it with node:net / node:dgram look-alikes, Web Streams faces, the Linux-style and queue-token
 * APIs, stats and pcap control bound to it.
 *
 *   const net = await createStack({ tun: "tun0", address: "198.18.0.2/24", hostAddress: "198.18.0.1/24" });
 *   http.createServer(handler).listen(net.createServer(), ...)   // see the README
 *
 * TUN and TAP come from @netstack-ts/link-tun, loaded on first use (dynamic import), so embedding
 * over an in-memory link never loads the native addon.
 */
import "./dispose.js";
import {
  Pipe, RealClock, Stack, Subnet, arp, icmp, icmp6, ipv4, ipv6, tcp, udp, type Clock, type LinkEndpoint,
  type NetworkProtocolFactory, type RandomSource, type TcpForwarder, type TcpForwarderOptions, type UdpForwarder,
  type UdpForwarderOptions,
} from "@netstack-ts/netstack";
import { NetServer, NetSocket, netFor, type NetConnectOptions, type NetServerOptions } from "../net.js";
import { UdpSocket, type DgramOptions, type RemoteInfo } from "../dgram.js";
import { socket as openSocket, type Socket } from "../socket.js";
import { LibOS } from "../qtoken.js";
import { raceAbort, abortError } from "./dispose.js";
import { tcpForwarder, udpForwarder, type TcpForwardRequest, type UdpForwardRequest } from "./forwarder.js";
import {
  Connection, DatagramSocket, Listener, observeSocket, type ListenOptions, type UdpBindOptions, type WaitOptions,
} from "./connection.js";
import {
  CounterWatch, ObservedClock, ObservedLink, debug, formatStackStats, type CaptureOptions, type CaptureSummary,
  type StatsSnapshot,
} from "./observe.js";

/** Options of `createStack`. Give exactly one of `tun`, `tap` or `link`. */
export interface CreateStackOptions {
  /** A TUN device (L3): its name, or "" to let the kernel pick. Created if missing, attached to if it exists. */
  tun?: string;
  /** A TAP device (Ethernet frames; ARP and NDP run in the stack): its name, or "". */
  tap?: string;
  /** Any link endpoint, e.g. one end of an in-memory `Pipe` (see `createStackPair`). */
  link?: LinkEndpoint;
  /** The stack's IPv4 address with prefix, e.g. "198.18.0.2/24" (its subnet becomes an on-link route). */
  address?: string;
  /** The stack's IPv6 address with prefix, e.g. "fd00:198:18::2/64". */
  address6?: string;
  /** TUN/TAP: also give the kernel's side of the device this IPv4 address ("198.18.0.1/24"). */
  hostAddress?: string;
  /** TUN/TAP: also give the kernel's side this IPv6 address (duplicate address detection off). */
  hostAddress6?: string;
  /** TUN/TAP: the device MTU to set (default: keep the device's). */
  mtu?: number;
  /** Default IPv4 route through this next hop (on-link address). */
  gateway?: string;
  /** Default IPv6 route through this next hop. */
  gateway6?: string;
  /** TAP: the stack's MAC ("02:..."; default random, locally administered). */
  mac?: string;
  /** Name used in stats, debug lines and diagnostics_channel events (default: the device name or "netstack"). */
  name?: string;
  /** Time source (default a RealClock; tests pass a ManualClock). */
  clock?: Clock;
  /** Random source (default crypto-strength; tests pass a SeededRandom). */
  random?: RandomSource;
  /** Start a pcap capture of the link to this file at once (see `startCapture`). */
  pcap?: string;
  /**
   * Transparent mode: the NIC accepts packets for any destination address and may send from
   * any source address (promiscuous + spoofing), for `tcpForwarder` / `udpForwarder`.
   */
  transparent?: boolean;
}

/** A `net` module look-alike bound to one stack (`netFor`). */
export type BoundNet = ReturnType<typeof netFor>;

/** Options of `NetStack.dial`. */
export interface DialOptions extends WaitOptions {
  host: string;
  port: number;
  localAddress?: string;
  localPort?: number;
  noDelay?: boolean;
  allowHalfOpen?: boolean;
}

/**
 * A ready stack with everything an application needs bound to it. Dispose it (`await using`,
 * or `close()`) to close every socket, the link and the device.
 */
export class NetStack {
  /** The underlying stack (protocols, NICs, routes, counters). */
  readonly stack: Stack;
  /** The link under the NIC: forwards to the device and carries capture and tracing. */
  readonly link: ObservedLink;
  /** The name in stats, debug lines and diagnostics events. */
  readonly name: string;
  /** The stack's IPv4 address (without prefix), if any. */
  readonly address: string | undefined;
  /** The stack's IPv6 address (without prefix), if any. */
  readonly address6: string | undefined;
  /** A node:net look-alike bound to this stack: `createServer`, `connect`, `createConnection`, `Socket`, `Server`. */
  readonly net: BoundNet;
  /** A node:dgram look-alike bound to this stack. */
  readonly dgram: { createSocket: NetStack["createSocket"] };
  private closed = false;
  private readonly closers = new Set<{ close(): unknown }>();
  private libos: LibOS | null = null;
  private readonly watch: CounterWatch;

  /** @internal Use `createStack` / `createStackPair`. */
  constructor(
    stack: Stack, link: ObservedLink, name: string, address: string | undefined, address6: string | undefined,
    watch: CounterWatch,
  ) {
    this.watch = watch;
    this.stack = stack;
    this.link = link;
    this.name = name;
    this.address = address;
    this.address6 = address6;
    const base = netFor(stack);
    const track = <T extends { close(): unknown; once(ev: string, f: () => void): unknown }>(x: T): T => {
      this.closers.add(x);
      x.once("close", () => this.closers.delete(x));
      return x;
    };
    const watchServer = (srv: NetServer): NetServer => {
      srv.on("connection", (s: NetSocket) => observeSocket(name, s, "inbound"));
      return track(srv);
    };
    const connect = (port: number | NetConnectOptions, host?: string | (() => void), listener?: () => void): NetSocket => {
      const s = base.connect(port, host, listener);
      observeSocket(name, s, "outbound");
      return track(wrapDestroyable(s));
    };
    this.net = {
      ...base,
      createServer: (optsOrListener?: Partial<NetServerOptions> | ((s: NetSocket) => void), listener?: (s: NetSocket) => void) =>
        watchServer(base.createServer(optsOrListener, listener)),
      connect,
      createConnection: connect,
    };
    this.dgram = { createSocket: (o, l) => this.createSocket(o, l) };
  }

  /** net.createServer([options][, connectionListener]) on this stack. */
  createServer(optsOrListener?: Partial<NetServerOptions> | ((s: NetSocket) => void), listener?: (s: NetSocket) => void): NetServer {
    return this.net.createServer(optsOrListener, listener);
  }

  /** net.connect(port[, host][, listener]) or net.connect(options[, listener]) on this stack. */
  connect(port: number | NetConnectOptions, host?: string | (() => void), listener?: () => void): NetSocket {
    return this.net.connect(port, host, listener);
  }

  /** dgram.createSocket(type | options[, onMessage]) on this stack. */
  createSocket(
    type: "udp4" | "udp6" | Omit<DgramOptions, "stack">, onMessage?: (msg: Buffer, rinfo: RemoteInfo) => void,
  ): UdpSocket {
    const o: DgramOptions = typeof type === "string" ? { type, stack: this.stack } : { ...type, stack: this.stack };
    const s = new UdpSocket(o);
    if (onMessage) s.on("message", onMessage);
    this.closers.add(s);
    s.once("close", () => this.closers.delete(s));
    return s;
  }

  /**
   * Serves a node:http / node:https (or any `net.Server`-shaped) server on this stack: every
   * accepted connection is handed to it as its 'connection' event. Resolves with the listening
   * NetServer once bound.
   */
  async serve(
    server: { emit(event: "connection", socket: NetSocket): boolean },
    opts: { port: number; host?: string; backlog?: number; signal?: AbortSignal },
  ): Promise<NetServer> {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const srv = this.createServer((sock) => server.emit("connection", sock));
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen({ port: opts.port, host: opts.host ?? "0.0.0.0", backlog: opts.backlog ?? 511 }, () => {
        srv.off("error", reject);
        resolve();
      });
    });
    opts.signal?.addEventListener("abort", () => srv.close(), { once: true });
    return srv;
  }

  /**
   * Connects and resolves with a Web Streams `Connection` once established. Rejects with a
   * node-style error (ECONNREFUSED, ETIMEDOUT, ...) or, when `signal` aborts first, with an
   * AbortError after aborting the attempt.
   */
  async dial(opts: DialOptions): Promise<Connection> {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const s = this.connect({
      host: opts.host, port: opts.port, allowHalfOpen: opts.allowHalfOpen ?? false,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      ...(opts.localPort !== undefined ? { localPort: opts.localPort } : {}),
      ...(opts.noDelay ? { noDelay: true } : {}),
    });
    const established = new Promise<void>((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      s.once("error", onErr);
      s.once("connect", () => {
        s.off("error", onErr);
        resolve();
      });
    });
    try {
      await raceAbort(established, opts.signal);
    } catch (e) {
      s.destroy();
      throw e;
    }
    return new Connection(s);
  }

  /**
   * Listens and resolves with a `Listener` (an async iterable of Connections) once bound.
   * Aborting `signal` later closes the listener and ends its iterations.
   */
  async listen(opts: ListenOptions = {}): Promise<Listener> {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const srv = this.createServer({ allowHalfOpen: opts.allowHalfOpen ?? false });
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen({
        port: opts.port ?? 0, host: opts.host ?? "0.0.0.0", backlog: opts.backlog ?? 511,
        ...(opts.ipv6Only ? { ipv6Only: true } : {}),
      }, () => {
        srv.off("error", reject);
        resolve();
      });
    });
    const l = new Listener(srv, opts.queueLimit ?? 128);
    this.closers.add(l);
    if (opts.signal) opts.signal.addEventListener("abort", () => void l.close(), { once: true });
    debug("stack %s listening on %s:%d", this.name, l.address().address, l.port);
    return l;
  }

  /** A UDP socket bound to `port`/`address` that is an async iterable of datagrams. */
  async bindUdp(opts: UdpBindOptions = {}): Promise<DatagramSocket> {
    const u = this.createSocket({
      type: opts.type ?? "udp4",
      ...(opts.reuseAddr ? { reuseAddr: true } : {}),
      ...(opts.ipv6Only ? { ipv6Only: true } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      u.once("error", reject);
      u.bind({ port: opts.port ?? 0, ...(opts.address !== undefined ? { address: opts.address } : {}) }, () => {
        u.off("error", reject);
        resolve();
      });
    });
    const d = new DatagramSocket(u, opts.queueLimit ?? 1024);
    this.closers.add(d);
    return d;
  }

  /**
   * Transparent mode (create the stack with `transparent: true`): every TCP connection to an
   * address and port nobody listens on becomes a request; `req.accept()` returns a node:net-style
   * socket answering as the original destination, `req.reject()` refuses, `req.drop()` ignores.
   * Returns the forwarder (its `stats`); `null` as handler removes it.
   */
  tcpForwarder(handler: ((req: TcpForwardRequest) => void) | null, opts: TcpForwarderOptions = {}): TcpForwarder | null {
    return tcpForwarder(this.stack, handler, opts, (s) => {
      const x = wrapDestroyable(s);
      this.closers.add(x);
      s.once("close", () => this.closers.delete(x));
    });
  }

  /**
   * Transparent mode for UDP: every new flow to an unbound address and port becomes a request;
   * `req.accept()` returns a dgram-style socket bound to the original destination and connected
   * to the sender (closed after `idleTimeoutMs` of silence). Returns the forwarder.
   */
  udpForwarder(handler: ((req: UdpForwardRequest) => void) | null, opts: UdpForwarderOptions = {}): UdpForwarder | null {
    return udpForwarder(this.stack, handler, opts, (u) => {
      this.closers.add(u);
      u.once("close", () => this.closers.delete(u));
    });
  }

  /** A Linux-style (syscall-shaped) socket on this stack: `socket(AF_INET, SOCK_STREAM)`. */
  socket(domain: number, type: number, protocol = 0): Socket {
    return openSocket(this.stack, domain, type, protocol);
  }

  /** The queue-token (Demikernel-style) API on this stack; one instance per NetStack. */
  queues(): LibOS {
    this.libos ??= new LibOS(this.stack);
    return this.libos;
  }

  /** A snapshot of every counter (stack-wide and per NIC), plus the stack's name and capture state. */
  stats(): StatsSnapshot {
    this.watch.check();
    return { ...this.stack.snapshot(), name: this.name, capture: { running: this.link.capturing } };
  }

  /** `stats()` as `netstat -s`-style text (nonzero counters; `all: true` for every counter). */
  formatStats(opts: { all?: boolean } = {}): string {
    return `netstack ${this.name}\n${formatStackStats(this.stack.snapshot(), opts)}`;
  }

  /** Starts a pcap capture of the link (both directions) on the running stack. */
  startCapture(path: string, opts: CaptureOptions = {}): void {
    this.link.startCapture(path, opts);
  }

  /** Stops the running capture (the file is complete when this returns); null if none ran. */
  stopCapture(): CaptureSummary | null {
    return this.link.stopCapture();
  }

  /** Closes every socket, listener and server opened through this object, then the stack and its link. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.closers]) {
      try {
        void c.close();
      } catch {
        // already closed
      }
    }
    this.closers.clear();
    this.link.stopCapture();
    this.stack.close();
    debug("stack %s closed", this.name);
  }

  /** Whether `close()` ran. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** `using net = ...` closes it. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `await using net = ...` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/** Gives a NetSocket a `close()` (destroy) so the stack can close it with the rest. */
function wrapDestroyable(s: NetSocket): NetSocket & { close(): void } {
  const x = s as NetSocket & { close(): void };
  x.close = () => void s.destroy();
  return x;
}

function parseCidr(text: string, v6: boolean, what: string): Subnet {
  let s: Subnet;
  try {
    s = Subnet.parse(text);
  } catch {
    throw new RangeError(`${what}: invalid address ${JSON.stringify(text)}`);
  }
  if (s.address.isV6 !== v6 || !text.includes("/"))
    throw new RangeError(`${what}: want ${v6 ? "x::y/n" : "a.b.c.d/n"}, got ${JSON.stringify(text)}`);
  return s;
}

/** Builds the stack on `device` (already opened) with every protocol this build has. */
function assemble(o: CreateStackOptions, device: LinkEndpoint, l2: boolean, defaultName: string): NetStack {
  const v4 = o.address !== undefined ? parseCidr(o.address, false, "address") : null;
  const v6 = o.address6 !== undefined ? parseCidr(o.address6, true, "address6") : null;
  const name = o.name ?? defaultName;
  const watch = new CounterWatch(name);
  const baseClock = o.clock ?? new RealClock();
  const clock = new ObservedClock(baseClock, watch);
  const link = new ObservedLink(device, baseClock, watch, name);
  const net: NetworkProtocolFactory[] = l2 ? [ipv4, arp, ipv6] : [ipv4, ipv6];
  const stack = new Stack({
    networkProtocols: net, transportProtocols: [tcp, udp, icmp, icmp6], clock,
    ...(o.random ? { random: o.random } : {}),
  });
  watch.bind(stack);
  try {
    stack.createNic(1, link, { name, ...(o.transparent ? { promiscuous: true, spoofing: true } : {}) });
    if (v4) {
      const e = stack.addAddress(1, v4);
      if (e) throw new Error(`cannot add ${o.address}: ${e.message}`);
      stack.addRoute({ destination: v4, nic: 1 });
    }
    if (v6) {
      const e = stack.addAddress(1, v6);
      if (e) throw new Error(`cannot add ${o.address6}: ${e.message}`);
      stack.addRoute({ destination: v6, nic: 1 });
    }
    if (o.gateway) stack.addRoute({ destination: "0.0.0.0/0", gateway: o.gateway, nic: 1 });
    if (o.gateway6) stack.addRoute({ destination: "::/0", gateway: o.gateway6, nic: 1 });
    if (o.pcap) link.startCapture(o.pcap);
  } catch (e) {
    stack.close();
    throw e;
  }
  debug("stack %s up: %s%s mtu %d", name, o.address ?? "", o.address6 ? ` ${o.address6}` : "", link.mtu);
  return new NetStack(stack, link, name, v4?.address.toString(), v6?.address.toString(), watch);
}

/**
 * One call to a ready stack. With `tun`/`tap`, opens (or creates) the device, configures the
 * kernel's side when `hostAddress`/`hostAddress6` are given, and loads @netstack-ts/link-tun on
 * demand; with `link`, uses that link as is. Throws (rejects) on bad options or a device error.
 */
export async function createStack(o: CreateStackOptions): Promise<NetStack> {
  const kinds = [o.tun !== undefined, o.tap !== undefined, o.link !== undefined].filter(Boolean).length;
  if (kinds !== 1) throw new TypeError("createStack needs exactly one of `tun`, `tap` or `link`");
  if (o.address === undefined && o.address6 === undefined) throw new TypeError("createStack needs `address` or `address6`");
  if (o.address !== undefined) parseCidr(o.address, false, "address");
  if (o.address6 !== undefined) parseCidr(o.address6, true, "address6");
  if (o.hostAddress !== undefined) parseCidr(o.hostAddress, false, "hostAddress");
  if (o.hostAddress6 !== undefined) parseCidr(o.hostAddress6, true, "hostAddress6");
  if (o.link) return assemble(o, o.link, false, o.name ?? "netstack");
  const tun = await import("@netstack-ts/link-tun");
  const host = {
    ...(o.hostAddress !== undefined ? { address: o.hostAddress } : {}),
    ...(o.hostAddress6 !== undefined ? { address6: o.hostAddress6, noDad: true } : {}),
  };
  const common = { name: (o.tun ?? o.tap)!, up: true, host, ...(o.mtu !== undefined ? { mtu: o.mtu } : {}) };
  const device = o.tap !== undefined
    ? tun.TapEndpoint.open({ ...common, ...(o.mac !== undefined ? { mac: o.mac } : {}) })
    : tun.TunEndpoint.open(common);
  const devName = device.name;
  try {
    const ns = assemble(o, device, o.tap !== undefined, devName);
    if (o.hostAddress6) await tun.waitKernelAddress6(devName, o.hostAddress6);
    return ns;
  } catch (e) {
    device.close?.();
    throw e;
  }
}

/** Options of `createStackPair`: each side's `createStack` options without the link. */
export interface StackPairOptions {
  a: Omit<CreateStackOptions, "tun" | "tap" | "link">;
  b: Omit<CreateStackOptions, "tun" | "tap" | "link">;
  /** The in-memory link's MTU (default 1500). */
  mtu?: number;
  /** Shared clock for both stacks and the link (default: one RealClock). */
  clock?: Clock;
}

/** Two stacks in one process wired back to back over an in-memory `Pipe` (no root needed). */
export async function createStackPair(o: StackPairOptions): Promise<[NetStack, NetStack]> {
  // Without a given clock the pipe delivers on microtasks; with one (a ManualClock in tests) on its timers.
  const clock = o.clock ?? new RealClock();
  const pipe = new Pipe({ mtu: o.mtu ?? 1500, ...(o.clock ? { clock: o.clock } : {}) });
  const a = await createStack({ name: "a", ...o.a, link: pipe.a, clock });
  try {
    const b = await createStack({ name: "b", ...o.b, link: pipe.b, clock });
    return [a, b];
  } catch (e) {
    a.close();
    throw e;
  }
}
