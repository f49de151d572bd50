import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ManualClock, RealClock, TimerHeap, TimerRecord, type HostTimer } from "../src/clock/clock.js";

// Property tests run with a fixed seed; FC_SEED=<n> replays another one.
const SEED = Number(process.env.FC_SEED ?? 20240611);
const REPLAY = `FC_SEED=${SEED} npx vitest run packages/netstack/test/clock.test.ts`;

function assertProperty<T>(prop: fc.IProperty<T>, numRuns: number): void {
  try {
    fc.assert(prop, { seed: SEED, numRuns });
  } catch (e) {
    console.error(`property failed with seed ${SEED}; replay: ${REPLAY}`);
    throw e;
  }
}

describe("ManualClock", () => {
  it("fires due timers in deadline order, each with now() equal to its own deadline", () => {
    const c = new ManualClock();
    const log: [string, number][] = [];
    const t30 = c.createTimer(() => log.push(["t30", c.now()]));
    const t10 = c.createTimer(() => log.push(["t10", c.now()]));
    const t20 = c.createTimer(() => log.push(["t20", c.now()]));
    t30.schedule(30);
    t10.schedule(10);
    t20.schedule(20);
    expect(t10.deadline).toBe(10);
    c.advance(25);
    expect(log).toEqual([
      ["t10", 10],
      ["t20", 20],
    ]);
    expect(c.now()).toBe(25);
    expect(t30.pending).toBe(true);
    c.advance(100);
    expect(log.map((x) => x[0])).toEqual(["t10", "t20", "t30"]);
    expect(log[2]![1]).toBe(30);
    expect(c.now()).toBe(125);
  });

  it("fires timers with the same deadline in the order they were armed", () => {
    const c = new ManualClock();
    const log: number[] = [];
    const timers = [0, 1, 2, 3].map((i) => c.createTimer(() => log.push(i)));
    timers[2]!.schedule(5);
    timers[0]!.schedule(5);
    timers[3]!.schedule(5);
    timers[1]!.schedule(5);
    c.advance(5);
    expect(log).toEqual([2, 0, 3, 1]);
  });

  it("fires a timer re-armed from its own callback again within the same advance", () => {
    const c = new ManualClock();
    const at: number[] = [];
    const periodic = c.createTimer(() => {
      at.push(c.now());
      periodic.schedule(10);
    });
    periodic.schedule(10);
    c.advance(35);
    expect(at).toEqual([10, 20, 30]);
    expect(periodic.pending).toBe(true);
    expect(periodic.deadline).toBe(40);
  });

  it("fires a timer armed by another timer's callback when it falls due in the window", () => {
    const c = new ManualClock();
    const log: [string, number][] = [];
    const second = c.createTimer(() => log.push(["second", c.now()]));
    const first = c.createTimer(() => {
      log.push(["first", c.now()]);
      second.schedule(5);
    });
    first.schedule(10);
    c.advance(20);
    expect(log).toEqual([
      ["first", 10],
      ["second", 15],
    ]);
  });

  it("re-scheduling a pending timer replaces its earlier deadline", () => {
    const c = new ManualClock();
    let fired = 0;
    const t = c.createTimer(() => fired++);
    t.schedule(10);
    t.schedule(50);
    c.advance(20);
    expect(fired).toBe(0);
    expect(c.pendingTimers()).toBe(1);
    c.advance(30);
    expect(fired).toBe(1);
    expect(c.pendingTimers()).toBe(0);
  });

  it("cancel disarms a pending timer and reports whether it was pending", () => {
    const c = new ManualClock();
    let fired = 0;
    const t = c.createTimer(() => fired++);
    expect(t.cancel()).toBe(false);
    t.schedule(10);
    expect(t.pending).toBe(true);
    expect(t.cancel()).toBe(true);
    expect(t.pending).toBe(false);
    expect(t.cancel()).toBe(false);
    c.advance(100);
    expect(fired).toBe(0);
  });

  it("a callback may cancel another timer that is due at the same time", () => {
    const c = new ManualClock();
    const log: string[] = [];
    const b = c.createTimer(() => log.push("b"));
    const a = c.createTimer(() => {
      log.push("a");
      b.cancel();
    });
    a.schedule(10);
    b.schedule(10);
    c.advance(10);
    expect(log).toEqual(["a"]);
    expect(c.pendingTimers()).toBe(0);
  });

  it("pendingTimers counts armed timers only", () => {
    const c = new ManualClock();
    const ts = [1, 2, 3].map(() => c.createTimer(() => {}));
    expect(c.pendingTimers()).toBe(0);
    ts[0]!.schedule(1);
    ts[1]!.schedule(2);
    ts[2]!.schedule(3);
    expect(c.pendingTimers()).toBe(3);
    ts[1]!.cancel();
    expect(c.pendingTimers()).toBe(2);
    c.advance(1);
    expect(c.pendingTimers()).toBe(1);
    c.advance(10);
    expect(c.pendingTimers()).toBe(0);
  });

  it("advance(0) fires zero-delay timers and negative delays count as zero", () => {
    const c = new ManualClock(100);
    const log: number[] = [];
    c.createTimer(() => log.push(c.now())).schedule(0);
    c.createTimer(() => log.push(c.now())).schedule(-5);
    c.advance(0);
    expect(log).toEqual([100, 100]);
  });

  it("step() jumps to the next deadline and fires it; false when nothing is armed", () => {
    const c = new ManualClock();
    const log: number[] = [];
    expect(c.step()).toBe(false);
    expect(c.nextDeadline()).toBeUndefined();
    c.createTimer(() => log.push(c.now())).schedule(7);
    const t = c.createTimer(() => log.push(c.now()));
    t.schedule(7);
    c.createTimer(() => log.push(c.now())).schedule(42);
    expect(c.nextDeadline()).toBe(7);
    expect(c.step()).toBe(true);
    expect(log).toEqual([7, 7]); // both timers due at 7
    expect(c.now()).toBe(7);
    expect(c.step()).toBe(true);
    expect(log).toEqual([7, 7, 42]);
    expect(c.step()).toBe(false);
    expect(c.now()).toBe(42);
  });

  it("wallNow() follows virtual time from its wall base", () => {
    const c = new ManualClock(0, 1_000_000);
    c.advance(1500);
    expect(c.wallNow()).toBe(1_001_500);
  });

  it("property: every timer fires once, at its deadline, in (deadline, arming) order", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("arm" as const), id: fc.nat(7), delay: fc.nat(40) }),
      fc.record({ kind: fc.constant("cancel" as const), id: fc.nat(7) }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.nat(25) }),
    );
    assertProperty(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const c = new ManualClock();
        const fired: { id: number; at: number }[] = [];
        // Model: id -> [deadline, arming sequence number] of armed timers.
        const model = new Map<number, [number, number]>();
        let seq = 0;
        const timers = Array.from({ length: 8 }, (_, id) =>
          c.createTimer(() => {
            fired.push({ id, at: c.now() });
          }),
        );
        for (const o of ops) {
          if (o.kind === "arm") {
            timers[o.id]!.schedule(o.delay);
            model.set(o.id, [c.now() + o.delay, seq++]);
          } else if (o.kind === "cancel") {
            expect(timers[o.id]!.cancel()).toBe(model.delete(o.id));
          } else {
            const end = c.now() + o.ms;
            const due = [...model.entries()]
              .filter(([, [d]]) => d <= end)
              .sort((x, y) => x[1][0] - y[1][0] || x[1][1] - y[1][1])
              .map(([id, [d]]) => ({ id, at: d }));
            for (const f of due) model.delete(f.id);
            fired.length = 0;
            c.advance(o.ms);
            expect(fired).toEqual(due);
          }
          expect(c.pendingTimers()).toBe(model.size);
        }
      }),
      300,
    );
  });
});

