/**
 * Time and timers for the stack. Nothing in the stack calls Date.now(), setTimeout or
 * Math.random(): a Clock and a RandomSource are injected. Times are milliseconds (fractional
 * allowed) on a monotonic scale that starts near 0.
 *
 * Timers are objects created once and rescheduled many times (a TCP endpoint owns one
 * retransmit timer and re-arms it per ACK), so the hot path allocates no closures.
 */
export interface Timer {
  /** (Re)arms the timer to fire `delayMs` from now, replacing any earlier schedule. */
  schedule(delayMs: number): void;
  /** Disarms; returns true if it was pending. */
  cancel(): boolean;
  /** True while scheduled and not yet fired. */
  readonly pending: boolean;
  /** Absolute time it fires at (valid while pending). */
  readonly deadline: number;
}

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch (for pcap timestamps). */
  wallNow(): number;
  /** Creates an unarmed timer that calls `fn` when it fires. */
  createTimer(fn: () => void): Timer;
  /** Number of armed timers (tests assert nothing is left behind). */
  pendingTimers(): number;
}

/**
 * Binary min-heap of timer records keyed by (deadline, sequence). Shared by the manual and the
 * real clock. Cancel is lazy-free: records carry their heap index so removal is O(log n).
 */
export class TimerHeap {
  private heap: TimerRecord[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  peek(): TimerRecord | undefined {
    return this.heap[0];
  }

  insert(r: TimerRecord, deadline: number): void {
    r.deadline = deadline;
    r.seq = this.seq++;
    r.index = this.heap.length;
    this.heap.push(r);
    this.up(r.index);
  }

  remove(r: TimerRecord): void {
    const i = r.index;
    if (i < 0) return;
    const last = this.heap.pop()!;
    r.index = -1;
    if (last !== r) {
      this.heap[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
  }

  pop(): TimerRecord | undefined {
    const top = this.heap[0];
    if (top) this.remove(top);
    return top;
  }

  private less(a: TimerRecord, b: TimerRecord): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    a.index = j;
    b.index = i;
  }
}

/** A timer living in a TimerHeap; `owner` tells the record when the heap's head may change. */
export class TimerRecord implements Timer {
  deadline = 0;
  seq = 0;
  index = -1;
  constructor(
    private readonly owner: HeapClockBase,
    readonly fn: () => void,
  ) {}
  schedule(delayMs: number): void {
    this.owner.arm(this, Math.max(0, delayMs));
  }
  cancel(): boolean {
    if (this.index < 0) return false;
    this.owner.disarm(this);
    return true;
  }
  get pending(): boolean {
    return this.index >= 0;
  }
}

export abstract class HeapClockBase implements Clock {
  protected readonly timers = new TimerHeap();
  abstract now(): number;
  abstract wallNow(): number;
  createTimer(fn: () => void): Timer {
    return new TimerRecord(this, fn);
  }
  pendingTimers(): number {
    return this.timers.size;
  }
  arm(r: TimerRecord, delayMs: number): void {
    if (r.index >= 0) this.timers.remove(r);
    this.timers.insert(r, this.now() + delayMs);
    this.headChanged();
  }
  disarm(r: TimerRecord): void {
    this.timers.remove(r);
    this.headChanged();
  }
  /** Called after the earliest deadline may have changed. */
  protected abstract headChanged(): void;
}

/**
 * Virtual time for tests: `advance(ms)` moves time forward and fires due timers in deadline
 * order, each at its own deadline (timers armed by a firing timer also run if due).
 */
export class ManualClock extends HeapClockBase {
  private t: number;
  private readonly wallBase: number;

  constructor(start = 0, wallBase = 1_700_000_000_000) {
    super();
    this.t = start;
    this.wallBase = wallBase;
  }
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wallBase + this.t;
  }
  protected headChanged(): void {}

  /** Advances virtual time by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const top = this.timers.peek();
      if (!top || top.deadline > end) break;
      this.timers.pop();
      if (top.deadline > this.t) this.t = top.deadline;
      top.fn();
    }
    this.t = end;
  }

  /** Time of the next armed timer, or undefined. */
  nextDeadline(): number | undefined {
    return this.timers.peek()?.deadline;
  }

  /**
   * Jumps straight to the next timer and fires it (and any due at the same time). Returns false
   * when no timer is armed. Lets tests run "until idle" without choosing step sizes.
   */
  step(): boolean {
    const d = this.nextDeadline();
    if (d === undefined) return false;
    this.advance(Math.max(0, d - this.t));
    return true;
  }
}

/**
 * Real time: one heap of timers driven by a single unref'd Node timeout that always targets the
 * earliest deadline, instead of one Node timer per protocol timer.
 */
export class RealClock extends HeapClockBase {
  private handle: NodeJS.Timeout | null = null;
  private handleDeadline = Infinity;
  private readonly origin = performance.now();
  private firing = false;

  now(): number {
    return performance.now() - this.origin;
  }
  wallNow(): number {
    return Date.now();
  }

  protected headChanged(): void {
    if (this.firing) return; // run() re-arms once when it finishes
    const top = this.timers.peek();
    const want = top ? top.deadline : Infinity;
    if (want === this.handleDeadline) return;
    if (this.handle) {
      clearTimeout(this.handle);
      this.handle = null;
      this.handleDeadline = Infinity;
    }
    if (!top) return;
    this.handleDeadline = want;
    this.handle = setTimeout(this.run, Math.max(0, Math.ceil(want - this.now())));
    this.handle.unref();
  }

  private readonly run = (): void => {
    this.handle = null;
    this.handleDeadline = Infinity;
    this.firing = true;
    try {
      const now = this.now();
      for (;;) {
        const top = this.timers.peek();
        if (!top || top.deadline > now + 0.5) break;
        this.timers.pop();
        top.fn();
      }
    } finally {
      this.firing = false;
      this.headChanged();
    }
  };

  /** Keeps the process alive while timers are armed (by default the driving timer is unref'd). */
  ref(): void {
    this.handle?.ref();
  }
}
