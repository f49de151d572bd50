/**
 * The echo server's wire contract (ARCHITECTURE.md, "The echo server's wire contract"), checked
 * between two stacks over an in-memory pipe with a manual clock: no devices, no root needed.
 */
import { describe, expect, it } from "vitest";
import {
  Address, Err, EventIn, IPV4_PROTOCOL, ManualClock, Pipe, SeededRandom, ShutdownWrite, Stack, TCP_PROTOCOL,
  UDP_PROTOCOL, WaiterQueue, icmp, ipv4, isError, udp, type Endpoint, type TransportProtocolFactory,
} from "@netstack-ts/netstack";
import { EchoServer, type EchoMode } from "../src/echo-server.js";
import { optionalProtocols } from "../src/setup.js";

const tcp = optionalProtocols().tcp;
const SERVER = Address.from("10.9.0.2");
if (!tcp) console.warn("[link-tun] echo-server TCP cases skipped: @netstack-ts/netstack does not export `tcp` yet");

function world(mode: EchoMode) {
  const clock = new ManualClock();
  const pipe = new Pipe({ mtu: 1500, clock });
  const transports: TransportProtocolFactory[] = [udp, icmp, ...(tcp ? [tcp] : [])];
  const mk = (link: typeof pipe.a, addr: string, seed: number) => {
    const s = new Stack({ networkProtocols: [ipv4], transportProtocols: transports, clock, random: new SeededRandom(seed) });
    s.createNic(1, link);
    s.addAddress(1, addr);
    s.addRoute({ destination: "10.9.0.0/24", nic: 1 });
    return s;
  };
  const client = mk(pipe.a, "10.9.0.1/24", 1);
  const server = mk(pipe.b, "10.9.0.2/24", 2);
  const echo = new EchoServer({ stack: server, port: 7, mode }).start();
  /** Runs virtual time until `done()` or nothing is left to do (no timer, and `busy()` false; bounded). */
  const run = (done: () => boolean, busy: () => boolean = () => false) => {
    for (let i = 0; i < 100_000 && !done(); i++) if (!clock.step() && !busy()) break;
  };
  return { clock, client, server, echo, run };
}

function open(stack: Stack, proto: number): [Endpoint, WaiterQueue] {
  const wq = new WaiterQueue();
  const ep = stack.newEndpoint(proto, IPV4_PROTOCOL, wq);
  if (isError(ep)) throw new Error(ep.message);
  return [ep, wq];
}

describe("EchoServer over UDP", () => {
  it("echo mode sends each datagram back to its sender", () => {
    const w = world("echo");
    const [c] = open(w.client, UDP_PROTOCOL);
    expect(c.connect({ addr: SERVER, port: 7 })).toBeNull();
    c.write(new TextEncoder().encode("ping one"));
    c.write(new TextEncoder().encode("ping two"));
    const got: string[] = [];
    const buf = new Uint8Array(100);
    w.run(() => {
      for (let r = c.read(buf); !isError(r); r = c.read(buf)) got.push(new TextDecoder().decode(buf.subarray(0, r.count)));
      return got.length >= 2;
    });
    expect(got).toEqual(["ping one", "ping two"]);
    expect(w.echo.stats()).toMatchObject({ udpDatagramsIn: 2, udpDatagramsOut: 2, udpBytesIn: 16 });
  });

  it.each(["sink", "discard"] as const)("%s mode counts datagrams and sends nothing back", (mode) => {
    const w = world(mode);
    const [c] = open(w.client, UDP_PROTOCOL);
    c.connect({ addr: SERVER, port: 7 });
    c.write(new Uint8Array(300));
    w.run(() => w.echo.stats().udpDatagramsIn === 1);
    w.run(() => false);
    expect(w.echo.stats()).toMatchObject({ udpDatagramsIn: 1, udpDatagramsOut: 0, udpBytesIn: 300 });
    expect(isError(c.read(new Uint8Array(10)))).toBe(true);
  });
});

describe.skipIf(!tcp)("EchoServer over TCP", () => {
  /** Connects, writes `data`, half-closes, and reads everything until the server's FIN. */
  function exchange(mode: EchoMode, data: Uint8Array, readChunk = 65536) {
    const w = world(mode);
    const [c] = open(w.client, TCP_PROTOCOL);
    const r0 = c.connect({ addr: SERVER, port: 7 });
    expect(r0 === null || r0 === Err.ConnectStarted).toBe(true);
    let sent = 0;
    let shut = false;
    let eof = false;
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(readChunk);
    let moved = false; // the last round read or wrote something (a slow reader is not idle)
    w.run(() => {
      moved = false;
      if (sent < data.length) {
        const n = c.write(data.subarray(sent));
        if (!isError(n)) sent += n;
      } else if (!shut) {
        shut = c.shutdown(ShutdownWrite) === null;
      }
      for (;;) {
        const r = c.read(buf);
        if (r === Err.ClosedForReceive) { eof = true; break; }
        if (isError(r)) break;
        chunks.push(buf.slice(0, r.count));
        moved = true;
        if (readChunk < 65536) break; // a slow reader: one small read per round
      }
      return eof;
    }, () => moved);
    return { w, eof, got: Buffer.concat(chunks) };
  }

  it("echo: every byte comes back, then the server's FIN after the client's", () => {
    const data = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    const { eof, got, w } = exchange("echo", data);
    expect(eof).toBe(true);
    expect(Buffer.compare(got, Buffer.from(data))).toBe(0);
    expect(w.echo.stats()).toMatchObject({ tcpAccepted: 1, tcpBytesIn: 200_000, tcpBytesOut: 200_000, tcpErrors: 0 });
  });

  it("echo to a slow reader: the server's writes block and it resumes on EventOut after the client's FIN (no input left to wake it)", () => {
    const data = new Uint8Array(16 << 20).map((_, i) => (i * 13) & 0xff);
    const { eof, got, w } = exchange("echo", data, 2048);
    expect(eof).toBe(true);
    expect(Buffer.compare(got, Buffer.from(data))).toBe(0);
    expect(w.echo.stats()).toMatchObject({ tcpBytesIn: 16 << 20, tcpBytesOut: 16 << 20, tcpErrors: 0 });
  });

  it("sink: after the client's FIN the server writes the byte count in ASCII decimal plus \\n, then closes", () => {
    const { eof, got } = exchange("sink", new Uint8Array(123_456));
    expect(eof).toBe(true);
    expect(got.toString()).toBe("123456\n");
  });

  it("discard: reads and drops, then closes after the client's FIN without sending anything", () => {
    const { eof, got, w } = exchange("discard", new Uint8Array(50_000));
    expect(eof).toBe(true);
    expect(got.length).toBe(0);
    expect(w.echo.stats().tcpBytesIn).toBe(50_000);
  });

  it("close() closes open connections and the listener", () => {
    const w = world("echo");
    const [c, wq] = open(w.client, TCP_PROTOCOL);
    c.connect({ addr: SERVER, port: 7 });
    w.run(() => w.echo.stats().tcpOpen === 1);
    expect(w.echo.stats().tcpOpen).toBe(1);
    w.echo.close();
    w.run(() => c.readiness(EventIn) !== 0);
    expect(w.echo.stats().tcpOpen).toBe(0);
    expect(wq).toBeDefined();
  });
});
