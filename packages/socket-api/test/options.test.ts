/**
 * Table tests: every socket option (set, get, binary layout, errors), every ioctl request, and
 * socket(2) argument checks.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  EthernetEndpoint, LoopbackEndpoint, ManualClock, Pipe, Stack, ipv4, udp, arp,
} from "@netstack-ts/netstack";
import * as C from "../src/constants.js";
import { SocketError } from "../src/errors.js";
import { socket, type Socket } from "../src/socket.js";
import { makeIfreq, parseIfconf } from "../src/ioctl.js";
import { manualPair, type StackPair } from "./helpers.js";

let pair: StackPair | null = null;
afterEach(() => {
  pair?.close();
  pair = null;
});

function sock(type: number, family = C.AF_INET): Socket {
  pair ??= manualPair();
  return socket(pair.a, family, type);
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

const int = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};

type Row = [label: string, level: number, name: number, set: number | Buffer, get: number | string];

/** [label, level, name, value to set, expected getsockopt (int, or hex for structures)]. */
const udpRows: Row[] = [
  ["SO_REUSEADDR", C.SOL_SOCKET, C.SO_REUSEADDR, 1, 1],
  ["SO_REUSEPORT", C.SOL_SOCKET, C.SO_REUSEPORT, 1, 1],
  ["SO_KEEPALIVE (accepted on UDP)", C.SOL_SOCKET, C.SO_KEEPALIVE, 1, 1],
  ["SO_BROADCAST", C.SOL_SOCKET, C.SO_BROADCAST, 1, 1],
  ["SO_SNDBUF doubles", C.SOL_SOCKET, C.SO_SNDBUF, 10000, 20000],
  ["SO_RCVBUF doubles", C.SOL_SOCKET, C.SO_RCVBUF, 10000, 20000],
  ["SO_RCVBUF floor", C.SOL_SOCKET, C.SO_RCVBUF, 100, 2304],
  ["SO_SNDBUF floor", C.SOL_SOCKET, C.SO_SNDBUF, 100, 4608],
  ["SO_RCVLOWAT", C.SOL_SOCKET, C.SO_RCVLOWAT, 64, 64],
  ["SO_TIMESTAMP", C.SOL_SOCKET, C.SO_TIMESTAMP, 1, 1],
  ["SO_PRIORITY", C.SOL_SOCKET, C.SO_PRIORITY, 3, 3],
  ["SO_LINGER struct linger", C.SOL_SOCKET, C.SO_LINGER, Buffer.from("0100000007000000", "hex"), "0100000007000000"],
  ["SO_RCVTIMEO struct timeval", C.SOL_SOCKET, C.SO_RCVTIMEO, Buffer.from("0200000000000000a086010000000000", "hex"),
    "0200000000000000a086010000000000"],
  ["SO_SNDTIMEO struct timeval", C.SOL_SOCKET, C.SO_SNDTIMEO, Buffer.from("00000000000000001027000000000000", "hex"),
    "00000000000000001027000000000000"],
  ["IP_TTL", C.SOL_IP, C.IP_TTL, 200, 200],
  ["IP_TOS", C.SOL_IP, C.IP_TOS, 0x2e, 0x2e],
  ["IP_RECVTOS", C.SOL_IP, C.IP_RECVTOS, 1, 1],
  ["IP_RECVTTL", C.SOL_IP, C.IP_RECVTTL, 1, 1],
  ["IP_PKTINFO", C.SOL_IP, C.IP_PKTINFO, 1, 1],
  ["IP_MTU_DISCOVER", C.SOL_IP, C.IP_MTU_DISCOVER, 2, 2],
  ["IP_MULTICAST_TTL", C.SOL_IP, C.IP_MULTICAST_TTL, 9, 9],
];

