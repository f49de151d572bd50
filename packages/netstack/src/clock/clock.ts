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

/**
 * An object that timers call back without a closure: `onTimer(id)` with the id its timer was
 * created with (one object can own several timers).
 */
export interface TimerTarget {
  onTimer(id: number): void;
}

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch (for pcap timestamps). */
  wallNow(): number;
  /** Creates an unarmed timer that calls `fn` when it fires. */
  createTimer(fn: () => void): Timer;
  /**
   * Optional: creates an unarmed timer that calls `target.onTimer(id)` when it fires, with no
   * closure per timer (heap per TCP endpoint, issue #8). Callers fall back to `createTimer`.
   */
  createTimerFor?(target: TimerTarget, id: number): Timer;
  /** Number of armed timers (tests assert nothing is left behind). */
  pendingTimers(): number;
}

/**
 * Binary min-heap of timer records keyed by (deadline, sequence). Shared by the manual and the
 * real clock. Cancel is lazy-free: records carry their heap index so removal is O(log n).
 *
 * The array only grows: `n` counts the live records and slots from `n` on hold null. A TCP
 * connection arms and cancels timers every round trip, so the heap keeps going from empty to a
 * few records and back; Array push/pop would shrink the backing store on the way down (a runtime
 * call) and allocate a new one on the way up.
 */
export class TimerHeap {
  private heap: (TimerRecord | null)[] = [];
  private n = 0;
  private seq = 0;

  get size(): number {
    return this.n;
  }

  peek(): TimerRecord | undefined {
    return this.n > 0 ? this.heap[0]! : undefined;
  }

  insert(r: TimerRecord, deadline: number): void {
    r.deadline = deadline;
    r.seq = this.seq++;
    const i = this.n++;
    r.index = i;
    if (i < this.heap.length) this.heap[i] = r;
    else this.heap.push(r);
    this.up(i);
  }

  remove(r: TimerRecord): void {
    const i = r.index;
    if (i < 0) return;
    const k = --this.n;
    const last = this.heap[k]!;
    this.heap[k] = null; // no reference to a record that left (its endpoint may be gone)
    r.index = -1;
    if (last !== r) {
      this.heap[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
  }

  pop(): TimerRecord | undefined {
    if (this.n === 0) return undefined;
    const top = this.heap[0]!;
    this.remove(top);
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
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(h[l]!, h[m]!)) m = l;
      if (r < n && this.less(h[r]!, h[m]!)) m = r;
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
    private readonly target: TimerTarget | null = null,
    private readonly id = 0,
  ) {}
  /** Runs the callback: `fn`, or the target's `onTimer(id)`. */
  fire(): void {
    if (this.target !== null) this.target.onTimer(this.id);
    else this.fn();
  }
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

function noTimerFn(): void {}

export abstract class HeapClockBase implements Clock {
  protected readonly timers = new TimerHeap();
  abstract now(): number;
  abstract wallNow(): number;
  createTimer(fn: () => void): Timer {
    return new TimerRecord(this, fn);
  }
  createTimerFor(target: TimerTarget, id: number): Timer {
    return new TimerRecord(this, noTimerFn, target, id);
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
      top.fire();
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
 * The host timer a RealClock drives its heap with: Node's setTimeout by default. Tests pass a fake
 * to see exactly when the host timer is (re)armed; `now` is then the fake's time as well.
 */
export interface HostTimer {
  /** Monotonic milliseconds. */
  now(): number;
  /** Arms a one-shot host timer calling `fn` after `delayMs`; `ref`: it keeps the process alive. */
  arm(fn: () => void, delayMs: number, ref: boolean): unknown;
  /** Cancels a handle `arm` returned (it may have fired already). */
  disarm(handle: unknown): void;
  /** Changes whether an armed handle keeps the process alive. */
  setRef(handle: unknown, ref: boolean): void;
}

const nodeHostTimer: HostTimer = {
  now: () => performance.now(),
  arm(fn, delayMs, ref) {
    const t = setTimeout(fn, delayMs);
    if (!ref) t.unref();
    return t;
  },
  disarm(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
  setRef(handle, ref) {
    if (ref) (handle as NodeJS.Timeout).ref();
    else (handle as NodeJS.Timeout).unref();
  },
};

/**
 * Real time: one heap of timers driven by a single unref'd host timeout, instead of one Node timer
 * per protocol timer.
 *
 * The host timer is re-armed only when the earliest deadline moves EARLIER than the time it is
 * set for. When the earliest timer is cancelled or pushed later (a TCP endpoint re-arms its
 * retransmit timer on every ACK, and arms and cancels its delayed-ACK timer on every
 * request/response round trip), the host timer stays as it is: it fires early, finds nothing due,
 * and is armed again for the deadline then at the head. A round trip therefore costs no Node timer
 * call at all in the steady state (Node's setTimeout allocates a Timeout object and may insert a
 * timer list each time), and only one spurious wakeup per delayed-ACK interval.
 */
export class RealClock extends HeapClockBase {
  private handle: unknown = null;
  /** When the armed host timer fires (Infinity: none armed). */
  private handleDeadline = Infinity;
  private readonly origin: number;
  private readonly host: HostTimer;
  private firing = false;
  private refed = false;

  constructor(host: HostTimer = nodeHostTimer) {
    super();
    this.host = host;
    this.origin = host.now();
  }

  now(): number {
    return this.host.now() - this.origin;
  }
  wallNow(): number {
    return Date.now();
  }

  protected headChanged(): void {
    if (this.firing) return; // run() re-arms once when it finishes
    const top = this.timers.peek();
    if (!top) {
      // Nothing armed: an unref'd host timer may stay (it fires once, harmlessly); a ref'd one
      // would keep the process alive for nothing.
      if (this.refed) this.disarmHost();
      return;
    }
    const want = top.deadline;
    // Armed for this time or earlier already: it fires early if need be and re-arms then.
    if (want >= this.handleDeadline) return;
    this.disarmHost();
    this.handleDeadline = want;
    this.handle = this.host.arm(this.run, Math.max(0, Math.ceil(want - this.now())), this.refed);
  }

  private disarmHost(): void {
    if (this.handle !== null) {
      this.host.disarm(this.handle);
      this.handle = null;
    }
    this.handleDeadline = Infinity;
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
        top.fire();
      }
    } finally {
      this.firing = false;
      this.headChanged();
    }
  };

  /** Keeps the process alive while timers are armed (by default the driving timer is unref'd). */
  ref(): void {
    this.refed = true;
    if (this.handle !== null) this.host.setRef(this.handle, true);
  }

  /** Back to the default: armed timers do not keep the process alive. */
  unref(): void {
    this.refed = false;
    if (this.handle !== null) this.host.setRef(this.handle, false);
  }
}
