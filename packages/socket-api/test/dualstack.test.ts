/**
 * AF_INET6 sockets on stacks that run IPv6 too (fd00:198:18::/64 beside 198.18.0.0/24):
 * v4-mapped addresses through dual-stack endpoints, pure IPv6 traffic, IPV6_V6ONLY, and the
 * fallback to an IPv4 endpoint for endpoints that are not dual-stack.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as C from "../src/constants.js";
import { SocketError } from "../src/errors.js";
import { socket, type Socket } from "../src/socket.js";
import { drive, manualPair, type StackPair } from "./helpers.js";

let pair: StackPair;
const open: Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  pair?.close();
});
function mk(stack: "a" | "b", family: number, type: number): Socket {
  const s = socket(pair[stack], family, type);
  open.push(s);
  return s;
}
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SocketError) return e.code;
    throw e;
  }
  return "ok";
};

describe("AF_INET6 on a dual-stack stack", () => {
  it("a UDP socket bound to :: receives IPv4 datagrams as ::ffff:a.b.c.d and IPv6 ones as themselves", () => {
    pair = manualPair({ ipv6: true });
    const s = mk("a", C.AF_INET6, C.SOCK_DGRAM);
    s.bind({ address: "::", port: 4000 });
    const v4 = mk("b", C.AF_INET, C.SOCK_DGRAM);
    v4.sendto(Buffer.from("four"), 0, { address: "198.18.0.1", port: 4000 });
    const v6 = mk("b", C.AF_INET6, C.SOCK_DGRAM);
    v6.sendto(Buffer.from("six"), 0, { address: "fd00:198:18::1", port: 4000 });
    pair.settle();
    const buf = Buffer.alloc(16);
    const first = s.recvfrom(buf);
    const second = s.recvfrom(buf);
    const from = [first.address!.address, second.address!.address].sort();
    expect(from).toEqual(["::ffff:198.18.0.2", "fd00:198:18::2"]);
  });

  it("IPV6_V6ONLY keeps IPv4 out: v4-mapped bind is EINVAL", () => {
    pair = manualPair({ ipv6: true });
    const s = mk("a", C.AF_INET6, C.SOCK_DGRAM);
    s.setsockopt(C.SOL_IPV6, C.IPV6_V6ONLY, 1);
    expect(codeOf(() => s.bind({ address: "::ffff:198.18.0.1", port: 4001 }))).toBe("EINVAL");
    expect(s.getsockoptInt(C.SOL_IPV6, C.IPV6_V6ONLY)).toBe(1);
  });

  it("a UDP socket connects to a v4-mapped peer and reports mapped names", () => {
    pair = manualPair({ ipv6: true });
    const srv = mk("a", C.AF_INET, C.SOCK_DGRAM);
    srv.bind({ address: "0.0.0.0", port: 4002 });
    const c = mk("b", C.AF_INET6, C.SOCK_DGRAM);
    c.connect({ address: "::ffff:198.18.0.1", port: 4002 });
    expect(c.getpeername()).toMatchObject({ family: "IPv6", address: "::ffff:198.18.0.1", port: 4002 });
    expect(c.getsockname().address).toBe("::ffff:198.18.0.2");
    c.send(Buffer.from("m"));
    pair.settle();
    expect(srv.recvfrom(Buffer.alloc(4)).address).toMatchObject({ address: "198.18.0.2" });
  });

  it("a TCP socket reaches a v4-mapped peer (through an IPv4 endpoint if TCP is not dual-stack)", async () => {
    pair = manualPair({ ipv6: true });
    const l = mk("a", C.AF_INET, C.SOCK_STREAM);
    l.bind({ address: "0.0.0.0", port: 4003 });
    l.listen();
    const c = mk("b", C.AF_INET6, C.SOCK_STREAM);
    await drive(pair, c.connectAsync({ address: "::ffff:198.18.0.1", port: 4003 }));
    expect(c.getpeername()).toMatchObject({ family: "IPv6", address: "::ffff:198.18.0.1", port: 4003 });
    const a = l.accept();
    open.push(a);
    expect(a.getpeername().address).toBe("198.18.0.2");
  });

  it("a TCP listener on :: takes IPv4 clients too (named ::ffff:a.b.c.d), unless IPV6_V6ONLY", async () => {
    pair = manualPair({ ipv6: true });
    const l = mk("a", C.AF_INET6, C.SOCK_STREAM);
    l.bind({ address: "::", port: 4005 });
    l.listen();
    const c4 = mk("b", C.AF_INET, C.SOCK_STREAM);
    await drive(pair, c4.connectAsync({ address: "198.18.0.1", port: 4005 }));
    const a = await drive(pair, l.acceptAsync());
    open.push(a);
    expect(a.getpeername()).toMatchObject({ family: "IPv6", address: "::ffff:198.18.0.2" });
    // The IPv4 half holds the port: an AF_INET socket cannot bind it.
    const other = mk("a", C.AF_INET, C.SOCK_STREAM);
    expect(codeOf(() => other.bind({ address: "0.0.0.0", port: 4005 }))).toBe("EADDRINUSE");
    const only6 = mk("a", C.AF_INET6, C.SOCK_STREAM);
    only6.setsockopt(C.SOL_IPV6, C.IPV6_V6ONLY, 1);
    only6.bind({ address: "::", port: 4006 });
    only6.listen();
    const c = mk("b", C.AF_INET, C.SOCK_STREAM);
    expect(await drive(pair, c.connectAsync({ address: "198.18.0.1", port: 4006 }).then(() => "ok", (e: SocketError) => e.code)))
      .toBe("ECONNREFUSED");
  });

  it("TCP over IPv6 end to end", async () => {
    pair = manualPair({ ipv6: true });
    const l = mk("a", C.AF_INET6, C.SOCK_STREAM);
    l.bind({ address: "::", port: 4004 });
    l.listen();
    const c = mk("b", C.AF_INET6, C.SOCK_STREAM);
    await drive(pair, c.connectAsync({ address: "fd00:198:18::1", port: 4004 }));
    const a = await drive(pair, l.acceptAsync());
    open.push(a);
    expect(a.getpeername().address).toBe("fd00:198:18::2");
    c.send(Buffer.from("v6 data"));
    const buf = Buffer.alloc(16);
    expect(await drive(pair, a.recvAsync(buf))).toBe(7);
  });
});