const tcpRows: Row[] = [
  ["TCP_NODELAY", C.SOL_TCP, C.TCP_NODELAY, 1, 1],
  ["TCP_CORK", C.SOL_TCP, C.TCP_CORK, 1, 1],
  ["TCP_KEEPIDLE (seconds)", C.SOL_TCP, C.TCP_KEEPIDLE, 30, 30],
  ["TCP_KEEPINTVL (seconds)", C.SOL_TCP, C.TCP_KEEPINTVL, 5, 5],
  ["TCP_KEEPCNT", C.SOL_TCP, C.TCP_KEEPCNT, 4, 4],
  ["TCP_USER_TIMEOUT (ms)", C.SOL_TCP, C.TCP_USER_TIMEOUT, 3000, 3000],
  ["TCP_MAXSEG before connect", C.SOL_TCP, C.TCP_MAXSEG, 1000, 1000],
  ["TCP_DEFER_ACCEPT rounds up", C.SOL_TCP, C.TCP_DEFER_ACCEPT, 10, 15],
  ["TCP_SYNCNT", C.SOL_TCP, C.TCP_SYNCNT, 3, 3],
  ["TCP_QUICKACK", C.SOL_TCP, C.TCP_QUICKACK, 1, 1],
  ["IP_TOS on TCP keeps ECN bits to TCP", C.SOL_IP, C.IP_TOS, 0x2f, 0x2c],
  ["SO_KEEPALIVE", C.SOL_SOCKET, C.SO_KEEPALIVE, 1, 1],
  ["SO_SNDBUF doubles", C.SOL_SOCKET, C.SO_SNDBUF, 50000, 100000],
  ["SO_RCVBUF doubles", C.SOL_SOCKET, C.SO_RCVBUF, 50000, 100000],
];

const v6Rows: Row[] = [
  ["IPV6_V6ONLY", C.SOL_IPV6, C.IPV6_V6ONLY, 1, 1],
  ["IPV6_UNICAST_HOPS", C.SOL_IPV6, C.IPV6_UNICAST_HOPS, 33, 33],
  ["IPV6_UNICAST_HOPS -1 = default", C.SOL_IPV6, C.IPV6_UNICAST_HOPS, -1, 64],
  ["IPV6_TCLASS", C.SOL_IPV6, C.IPV6_TCLASS, 0x40, 0x40],
  ["IPV6_RECVTCLASS", C.SOL_IPV6, C.IPV6_RECVTCLASS, 1, 1],
  ["IPV6_RECVPKTINFO", C.SOL_IPV6, C.IPV6_RECVPKTINFO, 1, 1],
  ["IPV6_RECVHOPLIMIT", C.SOL_IPV6, C.IPV6_RECVHOPLIMIT, 1, 1],
  ["IP_TTL works on AF_INET6 too", C.SOL_IP, C.IP_TTL, 9, 9],
];

function check(s: Socket, [, level, name, set, want]: Row): void {
  s.setsockopt(level, name, set);
  if (typeof want === "number") expect(s.getsockoptInt(level, name)).toBe(want);
  else expect(s.getsockopt(level, name, want.length / 2).toString("hex")).toBe(want);
}

