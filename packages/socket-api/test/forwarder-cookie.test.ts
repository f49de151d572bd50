/**
 * NetStack.tcpForwarder with SYN cookies (RFC 4987 §3.6): with the forwarder's in-flight bound
 * full, a client still connects through a cookie, and the request the application gets is
 * marked `viaCookie`; its socket connects at once and carries the data as any other.
 */
import { afterEach, describe, expect, it } from "vitest";
import { SeededRandom } from "@netstack-ts/netstack";
import { createStackPair, type NetStack, type TcpForwardRequest } from "../src/index.js";

const open: NetStack[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function once<T = void>(emitter: { once(ev: string, f: (v: T) => void): unknown }, ev: string): Promise<T> {
  return new Promise((r) => emitter.once(ev, r));
}

describe("NetStack.tcpForwarder with SYN cookies", () => {
  it("past maxInFlight the client connects through a cookie; the viaCookie request's socket emits 'connect' and echoes", async () => {
    const p = await createStackPair({
      a: { name: "a", address: "198.18.0.1/24", random: new SeededRandom(1) },
      b: { name: "b", address: "198.18.0.2/24", random: new SeededRandom(2), transparent: true },
    });
    open.push(...p);
    const [a, b] = p;
    a.stack.addRoute({ destination: "203.0.113.0/24", nic: 1 });
    const reqs: TcpForwardRequest[] = [];
    const fwd = b.tcpForwarder((req) => {
      reqs.push(req);
      if (!req.viaCookie) return; // the first request stays undecided and fills the bound
      const s = req.accept();
      s.on("data", (d: Buffer) => s.write(d));
      s.on("end", () => s.end());
    }, { maxInFlight: 1 })!;
    const first = a.connect(80, "203.0.113.1");
    first.on("error", () => {});
    await new Promise<void>((r) => setImmediate(r));
    expect(reqs.map((r) => r.viaCookie)).toEqual([false]);
    const c = a.connect(443, "203.0.113.2");
    await once(c, "connect");
    const chunks: Buffer[] = [];
    c.on("data", (d: Buffer) => chunks.push(d));
    c.end("through a cookie");
    await once(c, "end");
    expect(Buffer.concat(chunks).toString()).toBe("through a cookie");
    expect(reqs.map((r) => r.viaCookie)).toEqual([false, true]);
    expect(reqs[1]!.destination).toEqual({ address: "203.0.113.2", port: 443, family: "IPv4" });
    expect(fwd.stats.cookiesSent).toBe(1);
    expect(fwd.stats.cookieRequests).toBe(1);
    // The undecided SYN request made room for the proven peer.
    expect(fwd.stats.evicted).toBe(1);
    expect(reqs[0]!.pending).toBe(false);
    first.destroy();
  });
});
