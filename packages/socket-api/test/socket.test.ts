/**
 * The syscall-shaped Socket on a ManualClock pair: blocking calls, timeouts, AbortSignal,
 * MSG_* flags, control messages, poll/epoll, /proc/net listings and TCP_INFO.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as C from "../src/constants.js";
import { SocketError } from "../src/errors.js";
import { socket, type Socket } from "../src/socket.js";
import { Epoll, poll, pollNow, type PollFd } from "../src/poll.js";
import { procNetTcp, procNetUdp, socketTable, formatStats, stackStats } from "../src/procnet.js";
import { decodeTcpInfo, TCP_INFO_SIZE } from "../src/tcpinfo.js";
import { drive, manualPair, type StackPair } from "./helpers.js";

let pair: StackPair;
const open: Socket[] = [];
function mk(stack: "a" | "b", type: number, family = C.AF_INET): Socket {
  const s = socket(pair[stack], family, type);
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  pair?.close();
});

const code = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof SocketError) return e.code;
    throw e;
  }
  return "resolved";
};
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SocketError) return e.code;
    throw e;
  }
  return "ok";
};

function udpPair() {
  pair = manualPair();
  const srv = mk("a", C.SOCK_DGRAM);
  srv.bind({ address: "0.0.0.0", port: 5000 });
  const cli = mk("b", C.SOCK_DGRAM);
  cli.bind({ address: "0.0.0.0", port: 5001 });
  return { srv, cli, to: { address: pair.addrA, port: 5000 } };
}

describe("UDP sockets: blocking forms, timeouts and flags", () => {
  it("a blocking recv waits on the waiter queue and wakes when a datagram arrives", async () => {
    const { srv, cli, to } = udpPair();
    const buf = Buffer.alloc(32);
    const p = srv.recvfromAsync(buf);
    let done = false;
    void p.then(() => (done = true));
    pair.settle(10);
    await Promise.resolve();
    expect(done).toBe(false);
    cli.sendto(Buffer.from("wake"), 0, to);
    const r = await drive(pair, p);
    expect(r.bytes).toBe(4);
    expect(buf.subarray(0, 4).toString()).toBe("wake");
    expect(r.address).toEqual({ family: "IPv4", address: pair.addrB, port: 5001 });
  });

  it("SO_RCVTIMEO makes a blocking recv fail with EAGAIN after the timeout (on the stack's clock)", async () => {
    const { srv } = udpPair();
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(1n, 0);
    tv.writeBigInt64LE(500_000n, 8);
    srv.setsockopt(C.SOL_SOCKET, C.SO_RCVTIMEO, tv);
    const t0 = pair.clock!.now();
    expect(await drive(pair, code(srv.recvAsync(Buffer.alloc(8))))).toBe("EAGAIN");
    const waited = pair.clock!.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(1500);
    expect(waited).toBeLessThan(1600);
  });

  it("an AbortSignal interrupts a blocking recv with EINTR", async () => {
    const { srv } = udpPair();
    const ac = new AbortController();
    const p = code(srv.recvAsync(Buffer.alloc(8), 0, { signal: ac.signal }));
    pair.settle(5);
    ac.abort();
    expect(await p).toBe("EINTR");
  });

  it("MSG_DONTWAIT and SOCK_NONBLOCK/FIONBIO turn the blocking forms into immediate EAGAIN", async () => {
    const { srv } = udpPair();
    expect(await code(srv.recvAsync(Buffer.alloc(8), C.MSG_DONTWAIT))).toBe("EAGAIN");
    const on = Buffer.alloc(4);
    on.writeInt32LE(1);
    srv.ioctl(C.FIONBIO, on);
    expect(srv.nonblocking).toBe(true);
    expect(await code(srv.recvAsync(Buffer.alloc(8)))).toBe("EAGAIN");
    const nb = mk("a", C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
    expect([nb.nonblocking, nb.cloexec]).toEqual([true, true]);
  });

  it("recvmsg returns IP_PKTINFO, IP_TTL, IP_TOS and SO_TIMESTAMP control messages in Linux layouts", () => {
    const { srv, cli, to } = udpPair();
    srv.setsockopt(C.SOL_IP, C.IP_PKTINFO, 1);
    srv.setsockopt(C.SOL_IP, C.IP_RECVTTL, 1);
    srv.setsockopt(C.SOL_IP, C.IP_RECVTOS, 1);
    srv.setsockopt(C.SOL_SOCKET, C.SO_TIMESTAMP, 1);
    cli.setsockopt(C.SOL_IP, C.IP_TOS, 0x28);
    cli.setsockopt(C.SOL_IP, C.IP_TTL, 17);
    cli.sendto(Buffer.from("cm"), 0, to);
    pair.settle();
    const r = srv.recvmsg([Buffer.alloc(8)]);
    const by = (type: number, level: number) => r.control.find((c) => c.type === type && c.level === level)!.data;
    const ts = by(C.SCM_TIMESTAMP, C.SOL_SOCKET);
    expect(ts.length).toBe(16);
    expect(Number(ts.readBigInt64LE(0))).toBe(Math.floor(pair.clock!.wallNow() / 1000));
    const pk = by(C.IP_PKTINFO, C.SOL_IP);
    expect(pk.readInt32LE(0)).toBe(1); // ifindex
    expect([...pk.subarray(8, 12)].join(".")).toBe(pair.addrA); // ipi_addr
    expect(by(C.IP_TTL, C.SOL_IP).readInt32LE(0)).toBe(17);
    expect(by(C.IP_TOS, C.SOL_IP)[0]).toBe(0x28);
  });

  it("sets MSG_CTRUNC when control data does not fit msg_controllen", () => {
    const { srv, cli, to } = udpPair();
    srv.setsockopt(C.SOL_IP, C.IP_RECVTTL, 1);
    srv.setsockopt(C.SOL_IP, C.IP_RECVTOS, 1);
    cli.sendto(Buffer.from("x"), 0, to);
    pair.settle();
    const r = srv.recvmsg([Buffer.alloc(8)], 0, 24);
    expect(r.flags & C.MSG_CTRUNC).toBe(C.MSG_CTRUNC);
    expect(r.control.length).toBe(1);
  });

  it("scatters one datagram over several buffers and gathers sendmsg's buffers", () => {
    const { srv, cli, to } = udpPair();
    expect(cli.sendmsg([Buffer.from("ab"), Buffer.from("cde")], 0, to)).toBe(5);
    pair.settle();
    const a = Buffer.alloc(3);
    const b = Buffer.alloc(3);
    expect(srv.recvmsg([a, b]).bytes).toBe(5);
    expect(a.toString() + b.subarray(0, 2).toString()).toBe("abcde");
  });

  it("poll waits across sockets and reports the ready one; a timeout resolves 0", async () => {
    const { srv, cli, to } = udpPair();
    const other = mk("a", C.SOCK_DGRAM);
    other.bind({ address: "0.0.0.0", port: 5002 });
    const fds: PollFd[] = [{ socket: other, events: C.POLLIN }, { socket: srv, events: C.POLLIN }];
    const p = poll(fds, 5000);
    cli.sendto(Buffer.from("p"), 0, to);
    expect(await drive(pair, p)).toBe(1);
    expect(fds[1]!.revents).toBe(C.POLLIN);
    expect(fds[0]!.revents).toBe(0);
    const none: PollFd[] = [{ socket: other, events: C.POLLIN }];
    const t0 = pair.clock!.now();
    expect(await drive(pair, poll(none, 100))).toBe(0);
    expect(pair.clock!.now() - t0).toBeGreaterThanOrEqual(100);
    srv.close();
    const closed: PollFd[] = [{ socket: srv, events: C.POLLIN }];
    expect(pollNow(closed)).toBe(1);
    expect(closed[0]!.revents).toBe(C.POLLNVAL);
  });

  it("epoll reports level-triggered readiness with user data, and EPOLLONESHOT fires once", async () => {
    const { srv, cli, to } = udpPair();
    const ep = new Epoll<string>();
    ep.add(srv, C.EPOLLIN | C.EPOLLONESHOT, "srv");
    expect(() => ep.add(srv, C.EPOLLIN, "again")).toThrow(SocketError);
    const w = ep.wait(8, 1000);
    cli.sendto(Buffer.from("e"), 0, to);
    const evs = await drive(pair, w);
    expect(evs).toEqual([{ socket: srv, events: C.EPOLLIN, data: "srv" }]);
    expect(ep.collect()).toEqual([]); // oneshot: disarmed until modified
    ep.modify(srv, C.EPOLLIN, "re");
    expect(ep.collect().map((e) => e.data)).toEqual(["re"]);
    ep.delete(srv);
    expect(ep.size).toBe(0);
  });

  it("lists UDP sockets /proc/net/udp-style and exposes the stack counters", () => {
    const { srv, cli, to } = udpPair();
    cli.sendto(Buffer.from("12345"), 0, to);
    pair.settle();
    const rows = socketTable(pair.a);
    expect(rows).toEqual([{ protocol: "udp", local: { address: "0.0.0.0", port: 5000 }, remote: null, state: 7,
      stateName: "CLOSE", txQueue: 0, rxQueue: 5 }]);
    const text = procNetUdp(pair.a).split("\n");
    expect(text[1]).toMatch(/^ {3}0: 00000000:1388 00000000:0000 07 00000000:00000005 /);
    expect(stackStats(pair.a).udp.packetsReceived).toBe(1);
    expect(formatStats(pair.b)).toMatch(/^Udp: .*packetsSent/m);
    void srv;
  });
});

describe("TCP sockets: blocking calls, partial writes, TCP_INFO", () => {
  async function tcpPair() {
    pair = manualPair();
    const l = mk("a", C.SOCK_STREAM);
    l.bind({ address: "0.0.0.0", port: 80 });
    l.listen(8);
    const c = mk("b", C.SOCK_STREAM);
    const acc = l.acceptAsync();
    await drive(pair, c.connectAsync({ address: pair.addrA, port: 80 }));
    const a = await drive(pair, acc);
    open.push(a);
    return { l, c, a };
  }

  it("blocking connect resolves once established; accept hands out the peer's socket", async () => {
    const { c, a } = await tcpPair();
    expect(c.getpeername()).toEqual({ family: "IPv4", address: pair.addrA, port: 80 });
    expect(a.getpeername().address).toBe(pair.addrB);
    expect(a.getsockoptInt(C.SOL_SOCKET, C.SO_ACCEPTCONN)).toBe(0);
  });

  it("blocking connect to a closed port rejects with ECONNREFUSED", async () => {
    pair = manualPair();
    const c = mk("b", C.SOCK_STREAM);
    expect(await drive(pair, code(c.connectAsync({ address: pair.addrA, port: 81 })))).toBe("ECONNREFUSED");
  });

  it("non-blocking send takes what fits (partial write), then EAGAIN; blocking send waits until all is queued", async () => {
    const { c, a } = await tcpPair();
    c.nonblocking = true;
    const big = Buffer.alloc(4 << 20, 1);
    const n = c.send(big);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(big.length);
    expect(codeOf(() => c.send(big))).toBe("EAGAIN");
    c.nonblocking = false;
    const rest = c.sendAsync(big.subarray(n));
    // Drain the receiver while the sender blocks.
    let got = 0;
    const sink = Buffer.alloc(1 << 16);
    const reader = (async () => {
      while (got < big.length) got += await a.recvAsync(sink);
    })();
    expect(await drive(pair, rest)).toBe(big.length - n);
    await drive(pair, reader);
    expect(got).toBe(big.length);
  });

  it("SO_SNDTIMEO returns the partial count when the send buffer stays full", async () => {
    const { c } = await tcpPair();
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(0n, 0);
    tv.writeBigInt64LE(200_000n, 8);
    c.setsockopt(C.SOL_SOCKET, C.SO_SNDTIMEO, tv);
    const big = Buffer.alloc(8 << 20, 2);
    const sent = await drive(pair, c.sendAsync(big));
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(big.length);
  });

  it("MSG_WAITALL gathers the full length across segments; EOF cuts it short", async () => {
    const { c, a } = await tcpPair();
    const buf = Buffer.alloc(10);
    const p = a.recvAsync(buf, C.MSG_WAITALL);
    c.send(Buffer.from("abc"));
    pair.settle(50);
    c.send(Buffer.from("defghij"));
    expect(await drive(pair, p)).toBe(10);
    expect(buf.toString()).toBe("abcdefghij");
    const p2 = a.recvAsync(Buffer.alloc(10), C.MSG_WAITALL);
    c.send(Buffer.from("xy"));
    c.shutdown(C.SHUT_WR);
    expect(await drive(pair, p2)).toBe(2);
  });

  it("SO_RCVLOWAT holds a blocking recv until that many bytes are queued", async () => {
    const { c, a } = await tcpPair();
    a.setsockopt(C.SOL_SOCKET, C.SO_RCVLOWAT, 5);
    const buf = Buffer.alloc(16);
    const p = a.recvAsync(buf);
    let done = false;
    void p.then(() => (done = true));
    c.send(Buffer.from("abc"));
    pair.settle(50);
    await Promise.resolve();
    expect(done).toBe(false);
    c.send(Buffer.from("de"));
    expect(await drive(pair, p)).toBe(5);
  });

  it("TCP_INFO is Linux's struct tcp_info filled from the endpoint, cut to optlen", async () => {
    const { c, l } = await tcpPair();
    c.send(Buffer.from("hello"));
    pair.settle(100);
    const full = c.getsockopt(C.SOL_TCP, C.TCP_INFO, 512);
    expect(full.length).toBe(TCP_INFO_SIZE);
    const info = decodeTcpInfo(full);
    expect(info.state).toBe(C.TCP_ESTABLISHED);
    expect(info.sndMss).toBe(1448); // 1460 less the timestamps option, as Linux reports it
    expect(info.rto).toBeGreaterThanOrEqual(200_000); // microseconds
    expect(info.bytesAcked).toBeGreaterThanOrEqual(5);
    expect(info.segsOut).toBeGreaterThan(0);
    expect(c.getsockopt(C.SOL_TCP, C.TCP_INFO, 8).length).toBe(8);
    expect(l.getsockopt(C.SOL_TCP, C.TCP_INFO, 1)[0]).toBe(C.TCP_LISTEN);
  });

  it("lists TCP sockets /proc/net/tcp-style with states and queues", async () => {
    const { c, a } = await tcpPair();
    c.send(Buffer.from("queued"));
    pair.settle(50);
    const rows = socketTable(pair.a);
    expect(rows.map((r) => [r.stateName, r.local.port, r.rxQueue])).toEqual([["LISTEN", 80, 0], ["ESTABLISHED", 80, 6]]);
    const lines = procNetTcp(pair.a).split("\n");
    expect(lines[1]).toMatch(/^ {3}0: 00000000:0050 00000000:0000 0A /);
    expect(lines[2]).toMatch(/^ {3}1: 010012C6:0050 020012C6:[0-9A-F]{4} 01 00000000:00000006 /);
    void a;
  });

  it("non-blocking connect: EINPROGRESS, EALREADY while the handshake runs, 0 once done, then EISCONN", () => {
    pair = manualPair();
    const l = mk("a", C.SOCK_STREAM);
    l.bind({ address: "0.0.0.0", port: 82 });
    l.listen();
    const c = mk("b", C.SOCK_STREAM | C.SOCK_NONBLOCK);
    const to = { address: pair.addrA, port: 82 };
    expect(codeOf(() => c.connect(to))).toBe("EINPROGRESS");
    expect(codeOf(() => c.connect(to))).toBe("EALREADY");
    expect(pollNow([{ socket: c, events: C.POLLOUT }])).toBe(0);
    pair.settle();
    expect(pollNow([{ socket: c, events: C.POLLOUT }])).toBe(1);
    expect(codeOf(() => c.connect(to))).toBe("ok");
    expect(codeOf(() => c.connect(to))).toBe("EISCONN");
  });

  it("MSG_MORE holds a partial segment back until a send without it (Linux's cork semantics)", async () => {
    const { c, a } = await tcpPair();
    const q = Buffer.alloc(4);
    c.send(Buffer.from("ab"), C.MSG_MORE);
    pair.settle();
    a.ioctl(C.FIONREAD, q);
    expect(q.readInt32LE(0)).toBe(0);
    c.send(Buffer.from("cd"));
    pair.settle();
    a.ioctl(C.FIONREAD, q);
    expect(q.readInt32LE(0)).toBe(4);
  });

  it("shutdown(SHUT_WR) makes send fail with EPIPE and the peer read EOF", async () => {
    const { c, a } = await tcpPair();
    c.shutdown(C.SHUT_WR);
    expect(codeOf(() => c.send(Buffer.from("x")))).toBe("EPIPE");
    expect(await drive(pair, a.recvAsync(Buffer.alloc(4)))).toBe(0);
  });
});