describe("setsockopt/getsockopt round trips (Linux layouts)", () => {
  for (const row of udpRows) it(`UDP ${row[0]}`, () => check(sock(C.SOCK_DGRAM), row));
  for (const row of v6Rows) it(`AF_INET6 UDP ${row[0]}`, () => check(sock(C.SOCK_DGRAM, C.AF_INET6), row));
  for (const row of tcpRows) it(`TCP ${row[0]}`, () => check(sock(C.SOCK_STREAM), row));

  it("read-only options: SO_TYPE/SO_PROTOCOL/SO_DOMAIN/SO_ACCEPTCONN/SO_ERROR report, and refuse set with ENOPROTOOPT", () => {
    const s = sock(C.SOCK_DGRAM, C.AF_INET6);
    expect([C.SO_TYPE, C.SO_PROTOCOL, C.SO_DOMAIN, C.SO_ACCEPTCONN, C.SO_ERROR].map((n) => s.getsockoptInt(C.SOL_SOCKET, n)))
      .toEqual([C.SOCK_DGRAM, C.IPPROTO_UDP, C.AF_INET6, 0, 0]);
    for (const n of [C.SO_TYPE, C.SO_PROTOCOL, C.SO_DOMAIN, C.SO_ACCEPTCONN, C.SO_ERROR, C.SO_SNDLOWAT]) {
      expect(codeOf(() => s.setsockopt(C.SOL_SOCKET, n, 1))).toBe("ENOPROTOOPT");
    }
  });

  it("short option values are EINVAL on set; getsockopt cuts to optlen (IP ints to one byte)", () => {
    const s = sock(C.SOCK_DGRAM);
    expect(codeOf(() => s.setsockopt(C.SOL_SOCKET, C.SO_RCVBUF, Buffer.alloc(3)))).toBe("EINVAL");
    expect(codeOf(() => s.setsockopt(C.SOL_SOCKET, C.SO_LINGER, Buffer.alloc(4)))).toBe("EINVAL");
    expect(codeOf(() => s.setsockopt(C.SOL_SOCKET, C.SO_RCVTIMEO, Buffer.alloc(8)))).toBe("EINVAL");
    expect(codeOf(() => s.setsockopt(C.SOL_SOCKET, C.SO_RCVTIMEO, Buffer.from("00000000000000000000000001000000", "hex"))))
      .toBe("EDOM");
    expect(s.getsockopt(C.SOL_SOCKET, C.SO_RCVBUF, 2).length).toBe(2);
    expect(s.getsockopt(C.SOL_IP, C.IP_TTL, 1)).toEqual(Buffer.of(64));
    expect(codeOf(() => s.getsockopt(C.SOL_SOCKET, C.SO_RCVBUF, -1))).toBe("EINVAL");
  });

  it("unknown options are ENOPROTOOPT; a foreign level is EOPNOTSUPP on AF_INET and ENOPROTOOPT on AF_INET6", () => {
    const s = sock(C.SOCK_DGRAM);
    expect(codeOf(() => s.getsockopt(C.SOL_SOCKET, 999))).toBe("ENOPROTOOPT");
    expect(codeOf(() => s.setsockopt(C.SOL_IP, 999, 1))).toBe("ENOPROTOOPT");
    expect(codeOf(() => s.getsockopt(C.SOL_TCP, C.TCP_NODELAY))).toBe("EOPNOTSUPP");
    expect(codeOf(() => s.setsockopt(C.SOL_TCP, C.TCP_NODELAY, 1))).toBe("ENOPROTOOPT");
    const s6 = sock(C.SOCK_DGRAM, C.AF_INET6);
    expect(codeOf(() => s6.getsockopt(C.SOL_TCP, C.TCP_NODELAY))).toBe("ENOPROTOOPT");
  });

  it("value ranges: IP_TTL 1..255 or -1, IPV6 hops -1..255, IPV6_V6ONLY only before bind", () => {
    const s = sock(C.SOCK_DGRAM);
    expect(codeOf(() => s.setsockopt(C.SOL_IP, C.IP_TTL, 0))).toBe("EINVAL");
    expect(codeOf(() => s.setsockopt(C.SOL_IP, C.IP_TTL, 256))).toBe("EINVAL");
    const s6 = sock(C.SOCK_DGRAM, C.AF_INET6);
    expect(codeOf(() => s6.setsockopt(C.SOL_IPV6, C.IPV6_UNICAST_HOPS, -2))).toBe("EINVAL");
    s6.bind({ address: "::", port: 4000 });
    expect(codeOf(() => s6.setsockopt(C.SOL_IPV6, C.IPV6_V6ONLY, 1))).toBe("EINVAL");
  });

  it("SO_BINDTODEVICE takes an interface name: unknown names ENODEV, empty unbinds", () => {
    const s = sock(C.SOCK_DGRAM);
    expect(s.getsockopt(C.SOL_SOCKET, C.SO_BINDTODEVICE, 16).length).toBe(0);
    s.setsockopt(C.SOL_SOCKET, C.SO_BINDTODEVICE, "eth0");
    expect(s.getsockopt(C.SOL_SOCKET, C.SO_BINDTODEVICE, 16).toString("latin1")).toBe("eth0\0");
    expect(codeOf(() => s.setsockopt(C.SOL_SOCKET, C.SO_BINDTODEVICE, "nope0"))).toBe("ENODEV");
    s.setsockopt(C.SOL_SOCKET, C.SO_BINDTODEVICE, "");
    expect(s.getsockopt(C.SOL_SOCKET, C.SO_BINDTODEVICE, 16).length).toBe(0);
  });

  it("TCP_CONGESTION names an algorithm (NUL-padded to 16); unknown names ENOENT", () => {
    const s = sock(C.SOCK_STREAM);
    expect(codeOf(() => s.setsockopt(C.SOL_TCP, C.TCP_CONGESTION, "bogus"))).toBe("ENOENT");
    s.setsockopt(C.SOL_TCP, C.TCP_CONGESTION, "reno");
    const v = s.getsockopt(C.SOL_TCP, C.TCP_CONGESTION, 16);
    expect(v.length).toBe(16);
    expect(v.toString("latin1").replace(/\0+$/, "")).toBe("reno");
  });

  it("TCP option ranges are Linux's (EINVAL outside)", () => {
    const s = sock(C.SOCK_STREAM);
    for (const [name, v] of [[C.TCP_KEEPIDLE, 0], [C.TCP_KEEPIDLE, 32768], [C.TCP_KEEPINTVL, 0], [C.TCP_KEEPCNT, 128],
      [C.TCP_MAXSEG, 87], [C.TCP_USER_TIMEOUT, -1], [C.TCP_SYNCNT, 0]] as const) {
      expect(codeOf(() => s.setsockopt(C.SOL_TCP, name, v)), `option ${name}=${v}`).toBe("EINVAL");
    }
    expect(codeOf(() => s.setsockopt(C.SOL_TCP, C.TCP_INFO, Buffer.alloc(8)))).toBe("ENOPROTOOPT");
    expect(s.getsockoptInt(C.SOL_TCP, C.TCP_QUICKACK)).toBeGreaterThanOrEqual(0);
  });
});