describe("TimerHeap", () => {
  it("property: pops in (deadline, insertion) order like a sorted-array model, with removals", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("insert" as const), id: fc.nat(15), deadline: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant("remove" as const), id: fc.nat(15) }),
      fc.record({ kind: fc.constant("pop" as const) }),
    );
    assertProperty(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const owner = new ManualClock();
        const heap = new TimerHeap();
        const recs = Array.from({ length: 16 }, () => new TimerRecord(owner, () => {}));
        // Model: a list kept sorted by (deadline, seq).
        let model: { id: number; deadline: number; seq: number }[] = [];
        let seq = 0;
        const sortModel = () => model.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
        for (const o of ops) {
          if (o.kind === "insert") {
            const r = recs[o.id]!;
            if (r.index >= 0) heap.remove(r); // as the clock does when re-arming
            heap.insert(r, o.deadline);
            model = model.filter((m) => m.id !== o.id);
            model.push({ id: o.id, deadline: o.deadline, seq: seq++ });
            sortModel();
          } else if (o.kind === "remove") {
            heap.remove(recs[o.id]!);
            model = model.filter((m) => m.id !== o.id);
          } else {
            const got = heap.pop();
            const want = model.shift();
            expect(got === undefined ? undefined : recs.indexOf(got)).toBe(want?.id);
            if (got) expect(got.pending).toBe(false);
          }
          expect(heap.size).toBe(model.length);
          const top = heap.peek();
          expect(top === undefined ? undefined : recs.indexOf(top)).toBe(model[0]?.id);
          for (let i = 0; i < recs.length; i++) expect(recs[i]!.pending).toBe(model.some((m) => m.id === i));
        }
        // Draining yields the model's order exactly.
        const rest: number[] = [];
        for (let r = heap.pop(); r; r = heap.pop()) rest.push(recs.indexOf(r));
        expect(rest).toEqual(model.map((m) => m.id));
      }),
      300,
    );
  });
});

