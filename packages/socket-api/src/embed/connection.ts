/**
 * Modern async faces of the same sockets node:net users get:
 *
 * - `Connection`: a TCP connection with WHATWG `readable` / `writable` streams. It wraps a
 *   `NetSocket` (the node:net path) and adapts its stream events, so both faces share one
 *   endpoint adapter (waiter registration, read pump, write flushing, backpressure) instead of
 *   a copy. (Not `Duplex.toWeb`: its writable counts chunks, not bytes, against the byte
 *   high-water mark, so `desiredSize` hardly ever reaches 0.) `read({ signal })` and `for await (const chunk of conn)` read it too.
 * - `Listener`: a listening socket that is an async iterable of Connections, with
 *   `accept({ signal })`.
 * - `DatagramSocket`: a UDP socket that is an async iterable of datagrams, with
 *   `receive({ signal })` and `send()`.
 *
 * Every one is disposable (`using` / `await using`) and publishes its lifecycle on
 * diagnostics_channel (observe.ts).
 */
import "./dispose.js";
import { ByteLengthQueuingStrategy, ReadableStream, WritableStream, type ReadableStreamDefaultReader } from "node:stream/web";
import type { Stack } from "@netstack-ts/netstack";
import { NetServer, NetSocket } from "../net.js";
import { UdpSocket, type RemoteInfo } from "../dgram.js";
import { abortError, raceAbort } from "./dispose.js";
import { debug, publishConnection, type ConnectionEvent } from "./observe.js";

/** Options of operations that wait. */
export interface WaitOptions {
  /** Aborting rejects the wait with an AbortError (name "AbortError", code "ABORT_ERR"). */
  signal?: AbortSignal;
}

/** Ties a NetSocket's lifecycle to the diagnostics channels (open now or at 'connect', close/reset at 'close'). */
export function observeSocket(stackName: string, s: NetSocket, direction: "inbound" | "outbound"): void {
  let error: Error | undefined;
  let opened = false;
  let reset = false;
  const event = (): ConnectionEvent => ({
    stack: stackName, protocol: "tcp", direction, localAddress: s.localAddress, localPort: s.localPort,
    remoteAddress: s.remoteAddress, remotePort: s.remotePort,
  });
  const open = () => {
    opened = true;
    publishConnection("open", event());
  };
  if (s.connecting || !s.handle) s.once("connect", open);
  else open();
  s.on("error", (e: Error) => {
    error = e;
    if ((e as NodeJS.ErrnoException).code === "ECONNRESET") reset = true;
  });
  const origReset = s.resetAndDestroy.bind(s);
  s.resetAndDestroy = () => {
    reset = true;
    return origReset();
  };
  s.once("close", () => {
    if (!opened) return;
    const ev: ConnectionEvent = { ...event(), bytesRead: s.bytesRead, bytesWritten: s.bytesWritten };
    if (error) ev.error = error;
    publishConnection(reset ? "reset" : "close", ev);
  });
}

/** EPIPE as node:net reports it, for writes to a socket that is gone. */
function epipe(): NodeJS.ErrnoException {
  const e = new Error("write EPIPE") as NodeJS.ErrnoException;
  e.code = "EPIPE";
  e.errno = -32;
  e.syscall = "write";
  return e;
}

/**
 * The NetSocket's receive side as a ReadableStream with a byte-counting queue: data events fill
 * it, the socket is paused when it is full and resumed on `pull` (backpressure down to the TCP
 * receive window). Ends at the peer's FIN; errors with the socket's error.
 */
function webReadable(s: NetSocket, highWaterMark: number): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>({
    start(c) {
      s.pause();
      s.on("data", (d: Buffer) => {
        if (finished) return;
        c.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        if ((c.desiredSize ?? 0) <= 0) s.pause();
      });
      s.once("end", () => {
        if (finished) return;
        finished = true;
        c.close();
      });
      s.once("error", (e: Error) => {
        if (finished) return;
        finished = true;
        c.error(e);
      });
      s.once("close", () => {
        if (finished) return;
        finished = true;
        c.error(abortError());
      });
    },
    pull() {
      s.resume();
    },
    cancel() {
      finished = true;
      s.destroy();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark }));
}

/**
 * The NetSocket's send side as a WritableStream with a byte-counting queue: each chunk is handed
 * to `socket.write` and the sink waits for 'drain' when the socket says so, so `writer.ready`
 * and `desiredSize` follow the endpoint's send buffer. `close()` sends FIN; `abort()` destroys.
 */
