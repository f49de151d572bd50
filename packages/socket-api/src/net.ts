/**
 * node:net-compatible sockets and servers over the stack: `NetSocket` is a stream.Duplex with
 * net.Socket's surface (connect, setNoDelay, setKeepAlive, setTimeout, address(), the remote and local address fields,
 * bytesRead/bytesWritten, end/destroy/resetAndDestroy, allowHalfOpen, backpressure through
 * write()'s return value and 'drain'), `NetServer` is net.Server's shape (listen, 'connection',
 * close, address(), maxConnections). node:http and node:tls run over them unmodified:
 *
 *   const srv = createServer({ stack }, (s) => httpServer.emit("connection", s));
 *   http.request({ createConnection: () => createConnection({ stack, host, port }) });
 *
 * Data moves by waiting on the endpoint's waiter queue and retrying its non-blocking calls.
 * Notifications arrive synchronously from inside the stack's packet processing, so the stream
 * work they trigger is deferred to a microtask: user callbacks never run inside the stack.
 */
import { Duplex } from "node:stream";
import { EventEmitter } from "node:events";
import {
  Address, Err, EventErr, EventHup, EventIn, EventOut, EventRdHup, isError, ShutdownWrite, type Stack, type Timer,
  type WaiterEntry,
} from "@netstack-ts/netstack";
import { AF_INET, AF_INET6, SOCK_NONBLOCK, SOCK_STREAM } from "./constants.js";
import { SocketError } from "./errors.js";
import { socket as openSocket, type Socket } from "./socket.js";

/** Options for `connect` / `createConnection` / `new NetSocket().connect`. */
export interface NetConnectOptions {
  /** The stack to connect from (required unless the NetSocket was created with one). */
  stack?: Stack;
  port: number;
  /** Dotted-quad or IPv6 text; default "127.0.0.1" (as Node's "localhost"). */
  host?: string;
  localAddress?: string;
  localPort?: number;
  /** 4 or 6; default from `host`. */
  family?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
  allowHalfOpen?: boolean;
  signal?: AbortSignal;
}

export interface NetSocketOptions {
  stack?: Stack;
  allowHalfOpen?: boolean;
  /** Wraps an existing (connected) syscall-layer socket. */
  socket?: Socket;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  signal?: AbortSignal;
}

const READ_CHUNK = 64 * 1024;