describe("RealClock", () => {
  // The one test on real time: two short timers, well under 100 ms in total.
  it("fires timers in deadline order on real time and leaves none armed", async () => {
    const c = new RealClock();
    const log: string[] = [];
    const done = new Promise<void>((resolve) => {
      const late = c.createTimer(() => {
        log.push("late");
        resolve();
      });
      late.schedule(20);
    });
    const early = c.createTimer(() => log.push("early"));
    early.schedule(5);
    const cancelled = c.createTimer(() => log.push("cancelled"));
    cancelled.schedule(10);
    cancelled.cancel();
    const start = c.now();
    expect(c.pendingTimers()).toBe(2);
    await done;
    expect(log).toEqual(["early", "late"]);
    expect(c.now() - start).toBeGreaterThanOrEqual(19);
    expect(c.pendingTimers()).toBe(0);
  }, 1000);
});

/** A host timer on virtual time that records every arm and disarm (RealClock's test seam). */
class FakeHost implements HostTimer {
  t = 1000;
  arms = 0;
  disarms = 0;
  readonly live = new Set<{ fn: () => void; at: number; ref: boolean }>();
  now(): number {
    return this.t;
  }
  arm(fn: () => void, delayMs: number, ref: boolean): unknown {
    const h = { fn, at: this.t + delayMs, ref };
    this.live.add(h);
    this.arms++;
    return h;
  }
  disarm(handle: unknown): void {
    this.live.delete(handle as { fn: () => void; at: number; ref: boolean });
    this.disarms++;
  }
  setRef(handle: unknown, ref: boolean): void {
    (handle as { ref: boolean }).ref = ref;
  }
  /** The one armed host timer's time (RealClock never keeps two). */
  armedAt(): number | undefined {
    expect(this.live.size).toBeLessThanOrEqual(1);
    for (const h of this.live) return h.at;
    return undefined;
  }
  /** Moves time to `to`, firing host timers that fall due on the way, in order. */
  advance(to: number): void {
    for (;;) {
      let first: { fn: () => void; at: number; ref: boolean } | undefined;
      for (const h of this.live) if (h.at <= to && (!first || h.at < first.at)) first = h;
      if (!first) break;
      this.live.delete(first);
      if (first.at > this.t) this.t = first.at;
      first.fn();
    }
    this.t = to;
  }
}

