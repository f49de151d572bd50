/**
 * Neighbor cache for links that need link-address resolution (Ethernet): maps a next-hop IP
 * address to a link address, with the Neighbor Unreachability Detection states of RFC 4861 §7.3.2
 * driven by the injected clock. ARP (IPv4) and NDP (IPv6) share it, as Linux's neighbour table
 * does; they differ only in the resolver that sends requests and in how they report answers.
 *
 *   INCOMPLETE  resolution in progress: multicast/broadcast requests every `retransmitMs`, at
 *               most `maxMulticastProbes`; packets wait in a bounded queue. No answer: the entry
 *               is deleted and the queued packets fail with host unreachable.
 *   REACHABLE   confirmed within the last `reachableMs` (RFC 4861 §6.3.2: a random 0.5–1.5 times
 *               BaseReachableTime, 30 s). Ages into STALE lazily, on the next look at it, so an
 *               idle entry costs no timer.
 *   STALE       not recently confirmed; still used. The first packet sent moves it to DELAY.
 *   DELAY       waits `delayFirstProbeMs` (5 s) for an upper-layer or NDP confirmation, then PROBE.
 *   PROBE       unicast requests to the cached link address every `retransmitMs`, at most
 *               `maxUnicastProbes`; still used meanwhile. No answer: the entry is deleted.
 *   STATIC      configured by hand; never changes.
 *
 * Timings are Linux's defaults (mcast/ucast_solicit 3, retrans_time 1 s, delay_first_probe_time
 * 5 s, base_reachable_time 30 s); at most 3 packets wait per unresolved neighbor (unres_qlen).
 */
import type { Address } from "../tcpip/address.js";
import type { PacketBuffer } from "../buffer/packet.js";
import type { Clock, Timer } from "../clock/clock.js";
import type { RandomSource } from "../clock/random.js";

export interface NeighborResolver {
  /**
   * Sends one resolution request for `target` from `local` (when known). `linkAddress` is the
   * cached link address for a unicast probe (PROBE state, RFC 4861 §7.3.3); absent or null for a
   * multicast (NDP) or broadcast (ARP) request.
   */
  sendRequest(target: Address, local: Address | null, linkAddress?: Uint8Array | null): void;
}

export const enum NeighborState {
  Incomplete = 0,
  Reachable = 1,
  Stale = 2,
  /** Transitional: resolution gave up (the entry is being deleted). */
  Failed = 3,
  Delay = 4,
  Probe = 5,
  Static = 6,
}

/** Names of the states, for logs and tests. */
export const NEIGHBOR_STATE_NAMES = ["INCOMPLETE", "REACHABLE", "STALE", "FAILED", "DELAY", "PROBE", "PERMANENT"] as const;

export interface NeighborEntry {
  addr: Address;
  linkAddress: Uint8Array | null;
  state: NeighborState;
  /** Time of the last reachability confirmation (Infinity for static entries). */
  confirmedAt: number;
  /** Requests sent in the current INCOMPLETE or PROBE round. */
  attempts: number;
  pending: PacketBuffer[];
  timer: Timer;
  /** Source address for requests (the one the first waiting packet used). */
  local: Address | null;
}

export interface NeighborCallbacks {
  /** Resolution finished: send the queued packets to `linkAddress`. */
  flush(pkts: PacketBuffer[], linkAddress: Uint8Array): void;
  /** Resolution failed: queued packets are dropped (host unreachable). */
  failed(target: Address, pkts: PacketBuffer[]): void;
}

export class NeighborCache {
  /** Requests sent while INCOMPLETE (MAX_MULTICAST_SOLICIT). */
  maxMulticastProbes = 3;
  /** Unicast probes sent while in PROBE (MAX_UNICAST_SOLICIT). */
  maxUnicastProbes = 3;
  /** RetransTimer. */
  retransmitMs = 1000;
  /** DELAY_FIRST_PROBE_TIME. */
  delayFirstProbeMs = 5000;
  /** BaseReachableTime (RFC 4861 §10). */
  readonly baseReachableMs = 30_000;
  /** ReachableTime: how long a confirmation keeps an entry REACHABLE. */
  reachableMs: number;
  maxPending = 3;
  /** Bounded size: the oldest unused entries are evicted past this. */
  maxEntries = 1024;
  /** Packets dropped because a neighbor's queue was full (or its entry was evicted). */
  droppedPending = 0;
  /** Entries evicted because the cache was full. */
  evictions = 0;
  private readonly entries = new Map<number, NeighborEntry[]>();
  private count = 0;

  constructor(
    private readonly clock: Clock,
    private readonly resolver: () => NeighborResolver | null,
    private readonly cb: NeighborCallbacks,
    random?: RandomSource,
  ) {
    // RFC 4861 §6.3.2: ReachableTime is uniformly random in [0.5, 1.5) × BaseReachableTime, so
    // that neighbors do not probe in lockstep.
    this.reachableMs = random ? Math.floor(this.baseReachableMs * (0.5 + random.float())) : this.baseReachableMs;
  }

  /** Kept for callers of the older name: the INCOMPLETE request limit. */
  get maxAttempts(): number {
    return this.maxMulticastProbes;
  }
  set maxAttempts(n: number) {
    this.maxMulticastProbes = n;
  }

