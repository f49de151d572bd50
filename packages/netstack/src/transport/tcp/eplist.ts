/**
 * The set of endpoints a TcpProtocol owns, as an intrusive doubly linked list: each endpoint
 * carries its own links, so adding and removing one hashes nothing and allocates nothing. A
 * `Set` of tens of thousands of endpoints spent a hash insertion per connection, grew and rehashed
 * its table as connections came, and kept a table entry per endpoint (issue #8: connection setup
 * rate, heap per endpoint).
 *
 * It keeps the part of the Set interface the protocol uses: add, delete, has, size, clear and
 * iteration in insertion order.
 */

/** What the list needs of a member: its two links (null when not listed, or at an end). */
export interface Listed<T> {
  listPrev: T | null;
  listNext: T | null;
}

export class EndpointList<T extends Listed<T>> implements Iterable<T> {
  private head: T | null = null;
  private tail: T | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** True when `ep` is in this list (an endpoint is in at most one: its protocol's). */
  has(ep: T): boolean {
    return ep.listPrev !== null || this.head === ep;
  }

  /** Appends `ep` unless it is listed already (as Set.add). */
  add(ep: T): this {
    if (this.has(ep)) return this;
    ep.listPrev = this.tail;
    ep.listNext = null;
    if (this.tail !== null) this.tail.listNext = ep;
    else this.head = ep;
    this.tail = ep;
    this.count++;
    return this;
  }

  /** Removes `ep`; false when it was not listed (as Set.delete). */
  delete(ep: T): boolean {
    if (!this.has(ep)) return false;
    const p = ep.listPrev;
    const n = ep.listNext;
    if (p !== null) p.listNext = n;
    else this.head = n;
    if (n !== null) n.listPrev = p;
    else this.tail = p;
    ep.listPrev = null;
    ep.listNext = null;
    this.count--;
    return true;
  }

  clear(): void {
    for (let ep = this.head; ep !== null;) {
      const n: T | null = ep.listNext;
      ep.listPrev = null;
      ep.listNext = null;
      ep = n;
    }
    this.head = null;
    this.tail = null;
    this.count = 0;
  }

  /**
   * Insertion order. Like a Set's iterator it tolerates deleting the member just returned; take a
   * snapshot (`[...list]`) to delete others while iterating.
   */
  *[Symbol.iterator](): Iterator<T> {
    for (let ep = this.head; ep !== null;) {
      const n: T | null = ep.listNext;
      yield ep;
      ep = n;
    }
  }
}