describe("socket(2) argument checks", () => {
  it("rejects families, types and protocols Linux rejects", () => {
    pair = manualPair();
    const p = pair;
    expect(codeOf(() => socket(p.a, 99, C.SOCK_DGRAM))).toBe("EAFNOSUPPORT");
    expect(codeOf(() => socket(p.a, C.AF_INET, C.SOCK_DGRAM | 0x100))).toBe("EINVAL");
    expect(codeOf(() => socket(p.a, C.AF_INET, C.SOCK_STREAM, C.IPPROTO_UDP))).toBe("EPROTONOSUPPORT");
    expect(codeOf(() => socket(p.a, C.AF_INET, C.SOCK_DGRAM, C.IPPROTO_TCP))).toBe("EPROTONOSUPPORT");
    expect(codeOf(() => socket(p.a, C.AF_INET, C.SOCK_SEQPACKET))).toBe("ESOCKTNOSUPPORT");
    expect(codeOf(() => socket(p.a, C.AF_INET, 9))).toBe("EINVAL");
    const ping = socket(p.a, C.AF_INET, C.SOCK_DGRAM, C.IPPROTO_ICMP);
    expect(ping.getsockoptInt(C.SOL_SOCKET, C.SO_PROTOCOL)).toBe(C.IPPROTO_ICMP);
    ping.close();
    expect(codeOf(() => ping.bind({ address: "0.0.0.0", port: 0 }))).toBe("EBADF");
  });
});

