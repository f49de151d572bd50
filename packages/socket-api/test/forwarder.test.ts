/**
 * NetStack.tcpForwarder / udpForwarder: transparent mode with node-shaped sockets. Stack `a`
 * routes 203.0.113.0/24 straight into stack `b` (transparent: promiscuous + spoofing), which
 * hands every connection and flow to the application as the destination the client asked for.
 */
import { afterEach, describe, expect, it } from "vitest";
import { SeededRandom } from "@netstack-ts/netstack";
import { createStackPair, type NetSocket, type NetStack, type TcpForwardRequest } from "../src/index.js";

const open: NetStack[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function transparentPair(): Promise<[NetStack, NetStack]> {
  const p = await createStackPair({
    a: { name: "a", address: "198.18.0.1/24", random: new SeededRandom(1) },
    b: { name: "b", address: "198.18.0.2/24", random: new SeededRandom(2), transparent: true },
  });
  open.push(...p);
  p[0].stack.addRoute({ destination: "203.0.113.0/24", nic: 1 });
  return p;
}

function once<T = void>(emitter: { once(ev: string, f: (v: T) => void): unknown }, ev: string): Promise<T> {
  return new Promise((r) => emitter.once(ev, r));
}

describe("NetStack.tcpForwarder / udpForwarder (transparent mode)", () => {
  it("accept() gives a node:net-style socket that answers as the original destination and emits 'connect'", async () => {
    const [a, b] = await transparentPair();
    const reqs: TcpForwardRequest[] = [];
    const accepted: NetSocket[] = [];
    const connected: Promise<void>[] = [];
    const fwd = b.tcpForwarder((req) => {
      reqs.push(req);
      const s = req.accept();
      accepted.push(s);
      connected.push(once(s, "connect"));
      s.on("data", (d: Buffer) => s.write(d));
      s.on("end", () => s.end());
    })!;
    const c = a.connect(4433, "203.0.113.9");
    await once(c, "connect");
    await connected[0];
    expect(reqs[0]!.source).toEqual({ address: "198.18.0.1", port: c.localPort, family: "IPv4" });
    expect(reqs[0]!.destination).toEqual({ address: "203.0.113.9", port: 4433, family: "IPv4" });
    expect(reqs[0]!.pending).toBe(false);
    const s = accepted[0]!;
    expect(s.localAddress).toBe("203.0.113.9");
    expect(s.localPort).toBe(4433);
    expect(s.remoteAddress).toBe("198.18.0.1");
    const chunks: Buffer[] = [];
    c.on("data", (d: Buffer) => chunks.push(d));
    c.end("hello through the forwarder");
    await once(c, "end");
    expect(Buffer.concat(chunks).toString()).toBe("hello through the forwarder");
    expect(fwd.stats.established).toBe(1);
  });

  it("reject() refuses: the client's connect fails with ECONNREFUSED", async () => {
    const [a, b] = await transparentPair();
    b.tcpForwarder((req) => req.reject());
    const c = a.connect(22, "203.0.113.10");
    const err = await once<NodeJS.ErrnoException>(c, "error");
    expect(err.code).toBe("ECONNREFUSED");
  });

  it("udpForwarder: accept() gives a dgram-style socket bound to the destination; replies come from it", async () => {
    const [a, b] = await transparentPair();
    const fwd = b.udpForwarder((req) => {
      expect(req.destination).toEqual({ address: "203.0.113.53", port: 53, family: "IPv4" });
      const u = req.accept();
      expect(u.address()).toMatchObject({ address: "203.0.113.53", port: 53 });
      u.on("message", (m: Buffer) => u.send(Buffer.concat([Buffer.from("re: "), m])));
    })!;
    const c = a.createSocket("udp4");
    await new Promise<void>((r) => c.bind(0, r));
    const got = new Promise<[Buffer, { address: string; port: number }]>((r) => c.once("message", (m, ri) => r([m, ri])));
    c.send("query", 53, "203.0.113.53");
    const [msg, rinfo] = await got;
    expect(msg.toString()).toBe("re: query");
    expect(rinfo.address).toBe("203.0.113.53");
    expect(rinfo.port).toBe(53);
    expect(fwd.stats.accepted).toBe(1);
  });
});