/** Node-style error: errno name in `code`, negative errno in `errno` (as libuv reports it), plus `syscall`, `address`, `port`. */
function nodeError(e: SocketError | { code: string; errno: number }, syscall: string, address?: string, port?: number): NodeJS.ErrnoException {
  const err = new Error(`${syscall} ${e.code}${address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ""}` : ""}`) as NodeJS.ErrnoException & { address?: string; port?: number };
  err.code = e.code;
  err.errno = -Math.abs(e.errno);
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

function tcpipError(e: { code: string; errno: number }, syscall: string): NodeJS.ErrnoException {
  return nodeError(e, syscall);
}

/** A node:net-compatible TCP socket over the stack. */
export class NetSocket extends Duplex {
  /** The syscall-layer socket (null before connect creates it). */
  handle: Socket | null = null;
  connecting = false;
  /** Bytes delivered to the reader / accepted by the endpoint. */
  bytesRead = 0;
  private written = 0;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  localFamily: string | undefined;
  private stack: Stack | null;
  private entry: WaiterEntry | null = null;
  private wantRead = false;
  private scheduled = false;
  private pendingWrite: { data: Uint8Array; cb: (err?: Error | null) => void } | null = null;
  private pendingFinal: ((err?: Error | null) => void) | null = null;
  private readBuf: Buffer | null = null;
  private idleMs = 0;
  private idleTimer: Timer | null = null;
  private fallbackTimer: NodeJS.Timeout | null = null;
  private ended = false;
  private pendingNoDelay: boolean | null = null;
  private pendingKeepAlive: [boolean, number] | null = null;

  constructor(opts: NetSocketOptions = {}) {
    super({
      allowHalfOpen: opts.allowHalfOpen ?? false,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
      decodeStrings: true,
      emitClose: true,
      autoDestroy: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    this.stack = opts.stack ?? opts.socket?.stack ?? null;
    if (opts.socket) this.attach(opts.socket);
  }

  // ------------------------------------------------------------------ node:net surface

  get bytesWritten(): number {
    return this.written;
  }

  /** "opening" while connecting, "open", "readOnly", "writeOnly" or "closed" (as net.Socket). */
  get readyState(): string {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable && !this.writable) return "readOnly";
    if (!this.readable && this.writable) return "writeOnly";
    return "closed";
  }

  get pending(): boolean {
    return !this.handle || this.connecting;
  }

  get timeout(): number | undefined {
    return this.idleMs || undefined;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (!this.handle || this.handle.isClosed) return {};
    try {
      const a = this.handle.getsockname();
      return { address: a.address, family: a.family, port: a.port };
    } catch {
      return {};
    }
  }

  /** connect(options[, listener]) or connect(port[, host][, listener]). */
  connect(options: NetConnectOptions | number, host?: string | (() => void), listener?: () => void): this {
    let o: NetConnectOptions;
    if (typeof options === "number") {
      o = { port: options };
      if (typeof host === "string") o.host = host;
      else if (typeof host === "function") listener = host;
    } else {
      o = options;
      if (typeof host === "function") listener = host;
    }
    if (listener) this.once("connect", listener);
    const stack = o.stack ?? this.stack;
    if (!stack) throw new TypeError("NetSocket.connect needs a `stack`");
    this.stack = stack;
    if (o.noDelay) this.setNoDelay(true);
    if (o.keepAlive) this.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    if (o.timeout) this.setTimeout(o.timeout);
    const hostText = o.host ?? "127.0.0.1";
    const addr = Address.parse(hostText);
    const port = o.port;
    if (!addr) {
      const e = nodeError({ code: "ENOTFOUND", errno: 3008 }, "getaddrinfo", hostText);
      process.nextTick(() => this.destroy(e));
      return this;
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port should be >= 0 and < 65536. Received ${port}.`);
    const family = o.family === 6 || addr.isV6 ? AF_INET6 : AF_INET;
    let s: Socket;
    try {
      s = openSocket(stack, family, SOCK_STREAM | SOCK_NONBLOCK);
      if (o.localAddress || o.localPort) s.bind({ address: o.localAddress ?? (family === AF_INET ? "0.0.0.0" : "::"), port: o.localPort ?? 0 });
    } catch (e) {
      process.nextTick(() => this.destroy(nodeError(e as SocketError, "connect", hostText, port)));
      return this;
    }
    this.handle = s;
    this.connecting = true;
    this.applyPendingOptions();
    const r = s.tryConnect({ address: hostText, port });
    if (r === null) {
      process.nextTick(() => this.onConnected());
      return this;
    }
    if (r.code !== "EINPROGRESS") {
      process.nextTick(() => this.destroy(nodeError(r, "connect", hostText, port)));
      return this;
    }
    s.waitConnected(o.signal).then(
      () => this.onConnected(),
      (e: SocketError) => {
        if (!this.destroyed) this.destroy(nodeError(e, "connect", hostText, port));
      },
    );
    return this;
  }

  setNoDelay(noDelay = true): this {
    if (!this.handle) {
      this.pendingNoDelay = noDelay;
      return this;
    }
    this.handle.endpoint.setSockOpt("noDelay", noDelay);
    return this;
  }

  /** setKeepAlive(enable, initialDelay ms): SO_KEEPALIVE and TCP_KEEPIDLE (whole seconds, at least 1). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    if (!this.handle) {
      this.pendingKeepAlive = [enable, initialDelay];
      return this;
    }
    try {
      this.handle.setsockopt(1, 9, enable ? 1 : 0);
      if (enable && initialDelay > 0) this.handle.setsockopt(6, 4, Math.max(1, Math.floor(initialDelay / 1000)));
    } catch {
      // like node: ignore option errors
    }
    return this;
  }

  /** Emits 'timeout' after `ms` of inactivity (0 disables); `cb` is added as a 'timeout' listener. */
  setTimeout(ms: number, cb?: () => void): this {
    this.idleMs = Math.max(0, ms);
    if (cb) {
      if (ms === 0) this.removeListener("timeout", cb);
      else this.once("timeout", cb);
    }
    this.touch();
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** Closes with a RST (SO_LINGER 0) instead of a FIN, then destroys. */
  resetAndDestroy(): this {
    if (this.handle && !this.handle.isClosed) {
      this.handle.endpoint.setSockOpt("linger", { enabled: true, timeout: 0 });
    }
    this.destroy();
    return this;
  }

  // ------------------------------------------------------------------ wiring

  private applyPendingOptions(): void {
    if (this.pendingNoDelay !== null) this.setNoDelay(this.pendingNoDelay);
    if (this.pendingKeepAlive) this.setKeepAlive(...this.pendingKeepAlive);
    this.pendingNoDelay = null;
    this.pendingKeepAlive = null;
  }

  /** Adopts a connected syscall socket (accept path). */
  attach(s: Socket): void {
    this.handle = s;
    this.stack = s.stack;
    s.nonblocking = true;
    this.applyPendingOptions();
    this.fillNames();
    this.register();
  }

  /**
   * Adopts a syscall socket whose handshake is still under way (a connection taken by the TCP
   * forwarder in SYN-RECEIVED): like connect(), 'connect' once it completes, or an error.
   */
  adoptConnecting(s: Socket): void {
    this.handle = s;
    this.stack = s.stack;
    s.nonblocking = true;
    this.connecting = true;
    this.applyPendingOptions();
    this.fillNames();
    s.waitConnected().then(
      () => this.onConnected(),
      (e: SocketError) => {
        if (!this.destroyed) this.destroy(nodeError(e, "connect", this.localAddress, this.localPort));
      },
    );
  }

  private onConnected(): void {
    if (this.destroyed || !this.handle) return;
    this.connecting = false;
    this.fillNames();
    this.register();
    this.touch();
    this.emit("connect");
    this.emit("ready");
    this.schedule();
  }

  private fillNames(): void {
    const h = this.handle!;
    try {
      const l = h.getsockname();
      this.localAddress = l.address;
      this.localPort = l.port;
      this.localFamily = l.family;
    } catch {
      // not bound
    }
    try {
      const r = h.getpeername();
      this.remoteAddress = r.address;
      this.remotePort = r.port;
      this.remoteFamily = r.family;
    } catch {
      // not connected
    }
  }

  private register(): void {
    if (this.entry || !this.handle) return;
    this.entry = { callback: () => this.schedule() };
    this.handle.wq.register(this.entry, EventIn | EventOut | EventErr | EventHup | EventRdHup);
  }

  /** Defers stream work out of the stack's notification. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    if (this.destroyed || !this.handle || this.connecting) return;
    this.flushWrite();
    if (this.wantRead) this.pumpRead();
  };

  private pumpRead(): void {
    const h = this.handle!;
    const ep = h.endpoint;
    while (this.wantRead && !this.ended) {
      this.readBuf ??= Buffer.allocUnsafe(READ_CHUNK);
      const r = ep.read(this.readBuf);
      if (isError(r)) {
        if (r === Err.WouldBlock) return;
        if (r === Err.ClosedForReceive) {
          this.ended = true;
          this.push(null);
          return;
        }
        this.destroy(tcpipError(r, "read"));
        return;
      }
      if (r.count === 0) {
        // Linux semantics: a 0-byte read of a stream is end of file.
        this.ended = true;
        this.push(null);
        return;
      }
      const chunk = Buffer.from(this.readBuf.subarray(0, r.count));
      this.bytesRead += r.count;
      this.touch();
      this.wantRead = this.push(chunk);
    }
  }

  override _read(_size: number): void {
    this.wantRead = true;
    if (this.handle && !this.connecting) this.schedule();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pendingWrite = { data: chunk, cb };
    if (this.handle && !this.connecting) this.flushWrite();
  }

  private flushWrite(): void {
    const w = this.pendingWrite;
    if (w) {
      const ep = this.handle!.endpoint;
      while (w.data.length > 0) {
        const n = ep.write(w.data);
        if (isError(n)) {
          if (n === Err.WouldBlock) return;
          this.pendingWrite = null;
          const code = n === Err.ClosedForSend || n === Err.NotConnected ? { code: "EPIPE", errno: 32 } : n;
          w.cb(tcpipError(code, "write"));
          return;
        }
        if (n === 0) return;
        this.written += n;
        w.data = w.data.subarray(n);
        this.touch();
      }
      this.pendingWrite = null;
      w.cb();
    }
    if (!this.pendingWrite && this.pendingFinal) {
      const cb = this.pendingFinal;
      this.pendingFinal = null;
      const err = this.handle!.endpoint.shutdown(ShutdownWrite);
      cb(err && err !== Err.NotConnected ? tcpipError(err, "shutdown") : null);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.pendingFinal = cb;
    if (this.handle && !this.connecting) this.flushWrite();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdle();
    if (this.handle) {
      if (this.entry) this.handle.wq.unregister(this.entry);
      this.entry = null;
      this.handle.close();
    }
    this.connecting = false;
    const w = this.pendingWrite;
    this.pendingWrite = null;
    if (w) w.cb(err ?? nodeError({ code: "EPIPE", errno: 32 }, "write"));
    cb(err);
  }

  // ------------------------------------------------------------------ idle timeout

  private touch(): void {
    if (this.idleMs <= 0 || this.destroyed) {
      this.clearIdle();
      return;
    }
    if (this.stack) {
      this.idleTimer ??= this.stack.clock.createTimer(() => this.emit("timeout"));
      this.idleTimer.schedule(this.idleMs);
    } else {
      if (this.fallbackTimer) clearTimeout(this.fallbackTimer);
      this.fallbackTimer = setTimeout(() => this.emit("timeout"), this.idleMs);
    }
  }

  private clearIdle(): void {
    this.idleTimer?.cancel();
    if (this.fallbackTimer) clearTimeout(this.fallbackTimer);
    this.fallbackTimer = null;
  }
}

export interface NetServerOptions {
  stack: Stack;
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

export interface NetListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
  signal?: AbortSignal;
}

/** A node:net-compatible TCP server on the stack. */
export class NetServer extends EventEmitter {
  readonly stack: Stack;
  /** Connections over this are closed at once (node:net's maxConnections). */
  maxConnections = Infinity;
  listening = false;
  private handle: Socket | null = null;
  private entry: WaiterEntry | null = null;
  private scheduled = false;
  private readonly conns = new Set<NetSocket>();
  private closing = false;
  private readonly opts: NetServerOptions;

  constructor(opts: NetServerOptions, connectionListener?: (s: NetSocket) => void) {
    super();
    this.stack = opts.stack;
    this.opts = opts;
    if (connectionListener) this.on("connection", connectionListener);
  }

  /** listen(port[, host][, backlog][, cb]) or listen({ port, host, backlog }[, cb]). */
  listen(...args: unknown[]): this {
    let o: NetListenOptions = {};
    let cb: (() => void) | undefined;
    const rest = [...args];
    if (typeof rest[rest.length - 1] === "function") cb = rest.pop() as () => void;
    if (typeof rest[0] === "object" && rest[0] !== null) o = rest[0] as NetListenOptions;
    else {
      if (typeof rest[0] === "number") o.port = rest[0];
      if (typeof rest[1] === "string") o.host = rest[1];
      if (typeof rest[1] === "number") o.backlog = rest[1];
      if (typeof rest[2] === "number") o.backlog = rest[2];
    }
    if (cb) this.once("listening", cb);
    const host = o.host ?? "0.0.0.0";
    const v6 = host.includes(":");
    try {
      const s = openSocket(this.stack, v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
      if (v6 && o.ipv6Only) s.setsockopt(41, 26, 1);
      s.setsockopt(1, 2, 1); // SO_REUSEADDR, as libuv sets on listening sockets
      s.bind({ address: host, port: o.port ?? 0 });
      s.listen(o.backlog ?? 511);
      this.handle = s;
    } catch (e) {
      process.nextTick(() => this.emit("error", nodeError(e as SocketError, "listen", host, o.port ?? 0)));
      return this;
    }
    this.listening = true;
    this.entry = { callback: () => this.schedule() };
    this.handle.wq.register(this.entry, EventIn);
    o.signal?.addEventListener("abort", () => this.close(), { once: true });
    process.nextTick(() => {
      this.emit("listening");
      this.schedule();
    });
    return this;
  }

  address(): { address: string; family: string; port: number } | null {
    if (!this.handle || this.handle.isClosed) return null;
    const a = this.handle.getsockname();
    return { address: a.address, family: a.family, port: a.port };
  }

  /** Stops accepting; 'close' follows once every connection has ended. */
  close(cb?: (err?: Error) => void): this {
    if (cb) {
      if (!this.listening) process.nextTick(() => cb(nodeError({ code: "ERR_SERVER_NOT_RUNNING", errno: 0 }, "close")));
      else this.once("close", () => cb());
    }
    if (!this.listening) return this;
    this.listening = false;
    this.closing = true;
    if (this.handle) {
      if (this.entry) this.handle.wq.unregister(this.entry);
      this.handle.close();
    }
    this.entry = null;
    this.maybeClosed();
    return this;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(() => cb(null, this.conns.size));
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  private maybeClosed(): void {
    if (this.closing && this.conns.size === 0) {
      this.closing = false;
      process.nextTick(() => this.emit("close"));
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.acceptAll();
    });
  }

  private acceptAll(): void {
    const h = this.handle;
    if (!h || !this.listening) return;
    for (;;) {
      const r = h.tryAccept(SOCK_NONBLOCK);
      if (r instanceof SocketError) {
        if (r.code !== "EAGAIN") this.emit("error", nodeError(r, "accept"));
        return;
      }
      if (this.conns.size >= this.maxConnections) {
        const local = r.getsockname();
        r.close();
        this.emit("drop", { localAddress: local.address, localPort: local.port });
        continue;
      }
      const sock = new NetSocket({ allowHalfOpen: this.opts.allowHalfOpen ?? false });
      sock.attach(r);
      if (this.opts.noDelay) sock.setNoDelay(true);
      if (this.opts.keepAlive) sock.setKeepAlive(true, this.opts.keepAliveInitialDelay ?? 0);
      this.conns.add(sock);
      sock.once("close", () => {
        this.conns.delete(sock);
        this.maybeClosed();
      });
      if (this.opts.pauseOnConnect) sock.pause();
      this.emit("connection", sock);
    }
  }
}

/** net.createServer([options], [connectionListener]) with the stack in the options. */
export function createServer(opts: NetServerOptions, connectionListener?: (s: NetSocket) => void): NetServer {
  return new NetServer(opts, connectionListener);
}

/** net.connect / net.createConnection with the stack in the options. */
export function connect(opts: NetConnectOptions & { stack: Stack }, listener?: () => void): NetSocket {
  const s = new NetSocket({ stack: opts.stack, allowHalfOpen: opts.allowHalfOpen ?? false });
  s.connect(opts, listener);
  return s;
}

export const createConnection = connect;

/**
 * A node:net look-alike bound to one stack, so code written against node:net can take it as a
 * drop-in: `const net = netFor(stack); net.createServer(...); net.connect(port, host)`.
 */
export function netFor(stack: Stack) {
  const connectTo = (port: number | NetConnectOptions, host?: string | (() => void), listener?: () => void) => {
    const s = new NetSocket({ stack, allowHalfOpen: typeof port === "object" ? port.allowHalfOpen ?? false : false });
    return s.connect(typeof port === "object" ? { ...port, stack } : port, host, listener);
  };
  return {
    createServer: (optsOrListener?: Partial<NetServerOptions> | ((s: NetSocket) => void), listener?: (s: NetSocket) => void) =>
      typeof optsOrListener === "function"
        ? new NetServer({ stack }, optsOrListener)
        : new NetServer({ ...optsOrListener, stack }, listener),
    connect: connectTo,
    createConnection: connectTo,
    Socket: class extends NetSocket {
      constructor(opts: NetSocketOptions = {}) {
        super({ ...opts, stack });
      }
    },
    Server: NetServer,
  };
}
