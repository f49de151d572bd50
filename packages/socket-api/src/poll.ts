/**
 * Readiness waits over many sockets: poll(2) and an epoll-like set. Both register on each
 * socket's waiter queue and re-check readiness when woken, as epsocket does; a timeout runs on
 * the stack's clock. Level-triggered; EPOLLONESHOT disarms an entry after it fires once.
 */
import type { Timer } from "@netstack-ts/netstack";
import { EPOLLONESHOT, POLLERR, POLLHUP, POLLNVAL } from "./constants.js";
import { SocketError } from "./errors.js";
import type { Socket } from "./socket.js";

export interface PollFd {
  socket: Socket;
  /** Requested POLL* bits. */
  events: number;
  /** Filled by poll: the ready bits (always including POLLERR / POLLHUP / POLLNVAL when set). */
  revents?: number;
}

/** One readiness check, as poll(2) computes revents. Returns how many entries have revents != 0. */
export function pollNow(fds: PollFd[]): number {
  let n = 0;
  for (const f of fds) {
    const m = f.socket.pollEvents();
    f.revents = m & (f.events | POLLERR | POLLHUP | POLLNVAL);
    if (f.revents) n++;
  }
  return n;
}

/**
 * poll(2): resolves with the number of ready entries once any is ready or `timeoutMs` passes
 * (negative: no timeout; 0: check once). `signal` aborts with EINTR.
 */
export function poll(fds: PollFd[], timeoutMs = -1, signal?: AbortSignal): Promise<number> {
  const n = pollNow(fds);
  if (n > 0 || timeoutMs === 0) return Promise.resolve(n);
  if (signal?.aborted) return Promise.reject(new SocketError("EINTR", "poll"));
  if (fds.length === 0 && timeoutMs < 0) return Promise.reject(new SocketError("EINVAL", "poll"));
  return new Promise((resolve, reject) => {
    const offs: (() => void)[] = [];
    let timer: Timer | null = null;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      for (const off of offs) off();
      timer?.cancel();
      signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const onWake = () => {
      const k = pollNow(fds);
      if (k > 0) finish(() => resolve(k));
    };
    const onAbort = () => finish(() => reject(new SocketError("EINTR", "poll")));
    for (const f of fds) offs.push(f.socket.onReadiness(f.events, onWake));
    if (timeoutMs > 0) {
      const clock = fds[0]?.socket.stack.clock;
      if (clock) {
        timer = clock.createTimer(() => finish(() => resolve(pollNow(fds))));
        timer.schedule(timeoutMs);
      } else {
        const t = setTimeout(() => finish(() => resolve(0)), timeoutMs);
        offs.push(() => clearTimeout(t));
      }
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface EpollEvent<T = unknown> {
  socket: Socket;
  events: number;
  data: T;
}

interface EpollEntry<T> {
  events: number;
  data: T;
  armed: boolean;
  off: () => void;
}

/** An epoll instance: a registered set of sockets whose readiness `wait` reports. */
export class Epoll<T = unknown> {
  private readonly entries = new Map<Socket, EpollEntry<T>>();
  private waiters: (() => void)[] = [];

  /** EPOLL_CTL_ADD; EEXIST when already present. */
  add(socket: Socket, events: number, data: T): void {
    if (this.entries.has(socket)) throw new SocketError("EEXIST", "epoll_ctl");
    const entry: EpollEntry<T> = { events, data, armed: true, off: () => {} };
    entry.off = socket.onReadiness(events, () => this.wake());
    this.entries.set(socket, entry);
    this.wake();
  }

  /** EPOLL_CTL_MOD; ENOENT when absent. Re-arms a oneshot entry. */
  modify(socket: Socket, events: number, data: T): void {
    const e = this.entries.get(socket);
    if (!e) throw new SocketError("ENOENT", "epoll_ctl");
    e.off();
    e.events = events;
    e.data = data;
    e.armed = true;
    e.off = socket.onReadiness(events, () => this.wake());
    this.wake();
  }

  /** EPOLL_CTL_DEL; ENOENT when absent. */
  delete(socket: Socket): void {
    const e = this.entries.get(socket);
    if (!e) throw new SocketError("ENOENT", "epoll_ctl");
    e.off();
    this.entries.delete(socket);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The ready entries now (at most `maxEvents`). */
  collect(maxEvents = Infinity): EpollEvent<T>[] {
    const out: EpollEvent<T>[] = [];
    for (const [socket, e] of this.entries) {
      if (out.length >= maxEvents) break;
      if (!e.armed) continue;
      const r = socket.pollEvents() & (e.events | POLLERR | POLLHUP);
      if (!r) continue;
      out.push({ socket, events: r, data: e.data });
      if (e.events & EPOLLONESHOT) e.armed = false;
    }
    // Closed sockets leave the set, as a closed file leaves an epoll instance.
    for (const [socket, e] of this.entries) if (socket.isClosed) { e.off(); this.entries.delete(socket); }
    return out;
  }

  /** epoll_wait: resolves with ready events, or [] after `timeoutMs` (negative: no timeout). */
  wait(maxEvents = 64, timeoutMs = -1, signal?: AbortSignal): Promise<EpollEvent<T>[]> {
    if (maxEvents <= 0) return Promise.reject(new SocketError("EINVAL", "epoll_wait"));
    const now = this.collect(maxEvents);
    if (now.length > 0 || timeoutMs === 0) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      let timer: Timer | null = null;
      let t: NodeJS.Timeout | null = null;
      const cleanup = () => {
        this.waiters = this.waiters.filter((w) => w !== check);
        timer?.cancel();
        if (t) clearTimeout(t);
        signal?.removeEventListener("abort", onAbort);
      };
      const check = () => {
        const r = this.collect(maxEvents);
        if (r.length === 0) return;
        cleanup();
        resolve(r);
      };
      const onAbort = () => {
        cleanup();
        reject(new SocketError("EINTR", "epoll_wait"));
      };
      this.waiters.push(check);
      if (timeoutMs > 0) {
        const first = this.entries.keys().next();
        const clock = first.done ? null : first.value.stack.clock;
        const expire = () => {
          cleanup();
          resolve(this.collect(maxEvents));
        };
        if (clock) {
          timer = clock.createTimer(expire);
          timer.schedule(timeoutMs);
        } else t = setTimeout(expire, timeoutMs);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Unregisters everything. */
  close(): void {
    for (const e of this.entries.values()) e.off();
    this.entries.clear();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