function webWritable(s: NetSocket, highWaterMark: number): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise<void>((resolve, reject) => {
        if (s.destroyed || s.writableEnded) return reject(epipe());
        let done = false;
        const finish = (e?: Error | null) => {
          if (done) return;
          done = true;
          s.off("drain", onDrain);
          s.off("close", onClose);
          if (e) reject(e);
          else resolve();
        };
        const onDrain = () => finish();
        const onClose = () => finish(s.errored ?? epipe());
        const ok = s.write(chunk, (err) => {
          if (err) finish(err);
        });
        if (ok) finish();
        else {
          s.once("drain", onDrain);
          s.once("close", onClose);
        }
      });
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        if (s.destroyed) return reject(epipe());
        s.end(() => resolve());
      });
    },
    abort() {
      s.destroy();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark }));
}

/**
 * A TCP connection with Web Streams. `readable` yields Uint8Array chunks and ends at the peer's
 * FIN; `writable` takes Uint8Array chunks, applies backpressure through its `ready` promise and
 * sends FIN on `close()`. The node:net face is `socket`.
 */
export class Connection implements AsyncIterable<Uint8Array> {
  /** The node:net-compatible socket both faces share. */
  readonly socket: NetSocket;
  private web: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } | null = null;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private pendingRead: ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> | null = null;

  /**
   * Wraps a connected (or connecting) NetSocket. `highWaterMark`: bytes each Web stream queues
   * before it signals backpressure (default 64 KiB).
   */
  constructor(socket: NetSocket, private readonly highWaterMark = 64 * 1024) {
    this.socket = socket;
  }

  private streams(): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } {
    this.web ??= { readable: webReadable(this.socket, this.highWaterMark), writable: webWritable(this.socket, this.highWaterMark) };
    return this.web;
  }

  /** The receive side as a WHATWG ReadableStream of bytes (created on first use). */
  get readable(): ReadableStream<Uint8Array> {
    return this.streams().readable;
  }

  /** The send side as a WHATWG WritableStream (created on first use). */
  get writable(): WritableStream<Uint8Array> {
    return this.streams().writable;
  }

  /** The peer's address and port. */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  /** The local address. */
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  /** The local port. */
  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /**
   * The next chunk, or null at end of stream. An aborted read rejects with an AbortError and
   * loses nothing: the chunk it was waiting for is returned by the next read.
   */
  async read(opts: WaitOptions = {}): Promise<Uint8Array | null> {
    this.reader ??= this.readable.getReader();
    this.pendingRead ??= this.reader.read();
    const r = await raceAbort(this.pendingRead, opts.signal);
    this.pendingRead = null;
    return r.done ? null : r.value;
  }

  /** Writes `data` (resolves once the endpoint took it, i.e. with backpressure). */
  write(data: Uint8Array | string, opts: WaitOptions = {}): Promise<void> {
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
    const p = new Promise<void>((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
    return raceAbort(p, opts.signal);
  }

  /** Sends FIN after everything written so far (half-close). */
  end(): Promise<void> {
    return new Promise((resolve) => this.socket.end(() => resolve()));
  }

  /** Aborts the connection with a RST. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  /** Closes the connection (FIN if still open) and resolves when the socket has closed. */
  close(): Promise<void> {
    const s = this.socket;
    if (s.destroyed && s.closed) return Promise.resolve();
    return new Promise((resolve) => {
      s.once("close", () => resolve());
      if (s.writable && !s.writableEnded) s.end();
      s.destroy();
    });
  }

  /** Iterates the received chunks until end of stream. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const c = await this.read();
      if (c === null) return;
      yield c;
    }
  }

  /** `await using conn = ...` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** `using conn = ...` destroys it at once. */
  [Symbol.dispose](): void {
    this.socket.destroy();
  }
}

/** Options of `NetStack.listen`. */
export interface ListenOptions extends WaitOptions {
  port?: number;
  /** Address to listen on; default "0.0.0.0" ("::" listens on both families). */
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
  allowHalfOpen?: boolean;
  /** Connections accepted but not yet taken by `accept()` / the iterator (default 128; more are reset). */
  queueLimit?: number;
}

/**
 * A listening TCP socket: `for await (const conn of listener)` or `await listener.accept()`.
 * Closing (or aborting the listen signal) ends the iteration; queued connections are reset.
 */
export class Listener implements AsyncIterable<Connection> {
  /** The node:net-compatible server underneath. */
  readonly server: NetServer;
  private readonly queue: Connection[] = [];
  private readonly waiters: { resolve: (c: Connection | null) => void }[] = [];
  private closed = false;
  private closedPromise: Promise<void> | null = null;

  /** @internal Created by `NetStack.listen`. */
  constructor(server: NetServer, private readonly queueLimit: number) {
    this.server = server;
    server.on("connection", (s: NetSocket) => {
      const c = new Connection(s);
      const w = this.waiters.shift();
      if (w) w.resolve(c);
      else if (this.queue.length < this.queueLimit) this.queue.push(c);
      else {
        debug("listen queue full: resetting %s:%s", s.remoteAddress, s.remotePort);
        s.resetAndDestroy();
      }
    });
    server.on("error", () => this.close());
  }

  /** The bound address (port 0 asked for an ephemeral port: this says which). */
  address(): { address: string; family: string; port: number } {
    const a = this.server.address();
    if (!a) throw new Error("the listener is closed");
    return a;
  }

  /** The local port. */
  get port(): number {
    return this.address().port;
  }

  /**
   * The next connection, or null once the listener is closed. Rejects with an AbortError if
   * `signal` aborts first (the connection is then kept for the next accept).
   */
  accept(opts: WaitOptions = {}): Promise<Connection | null> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closed) return Promise.resolve(null);
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (c: Connection | null) => {
          opts.signal?.removeEventListener("abort", onAbort);
          resolve(c);
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortError(opts.signal));
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  /** Yields connections until the listener closes. */
  async *[Symbol.asyncIterator](): AsyncIterator<Connection> {
    for (;;) {
      const c = await this.accept();
      if (c === null) return;
      yield c;
    }
  }

  /** Stops listening; pending accepts resolve null, queued connections are reset. Resolves when closed. */
  close(): Promise<void> {
    if (this.closedPromise) return this.closedPromise;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.resolve(null);
    for (const c of this.queue.splice(0)) c.reset();
    this.closedPromise = new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      // NetServer's 'close' waits for every accepted connection; the listener itself is closed at once.
      this.server.close();
      resolve();
    });
    return this.closedPromise;
  }

  /** `await using listener = ...` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** `using listener = ...` closes it. */
  [Symbol.dispose](): void {
    void this.close();
  }
}

