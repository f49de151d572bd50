/**
 * The TUN poller's two read modes against the Linux kernel, on one echo server: request/response
 * traffic (one packet per wakeup) puts it in one-read-per-wakeup mode (no read() that only
 * answers EAGAIN), and a bulk transfer right after must still arrive whole, in order, and drain
 * (the poll is level-triggered, and the poller goes back to draining batches). Then round trips
 * again. Runs in a namespace created and deleted here (see netns.ts).
 */
import { afterAll, beforeAll, describe, expect } from "vitest";
import { NET, Netns, interopPrereqs, itInterop, skipInterop, type Proc } from "./netns.js";
import { optionalProtocols } from "../../packages/link-tun/src/setup.js";

const MiB = 1 << 20;
const opt = optionalProtocols();

describe("TUN read modes: round trips, then bulk, then round trips, on one server", () => {
  let ns: Netns | null = null;
  let server: Proc | null = null;

  beforeAll(async () => {
    if (skipInterop() || !interopPrereqs().ok || !opt.tcp) return;
    ns = Netns.create();
    server = await ns.echoServer({ tun: "nst0", port: 7, mode: "echo" });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await ns?.delete();
  });

  itInterop("64-byte round trips, a 4 MiB echo and round trips again all arrive verified", async () => {
    if (!opt.tcp) throw new Error("TCP is not exported by @netstack-ts/netstack yet (no `tcp` factory)");
    // More one-packet wakeups than the poller needs to switch to one read per wakeup.
    const rr1 = await ns!.kernel(["tcp-rr", NET.stack4, 7, "--rounds", 300, "--size", 64], 60);
    expect(rr1.ok).toBe(300);
    // Straight into bulk (several packets per wakeup), both directions at once.
    const bulk = await ns!.kernel(["tcp-echo", NET.stack4, 7, "--bytes", 4 * MiB], 60);
    expect(bulk).toMatchObject({ error: null, received: 4 * MiB, eof: true });
    expect(bulk.sha_received).toBe(bulk.sha_sent);
    // UDP one at a time, then TCP round trips again.
    const udp = await ns!.kernel(["udp-echo", NET.stack4, 7, "--count", 40, "--size", 200]);
    expect(udp).toMatchObject({ sent: 40, echoed: 40 });
    const rr2 = await ns!.kernel(["tcp-rr", NET.stack4, 7, "--rounds", 300, "--size", 64], 60);
    expect(rr2.ok).toBe(300);
  });
});
