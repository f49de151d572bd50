/**
 * A Demikernel-style queue-token interface over the same sockets (a small library OS): sockets
 * are queue descriptors; accept, connect, push (scatter-gather send) and pop (receive) start an
 * operation and return a queue token at once; `wait(token, timeout)` / `waitAny(tokens, timeout)`
 * return its completion — the accepted queue, bytes pushed, data popped, or an errno.
 *
 * Operations on one queue complete in the order they were started (pushes after pushes, pops
 * after pops), as Demikernel's queues do. Timeouts run on the stack's clock.
 */
import type { Stack, Timer } from "@netstack-ts/netstack";
import { SOCK_NONBLOCK } from "./constants.js";
import { SocketError } from "./errors.js";
import { abortError } from "./embed/dispose.js";
import type { SockAddrInfo, SockAddrInput } from "./sockaddr.js";
import { socket as openSocket, type Socket } from "./socket.js";

/** A queue descriptor (a socket). */
export type QDesc = number;
/** A queue token (one pending operation). */
export type QToken = number;

export type QOpcode = "accept" | "connect" | "push" | "pop";

/** The completion of an operation. Exactly one of the value fields is set, or `error`. */
export interface QResult {
  qt: QToken;
  qd: QDesc;
  opcode: QOpcode;
  /** accept: the new queue and its peer. */
  accepted?: { qd: QDesc; addr: SockAddrInfo };
  /** push: bytes sent. */
  bytes?: number;
  /** pop: the data (length 0 at end of stream) and, for datagrams, the sender. */
  data?: Buffer;
  from?: SockAddrInfo;
  /** The errno the operation failed with. */
  error?: SocketError;
}

interface Pending {
  qd: QDesc;
  opcode: QOpcode;
  done: Promise<QResult>;
  result: QResult | null;
}

export class LibOS {
  private readonly queues = new Map<QDesc, Socket>();
  private readonly pending = new Map<QToken, Pending>();
  private readonly pushChains = new Map<QDesc, Promise<unknown>>();
  private readonly popChains = new Map<QDesc, Promise<unknown>>();
  private nextQd = 3;
  private nextQt = 1;

  constructor(readonly stack: Stack) {}

  private sock(qd: QDesc, syscall: string): Socket {
    const s = this.queues.get(qd);
    if (!s) throw new SocketError("EBADF", syscall);
    return s;
  }

  private add(s: Socket): QDesc {
    s.nonblocking = false;
    const qd = this.nextQd++;
    this.queues.set(qd, s);
    return qd;
  }

  /** The syscall-layer socket behind a queue (for options and ioctl). */
  socketOf(qd: QDesc): Socket {
    return this.sock(qd, "socketOf");
  }

  socket(domain: number, type: number, protocol = 0): QDesc {
    return this.add(openSocket(this.stack, domain, type & ~SOCK_NONBLOCK, protocol));
  }

  bind(qd: QDesc, addr: SockAddrInput): void {
    this.sock(qd, "bind").bind(addr);
  }

  listen(qd: QDesc, backlog = 128): void {
    this.sock(qd, "listen").listen(backlog);
  }

  /** Closes the queue; its pending operations complete with an error. */
  close(qd: QDesc): void {
    this.sock(qd, "close").close();
    this.queues.delete(qd);
    this.pushChains.delete(qd);
    this.popChains.delete(qd);
  }

  accept(qd: QDesc): QToken {
    const s = this.sock(qd, "accept");
    return this.start(qd, "accept", null, async (r) => {
      const c = await s.acceptAsync();
      r.accepted = { qd: this.add(c), addr: c.getpeername() };
    });
  }

  connect(qd: QDesc, addr: SockAddrInput): QToken {
    const s = this.sock(qd, "connect");
    return this.start(qd, "connect", null, async () => {
      await s.connectAsync(addr);
    });
  }

  /** Sends the scatter-gather list as one unit (a stream gets every byte; a datagram socket one datagram). */
  push(qd: QDesc, sga: Uint8Array | readonly Uint8Array[]): QToken {
    return this.pushto(qd, sga, undefined);
  }

