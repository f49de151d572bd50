/**
 * Neighbor cache for links that need link-address resolution (Ethernet): maps a next-hop IP
 * address to a link address. A lookup miss starts resolution (the network protocol's resolver
 * sends an ARP request), queues the packets waiting for the answer (bounded), retries the
 * request, and after the last retry drops the queued packets and reports host unreachable.
 *
 * Timings follow Linux's defaults: 3 requests one second apart (ucast/mcast_solicit,
 * retrans_time), entries considered reachable for 30 s (base_reachable_time) and then re-resolved
 * on use; at most 3 packets queued per unresolved neighbor (like the old unres_qlen default).
 */
import type { Address } from "../tcpip/address.js";
import type { PacketBuffer } from "../buffer/packet.js";
import type { Clock, Timer } from "../clock/clock.js";

export interface NeighborResolver {
  /** Sends one resolution request for `target` (from `local`, when known). */
  sendRequest(target: Address, local: Address | null): void;
}

export const enum NeighborState {
  Incomplete = 0,
  Reachable = 1,
  Stale = 2,
  Failed = 3,
}

export interface NeighborEntry {
  addr: Address;
  linkAddress: Uint8Array | null;
  state: NeighborState;
  /** Time the entry was last confirmed. */
  confirmedAt: number;
  attempts: number;
  pending: PacketBuffer[];
  timer: Timer;
}

export interface NeighborCallbacks {
  /** Resolution finished: send the queued packets to `linkAddress`. */
  flush(pkts: PacketBuffer[], linkAddress: Uint8Array): void;
  /** Resolution failed: queued packets are dropped (host unreachable). */
  failed(target: Address, pkts: PacketBuffer[]): void;
}

export class NeighborCache {
  maxAttempts = 3;
  retransmitMs = 1000;
  reachableMs = 30_000;
  maxPending = 3;
  /** Bounded size: the oldest unused entries are evicted past this. */
  maxEntries = 1024;
  private readonly entries = new Map<number, NeighborEntry[]>();
  private count = 0;

  constructor(
    private readonly clock: Clock,
    private readonly resolver: () => NeighborResolver | null,
    private readonly cb: NeighborCallbacks,
  ) {}

  get size(): number {
    return this.count;
  }

  get(addr: Address): NeighborEntry | undefined {
    const list = this.entries.get(addr.key);
    if (!list) return undefined;
    for (const e of list) if (e.addr.equals(addr)) return e;
    return undefined;
  }

  /**
   * The link address for `addr` if known; otherwise queues `pkt` (when given), starts or continues
   * resolution and returns null. `local` is the source address to use in requests.
   */
  resolve(addr: Address, local: Address | null, pkt: PacketBuffer | null): Uint8Array | null | "unreachable" {
    let e = this.get(addr);
    const now = this.clock.now();
    if (e && e.linkAddress && e.state !== NeighborState.Failed) {
      if (e.state === NeighborState.Reachable && now - e.confirmedAt > this.reachableMs) {
        // Reachable → Stale: keep using the address, re-confirm in the background.
        e.state = NeighborState.Stale;
      }
      if (e.state === NeighborState.Stale && !e.timer.pending) {
        e.attempts = 0;
        this.request(e, local);
      }
      return e.linkAddress;
    }
    const r = this.resolver();
    if (!r) return "unreachable";
    if (!e) {
      e = this.create(addr);
    }
    if (e.state === NeighborState.Failed) {
      e.state = NeighborState.Incomplete;
      e.attempts = 0;
    }
    if (pkt) {
      // Like Linux's unres_qlen: a full queue drops its oldest packet to make room.
      if (e.pending.length >= this.maxPending) {
        e.pending.shift();
        this.droppedPending++;
      }
      e.pending.push(pkt);
    }
    if (!e.timer.pending) this.request(e, local);
    return null;
  }

  /** Packets dropped because a neighbor's queue was full. */
  droppedPending = 0;

  /** A request or reply (or solicited advertisement) told us `addr` is at `linkAddress`. */
  confirm(addr: Address, linkAddress: Uint8Array, createIfMissing: boolean): void {
    let e = this.get(addr);
    if (!e) {
      if (!createIfMissing) return;
      e = this.create(addr);
    }
    e.linkAddress = linkAddress.slice();
    e.state = NeighborState.Reachable;
    e.confirmedAt = this.clock.now();
    e.attempts = 0;
    e.timer.cancel();
    if (e.pending.length > 0) {
      const pkts = e.pending;
      e.pending = [];
      this.cb.flush(pkts, e.linkAddress);
    }
  }

  /** Adds a permanent entry. */
  addStatic(addr: Address, linkAddress: Uint8Array): void {
    this.confirm(addr, linkAddress, true);
    const e = this.get(addr)!;
    e.confirmedAt = Infinity;
  }

  remove(addr: Address): void {
    const list = this.entries.get(addr.key);
    if (!list) return;
    const i = list.findIndex((e) => e.addr.equals(addr));
    if (i < 0) return;
    list[i]!.timer.cancel();
    list.splice(i, 1);
    this.count--;
    if (list.length === 0) this.entries.delete(addr.key);
  }

  clear(): void {
    for (const list of this.entries.values()) for (const e of list) e.timer.cancel();
    this.entries.clear();
    this.count = 0;
  }

  private create(addr: Address): NeighborEntry {
    if (this.count >= this.maxEntries) this.evictOne();
    const e: NeighborEntry = {
      addr, linkAddress: null, state: NeighborState.Incomplete, confirmedAt: 0, attempts: 0, pending: [],
      timer: null as unknown as Timer,
    };
    e.timer = this.clock.createTimer(() => this.onTimer(e));
    let list = this.entries.get(addr.key);
    if (!list) this.entries.set(addr.key, (list = []));
    list.push(e);
    this.count++;
    return e;
  }

  private evictOne(): void {
    for (const list of this.entries.values()) {
      for (const e of list) {
        if (e.pending.length === 0 && e.confirmedAt !== Infinity) {
          this.remove(e.addr);
          return;
        }
      }
    }
  }

  private lastLocal = new WeakMap<NeighborEntry, Address | null>();

  private request(e: NeighborEntry, local: Address | null): void {
    this.lastLocal.set(e, local);
    e.attempts++;
    this.resolver()?.sendRequest(e.addr, local);
    e.timer.schedule(this.retransmitMs);
  }

  private onTimer(e: NeighborEntry): void {
    if (e.state === NeighborState.Reachable) return;
    if (e.attempts < this.maxAttempts) {
      this.request(e, this.lastLocal.get(e) ?? null);
      return;
    }
    // RFC 1122 §2.3.2.1 / RFC 4861 §7.3.3: give up; queued packets fail with host unreachable.
    const pkts = e.pending;
    e.pending = [];
    if (e.state === NeighborState.Stale) {
      // A stale entry that stopped answering: forget it.
      this.remove(e.addr);
    } else {
      e.state = NeighborState.Failed;
      e.linkAddress = null;
      this.remove(e.addr);
    }
    this.cb.failed(e.addr, pkts);
  }
}