  get size(): number {
    return this.count;
  }

  /** The entry for `addr` (REACHABLE entries past their reachable time are aged to STALE first). */
  get(addr: Address): NeighborEntry | undefined {
    const list = this.entries.get(addr.key);
    if (!list) return undefined;
    for (const e of list) {
      if (e.addr.equals(addr)) {
        this.age(e);
        return e;
      }
    }
    return undefined;
  }

  /** Every entry (aged), for inspection. */
  list(): NeighborEntry[] {
    const out: NeighborEntry[] = [];
    for (const l of this.entries.values()) for (const e of l) {
      this.age(e);
      out.push(e);
    }
    return out;
  }

  private age(e: NeighborEntry): void {
    if (e.state === NeighborState.Reachable && this.clock.now() - e.confirmedAt >= this.reachableMs) {
      e.state = NeighborState.Stale; // RFC 4861 §7.3.3: ReachableTime passed without confirmation
    }
  }

  /**
   * The link address for `addr` if known; otherwise queues `pkt` (when given), starts or continues
   * resolution and returns null. `local` is the source address to use in requests.
   * "unreachable" when the cache has no resolver.
   */
  resolve(addr: Address, local: Address | null, pkt: PacketBuffer | null): Uint8Array | null | "unreachable" {
    let e = this.get(addr);
    if (e && e.linkAddress && e.state !== NeighborState.Incomplete && e.state !== NeighborState.Failed) {
      if (e.state === NeighborState.Stale) {
        // RFC 4861 §7.3.3: the first packet sent to a STALE neighbor moves it to DELAY.
        e.state = NeighborState.Delay;
        if (local) e.local = local;
        e.timer.schedule(this.delayFirstProbeMs);
      }
      return e.linkAddress;
    }
    const r = this.resolver();
    if (!r) return "unreachable";
    if (!e) e = this.create(addr);
    if (e.state !== NeighborState.Incomplete) {
      e.state = NeighborState.Incomplete;
      e.attempts = 0;
      e.linkAddress = null;
    }
    if (pkt) {
      // Like Linux's unres_qlen: a full queue drops its oldest packet to make room.
      if (e.pending.length >= this.maxPending) {
        e.pending.shift();
        this.droppedPending++;
      }
      e.pending.push(pkt);
    }
    if (!e.timer.pending) {
      e.local = local;
      this.request(e, null);
    }
    return null;
  }

  /**
   * An answer that confirms `addr` is at `linkAddress` (ARP reply or request for us; a solicited,
   * overriding advertisement): the entry (created when `createIfMissing`) becomes REACHABLE and
   * its queued packets are sent.
   */
  confirm(addr: Address, linkAddress: Uint8Array, createIfMissing: boolean): void {
    let e = this.get(addr);
    if (!e) {
      if (!createIfMissing) return;
      e = this.create(addr);
    }
    if (e.state === NeighborState.Static) return;
    e.linkAddress = linkAddress.slice();
    this.setReachable(e);
    this.flushPending(e);
  }

  /**
   * RFC 4861 §7.2.3 / §7.3.3: a Neighbor Solicitation (or RS, Redirect) from `addr` carried its
   * link address. A new entry is created STALE; a different address replaces the cached one and
   * makes the entry STALE; an INCOMPLETE entry gets the address and sends its queue.
   */
  handleSolicitation(addr: Address, linkAddress: Uint8Array): void {
    let e = this.get(addr);
    if (!e) {
      e = this.create(addr);
      e.linkAddress = linkAddress.slice();
      e.state = NeighborState.Stale;
      return;
    }
    if (e.state === NeighborState.Static) return;
    if (e.state === NeighborState.Incomplete) {
      e.linkAddress = linkAddress.slice();
      e.state = NeighborState.Stale;
      e.timer.cancel();
      this.flushPending(e);
      return;
    }
    if (!sameLinkAddress(e.linkAddress, linkAddress)) {
      e.linkAddress = linkAddress.slice();
      e.state = NeighborState.Stale;
      e.timer.cancel();
    }
  }

  /**
   * RFC 4861 §7.2.5: a Neighbor Advertisement for `addr` with flags S and O and the target
   * link-layer address option (`linkAddress`, null when absent). Returns false when there was no
   * entry (the advertisement is then ignored, as the RFC says).
   */
  handleAdvertisement(addr: Address, linkAddress: Uint8Array | null, solicited: boolean, override: boolean): boolean {
    const e = this.get(addr);
    if (!e) return false;
    if (e.state === NeighborState.Static) return true;
    if (e.state === NeighborState.Incomplete) {
      if (!linkAddress) return true; // no address to record: ignore
      e.linkAddress = linkAddress.slice();
      e.timer.cancel();
      if (solicited) this.setReachable(e);
      else e.state = NeighborState.Stale;
      this.flushPending(e);
      return true;
    }
    const differs = linkAddress !== null && !sameLinkAddress(e.linkAddress, linkAddress);
    if (!override && differs) {
      // A non-overriding advertisement of another address only casts doubt on the entry.
      if (e.state === NeighborState.Reachable) e.state = NeighborState.Stale;
      return true;
    }
    if (differs) e.linkAddress = linkAddress!.slice();
    if (solicited) this.setReachable(e);
    else if (differs) {
      e.state = NeighborState.Stale;
      e.timer.cancel();
    }
    return true;
  }

