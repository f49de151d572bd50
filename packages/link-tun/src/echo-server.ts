/**
 * The echo server behind `netstack echo`: TCP and UDP on one port of a stack, in one of three
 * modes (the wire contract in ARCHITECTURE.md, "The echo server's wire contract"):
 *
 * - echo: every byte is written back; after the client's FIN the server finishes writing, then
 *   closes. UDP datagrams are sent back to their sender.
 * - sink: bytes are read and counted; after the client's FIN the server writes the count as
 *   ASCII decimal plus "\n", then closes. UDP datagrams are counted.
 * - discard: bytes are read and dropped; after the client's FIN the server closes.
 *
 * Everything is driven by the endpoints' waiter queues: no polling, no timers. ICMP echo and the
 * RST / port unreachable for closed ports come from the stack itself.
 */
import {
  Err, EventErr, EventHup, EventIn, EventOut, IPV4_PROTOCOL, IPV6_PROTOCOL, ShutdownWrite, TCP_PROTOCOL,
  UDP_PROTOCOL, WaiterQueue, isError, type Endpoint, type Stack, type WaiterEntry,
} from "@netstack-ts/netstack";

export type EchoMode = "echo" | "sink" | "discard";

export interface EchoServerOptions {
  stack: Stack;
  port: number;
  mode: EchoMode;
  /** Network protocols to listen on (default: IPv4, plus IPv6 when the stack has it). */
  netProtos?: number[];
  /** Serve TCP (default: when the stack has the TCP protocol). */
  tcp?: boolean;
  /** Serve UDP (default: true). */
  udp?: boolean;
  /** TCP listen backlog (default 1024). */
  backlog?: number;
}

export interface EchoServerStats {
  tcpAccepted: number;
  tcpOpen: number;
  tcpBytesIn: number;
  tcpBytesOut: number;
  /** Connections that ended in an error (reset, timeout) rather than a FIN. */
  tcpErrors: number;
  udpDatagramsIn: number;
  udpDatagramsOut: number;
  udpBytesIn: number;
}

const READ_CHUNK = 64 * 1024;
const UDP_MAX = 65536;
const ENC = new TextEncoder();

/** One accepted TCP connection. */
class Connection implements WaiterEntry {
  private readonly buf = new Uint8Array(READ_CHUNK);
  /** Bytes read but not yet accepted by `write` (echo) or the sink's reply. */
  private pending: Uint8Array | null = null;
  private eof = false;
  private replied = false;
  private done = false;
  private pumping = false;
  private again = false;
  private count = 0;
  /** The mask registered with the waiter queue (re-registered only when it changes). */
  private mask = 0;

  constructor(
    private readonly server: EchoServer,
    readonly ep: Endpoint,
    private readonly wq: WaiterQueue,
  ) {}

  start(): void {
    this.want(EventIn);
    this.pump();
  }

  callback(): void {
    this.pump();
  }

  /** Moves bytes until the endpoint would block; re-entrant calls are folded into one loop. */
  private pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.step();
      } while (this.again && !this.done);
    } finally {
      this.pumping = false;
    }
  }

  private step(): void {
    const mode = this.server.mode;
    const st = this.server.counters;
    for (;;) {
      if (this.done) return;
      if (this.pending !== null) {
        const w = this.ep.write(this.pending);
        if (isError(w)) {
          if (w === Err.WouldBlock) return this.want(EventOut);
          return this.finish(true);
        }
        st.tcpBytesOut += w;
        if (w < this.pending.length) {
          this.pending = this.pending.subarray(w);
          return this.want(EventOut);
        }
        this.pending = null;
        this.want(EventIn);
      }
      if (this.eof) {
        if (mode === "sink" && !this.replied) {
          this.replied = true;
          this.pending = ENC.encode(`${this.count}\n`);
          continue;
        }
        // The client's FIN arrived and everything owed is written: our FIN follows the data.
        this.ep.shutdown(ShutdownWrite);
        return this.finish(false);
      }
      const r = this.ep.read(this.buf);
      if (isError(r)) {
        if (r === Err.WouldBlock) return;
        if (r === Err.ClosedForReceive) {
          this.eof = true;
          continue;
        }
        return this.finish(true);
      }
      if (r.count === 0) continue;
      this.count += r.count;
      st.tcpBytesIn += r.count;
      // `write` copies into the send buffer, and no read happens while `pending` is set, so a
      // view of the read buffer is enough.
      if (mode === "echo") this.pending = this.buf.subarray(0, r.count);
    }
  }

  private want(mask: number): void {
    const m = mask | EventErr | EventHup;
    // Every echoed request ends here: the common case (still waiting for input) costs no Map update.
    if (m === this.mask) return;
    this.mask = m;
    this.wq.register(this, m);
  }

  /** Releases the endpoint; TCP finishes the close (FIN-WAIT, TIME-WAIT) in the stack. */
  finish(error: boolean): void {
    if (this.done) return;
    this.done = true;
    if (error) this.server.counters.tcpErrors++;
    this.wq.unregister(this);
    this.ep.close();
    this.server.forget(this);
  }
}

