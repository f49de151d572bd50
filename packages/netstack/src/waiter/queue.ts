/**
 * Readiness notification, like gVisor's waiter.Queue. Everything that waits (a blocking recv, a
 * node:net stream, an accept loop, poll) registers an entry with an event mask, then retries the
 * non-blocking operation when notified. Masks use Linux's poll(2) bit values.
 */
export const EventIn = 0x1; // POLLIN: readable, or a connection to accept
export const EventPri = 0x2; // POLLPRI
export const EventOut = 0x4; // POLLOUT: writable, or connect finished
export const EventErr = 0x8; // POLLERR: an error is pending (SO_ERROR)
export const EventHup = 0x10; // POLLHUP: both directions shut down
export const EventRdHup = 0x2000; // POLLRDHUP: peer shut down its write side
export const EventAll = EventIn | EventPri | EventOut | EventErr | EventHup | EventRdHup;

/** A registration: `callback(events)` runs synchronously from `notify` with the matching bits. */
export interface WaiterEntry {
  callback(events: number): void;
}

/**
 * Entries live in a Map (insertion ordered) so register/unregister are O(1) and a callback may
 * unregister itself (or others) while a notify is running. The Map exists only while something
 * is registered (or a notify is running): most queues — a connection's once its connect or
 * accept has been waited for — are empty most of the time, and an empty Map costs a few hundred
 * bytes per endpoint (#8).
 */
export class WaiterQueue {
  private entries: Map<WaiterEntry, number> | null = null;
  /** notify() calls running (callbacks may notify again); the Map is kept while any runs. */
  private notifying = 0;

  register(entry: WaiterEntry, mask: number): void {
    (this.entries ??= new Map()).set(entry, mask);
  }

  unregister(entry: WaiterEntry): void {
    const m = this.entries;
    if (m === null) return;
    m.delete(entry);
    if (m.size === 0 && this.notifying === 0) this.entries = null;
  }

  /** Wakes every entry whose mask intersects `mask`. */
  notify(mask: number): void {
    const entries = this.entries;
    if (entries === null || entries.size === 0) return;
    this.notifying++;
    try {
      // Entries registered by a callback are visited too (the Map's iteration order).
      for (const [entry, m] of entries) {
        const hit = m & mask;
        if (hit !== 0) entry.callback(hit);
      }
    } finally {
      this.notifying--;
    }
    if (this.notifying === 0 && entries.size === 0 && this.entries === entries) this.entries = null;
  }

  /** Union of all registered masks (what anybody is waiting for). */
  interests(): number {
    let m = 0;
    if (this.entries !== null) for (const v of this.entries.values()) m |= v;
    return m;
  }

  get size(): number {
    return this.entries === null ? 0 : this.entries.size;
  }
}

/** Wraps a function as an entry. */
export function entryOf(fn: (events: number) => void): WaiterEntry {
  return { callback: fn };
}
