/**
 * TCP over the other in-memory link disciplines: "sync" delivery (a write delivers to the peer,
 * whose answers come back, before the write returns: the endpoint is re-entered while it is
 * busy and must queue what arrives) and the loopback device (both ends in one stack).
 */
import { describe, expect, it } from "vitest";
import { Pattern, Reader, TcpPair, Writer, expectNull, newTcp, ok, addr } from "./helpers/tcp-harness.js";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import { Stack } from "../src/stack/stack.js";
import { ipv4 } from "../src/network/ipv4/index.js";
import { LoopbackEndpoint } from "../src/link/loopback.js";
import { EventIn, EventOut, type WaiterEntry } from "../src/waiter/queue.js";
import { isError } from "../src/tcpip/errors.js";
import { ShutdownWrite } from "../src/tcpip/endpoint.js";
import { tcp, TcpState, type TcpEndpoint } from "../src/transport/tcp/index.js";
import type { DeliveryMode } from "../src/link/delivery.js";

/**
 * Makes a waiter callback safe against re-entry: with "sync" delivery a write can deliver, get
 * answered and notify before it returns, so a callback may be called from inside itself. The
 * nested call only asks the running one to go round again.
 */
function guarded(fn: () => void): WaiterEntry {
  let busy = false;
  let again = false;
  return {
    callback: () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      do {
        again = false;
        fn();
      } while (again);
      busy = false;
    },
  };
}

/** Echo server and client driven only by waiter callbacks (the callbacks call back into the endpoints). */
function echoOverWaiters(client: TcpEndpoint, server: TcpEndpoint, total: number): { got: () => number; hashes: () => [string, string] } {
  const pat = new Pattern(9);
  const w = new Writer(client, total, pat, 7000);
  const r = new Reader(client);
  const buf = new Uint8Array(9000);
  let pending = new Uint8Array(0);
  const serverEntry = guarded(() => {
    for (;;) {
      if (pending.length > 0) {
        const n = server.write(pending);
        if (isError(n)) return;
        pending = pending.subarray(n);
        if (pending.length > 0) return;
      }
      const x = server.read(buf);
      if (isError(x)) {
        if (x.name === "closed-for-receive") server.shutdown(ShutdownWrite);
        return;
      }
      pending = buf.slice(0, x.count);
    }
  });
  server.waiterQueue.register(serverEntry, EventIn | EventOut);
  const clientEntry = guarded(() => {
    w.pump();
    if (w.done) client.shutdown(ShutdownWrite);
    r.pump();
  });
  client.waiterQueue.register(clientEntry, EventIn | EventOut);
  clientEntry.callback(EventOut);
  return { got: () => r.received, hashes: () => [w.hash.digest("hex"), r.hash.digest("hex")] };
}

describe("TCP over other link disciplines", () => {
  for (const mode of ["sync", "timer"] as DeliveryMode[]) {
    it(`echoes 2 MiB through waiter callbacks over a pipe in "${mode}" delivery`, () => {
      const p = new TcpPair({ deliver: mode });
      const { client, server, listener } = p.connectPair();
      listener.close();
      const e = echoOverWaiters(client, server, 2 << 20);
      p.runUntil(() => e.got() === 2 << 20, 60_000);
      const [sent, echoed] = e.hashes();
      expect(echoed).toBe(sent);
      client.close();
      server.close();
      p.runUntilIdle();
      expect(p.a.endpointCount() + p.b.endpointCount()).toBe(0);
      expect(p.clock.pendingTimers()).toBe(0);
    });
  }

  for (const mode of ["sync", "timer"] as DeliveryMode[]) {
    it(`connects to itself over the loopback device ("${mode}" delivery) and moves data both ways`, () => {
      const clock = new ManualClock();
      const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [tcp], clock, random: new SeededRandom(3) });
      s.createNic(1, new LoopbackEndpoint({ clock, deliver: mode }), { name: "lo" });
      s.addAddress(1, "127.0.0.1/8");
      s.addRoute({ destination: "127.0.0.0/8", nic: 1 });
      const l = newTcp(s);
      expectNull(l.bind(addr("127.0.0.1", 80)));
      expectNull(l.listen(1));
      const c = newTcp(s);
      c.connect(addr("127.0.0.1", 80));
      clock.advance(0);
      const srv = ok(l.accept()).endpoint as TcpEndpoint;
      expect(c.state).toBe(TcpState.Established);
      const w1 = new Writer(c, 300_000, new Pattern(1));
      const w2 = new Writer(srv, 200_000, new Pattern(2));
      const r1 = new Reader(srv);
      const r2 = new Reader(c);
      for (let i = 0; i < 10_000 && (r1.received < 300_000 || r2.received < 200_000); i++) {
        w1.pump();
        w2.pump();
        r1.pump();
        r2.pump();
        clock.advance(1);
      }
      expect(r1.hash.digest("hex")).toBe(w1.hash.digest("hex"));
      expect(r2.hash.digest("hex")).toBe(w2.hash.digest("hex"));
      c.close();
      srv.close();
      l.close();
      clock.advance(61_000);
      expect(s.endpointCount()).toBe(0);
      expect(clock.pendingTimers()).toBe(0);
    });
  }
});
