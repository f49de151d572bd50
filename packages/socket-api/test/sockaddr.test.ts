/**
 * sockaddr_in / sockaddr_in6 layouts, errno values and the constants table.
 */
import { describe, expect, it } from "vitest";
import { Address } from "@netstack-ts/netstack";
import * as C from "../src/constants.js";
import { SocketError } from "../src/errors.js";
import { decodeSockaddr, encodeSockaddr, sockAddrInfo, toSockAddr } from "../src/sockaddr.js";

const err = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SocketError) return e.code;
    throw e;
  }
  return "no error";
};

describe("sockaddr (Linux binary layouts)", () => {
  it("encodes sockaddr_in as 16 bytes: family LE, port BE, address, 8 zero bytes", () => {
    const b = encodeSockaddr(C.AF_INET, Address.from("198.18.0.1"), 8080);
    expect(b.toString("hex")).toBe("0200" + "1f90" + "c6120001" + "0000000000000000");
  });

  it("encodes sockaddr_in6 as 28 bytes with flowinfo BE and scope id (host order) only for link-local", () => {
    const ll = encodeSockaddr(C.AF_INET6, Address.from("fe80::1"), 443, 3, 0x12345);
    expect(ll.length).toBe(28);
    expect(ll.readUInt16LE(0)).toBe(C.AF_INET6);
    expect(ll.readUInt16BE(2)).toBe(443);
    expect(ll.readUInt32BE(4)).toBe(0x12345);
    expect(ll.subarray(8, 24).toString("hex")).toBe("fe800000000000000000000000000001");
    expect(ll.readUInt32LE(24)).toBe(3);
    const global = encodeSockaddr(C.AF_INET6, Address.from("fd00:198:18::1"), 443, 3);
    expect(global.readUInt32LE(24)).toBe(0);
  });

  it("writes IPv4 peers of AF_INET6 sockets v4-mapped (::ffff:a.b.c.d)", () => {
    const b = encodeSockaddr(C.AF_INET6, Address.from("198.18.0.2"), 1);
    expect(b.subarray(8, 24).toString("hex")).toBe("00000000000000000000ffffc6120002");
    expect(sockAddrInfo(C.AF_INET6, Address.from("198.18.0.2"), 1).address).toBe("::ffff:198.18.0.2");
  });

  it("decodes what it encodes, for both families", () => {
    const a = decodeSockaddr(encodeSockaddr(C.AF_INET, Address.from("198.18.0.9"), 5), C.AF_INET);
    expect(a.addr.toString()).toBe("198.18.0.9");
    expect(a.port).toBe(5);
    const b = decodeSockaddr(encodeSockaddr(C.AF_INET6, Address.from("fe80::2"), 6, 4, 7), C.AF_INET6);
    expect([b.addr.toString(), b.port, b.scopeId, b.flowinfo]).toEqual(["fe80::2", 6, 4, 7]);
  });

  it("rejects short buffers with EINVAL and a family mismatch with EAFNOSUPPORT (length checked first, as Linux)", () => {
    expect(err(() => decodeSockaddr(new Uint8Array(1), C.AF_INET))).toBe("EINVAL");
    expect(err(() => decodeSockaddr(Buffer.from("02000000000000", "hex"), C.AF_INET))).toBe("EINVAL");
    expect(err(() => decodeSockaddr(encodeSockaddr(C.AF_INET6, Address.ANY6, 1), C.AF_INET))).toBe("EAFNOSUPPORT");
    // A 16-byte AF_INET sockaddr is too short for an AF_INET6 socket: EINVAL before the family.
    expect(err(() => decodeSockaddr(encodeSockaddr(C.AF_INET, Address.ANY4, 1), C.AF_INET6))).toBe("EINVAL");
    // 24 bytes (RFC 2133's sockaddr_in6, no scope id) are accepted.
    const short6 = encodeSockaddr(C.AF_INET6, Address.from("fe80::1"), 9, 5).subarray(0, 24);
    expect(decodeSockaddr(short6, C.AF_INET6).scopeId).toBe(0);
  });

  it("accepts AF_UNSPEC with INADDR_ANY on AF_INET (Linux's compatibility rule) and for connect", () => {
    const unspecAny = Buffer.alloc(16);
    unspecAny.writeUInt16BE(99, 2);
    expect(decodeSockaddr(unspecAny, C.AF_INET).port).toBe(99);
    unspecAny.writeUInt32BE(0x01020304, 4);
    expect(err(() => decodeSockaddr(unspecAny, C.AF_INET))).toBe("EAFNOSUPPORT");
    expect(decodeSockaddr(Buffer.alloc(2), C.AF_INET6, "connect", true).family).toBe(C.AF_UNSPEC);
  });

  it("turns friendly addresses into sockaddrs: zone ids, family checks, port range", () => {
    expect(toSockAddr({ address: "fe80::1%7", port: 1 }, C.AF_INET6).scopeId).toBe(7);
    expect(err(() => toSockAddr({ address: "198.18.0.1", port: 1 }, C.AF_INET6))).toBe("EAFNOSUPPORT");
    expect(err(() => toSockAddr({ address: "::1", port: 1 }, C.AF_INET))).toBe("EAFNOSUPPORT");
    expect(err(() => toSockAddr({ address: "198.18.0.1", port: 65536 }, C.AF_INET))).toBe("EINVAL");
    expect(err(() => toSockAddr({ address: "not-an-ip", port: 1 }, C.AF_INET))).toBe("EINVAL");
  });
});

describe("errno and constants", () => {
  it("errors carry Linux's number and name together", () => {
    const e = new SocketError("EAGAIN", "recv");
    expect([e.errno, e.code, e.syscall]).toEqual([11, "EAGAIN", "recv"]);
    expect(SocketError.fromErrno(111).code).toBe("ECONNREFUSED");
    expect(C.errnoName(115)).toBe("EINPROGRESS");
    expect(C.EWOULDBLOCK).toBe(C.errno.EAGAIN);
  });

  it("uses Linux's numbers (spot checks against the uapi headers)", () => {
    expect([C.AF_INET, C.AF_INET6, C.SOCK_STREAM, C.SOCK_DGRAM, C.SOCK_NONBLOCK, C.SOCK_CLOEXEC])
      .toEqual([2, 10, 1, 2, 0o4000, 0o2000000]);
    expect([C.SOL_SOCKET, C.SO_RCVBUF, C.SO_RCVTIMEO, C.SO_PROTOCOL, C.SO_DOMAIN, C.TCP_INFO, C.TCP_USER_TIMEOUT])
      .toEqual([1, 8, 20, 38, 39, 11, 18]);
    expect([C.MSG_PEEK, C.MSG_TRUNC, C.MSG_DONTWAIT, C.MSG_WAITALL, C.MSG_NOSIGNAL, C.MSG_MORE])
      .toEqual([2, 0x20, 0x40, 0x100, 0x4000, 0x8000]);
    expect([C.FIONREAD, C.TIOCOUTQ, C.FIONBIO, C.SIOCGIFCONF, C.SIOCGIFINDEX]).toEqual([0x541b, 0x5411, 0x5421, 0x8912, 0x8933]);
    expect([C.IPV6_V6ONLY, C.IPV6_TCLASS, C.IP_RECVTOS, C.IP_PKTINFO]).toEqual([26, 67, 13, 8]);
  });
});
