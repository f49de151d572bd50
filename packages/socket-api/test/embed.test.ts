/**
 * The embedding API (src/embed): one-call stacks, node:net / dgram faces bound to them, Web
 * Streams and async iterators over the same endpoint adapter, AbortSignal on every wait,
 * `using` / `await using`, diagnostics_channel events, stats and pcap on a running stack.
 * In-memory pairs: the real clock with microtask delivery (Node streams need a live event loop),
 * or a ManualClock where time matters (retransmission timeouts).
 */
import { createHash } from "node:crypto";
import dc from "node:diagnostics_channel";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, SeededRandom } from "@netstack-ts/netstack";
import {
  AF_INET, Connection, LibOS, NetSocket, SOCK_STREAM, channels, createStack, createStackPair, formatStackStats,
  type ConnectionEvent, type DropEvent, type NetStack, type RtoEvent,
} from "../src/index.js";

const open: NetStack[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function pair(opts: { clock?: ManualClock } = {}): Promise<[NetStack, NetStack]> {
  const p = await createStackPair({
    a: { name: "a", address: "198.18.0.1/24", address6: "fd00:198:18::1/64", random: new SeededRandom(1) },
    b: { name: "b", address: "198.18.0.2/24", address6: "fd00:198:18::2/64", random: new SeededRandom(2) },
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  open.push(...p);
  return p;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const pattern = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + 5) & 0xff;
  return b;
};
/** Lets queued microtasks and immediates run (no timers). */
const turn = () => new Promise<void>((r) => setImmediate(r));

function subscribe<T>(name: string): { events: T[]; stop(): void } {
  const events: T[] = [];
  const fn = (m: unknown) => events.push(m as T);
  dc.subscribe(name, fn);
  return { events, stop: () => dc.unsubscribe(name, fn) };
}

describe("createStack: one call to a ready stack", () => {
  it("rejects missing or conflicting links and malformed addresses with a clear error", async () => {
    await expect(createStack({ address: "198.18.0.1/24" })).rejects.toThrow(/exactly one of `tun`, `tap` or `link`/);
    const [a] = await pair();
    await expect(createStack({ link: a.link, tun: "x", address: "198.18.0.1/24" })).rejects.toThrow(TypeError);
    await expect(createStack({ link: a.link })).rejects.toThrow(/needs `address` or `address6`/);
    await expect(createStack({ link: a.link, address: "198.18.0.1" })).rejects.toThrow(/want a\.b\.c\.d\/n/);
    await expect(createStack({ link: a.link, address: "fd00::1/64" })).rejects.toThrow(RangeError);
    await expect(createStack({ link: a.link, address: "198.18.0.1/24", address6: "nonsense" })).rejects.toThrow(/invalid address/);
  });

  it("configures addresses and on-link routes for both families, named as asked", async () => {
    const [a, b] = await pair();
    expect(a.name).toBe("a");
    expect(a.address).toBe("198.18.0.1");
    expect(b.address6).toBe("fd00:198:18::2");
    const nic = a.stats().nics[0]!;
    expect(nic.addresses).toEqual(expect.arrayContaining(["198.18.0.1/24", "fd00:198:18::1/64"]));
    expect(a.stats().name).toBe("a");
  });

  it("node:net style: createServer/connect on the bound stacks echo bytes and half-close", async () => {
    const [a, b] = await pair();
    const server = b.createServer((s) => {
      s.on("data", (d: Buffer) => s.write(d));
      s.on("end", () => s.end());
    });
    await new Promise<void>((r) => server.listen(7, r));
    const data = pattern(200_000);
    const got = await new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      const c = a.net.connect(7, "198.18.0.2", () => c.end(Buffer.from(data)));
      expect(c).toBeInstanceOf(NetSocket);
      c.on("data", (d: Buffer) => parts.push(d));
      c.on("end", () => resolve(Buffer.concat(parts)));
      c.on("error", reject);
    });
    expect(sha(got)).toBe(sha(data));
    server.close();
  });

  it("dgram style: createSocket on the bound stacks exchanges IPv4 and IPv6 datagrams", async () => {
    const [a, b] = await pair();
    for (const [type, host] of [["udp4", "198.18.0.2"], ["udp6", "fd00:198:18::2"]] as const) {
      const echo = b.dgram.createSocket(type, (msg, r) => echo.send(msg, r.port, r.address));
      await new Promise<void>((r) => echo.bind(9, r));
      const c = a.createSocket(type);
      const reply = await new Promise<string>((resolve) => {
        c.on("message", (m: Buffer) => resolve(m.toString()));
        c.send(`hi ${type}`, 9, host);
      });
      expect(reply).toBe(`hi ${type}`);
      c.close();
      echo.close();
    }
  });

  it("Linux-style and queue-token sockets reach the same stack", async () => {
    const [a, b] = await pair();
    const l = b.socket(AF_INET, SOCK_STREAM);
    l.bind({ address: "0.0.0.0", port: 80 });
    l.listen(8);
    const q = a.queues();
    expect(q).toBeInstanceOf(LibOS);
    expect(a.queues()).toBe(q);
    const qd = q.socket(AF_INET, SOCK_STREAM);
    const r = await q.wait(q.connect(qd, { address: "198.18.0.2", port: 80 }), 5000);
    expect(r.opcode).toBe("connect");
    const accepted = await l.acceptAsync();
    expect(accepted.getpeername().address).toBe("198.18.0.1");
    accepted.close();
    q.close(qd);
    l.close();
  });
});