describe("ioctl requests (struct ifreq / ifconf layouts)", () => {
  function ifStack() {
    const clock = new ManualClock();
    const pipe = new Pipe({ mtu: 1500, clock, maxHeaderLength: 14 });
    const stack = new Stack({ networkProtocols: [ipv4, arp], transportProtocols: [udp], clock });
    stack.createNic(1, new LoopbackEndpoint({ clock }), { name: "lo" });
    stack.createNic(2, new EthernetEndpoint(pipe.a, { mac: "02:00:00:00:00:0a" }), { name: "eth0" });
    stack.addAddress(1, "127.0.0.1/8");
    stack.addAddress(2, "198.18.0.1/24");
    return { stack, s: socket(stack, C.AF_INET, C.SOCK_DGRAM) };
  }

  it("SIOCGIFCONF: a null buffer asks for the size; then one 40-byte ifreq per IPv4 address", () => {
    const { stack, s } = ifStack();
    const ifc = Buffer.alloc(C.IFCONF_SIZE);
    s.ioctl(C.SIOCGIFCONF, ifc, null);
    expect(ifc.readInt32LE(0)).toBe(2 * C.IFREQ_SIZE);
    const data = Buffer.alloc(2 * C.IFREQ_SIZE);
    ifc.writeInt32LE(data.length, 0);
    s.ioctl(C.SIOCGIFCONF, ifc, data);
    expect(parseIfconf(data, ifc.readInt32LE(0))).toEqual([{ name: "lo", address: "127.0.0.1" }, { name: "eth0", address: "198.18.0.1" }]);
    expect(data.readUInt16LE(16)).toBe(C.AF_INET);
    // Room for one entry only: ifc_len reports what was used.
    ifc.writeInt32LE(C.IFREQ_SIZE + 10, 0);
    s.ioctl(C.SIOCGIFCONF, ifc, Buffer.alloc(100));
    expect(ifc.readInt32LE(0)).toBe(C.IFREQ_SIZE);
    stack.close();
  });

  it("SIOCGIF* answer from the NIC: flags, address, netmask, broadcast, MTU, index, name, hwaddr, metric, txqlen", () => {
    const { stack, s } = ifStack();
    const q = (req: number, name: string) => {
      const b = makeIfreq(name);
      s.ioctl(req, b);
      return b;
    };
    expect(q(C.SIOCGIFFLAGS, "eth0").readUInt16LE(16)).toBe(C.IFF_UP | C.IFF_RUNNING | C.IFF_BROADCAST | C.IFF_MULTICAST);
    expect(q(C.SIOCGIFFLAGS, "lo").readUInt16LE(16)).toBe(C.IFF_UP | C.IFF_RUNNING | C.IFF_LOOPBACK);
    const addr = q(C.SIOCGIFADDR, "eth0");
    expect([addr.readUInt16LE(16), [...addr.subarray(20, 24)].join(".")]).toEqual([C.AF_INET, "198.18.0.1"]);
    expect([...q(C.SIOCGIFNETMASK, "eth0").subarray(20, 24)].join(".")).toBe("255.255.255.0");
    expect([...q(C.SIOCGIFBRDADDR, "eth0").subarray(20, 24)].join(".")).toBe("198.18.0.255");
    expect(q(C.SIOCGIFMTU, "eth0").readInt32LE(16)).toBe(1500);
    expect(q(C.SIOCGIFINDEX, "eth0").readInt32LE(16)).toBe(2);
    expect(q(C.SIOCGIFMETRIC, "eth0").readInt32LE(16)).toBe(0);
    expect(q(C.SIOCGIFTXQLEN, "eth0").readInt32LE(16)).toBe(1000);
    const hw = q(C.SIOCGIFHWADDR, "eth0");
    expect(hw.readUInt16LE(16)).toBe(C.ARPHRD_ETHER);
    expect(hw.subarray(18, 24).toString("hex")).toBe("02000000000a");
    expect(q(C.SIOCGIFHWADDR, "lo").readUInt16LE(16)).toBe(C.ARPHRD_LOOPBACK);
    const byIndex = makeIfreq("", 1);
    s.ioctl(C.SIOCGIFNAME, byIndex);
    expect(byIndex.subarray(0, 3).toString()).toBe("lo\0");
    stack.close();
  });

  it("an L3 link (like TUN) reports POINTOPOINT|NOARP and ARPHRD_NONE", () => {
    pair = manualPair();
    const s = socket(pair.a, C.AF_INET, C.SOCK_DGRAM);
    const f = makeIfreq("eth0");
    s.ioctl(C.SIOCGIFFLAGS, f);
    expect(f.readUInt16LE(16)).toBe(C.IFF_UP | C.IFF_RUNNING | C.IFF_POINTOPOINT | C.IFF_NOARP | C.IFF_MULTICAST);
    const hw = makeIfreq("eth0");
    s.ioctl(C.SIOCGIFHWADDR, hw);
    expect(hw.readUInt16LE(16)).toBe(C.ARPHRD_NONE);
  });

  it("errors: unknown interface ENODEV, unknown request ENOTTY, short argument EFAULT", () => {
    const { stack, s } = ifStack();
    expect(codeOf(() => s.ioctl(C.SIOCGIFFLAGS, makeIfreq("nope0")))).toBe("ENODEV");
    expect(codeOf(() => s.ioctl(C.SIOCGIFNAME, makeIfreq("", 42)))).toBe("ENODEV");
    expect(codeOf(() => s.ioctl(0x1234, Buffer.alloc(4)))).toBe("ENOTTY");
    expect(codeOf(() => s.ioctl(C.FIONREAD, Buffer.alloc(2)))).toBe("EFAULT");
    expect(codeOf(() => s.ioctl(C.SIOCGIFMTU, Buffer.alloc(20)))).toBe("EFAULT");
    stack.close();
  });

  it("FIONREAD / TIOCINQ and TIOCOUTQ on UDP", () => {
    pair = manualPair();
    const s = socket(pair.a, C.AF_INET, C.SOCK_DGRAM);
    s.bind({ address: "0.0.0.0", port: 6000 });
    const c = socket(pair.b, C.AF_INET, C.SOCK_DGRAM);
    c.sendto(Buffer.alloc(300), 0, { address: pair.addrA, port: 6000 });
    c.sendto(Buffer.alloc(10), 0, { address: pair.addrA, port: 6000 });
    pair.settle();
    const v = int(0);
    s.ioctl(C.TIOCINQ, v);
    expect(v.readInt32LE(0)).toBe(300);
    s.ioctl(C.TIOCOUTQ, v);
    expect(v.readInt32LE(0)).toBe(0);
  });
});
