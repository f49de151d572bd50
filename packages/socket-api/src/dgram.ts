/**
 * node:dgram-like UDP sockets over the stack: bind, send (with or without a connected peer),
 * 'message' events with rinfo, connect/disconnect, close, address()/remoteAddress(), broadcast,
 * TTL and buffer sizes. Like NetSocket, receive work is deferred out of the stack's notification.
 */
import { EventEmitter } from "node:events";
import { EventIn, type Stack, type WaiterEntry } from "@netstack-ts/netstack";
import { AF_INET, AF_INET6, IP_TTL, IPV6_UNICAST_HOPS, SO_BROADCAST, SO_RCVBUF, SO_REUSEADDR, SO_SNDBUF, SOCK_DGRAM,
  SOCK_NONBLOCK, SOL_IP, SOL_IPV6, SOL_SOCKET } from "./constants.js";
import { SocketError } from "./errors.js";
import { socket as openSocket, type Socket } from "./socket.js";

export interface DgramOptions {
  type: "udp4" | "udp6";
  stack: Stack;
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Wraps an existing bound (and connected) syscall-layer socket, e.g. a forwarded UDP flow. */
  socket?: Socket;
}

export interface RemoteInfo {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
  size: number;
}

type SendCallback = (err: Error | null, bytes?: number) => void;

export class UdpSocket extends EventEmitter {
  readonly handle: Socket;
  private entry: WaiterEntry | null = null;
  private scheduled = false;
  private bound = false;
  private closed = false;
  private readonly buf = Buffer.allocUnsafe(65536);

  constructor(private readonly opts: DgramOptions) {
    super();
    if (opts.socket) {
      this.handle = opts.socket;
      this.handle.nonblocking = true;
      this.startReceiving();
      return;
    }
    this.handle = openSocket(opts.stack, opts.type === "udp6" ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK);
    if (opts.reuseAddr) this.handle.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    if (opts.ipv6Only && opts.type === "udp6") this.handle.setsockopt(SOL_IPV6, 26, 1);
    if (opts.recvBufferSize) this.setRecvBufferSize(opts.recvBufferSize);
    if (opts.sendBufferSize) this.setSendBufferSize(opts.sendBufferSize);
  }

  private get anyAddress(): string {
    return this.opts.type === "udp6" ? "::" : "0.0.0.0";
  }

  /** bind([port][, address][, cb]) or bind({ port, address }[, cb]). */
  bind(...args: unknown[]): this {
    const rest = [...args];
    const cb = typeof rest[rest.length - 1] === "function" ? (rest.pop() as () => void) : undefined;
    let port = 0;
    let address = this.anyAddress;
    if (typeof rest[0] === "object" && rest[0] !== null) {
      const o = rest[0] as { port?: number; address?: string };
      port = o.port ?? 0;
      address = o.address ?? address;
    } else {
      if (typeof rest[0] === "number") port = rest[0];
      if (typeof rest[1] === "string") address = rest[1];
    }
    if (cb) this.once("listening", cb);
    try {
      this.handle.bind({ address, port });
    } catch (e) {
      process.nextTick(() => this.emit("error", e));
      return this;
    }
    this.startReceiving();
    process.nextTick(() => this.emit("listening"));
    return this;
  }

  private startReceiving(): void {
    this.bound = true;
    if (this.entry) return;
    this.entry = { callback: () => this.schedule() };
    this.handle.wq.register(this.entry, EventIn);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (!this.closed) {
      const r = this.handle.tryRecv([this.buf], 0, true, 0);
      if (r instanceof SocketError) {
        if (r.code === "EAGAIN") return;
        this.emit("error", r);
        continue;
      }
      const a = r.address!;
      const rinfo: RemoteInfo = { address: a.address, family: a.family, port: a.port, size: r.bytes };
      this.emit("message", Buffer.from(this.buf.subarray(0, r.bytes)), rinfo);
    }
  }