describe("RealClock driving one host timer", () => {
  it("re-arms the host timer only when the earliest deadline moves earlier, not when it moves later or is cancelled", () => {
    const host = new FakeHost();
    const c = new RealClock(host);
    const delack = c.createTimer(() => {});
    const rto = c.createTimer(() => {});
    delack.schedule(40);
    expect(host.arms).toBe(1);
    expect(host.armedAt()).toBe(1040);
    // A request/response round trip: the retransmit timer re-armed later, the delayed ACK
    // cancelled and armed again a little later: no host timer call at all.
    for (let i = 0; i < 100; i++) {
      host.t += 0.05;
      rto.schedule(200);
      delack.cancel();
      delack.schedule(40);
    }
    expect(host.arms).toBe(1);
    expect(host.disarms).toBe(0);
    // An earlier deadline does re-arm (once), replacing the old host timer.
    const early = c.createTimer(() => {});
    early.schedule(5);
    expect(host.arms).toBe(2);
    expect(host.disarms).toBe(1);
    expect(host.armedAt()).toBe(host.t + 5);
  });

  it("a host timer that fires before the earliest deadline fires nothing and re-arms for that deadline", () => {
    const host = new FakeHost();
    const c = new RealClock(host);
    const log: string[] = [];
    const a = c.createTimer(() => log.push("a"));
    a.schedule(10);
    a.schedule(30); // later: the host timer stays at +10
    expect(host.armedAt()).toBe(1010);
    host.advance(1010);
    expect(log).toEqual([]);
    expect(a.pending).toBe(true);
    expect(host.armedAt()).toBe(1030);
    host.advance(1030);
    expect(log).toEqual(["a"]);
    expect(c.pendingTimers()).toBe(0);
    expect(host.live.size).toBe(0);
  });

  it("fires every due timer in deadline order when the host timer fires, including ones armed by a firing timer", () => {
    const host = new FakeHost();
    const c = new RealClock(host);
    const log: string[] = [];
    const b = c.createTimer(() => log.push("b"));
    const chained = c.createTimer(() => log.push("chained"));
    const a = c.createTimer(() => {
      log.push("a");
      chained.schedule(0);
    });
    b.schedule(20);
    a.schedule(20);
    host.advance(1020);
    expect(log).toEqual(["b", "a", "chained"]);
    expect(c.pendingTimers()).toBe(0);
  });

  it("ref(): armed timers keep the process alive, and the host timer goes as soon as none is armed", () => {
    const host = new FakeHost();
    const c = new RealClock(host);
    const t = c.createTimer(() => {});
    t.schedule(50);
    expect([...host.live][0]!.ref).toBe(false);
    c.ref();
    expect([...host.live][0]!.ref).toBe(true);
    const e = c.createTimer(() => {});
    e.schedule(10); // re-armed earlier: still ref'd
    expect([...host.live][0]!.ref).toBe(true);
    e.cancel();
    t.cancel();
    expect(host.live.size).toBe(0);
    c.unref();
    t.schedule(50);
    expect([...host.live][0]!.ref).toBe(false);
    t.cancel();
    expect(host.live.size).toBe(1); // unref'd: left to fire once, harmlessly
  });

  it("property: under any schedule/cancel/advance sequence no timer fires early or is missed, and the host timer is never later than the earliest deadline", () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant("schedule" as const), i: fc.nat(4), d: fc.double({ min: 0, max: 100, noNaN: true }) }),
      fc.record({ k: fc.constant("cancel" as const), i: fc.nat(4) }),
      fc.record({ k: fc.constant("advance" as const), d: fc.double({ min: 0, max: 60, noNaN: true }) }),
    );
    assertProperty(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const host = new FakeHost();
        const c = new RealClock(host);
        const fired: number[] = [];
        const timers = [0, 1, 2, 3, 4].map((i) => c.createTimer(() => {
          // RealClock fires a timer at most 0.5 ms before its deadline (host timers are whole ms).
          expect(c.now()).toBeGreaterThanOrEqual(deadlines[i]! - 0.5);
          fired.push(i);
        }));
        const deadlines: number[] = [0, 0, 0, 0, 0];
        for (const o of ops) {
          if (o.k === "schedule") {
            timers[o.i]!.schedule(o.d);
            deadlines[o.i] = c.now() + o.d;
          } else if (o.k === "cancel") {
            timers[o.i]!.cancel();
          } else {
            host.advance(host.t + o.d);
          }
          // Whenever a timer is armed, the host timer is armed no later than the earliest one
          // (the clock's time is the host's minus 1000; host delays are rounded up to whole ms).
          const pend = timers.flatMap((t) => (t.pending ? [t.deadline] : []));
          if (pend.length > 0) {
            const at = host.armedAt();
            expect(at).toBeDefined();
            expect(at! - 1000).toBeLessThanOrEqual(Math.min(...pend) + 1);
          }
        }
        // Running on until idle fires every timer still armed, none twice.
        const left = timers.filter((t) => t.pending).length;
        const before = fired.length;
        for (let n = 0; n < 100 && c.pendingTimers() > 0; n++) host.advance(host.armedAt()!);
        expect(c.pendingTimers()).toBe(0);
        expect(fired.length - before).toBe(left);
      }),
      300,
    );
  });
});

describe("target timers (createTimerFor: no closure per timer)", () => {
  class Target {
    readonly log: string[] = [];
    constructor(private readonly name: string, private readonly now: () => number) {}
    onTimer(id: number): void {
      this.log.push(`${this.name}${id}@${this.now()}`);
    }
  }

  it("ManualClock calls target.onTimer(id) at the deadline, in deadline order with closure timers, and not once cancelled", () => {
    const c = new ManualClock();
    const a = new Target("a", () => c.now());
    const fnLog: number[] = [];
    const t1 = c.createTimerFor(a, 1);
    const t2 = c.createTimerFor(a, 2);
    const t3 = c.createTimerFor(a, 3);
    const f = c.createTimer(() => fnLog.push(c.now()));
    t2.schedule(20);
    t1.schedule(10);
    t3.schedule(15);
    f.schedule(12);
    expect(t3.cancel()).toBe(true);
    expect(c.pendingTimers()).toBe(3);
    c.advance(30);
    expect(a.log).toEqual(["a1@10", "a2@20"]);
    expect(fnLog).toEqual([12]);
    expect(t1.pending).toBe(false);
    t1.schedule(5);
    c.advance(5);
    expect(a.log).toEqual(["a1@10", "a2@20", "a1@35"]);
  });

  it("RealClock calls target.onTimer(id) when its host timer fires", () => {
    const host = new FakeHost();
    const c = new RealClock(host);
    const a = new Target("a", () => c.now());
    c.createTimerFor(a, 7).schedule(10);
    c.createTimerFor(a, 8).schedule(20);
    host.advance(1015);
    expect(a.log).toEqual(["a7@10"]);
    host.advance(1030);
    expect(a.log).toEqual(["a7@10", "a8@20"]);
    expect(c.pendingTimers()).toBe(0);
  });
});
