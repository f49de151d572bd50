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
 * unregister itself (or others) while a notify is running.
 */
export class WaiterQueue {
  private readonly entries = new Map<WaiterEntry, number>();

  register(entry: WaiterEntry, mask: number): void {
    this.entries.set(entry, mask);
  }

  unregister(entry: WaiterEntry): void {
    this.entries.delete(entry);
  }

  /** Wakes every entry whose mask intersects `mask`. */
  notify(mask: number): void {
    if (this.entries.size === 0) return;
    for (const [entry, m] of this.entries) {
      const hit = m & mask;
      if (hit !== 0) entry.callback(hit);
    }
  }

  /** Union of all registered masks (what anybody is waiting for). */
  interests(): number {
    let m = 0;
    for (const v of this.entries.values()) m |= v;
    return m;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Wraps a function as an entry. */
export function entryOf(fn: (events: number) => void): WaiterEntry {
  return { callback: fn };
}