export class EchoServer {
  readonly mode: EchoMode;
  readonly port: number;
  /** Live counters (read them through `stats()` for a snapshot). */
  readonly counters: EchoServerStats = {
    tcpAccepted: 0, tcpOpen: 0, tcpBytesIn: 0, tcpBytesOut: 0, tcpErrors: 0,
    udpDatagramsIn: 0, udpDatagramsOut: 0, udpBytesIn: 0,
  };
  private readonly stack: Stack;
  private readonly listeners: { ep: Endpoint; wq: WaiterQueue; entry: WaiterEntry }[] = [];
  private readonly udps: { ep: Endpoint; wq: WaiterQueue; entry: WaiterEntry }[] = [];
  private readonly conns = new Set<Connection>();
  private readonly udpBuf = new Uint8Array(UDP_MAX);
  private closed = false;

  constructor(private readonly opts: EchoServerOptions) {
    this.stack = opts.stack;
    this.mode = opts.mode;
    this.port = opts.port;
  }

  /** Binds and listens; throws an Error naming the endpoint error if the port cannot be had. */
  start(): this {
    const protos = this.opts.netProtos ??
      [IPV4_PROTOCOL, ...(this.stack.networkProtocol(IPV6_PROTOCOL) ? [IPV6_PROTOCOL] : [])];
    const tcp = this.opts.tcp ?? this.stack.transportProtocol(TCP_PROTOCOL) !== undefined;
    const udp = this.opts.udp ?? true;
    try {
      for (const np of protos) {
        if (tcp) this.listenTcp(np);
        if (udp) this.bindUdp(np);
      }
    } catch (err) {
      this.close();
      throw err;
    }
    return this;
  }

  get tcpEnabled(): boolean {
    return this.listeners.length > 0;
  }

  stats(): EchoServerStats {
    return { ...this.counters, tcpOpen: this.conns.size };
  }

  /** Closes every connection and the listening endpoints. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.conns]) c.finish(false);
    for (const l of [...this.listeners, ...this.udps]) {
      l.wq.unregister(l.entry);
      l.ep.close();
    }
    this.listeners.length = 0;
    this.udps.length = 0;
  }

  /** @internal a connection finished. */
  forget(c: Connection): void {
    this.conns.delete(c);
  }

  private open(transProto: number, netProto: number): [Endpoint, WaiterQueue] {
    const wq = new WaiterQueue();
    const ep = this.stack.newEndpoint(transProto, netProto, wq);
    if (isError(ep)) throw new Error(`cannot create endpoint: ${ep.message}`);
    if (netProto === IPV6_PROTOCOL) ep.setSockOpt("v6Only", true);
    return [ep, wq];
  }

  private listenTcp(netProto: number): void {
    const [ep, wq] = this.open(TCP_PROTOCOL, netProto);
    ep.setSockOpt("reuseAddress", true);
    const bind = ep.bind({ port: this.port });
    if (bind) throw new Error(`cannot bind TCP port ${this.port}: ${bind.message}`);
    const listen = ep.listen(this.opts.backlog ?? 1024);
    if (listen) throw new Error(`cannot listen on TCP port ${this.port}: ${listen.message}`);
    const entry: WaiterEntry = {
      callback: () => {
        for (;;) {
          const a = ep.accept();
          if (isError(a)) return;
          this.counters.tcpAccepted++;
          const c = new Connection(this, a.endpoint, a.waiterQueue);
          this.conns.add(c);
          c.start();
        }
      },
    };
    wq.register(entry, EventIn);
    this.listeners.push({ ep, wq, entry });
    entry.callback(EventIn);
  }

  private bindUdp(netProto: number): void {
    const [ep, wq] = this.open(UDP_PROTOCOL, netProto);
    const bind = ep.bind({ port: this.port });
    if (bind) throw new Error(`cannot bind UDP port ${this.port}: ${bind.message}`);
    const buf = this.udpBuf;
    const st = this.counters;
    const echo = this.mode === "echo";
    const entry: WaiterEntry = {
      callback: () => {
        for (;;) {
          const r = ep.read(buf, { needRemoteAddr: echo });
          if (isError(r)) return;
          st.udpDatagramsIn++;
          st.udpBytesIn += r.count;
          if (echo && r.from) {
            const w = ep.write(buf.subarray(0, r.count), { to: r.from });
            if (!isError(w)) st.udpDatagramsOut++;
          }
        }
      },
    };
    wq.register(entry, EventIn);
    this.udps.push({ ep, wq, entry });
  }
}