  /**
   * Reachability confirmed by an upper layer (RFC 4861 §7.3.1: e.g. TCP saw new data
   * acknowledged): an entry with a link address becomes REACHABLE.
   */
  confirmReachable(addr: Address): void {
    const e = this.get(addr);
    if (!e || !e.linkAddress || e.state === NeighborState.Static || e.state === NeighborState.Incomplete) return;
    this.setReachable(e);
  }

  /** Adds a permanent entry. */
  addStatic(addr: Address, linkAddress: Uint8Array): void {
    let e = this.get(addr);
    if (!e) e = this.create(addr);
    e.linkAddress = linkAddress.slice();
    e.state = NeighborState.Static;
    e.confirmedAt = Infinity;
    e.timer.cancel();
    this.flushPending(e);
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

  private setReachable(e: NeighborEntry): void {
    e.state = NeighborState.Reachable;
    e.confirmedAt = this.clock.now();
    e.attempts = 0;
    e.timer.cancel();
  }

  private flushPending(e: NeighborEntry): void {
    if (e.pending.length === 0 || !e.linkAddress) return;
    const pkts = e.pending;
    e.pending = [];
    if (e.state === NeighborState.Stale) {
      // Sending to a STALE neighbor: DELAY (RFC 4861 §7.3.3), as in `resolve`.
      e.state = NeighborState.Delay;
      e.timer.schedule(this.delayFirstProbeMs);
    }
    this.cb.flush(pkts, e.linkAddress);
  }

  private create(addr: Address): NeighborEntry {
    if (this.count >= this.maxEntries) this.evictOne();
    const e: NeighborEntry = {
      addr, linkAddress: null, state: NeighborState.Incomplete, confirmedAt: 0, attempts: 0, pending: [],
      timer: null as unknown as Timer, local: null,
    };
    e.timer = this.clock.createTimer(() => this.onTimer(e));
    let list = this.entries.get(addr.key);
    if (!list) this.entries.set(addr.key, (list = []));
    list.push(e);
    this.count++;
    return e;
  }

  /**
   * Makes room for one entry. Cheapest victim first: an unconfirmed entry with nothing queued
   * (STALE or INCOMPLETE: what a flood of solicitations from forged addresses creates), then any
   * entry with nothing queued, and only when every entry holds packets the first non-static one,
   * whose queued packets are dropped and counted. Without that last step a flood of packets to
   * many unresolvable neighbors (echo requests from forged on-link sources) grew the cache past
   * `maxEntries` until the resolution timeouts caught up.
   */
  private evictOne(): void {
    let idle: NeighborEntry | null = null;
    let busy: NeighborEntry | null = null;
    for (const list of this.entries.values()) {
      for (const e of list) {
        if (e.state === NeighborState.Static) continue;
        if (e.pending.length === 0) {
          if (e.state === NeighborState.Stale || e.state === NeighborState.Incomplete) {
            this.evict(e);
            return;
          }
          idle ??= e;
        } else busy ??= e;
      }
    }
    const victim = idle ?? busy;
    if (victim) this.evict(victim);
  }

  private evict(e: NeighborEntry): void {
    this.droppedPending += e.pending.length;
    e.pending = [];
    this.evictions++;
    this.remove(e.addr);
  }

  /** Sends one request (unicast to `unicast` when given) and arms the retransmit timer. */
  private request(e: NeighborEntry, unicast: Uint8Array | null): void {
    e.attempts++;
    this.resolver()?.sendRequest(e.addr, e.local, unicast);
    e.timer.schedule(this.retransmitMs);
  }

  private onTimer(e: NeighborEntry): void {
    switch (e.state) {
      case NeighborState.Incomplete: {
        if (e.attempts < this.maxMulticastProbes) {
          this.request(e, null);
          return;
        }
        // RFC 1122 §2.3.2.1 / RFC 4861 §7.3.3: give up; queued packets fail with host unreachable.
        const pkts = e.pending;
        e.pending = [];
        e.state = NeighborState.Failed;
        e.linkAddress = null;
        this.remove(e.addr);
        this.cb.failed(e.addr, pkts);
        return;
      }
      case NeighborState.Delay:
        // RFC 4861 §7.3.3: no confirmation within DELAY_FIRST_PROBE_TIME: start unicast probes.
        e.state = NeighborState.Probe;
        e.attempts = 0;
        this.request(e, e.linkAddress);
        return;
      case NeighborState.Probe:
        if (e.attempts < this.maxUnicastProbes) {
          this.request(e, e.linkAddress);
          return;
        }
        // No answer to MAX_UNICAST_SOLICIT probes: delete the entry; the next packet resolves afresh.
        e.state = NeighborState.Failed;
        this.remove(e.addr);
        return;
      default:
        return;
    }
  }
}

function sameLinkAddress(a: Uint8Array | null, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
