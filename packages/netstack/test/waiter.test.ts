import { describe, expect, it } from "vitest";
import { EventErr, EventHup, EventIn, EventOut, WaiterQueue, entryOf } from "../src/waiter/queue.js";

describe("WaiterQueue", () => {
  it("notifies an entry only with the bits of its mask that were notified", () => {
    const q = new WaiterQueue();
    const got: [string, number][] = [];
    q.register(entryOf((e) => got.push(["in", e])), EventIn);
    q.register(entryOf((e) => got.push(["out", e])), EventOut);
    q.register(entryOf((e) => got.push(["inerr", e])), EventIn | EventErr);
    q.notify(EventIn | EventHup);
    expect(got).toEqual([
      ["in", EventIn],
      ["inerr", EventIn],
    ]);
    got.length = 0;
    q.notify(EventErr | EventOut);
    expect(got).toEqual([
      ["out", EventOut],
      ["inerr", EventErr],
    ]);
    got.length = 0;
    q.notify(EventHup);
    expect(got).toEqual([]);
  });

  it("registering an entry again replaces its mask", () => {
    const q = new WaiterQueue();
    const got: number[] = [];
    const e = entryOf((ev) => got.push(ev));
    q.register(e, EventIn);
    q.register(e, EventOut);
    expect(q.size).toBe(1);
    q.notify(EventIn);
    q.notify(EventOut);
    expect(got).toEqual([EventOut]);
  });

  it("unregister stops notifications and interests() is the union of masks", () => {
    const q = new WaiterQueue();
    let n = 0;
    const a = entryOf(() => n++);
    const b = entryOf(() => n++);
    q.register(a, EventIn);
    q.register(b, EventOut | EventHup);
    expect(q.interests()).toBe(EventIn | EventOut | EventHup);
    q.unregister(a);
    expect(q.interests()).toBe(EventOut | EventHup);
    q.notify(EventIn);
    expect(n).toBe(0);
    q.unregister(a); // unknown entry: no effect
    expect(q.size).toBe(1);
  });

  it("an entry may unregister itself from inside its callback; later entries still run", () => {
    const q = new WaiterQueue();
    const log: string[] = [];
    const once = entryOf(() => {
      log.push("once");
      q.unregister(once);
    });
    q.register(once, EventIn);
    q.register(
      entryOf(() => log.push("always")),
      EventIn,
    );
    q.notify(EventIn);
    q.notify(EventIn);
    expect(log).toEqual(["once", "always", "always"]);
    expect(q.size).toBe(1);
  });

  it("an entry unregistered by an earlier callback is not called in the same notify", () => {
    const q = new WaiterQueue();
    const log: string[] = [];
    const victim = entryOf(() => log.push("victim"));
    q.register(
      entryOf(() => {
        log.push("first");
        q.unregister(victim);
      }),
      EventIn,
    );
    q.register(victim, EventIn);
    q.notify(EventIn);
    expect(log).toEqual(["first"]);
  });
});
