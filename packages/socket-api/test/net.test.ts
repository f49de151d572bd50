/**
 * node:net compatibility over two in-memory stacks (real clock, microtask delivery), and
 * node:http and node:tls running over it unmodified.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import tls from "node:tls";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { connect, createServer, netFor, type NetServer, type NetSocket } from "../src/net.js";
import { createSocket } from "../src/dgram.js";
import { drive, manualPair, realPair, type StackPair } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
const KEY = readFileSync(join(here, "fixtures", "test-key.pem"));
const CERT = readFileSync(join(here, "fixtures", "test-cert.pem"));

let pair: StackPair | null = null;
const servers: NetServer[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  pair?.close();
  pair = null;
});

function setup(): StackPair {
  pair = realPair();
  return pair;
}

function listen(server: NetServer, port: number): Promise<void> {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
}

function collect(s: NetSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("end", () => resolve(Buffer.concat(parts)));
    s.on("error", reject);
  });
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("node:net over the stack", () => {
  it("echoes 1 MiB and half-closes like net.Socket (FIN after the peer's end)", async () => {
    const p = setup();
    const server = createServer({ stack: p.a }, (s) => s.pipe(s));
    await listen(server, 7000);
    expect(server.address()).toEqual({ address: "0.0.0.0", family: "IPv4", port: 7000 });
    const payload = randomBytes(1 << 20);
    const c = connect({ stack: p.b, host: p.addrA, port: 7000 });
    const connected = new Promise<void>((r) => c.once("connect", () => r()));
    const got = collect(c);
    c.end(payload);
    await connected;
    expect(c.remoteAddress).toBe(p.addrA);
    expect(c.remotePort).toBe(7000);
    expect(c.remoteFamily).toBe("IPv4");
    expect(c.localAddress).toBe(p.addrB);
    expect(c.localPort).toBeGreaterThanOrEqual(32768);
    const echoed = await got;
    expect(echoed.length).toBe(payload.length);
    expect(sha(echoed)).toBe(sha(payload));
    expect(c.bytesWritten).toBe(payload.length);
    expect(c.bytesRead).toBe(payload.length);
  });

  it("applies backpressure: write() returns false past the high-water mark and 'drain' follows", async () => {
    const p = setup();
    let serverSide: NetSocket | null = null;
    const server = createServer({ stack: p.a }, (s) => {
      serverSide = s;
      s.pause(); // nobody reads: the window closes and the client's buffer fills
    });
    await listen(server, 7001);
    const c = connect({ stack: p.b, host: p.addrA, port: 7001 });
    await new Promise<void>((r) => c.once("connect", () => r()));
    const chunk = Buffer.alloc(64 * 1024, 7);
    let full = false;
    for (let i = 0; i < 200 && !full; i++) full = !c.write(chunk);
    expect(full).toBe(true);
    const drained = new Promise<void>((r) => c.once("drain", () => r()));
    serverSide!.resume();
    await drained;
    c.destroy();
  });

  it("reports ECONNREFUSED on 'error' for a closed port", async () => {
    const p = setup();
    const c = connect({ stack: p.b, host: p.addrA, port: 7999 });
    const err = await new Promise<NodeJS.ErrnoException>((r) => c.once("error", r));
    expect(err.code).toBe("ECONNREFUSED");
    expect(err.syscall).toBe("connect");
    expect(err.errno).toBe(-111);
  });

  it("resetAndDestroy sends RST: the peer's stream errors with ECONNRESET", async () => {
    const p = setup();
    const peerErr = new Promise<NodeJS.ErrnoException>((resolve) => {
      const server = createServer({ stack: p.a }, (s) => {
        s.on("error", resolve);
        s.resume();
      });
      void listen(server, 7002);
    });
    await new Promise((r) => setTimeout(r, 5));
    const c = connect({ stack: p.b, host: p.addrA, port: 7002 });
    await new Promise<void>((r) => c.once("connect", () => r()));
    c.write("x");
    await new Promise((r) => setTimeout(r, 5));
    c.resetAndDestroy();
    const e = await peerErr;
    expect(e.code).toBe("ECONNRESET");
  });

  it("allowHalfOpen keeps the writable side open after the peer's FIN", async () => {
    const p = setup();
    const server = createServer({ stack: p.a, allowHalfOpen: true }, (s) => {
      s.resume();
      s.on("end", () => {
        setTimeout(() => s.end("late reply"), 10);
      });
    });
    await listen(server, 7003);
    const c = connect({ stack: p.b, host: p.addrA, port: 7003, allowHalfOpen: true });
    const got = collect(c);
    c.end("request");
    expect((await got).toString()).toBe("late reply");
  });

  it("maxConnections closes connections over the limit; close() waits for open ones", async () => {
    const p = setup();
    const accepted: NetSocket[] = [];
    const server = createServer({ stack: p.a }, (s) => accepted.push(s));
    server.maxConnections = 1;
    await listen(server, 7004);
    const c1 = connect({ stack: p.b, host: p.addrA, port: 7004 });
    await new Promise<void>((r) => c1.once("connect", () => r()));
    const c2 = connect({ stack: p.b, host: p.addrA, port: 7004 });
    c2.on("error", () => {});
    const c2Ended = new Promise<void>((r) => c2.once("close", () => r()));
    c2.resume();
    await c2Ended;
    expect(accepted.length).toBe(1);
    const closed = new Promise<void>((r) => server.close(() => r()));
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(isClosed).toBe(false);
    accepted[0]!.destroy();
    await closed;
    c1.destroy();
  });

  it("setTimeout emits 'timeout' after idleness; setNoDelay/setKeepAlive reach the endpoint", async () => {
    const p = setup();
    const server = createServer({ stack: p.a }, (s) => s.resume());
    await listen(server, 7005);
    const c = connect({ stack: p.b, host: p.addrA, port: 7005 });
    await new Promise<void>((r) => c.once("connect", () => r()));
    c.setNoDelay(true);
    c.setKeepAlive(true, 30_000);
    expect(c.handle!.getsockoptInt(6, 1)).toBe(1); // TCP_NODELAY
    expect(c.handle!.getsockoptInt(1, 9)).toBe(1); // SO_KEEPALIVE
    expect(c.handle!.getsockoptInt(6, 4)).toBe(30); // TCP_KEEPIDLE
    const t0 = Date.now();
    await new Promise<void>((r) => c.setTimeout(30, () => r()));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    c.destroy();
  });

  it("reports ETIMEDOUT when the SYNs go unanswered (virtual time, Linux's 6 SYN retries)", async () => {
    const p = (pair = manualPair());
    const c = connect({ stack: p.b, host: "198.18.0.3", port: 80 }); // nobody has this address
    const err = await drive(p, new Promise<NodeJS.ErrnoException>((r) => c.once("error", r)), 300_000);
    expect(err.code).toBe("ETIMEDOUT");
    expect(err.errno).toBe(-110);
  });

  it("reports EPIPE when writing after the send side was shut down", async () => {
    const p = setup();
    const server = createServer({ stack: p.a }, (s) => s.resume());
    await listen(server, 7007);
    const c = connect({ stack: p.b, host: p.addrA, port: 7007 });
    await new Promise<void>((r) => c.once("connect", () => r()));
    c.handle!.shutdown(1); // SHUT_WR under the stream
    const err = new Promise<NodeJS.ErrnoException>((r) => c.once("error", r));
    c.write("x");
    expect((await err).code).toBe("EPIPE");
  });

  it("netFor(stack) gives a node:net-shaped module", async () => {
    const p = setup();
    const netA = netFor(p.a);
    const netB = netFor(p.b);
    const server = netA.createServer((s) => s.end("hi"));
    await listen(server, 7006);
    const got = await collect(netB.connect(7006, p.addrA));
    expect(got.toString()).toBe("hi");
  });
});

describe("node:http and node:tls over the stack", () => {
  it("serves an http GET of 1 MiB and a POST of 1 MiB between the two stacks", async () => {
    const p = setup();
    const body = randomBytes(1 << 20);
    const httpServer = http.createServer((req, res) => {
      if (req.method === "GET") {
        res.setHeader("content-type", "application/octet-stream");
        res.end(body);
        return;
      }
      const h = createHash("sha256");
      let n = 0;
      req.on("data", (d: Buffer) => {
        h.update(d);
        n += d.length;
      });
      req.on("end", () => res.end(JSON.stringify({ n, sha: h.digest("hex") })));
    });
    const server = createServer({ stack: p.a }, (s) => httpServer.emit("connection", s));
    await listen(server, 80);
    const request = (method: string, payload?: Buffer) => new Promise<{ status: number; data: Buffer }>((resolve, reject) => {
      // No `agent` option: with one (even `agent: false`) node:http ignores createConnection and
      // would use the host's real network. The counter proves the in-memory path was taken.
      const req = http.request({
        method, host: p.addrA, port: 80, path: "/x",
        createConnection: () => {
          viaStack++;
          return connect({ stack: p.b, host: p.addrA, port: 80 });
        },
      }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ status: res.statusCode!, data: Buffer.concat(parts) }));
      });
      req.on("error", reject);
      req.end(payload);
    });
    let viaStack = 0;
    const get = await request("GET");
    expect(viaStack).toBe(1);
    expect(get.status).toBe(200);
    expect(get.data.length).toBe(body.length);
    expect(sha(get.data)).toBe(sha(body));
    const upload = randomBytes(1 << 20);
    const post = await request("POST", upload);
    expect(post.status).toBe(200);
    expect(JSON.parse(post.data.toString())).toEqual({ n: upload.length, sha: sha(upload) });
    expect(viaStack).toBe(2);
    httpServer.close();
  });

  it("runs a TLS echo with a test certificate (tls.createServer + tls.connect over NetSockets)", async () => {
    const p = setup();
    const tlsServer = tls.createServer({ key: KEY, cert: CERT }, (s) => s.pipe(s));
    const server = createServer({ stack: p.a }, (s) => tlsServer.emit("connection", s));
    await listen(server, 443);
    const raw = connect({ stack: p.b, host: p.addrA, port: 443 });
    const secure = tls.connect({ socket: raw, ca: CERT, servername: "netstack-test" });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    expect(secure.authorized).toBe(true);
    const payload = randomBytes(200_000);
    const got = new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      let n = 0;
      secure.on("data", (d: Buffer) => {
        parts.push(d);
        n += d.length;
        if (n >= payload.length) resolve(Buffer.concat(parts));
      });
    });
    secure.write(payload);
    expect(sha(await got)).toBe(sha(payload));
    secure.destroy();
    tlsServer.close();
  });
});

describe("dgram-like UDP sockets", () => {
  it("exchanges datagrams with rinfo and reports bound addresses", async () => {
    const p = setup();
    const a = createSocket({ type: "udp4", stack: p.a });
    const b = createSocket({ type: "udp4", stack: p.b });
    await new Promise<void>((r) => a.bind(5300, () => r()));
    expect(a.address()).toEqual({ address: "0.0.0.0", family: "IPv4", port: 5300 });
    const got = new Promise<[Buffer, { address: string; port: number; size: number; family: string }]>((r) =>
      a.once("message", (m, rinfo) => r([m, rinfo])));
    await new Promise<void>((r) => b.bind(5301, () => r()));
    b.send("hello", 5300, p.addrA);
    const [msg, rinfo] = await got;
    expect(msg.toString()).toBe("hello");
    expect(rinfo).toEqual({ address: p.addrB, family: "IPv4", port: 5301, size: 5 });
    const back = new Promise<Buffer>((r) => b.once("message", (m) => r(m)));
    a.send(Buffer.from("xxworldyy"), 2, 5, 5301, p.addrB);
    expect((await back).toString()).toBe("world");
    b.setTTL(7);
    expect(b.handle.getsockoptInt(0, 2)).toBe(7);
    b.setRecvBufferSize(4096);
    expect(b.getRecvBufferSize()).toBe(8192);
    a.close();
    b.close();
  });

  it("a connected socket sends without an address and learns ECONNREFUSED", async () => {
    const p = setup();
    const b = createSocket({ type: "udp4", stack: p.b });
    await new Promise<void>((r) => b.connect(5999, p.addrA, () => r()));
    expect(b.remoteAddress()).toEqual({ address: p.addrA, family: "IPv4", port: 5999 });
    const err = new Promise<Error & { code?: string }>((r) => b.once("error", r));
    b.send("x");
    await new Promise((r) => setTimeout(r, 10));
    b.send("y");
    expect((await err).code).toBe("ECONNREFUSED");
    b.close();
  });
});