  /** push to an address (unconnected datagram sockets). */
  pushto(qd: QDesc, sga: Uint8Array | readonly Uint8Array[], to: SockAddrInput | undefined): QToken {
    const s = this.sock(qd, "push");
    const bufs = sga instanceof Uint8Array ? [sga] : [...sga];
    return this.start(qd, "push", this.pushChains, async (r) => {
      r.bytes = await s.sendmsgAsync(bufs, 0, to);
    });
  }

  /** Receives up to `size` bytes (one datagram on datagram sockets). */
  pop(qd: QDesc, size = 65536): QToken {
    const s = this.sock(qd, "pop");
    return this.start(qd, "pop", this.popChains, async (r) => {
      const buf = Buffer.allocUnsafe(size);
      const got = await s.recvmsgAsync([buf], 0, 0);
      r.data = Buffer.from(buf.subarray(0, Math.min(got.bytes, size)));
      if (got.address) r.from = got.address;
    });
  }

  private start(qd: QDesc, opcode: QOpcode, chains: Map<QDesc, Promise<unknown>> | null,
    body: (r: QResult) => Promise<void>): QToken {
    const qt = this.nextQt++;
    const result: QResult = { qt, qd, opcode };
    const entry: Pending = { qd, opcode, done: Promise.resolve(result), result: null };
    const run = async (): Promise<QResult> => {
      try {
        await body(result);
      } catch (e) {
        result.error = e instanceof SocketError ? e : new SocketError("EIO", opcode, String(e));
      }
      entry.result = result;
      return result;
    };
    const prev = chains?.get(qd);
    entry.done = prev ? prev.then(run, run) : run();
    chains?.set(qd, entry.done);
    this.pending.set(qt, entry);
    return qt;
  }

  /** True once the operation has completed (wait would return at once). */
  isDone(qt: QToken): boolean {
    return this.pending.get(qt)?.result != null;
  }

  /**
   * Waits for `qt` (at most `timeoutMs`; negative: forever). Returns the completion and retires the
   * token; on timeout rejects with ETIMEDOUT, and when `signal` aborts with an AbortError; either
   * way the token stays valid. Unknown tokens: EINVAL.
   */
  async wait(qt: QToken, timeoutMs = -1, signal?: AbortSignal): Promise<QResult> {
    const p = this.pending.get(qt);
    if (!p) throw new SocketError("EINVAL", "wait");
    const r = p.result ?? (await this.race([p.done], timeoutMs, signal)).result;
    this.pending.delete(qt);
    return r;
  }

  /**
   * Waits for the first of `qts` to complete; returns its index and completion and retires that
   * token only. ETIMEDOUT on timeout, an AbortError when `signal` aborts.
   */
  async waitAny(qts: readonly QToken[], timeoutMs = -1, signal?: AbortSignal): Promise<{ index: number; result: QResult }> {
    const list = qts.map((qt) => {
      const p = this.pending.get(qt);
      if (!p) throw new SocketError("EINVAL", "wait_any");
      return p;
    });
    const ready = list.findIndex((p) => p.result !== null);
    const { index, result } = ready >= 0
      ? { index: ready, result: list[ready]!.result! }
      : await this.race(list.map((p) => p.done), timeoutMs, signal);
    this.pending.delete(qts[index]!);
    return { index, result };
  }

  private race(done: Promise<QResult>[], timeoutMs: number, signal?: AbortSignal): Promise<{ index: number; result: QResult }> {
    return new Promise((resolve, reject) => {
      let timer: Timer | null = null;
      let settled = false;
      // An aborted wait rejects with an AbortError; like a timeout, the token stays valid.
      const onAbort = () => {
        if (settled) return;
        settled = true;
        timer?.cancel();
        reject(abortError(signal));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      done.forEach((d, index) => d.then((result) => {
        if (settled) return;
        settled = true;
        timer?.cancel();
        signal?.removeEventListener("abort", onAbort);
        resolve({ index, result });
      }));
      if (timeoutMs >= 0) {
        timer = this.stack.clock.createTimer(() => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          reject(new SocketError("ETIMEDOUT", "wait"));
        });
        timer.schedule(timeoutMs);
      }
    });
  }
}