/** One received UDP datagram. */
export interface Datagram {
  data: Uint8Array;
  address: string;
  port: number;
  family: "IPv4" | "IPv6";
}

/** Options of `NetStack.bindUdp`. */
export interface UdpBindOptions {
  /** "udp4" (default) or "udp6". */
  type?: "udp4" | "udp6";
  port?: number;
  address?: string;
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  /** Datagrams held for a slow reader (default 1024); more are dropped and counted in `overflowDrops`. */
  queueLimit?: number;
}

/** A UDP socket as an async iterable of datagrams, over the dgram-style `UdpSocket`. */
export class DatagramSocket implements AsyncIterable<Datagram> {
  /** The dgram-style socket underneath. */
  readonly socket: UdpSocket;
  /** Datagrams dropped because the reader was `queueLimit` behind. */
  overflowDrops = 0;
  private readonly queue: Datagram[] = [];
  private readonly waiters: { resolve: (d: Datagram | null) => void }[] = [];
  private closed = false;

  /** @internal Created by `NetStack.bindUdp`. */
  constructor(socket: UdpSocket, private readonly queueLimit: number) {
    this.socket = socket;
    socket.on("message", (msg: Buffer, r: RemoteInfo) => {
      const d: Datagram = { data: msg, address: r.address, port: r.port, family: r.family };
      const w = this.waiters.shift();
      if (w) w.resolve(d);
      else if (this.queue.length < this.queueLimit) this.queue.push(d);
      else this.overflowDrops++;
    });
  }

  /** The bound address. */
  address(): { address: string; family: string; port: number } {
    return this.socket.address();
  }

  /** The next datagram, or null once closed. Rejects with an AbortError if `signal` aborts first. */
  receive(opts: WaitOptions = {}): Promise<Datagram | null> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closed) return Promise.resolve(null);
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (d: Datagram | null) => {
          opts.signal?.removeEventListener("abort", onAbort);
          resolve(d);
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortError(opts.signal));
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  /** Sends one datagram to `port`/`address` (or to the connected peer when both are omitted). */
  send(data: Uint8Array | string, port?: number, address?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const cb = (err: Error | null, n?: number) => (err ? reject(err) : resolve(n ?? 0));
      if (port === undefined) this.socket.send(data, cb);
      else this.socket.send(data, port, address, cb);
    });
  }

  /** Yields datagrams until the socket closes. */
  async *[Symbol.asyncIterator](): AsyncIterator<Datagram> {
    for (;;) {
      const d = await this.receive();
      if (d === null) return;
      yield d;
    }
  }

  /** Closes the socket; pending receives resolve null. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.resolve(null);
    this.socket.close();
  }

  /** `using sock = ...` closes it. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `await using sock = ...` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/** Re-exported for `Connection` users that only import from here. */
export type { Stack };