  /**
   * send(msg[, offset, length][, port][, address][, cb]). On a connected socket port and address
   * are omitted.
   */
  send(msg: Uint8Array | string | readonly (Uint8Array | string)[], ...args: unknown[]): void {
    const rest = [...args];
    const cb = typeof rest[rest.length - 1] === "function" ? (rest.pop() as SendCallback) : undefined;
    let data: Uint8Array;
    if (Array.isArray(msg)) data = Buffer.concat(msg.map((m) => (typeof m === "string" ? Buffer.from(m) : m)));
    else data = typeof msg === "string" ? Buffer.from(msg) : (msg as Uint8Array);
    if (rest.length >= 2 && typeof rest[0] === "number" && typeof rest[1] === "number" && rest.length !== 2) {
      const off = rest.shift() as number;
      const len = rest.shift() as number;
      data = data.subarray(off, off + len);
    }
    const port = rest[0] as number | undefined;
    const address = (rest[1] as string | undefined) ?? (this.opts.type === "udp6" ? "::1" : "127.0.0.1");
    try {
      if (!this.bound) this.startReceiving();
      const n = port === undefined ? this.handle.send(data) : this.handle.sendto(data, 0, { address, port });
      if (cb) process.nextTick(() => cb(null, n));
    } catch (e) {
      if (cb) process.nextTick(() => cb(e as Error));
      else process.nextTick(() => this.emit("error", e));
    }
  }

  connect(port: number, address?: string | (() => void), cb?: () => void): void {
    if (typeof address === "function") {
      cb = address;
      address = undefined;
    }
    try {
      this.handle.connect({ address: address ?? (this.opts.type === "udp6" ? "::1" : "127.0.0.1"), port });
      this.startReceiving();
      if (cb) this.once("connect", cb);
      process.nextTick(() => this.emit("connect"));
    } catch (e) {
      process.nextTick(() => this.emit("error", e));
    }
  }

  disconnect(): void {
    this.handle.connect(Buffer.alloc(16)); // AF_UNSPEC
  }

  address(): { address: string; family: string; port: number } {
    const a = this.handle.getsockname();
    return { address: a.address, family: a.family, port: a.port };
  }

  remoteAddress(): { address: string; family: string; port: number } {
    const a = this.handle.getpeername();
    return { address: a.address, family: a.family, port: a.port };
  }

  setBroadcast(flag: boolean): void {
    this.handle.setsockopt(SOL_SOCKET, SO_BROADCAST, flag ? 1 : 0);
  }

  setTTL(ttl: number): number {
    if (this.opts.type === "udp6") this.handle.setsockopt(SOL_IPV6, IPV6_UNICAST_HOPS, ttl);
    else this.handle.setsockopt(SOL_IP, IP_TTL, ttl);
    return ttl;
  }

  setRecvBufferSize(n: number): void {
    this.handle.setsockopt(SOL_SOCKET, SO_RCVBUF, n);
  }

  setSendBufferSize(n: number): void {
    this.handle.setsockopt(SOL_SOCKET, SO_SNDBUF, n);
  }

  getRecvBufferSize(): number {
    return this.handle.getsockoptInt(SOL_SOCKET, SO_RCVBUF);
  }

  getSendBufferSize(): number {
    return this.handle.getsockoptInt(SOL_SOCKET, SO_SNDBUF);
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  close(cb?: () => void): this {
    if (this.closed) return this;
    this.closed = true;
    if (this.entry) this.handle.wq.unregister(this.entry);
    this.handle.close();
    if (cb) this.once("close", cb);
    process.nextTick(() => this.emit("close"));
    return this;
  }
}

/** dgram.createSocket with the stack in the options. */
export function createSocket(opts: DgramOptions, onMessage?: (msg: Buffer, rinfo: RemoteInfo) => void): UdpSocket {
  const s = new UdpSocket(opts);
  if (onMessage) s.on("message", onMessage);
  return s;
}