describe("Web Streams and async iterators over the node:net endpoint code", () => {
  it("echoes 512 KiB through readable.pipeTo(writable) on a `for await` listener; the connection wraps a NetSocket", async () => {
    const [a, b] = await pair();
    const listener = await b.listen({ port: 7 });
    void (async () => {
      for await (const conn of listener) conn.readable.pipeTo(conn.writable).catch(() => {});
    })();
    const conn = await a.dial({ host: "198.18.0.2", port: listener.port });
    expect(conn).toBeInstanceOf(Connection);
    expect(conn.socket).toBeInstanceOf(NetSocket);
    expect(conn.remoteAddress).toBe("198.18.0.2");
    const data = pattern(512 * 1024);
    const w = conn.writable.getWriter();
    const writing = (async () => {
      for (let off = 0; off < data.length; off += 10_000) {
        await w.ready;
        await w.write(data.subarray(off, off + 10_000));
      }
      await w.close();
    })();
    const parts: Uint8Array[] = [];
    for await (const chunk of conn.readable) parts.push(chunk);
    await writing;
    expect(sha(Buffer.concat(parts))).toBe(sha(data));
    await listener.close();
  });

  it("applies backpressure: the writer's desiredSize drops to 0 while the peer does not read, and recovers when it does", async () => {
    const [a, b] = await pair();
    const listener = await b.listen({ port: 8 });
    const conn = await a.dial({ host: "198.18.0.2", port: 8 });
    const peer = (await listener.accept())!;
    const w = conn.writable.getWriter();
    const chunk = new Uint8Array(16 * 1024);
    let queued = 0;
    // Bounded: the windows and buffers are far below 64 MiB.
    while ((w.desiredSize ?? 0) > 0 && queued < 64 << 20) {
      w.write(chunk).catch(() => {}); // rejected with EPIPE when the test resets the connection
      queued += chunk.length;
      await turn();
    }
    expect(w.desiredSize).toBeLessThanOrEqual(0);
    expect(queued).toBeLessThan(64 << 20);
    let drained = 0;
    const readyAgain = w.ready.then(() => true);
    while (drained < queued && !(await Promise.race([readyAgain, turn().then(() => false)]))) {
      const c = await peer.read();
      if (c === null) break;
      drained += c.length;
    }
    expect(await readyAgain).toBe(true);
    conn.reset();
    await listener.close();
  });

  it("UDP sockets are async iterables of datagrams with sender address and port", async () => {
    const [a, b] = await pair();
    const server = await b.bindUdp({ port: 53 });
    const client = await a.bindUdp({ port: 5353 });
    for (const t of ["one", "two", "three"]) await client.send(t, 53, "198.18.0.2");
    const seen: string[] = [];
    for await (const d of server) {
      expect(d.address).toBe("198.18.0.1");
      expect(d.port).toBe(5353);
      seen.push(Buffer.from(d.data).toString());
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(["one", "two", "three"]);
    server.close();
    expect(await server.receive()).toBeNull();
    client.close();
  });
});

describe("AbortSignal on every wait", () => {
  it("accept: an aborted accept rejects with AbortError and the next accept still gets the connection", async () => {
    const [a, b] = await pair();
    const listener = await b.listen({ port: 9 });
    const ac = new AbortController();
    const p = listener.accept({ signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
    await expect(listener.accept({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
    const conn = await a.dial({ host: "198.18.0.2", port: 9 });
    const got = await listener.accept({ signal: new AbortController().signal });
    expect(got?.remotePort).toBe(conn.localPort);
    await listener.close();
  });

  it("read: an aborted read rejects and loses no data; the next read returns the chunk", async () => {
    const [a, b] = await pair();
    const listener = await b.listen({ port: 10 });
    const conn = await a.dial({ host: "198.18.0.2", port: 10 });
    const peer = (await listener.accept())!;
    const ac = new AbortController();
    const r = conn.read({ signal: ac.signal });
    ac.abort(new Error("user gave up"));
    await expect(r).rejects.toMatchObject({ name: "AbortError" });
    await peer.write("after abort");
    expect(Buffer.from((await conn.read())!).toString()).toBe("after abort");
    await listener.close();
  });

  it("connect: aborting a dial that gets no answer rejects with AbortError and leaves no endpoint behind", async () => {
    const [a] = await pair();
    const before = a.stack.endpointCount();
    const ac = new AbortController();
    const p = a.dial({ host: "198.18.0.77", port: 80, signal: ac.signal });
    await turn();
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
    await turn();
    expect(a.stack.endpointCount()).toBe(before);
    await expect(a.dial({ host: "198.18.0.2", port: 80, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
  });

  it("listen: aborting the listen signal closes the listener and ends `for await`", async () => {
    const [, b] = await pair();
    const ac = new AbortController();
    const listener = await b.listen({ port: 11, signal: ac.signal });
    const loop = (async () => {
      let n = 0;
      for await (const _ of listener) n++;
      return n;
    })();
    ac.abort();
    expect(await loop).toBe(0);
    expect(b.stack.endpointCount()).toBe(0);
    await expect(b.listen({ port: 12, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
  });

  it("queue tokens: an aborted wait rejects with AbortError and the token stays valid for the next wait", async () => {
    const [a, b] = await pair();
    const os = b.queues();
    const lq = os.socket(AF_INET, SOCK_STREAM);
    os.bind(lq, { address: "0.0.0.0", port: 70 });
    os.listen(lq, 4);
    const qt = os.accept(lq);
    const ac = new AbortController();
    const p = os.wait(qt, -1, ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
    await expect(os.waitAny([qt], -1, AbortSignal.abort())).rejects.toMatchObject({ name: "AbortError" });
    const conn = await a.dial({ host: "198.18.0.2", port: 70 });
    const r = await os.wait(qt, 5000, new AbortController().signal);
    expect(r.opcode).toBe("accept");
    expect(r.accepted?.addr.port).toBe(conn.localPort);
    os.close(lq);
  });

  it("receive: an aborted UDP receive rejects; the datagram goes to the next receive", async () => {
    const [a, b] = await pair();
    const s = await b.bindUdp({ port: 99 });
    const ac = new AbortController();
    const p = s.receive({ signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
    const c = await a.bindUdp();
    await c.send("x", 99, "198.18.0.2");
    expect(Buffer.from((await s.receive())!.data).toString()).toBe("x");
    s.close();
    c.close();
  });
});

describe("using / await using", () => {
  it("await using closes connections, listeners and the stacks at the end of the scope", async () => {
    const [a, b] = await pair();
    let conn: Connection;
    {
      await using listener = await b.listen({ port: 13 });
      await using c = await a.dial({ host: "198.18.0.2", port: 13 });
      conn = c;
      await using peer = (await listener.accept())!;
      expect(peer.remotePort).toBe(c.localPort);
    }
    expect(conn.socket.destroyed).toBe(true);
    await turn();
    expect(b.stack.endpointCount()).toBeLessThanOrEqual(1); // at most the server side in TIME-WAIT/closing
    {
      using _a = a;
      await using _b = b;
    }
    expect(a.isClosed).toBe(true);
    expect(b.isClosed).toBe(true);
    expect(typeof Symbol.dispose).toBe("symbol");
    expect(typeof Symbol.asyncDispose).toBe("symbol");
  });

  it("close() on the stack closes the sockets opened through it", async () => {
    const [a, b] = await pair();
    const server = b.createServer(() => {});
    await new Promise<void>((r) => server.listen(14, r));
    const u = b.createSocket("udp4");
    u.bind(15);
    await turn();
    expect(b.stack.endpointCount()).toBe(2);
    b.close();
    expect(server.listening).toBe(false);
    expect(b.isClosed).toBe(true);
    a.close();
  });
});

describe("observability", () => {
  it("publishes connection open, close and reset on diagnostics_channel with addresses and byte counts", async () => {
    const opened = subscribe<ConnectionEvent>(channels.connectionOpen);
    const closed = subscribe<ConnectionEvent>(channels.connectionClose);
    const resets = subscribe<ConnectionEvent>(channels.connectionReset);
    try {
      const [a, b] = await pair();
      const listener = await b.listen({ port: 16 });
      const conn = await a.dial({ host: "198.18.0.2", port: 16 });
      const peer = (await listener.accept())!;
      await conn.write("12345");
      expect(Buffer.from((await peer.read())!).toString()).toBe("12345");
      expect(opened.events.map((e) => [e.stack, e.direction])).toEqual(expect.arrayContaining([["a", "outbound"], ["b", "inbound"]]));
      const out = opened.events.find((e) => e.stack === "a")!;
      expect(out).toMatchObject({ protocol: "tcp", remoteAddress: "198.18.0.2", remotePort: 16, localAddress: "198.18.0.1" });
      await conn.close();
      await peer.close();
      expect(closed.events.find((e) => e.stack === "a")).toMatchObject({ bytesWritten: 5, remotePort: 16 });
      const c2 = await a.dial({ host: "198.18.0.2", port: 16 });
      const p2 = (await listener.accept())!;
      const peerGone = new Promise<void>((r) => p2.socket.once("close", () => r()));
      const peerRead = p2.read().catch((e: Error) => e); // a reader notices the RST
      c2.reset();
      expect(await peerRead).toMatchObject({ code: "ECONNRESET" });
      await peerGone;
      expect(resets.events.map((e) => e.stack).sort()).toEqual(["a", "b"]);
      expect(resets.events.find((e) => e.stack === "b")!.error).toMatchObject({ code: "ECONNRESET" });
      await listener.close();
    } finally {
      opened.stop();
      closed.stop();
      resets.stop();
    }
  });

  it("publishes drops with the counter that names the reason (UDP to a closed port: udp.unknownPortErrors)", async () => {
    const drops = subscribe<DropEvent>(channels.drop);
    try {
      const [a, b] = await pair();
      const c = await a.bindUdp();
      await c.send("nobody listens", 4444, "198.18.0.2");
      for (let i = 0; i < 20 && drops.events.length === 0; i++) await turn();
      expect(drops.events).toContainEqual({ stack: "b", reason: "udp.unknownPortErrors", count: 1 });
      expect(b.stack.stats.udp.unknownPortErrors).toBe(1);
      c.close();
    } finally {
      drops.stop();
    }
  });

  it("publishes retransmission timeouts (RFC 6298 §5.4: the SYN is resent after the initial 1 s RTO)", async () => {
    const rtos = subscribe<RtoEvent>(channels.rto);
    try {
      const clock = new ManualClock();
      const [a] = await pair({ clock });
      const s = a.connect(80, "198.18.0.99");
      s.on("error", () => {});
      await turn();
      clock.advance(999);
      expect(rtos.events).toEqual([]);
      clock.advance(2);
      expect(rtos.events).toEqual([{ stack: "a", count: 1, total: 1 }]);
      clock.advance(2000);
      expect(rtos.events.at(-1)).toEqual({ stack: "a", count: 1, total: 2 });
      s.destroy();
    } finally {
      rtos.stop();
    }
  });

  it("stats() snapshots every counter and formatStats prints the nonzero ones per protocol", async () => {
    const [a, b] = await pair();
    const conn = await a.dial({ host: "198.18.0.2", port: 1 }).catch((e: NodeJS.ErrnoException) => e);
    expect(conn).toMatchObject({ code: "ECONNREFUSED" });
    const snap = a.stats();
    expect(snap.tcp.activeConnectionOpenings).toBe(1);
    expect(snap.tcp.resetsReceived).toBe(1);
    expect(snap.capture.running).toBe(false);
    snap.tcp.resetsReceived = 99; // a snapshot, not a live view
    expect(a.stack.stats.tcp.resetsReceived).toBe(1);
    const text = a.formatStats();
    expect(text).toMatch(/^netstack a\n/);
    expect(text).toMatch(/TCP:\n(?:.*\n)*\s+1 activeConnectionOpenings\n/);
    expect(text).not.toMatch(/ARP:/); // all zero: left out
    expect(text).toMatch(/NIC 1 a: mtu 1500 up/);
    expect(formatStackStats(b.stack.snapshot(), { all: true })).toMatch(/\s0 reassemblyTimeouts/);
  });

  it("captures to pcap between startCapture and stopCapture on a running stack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "embed-pcap-"));
    try {
      const [a, b] = await pair();
      const srv = await b.bindUdp({ port: 7 });
      const c = await a.bindUdp();
      await c.send("before", 7, "198.18.0.2");
      await srv.receive();
      const file = join(dir, "run.pcap");
      a.startCapture(file);
      expect(() => a.startCapture(file)).toThrow(/already running/);
      expect(a.stats().capture.running).toBe(true);
      await c.send("during", 7, "fd00:198:18::2").catch(() => c.send("during", 7, "198.18.0.2"));
      await c.send("during", 7, "198.18.0.2");
      await srv.receive();
      const sum = a.stopCapture()!;
      expect(sum.packets).toBeGreaterThanOrEqual(1);
      const size = statSync(file).size;
      await c.send("after", 7, "198.18.0.2");
      await srv.receive();
      expect(statSync(file).size).toBe(size);
      expect(a.stopCapture()).toBeNull();
      // libpcap savefile: magic a1b2c3d4 (little-endian here), LINKTYPE_RAW (101), then records.
      const f = readFileSync(file);
      expect(f.readUInt32LE(0)).toBe(0xa1b2c3d4);
      expect(f.readUInt32LE(20)).toBe(101);
      let off = 24;
      const payloads: string[] = [];
      for (let i = 0; i < sum.packets; i++) {
        const incl = f.readUInt32LE(off + 8);
        const pkt = f.subarray(off + 16, off + 16 + incl);
        if (pkt[0]! >> 4 === 4 && pkt[9] === 17) payloads.push(pkt.subarray(28).toString());
        off += 16 + incl;
      }
      expect(off).toBe(f.length);
      expect(payloads).toContain("during");
      expect(payloads).not.toContain("before");
      expect(payloads).not.toContain("after");
      srv.close();
      c.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
