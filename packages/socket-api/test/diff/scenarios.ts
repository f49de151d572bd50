/**
 * Differential scenarios: each runs on the Linux kernel and on socket-api, and every op's
 * result must match. Ports are relative to the scenario's block (P9 is never bound: "closed").
 */
import type { Op, Scenario } from "./dsl.js";

const S = "SOL_SOCKET";
const T = "SOL_TCP";
const IP = "SOL_IP";
const V6 = "SOL_IPV6";

const udp = (id: string, host: "A" | "B" = "A", family: "inet" | "inet6" = "inet"): Op =>
  ({ op: "socket", id, host, type: "dgram", family });
const tcp = (id: string, host: "A" | "B" = "A", family: "inet" | "inet6" = "inet"): Op =>
  ({ op: "socket", id, host, type: "stream", family });
const gi = (id: string, level: string, name: string): Op => ({ op: "getsockopt_int", id, level, name });
const go = (id: string, level: string, name: string, len: number): Op => ({ op: "getsockopt", id, level, name, len });
const si = (id: string, level: string, name: string, value: number): Op => ({ op: "setsockopt", id, level, name, value });
const sh = (id: string, level: string, name: string, hex: string): Op => ({ op: "setsockopt", id, level, name, hex });
const recv = (id: string, len: number, ...flags: string[]): Op => ({ op: "recv", id, len, flags });
const recvmsg = (id: string, len: number, ...flags: string[]): Op => ({ op: "recvmsg", id, len, flags });
const send = (id: string, data: string, ...flags: string[]): Op => ({ op: "send", id, data, flags });
const poll = (id: string, ...events: string[]): Op => ({ op: "poll", id, events });

/** A connected TCP pair: listener l (A, P1), client c (B), accepted server socket a. */
const tcpPair = (family: "inet" | "inet6" = "inet"): Op[] => [
  tcp("l"), { op: "bind", id: "l", addr: "any", port: 1 }, { op: "listen", id: "l" },
  tcp("c", "B", family), { op: "connect", id: "c", addr: "peer", port: 1 }, { op: "accept", id: "l", as: "a" },
];

/** A UDP server s bound on A:P1 and a client c on B bound to P2. */
const udpPair = (): Op[] => [
  udp("s"), { op: "bind", id: "s", addr: "any", port: 1 },
  udp("c", "B"), { op: "bind", id: "c", addr: "any", port: 2 },
];

export const scenarios: Scenario[] = [
  // ------------------------------------------------------------------ socket(2) and options: UDP
  {
    name: "socket-errors",
    about: "socket(2): wrong protocol for the type is EPROTONOSUPPORT, unknown family EAFNOSUPPORT, bad flags EINVAL",
    ops: [
      { op: "socket_raw", id: "x", host: "A", family: 2, type: 1, proto: 17 },
      { op: "socket_raw", id: "y", host: "A", family: 2, type: 2, proto: 6 },
      { op: "socket_raw", id: "z", host: "A", family: 99, type: 2 },
      { op: "socket_raw", id: "w", host: "A", family: 2, type: 2 | 0x100 },
      { op: "socket_raw", id: "v", host: "A", family: 2, type: 5 },
    ],
  },
  {
    name: "udp-identity-options",
    about: "SO_TYPE, SO_PROTOCOL, SO_DOMAIN, SO_ACCEPTCONN, SO_ERROR on a fresh UDP socket",
    ops: [udp("u"), udp("u6", "A", "inet6"), gi("u", S, "SO_TYPE"), gi("u", S, "SO_PROTOCOL"), gi("u", S, "SO_DOMAIN"),
      gi("u", S, "SO_ACCEPTCONN"), gi("u", S, "SO_ERROR"), gi("u6", S, "SO_DOMAIN"), gi("u6", V6, "IPV6_V6ONLY")],
  },
  {
    name: "udp-default-options",
    about: "Linux's defaults for a UDP socket: buffers 212992, TTL 64, flags off, lowat 1",
    ops: [udp("u"), gi("u", S, "SO_RCVBUF"), gi("u", S, "SO_SNDBUF"), gi("u", S, "SO_REUSEADDR"),
      gi("u", S, "SO_REUSEPORT"), gi("u", S, "SO_BROADCAST"), gi("u", S, "SO_KEEPALIVE"), gi("u", IP, "IP_TTL"),
      gi("u", IP, "IP_TOS"), gi("u", S, "SO_RCVLOWAT"), gi("u", S, "SO_SNDLOWAT"), gi("u", S, "SO_TIMESTAMP"),
      go("u", S, "SO_LINGER", 8), go("u", S, "SO_RCVTIMEO", 16), gi("u", IP, "IP_RECVTOS"), gi("u", IP, "IP_PKTINFO")],
  },
  {
    name: "udp-buffer-doubling",
    about: "SO_RCVBUF/SO_SNDBUF: Linux doubles the value set and floors it at 2304 / 4608",
    ops: [udp("u"), si("u", S, "SO_RCVBUF", 65536), gi("u", S, "SO_RCVBUF"), si("u", S, "SO_RCVBUF", 1),
      gi("u", S, "SO_RCVBUF"), si("u", S, "SO_SNDBUF", 1), gi("u", S, "SO_SNDBUF"), si("u", S, "SO_SNDBUF", 100000),
      gi("u", S, "SO_SNDBUF"), si("u", S, "SO_RCVBUF", 0), gi("u", S, "SO_RCVBUF")],
  },
  {
    name: "udp-buffer-clamp",
    about: "SO_RCVBUF/SO_SNDBUF clamp to rmem_max/wmem_max (4 MiB) before doubling; a negative value clamps too",
    ops: [udp("u"), si("u", S, "SO_RCVBUF", 16 << 20), gi("u", S, "SO_RCVBUF"), si("u", S, "SO_SNDBUF", -1),
      gi("u", S, "SO_SNDBUF")],
  },
  {
    name: "option-short-buffers",
    about: "getsockopt cuts to optlen; setsockopt with fewer than 4 bytes is EINVAL; IP ints fit one byte",
    ops: [udp("u"), go("u", S, "SO_RCVBUF", 2), go("u", S, "SO_TYPE", 0), sh("u", S, "SO_RCVBUF", "0010"),
      sh("u", S, "SO_REUSEADDR", "01"), go("u", IP, "IP_TTL", 1), go("u", IP, "IP_TTL", 3), go("u", S, "SO_LINGER", 4),
      sh("u", S, "SO_LINGER", "01000000")],
  },
  {
    name: "unknown-options",
    about: "unknown options and wrong levels are ENOPROTOOPT; read-only options too",
    ops: [udp("u"), go("u", S, "999", 4), si("u", S, "999", 1), go("u", IP, "999", 4), si("u", IP, "999", 1),
      gi("u", T, "TCP_NODELAY"), si("u", T, "TCP_NODELAY", 1), si("u", S, "SO_TYPE", 1), si("u", S, "SO_SNDLOWAT", 1),
      gi("u", "SOL_UDP", "999"), gi("u", "999", "1"),
      { op: "getsockopt_int", id: "u", level: V6, name: "IPV6_V6ONLY" }],
  },
  {
    name: "ip-ttl-tos",
    about: "IP_TTL accepts 1..255 and -1 (default 64); IP_TOS keeps the value on UDP",
    ops: [udp("u"), si("u", IP, "IP_TTL", 1), gi("u", IP, "IP_TTL"), si("u", IP, "IP_TTL", 0), si("u", IP, "IP_TTL", 256),
      si("u", IP, "IP_TTL", -1), gi("u", IP, "IP_TTL"), si("u", IP, "IP_TOS", 0x1f), gi("u", IP, "IP_TOS"),
      si("u", IP, "IP_TOS", 0x104), gi("u", IP, "IP_TOS")],
  },
  {
    name: "timeval-options",
    about: "SO_RCVTIMEO/SO_SNDTIMEO are struct timeval; short values EINVAL, tv_usec out of range EDOM",
    ops: [udp("u"), sh("u", S, "SO_RCVTIMEO", "010000000000000020a1070000000000"), go("u", S, "SO_RCVTIMEO", 16),
      sh("u", S, "SO_SNDTIMEO", "0200000000000000"), sh("u", S, "SO_SNDTIMEO", "000000000000000040420f0000000000"),
      go("u", S, "SO_SNDTIMEO", 16)],
  },
  {
    name: "bool-options-roundtrip",
    about: "boolean SOL_SOCKET options read back 1 after a nonzero set",
    ops: [udp("u"), si("u", S, "SO_REUSEADDR", 5), gi("u", S, "SO_REUSEADDR"), si("u", S, "SO_BROADCAST", 1),
      gi("u", S, "SO_BROADCAST"), si("u", S, "SO_KEEPALIVE", 1), gi("u", S, "SO_KEEPALIVE"), si("u", S, "SO_TIMESTAMP", 1),
      gi("u", S, "SO_TIMESTAMP"), si("u", S, "SO_RCVLOWAT", 0), gi("u", S, "SO_RCVLOWAT"), si("u", S, "SO_RCVLOWAT", 100),
      gi("u", S, "SO_RCVLOWAT"), sh("u", S, "SO_LINGER", "0100000005000000"), go("u", S, "SO_LINGER", 8)],
  },
  // ------------------------------------------------------------------ UDP data path
  {
    name: "udp-peek-trunc",
    about: "datagram MSG_PEEK keeps the datagram; PEEK|TRUNC returns its full length; a short read sets MSG_TRUNC",
    ops: [...udpPair(), { op: "sendto", id: "c", data: "hello world", addr: "peer", port: 1 },
      recv("s", 5, "MSG_PEEK"), recvmsg("s", 5, "MSG_PEEK", "MSG_TRUNC"), recvmsg("s", 5), recv("s", 100)],
  },
  {
    name: "udp-trunc-flag",
    about: "MSG_TRUNC on a datagram socket returns the real length even when the buffer is shorter",
    ops: [...udpPair(), { op: "sendto", id: "c", data: "0123456789abc", addr: "peer", port: 1 },
      { op: "sendto", id: "c", data: "xy", addr: "peer", port: 1 }, recvmsg("s", 4, "MSG_TRUNC"), recvmsg("s", 4, "MSG_TRUNC")],
  },
  {
    name: "udp-fionread",
    about: "FIONREAD on UDP is the size of the next datagram (0 for an empty one), not the queue total",
    ops: [...udpPair(), { op: "ioctl_int", id: "s", req: "FIONREAD" },
      { op: "sendto", id: "c", data: "12345", addr: "peer", port: 1 },
      { op: "sendto", id: "c", data: "1234567", addr: "peer", port: 1 },
      { op: "sendto", id: "c", data: "", addr: "peer", port: 1 },
      { op: "ioctl_int", id: "s", req: "FIONREAD" }, recv("s", 100), { op: "ioctl_int", id: "s", req: "FIONREAD" },
      recv("s", 100), { op: "ioctl_int", id: "s", req: "FIONREAD" }, poll("s", "POLLIN"), recv("s", 100), recv("s", 100),
      { op: "ioctl_int", id: "s", req: "TIOCOUTQ" }],
  },
  {
    name: "udp-zero-length-read",
    about: "a 0-byte recv consumes a whole datagram",
    ops: [...udpPair(), { op: "sendto", id: "c", data: "abc", addr: "peer", port: 1 }, recv("s", 0), recv("s", 10)],
  },
  {
    name: "udp-recvfrom-sender",
    about: "recvfrom reports the sender's address and port",
    ops: [...udpPair(), { op: "sendto", id: "c", data: "ping", addr: "peer", port: 1 }, { op: "recvfrom", id: "s", len: 16 },
      { op: "sendto", id: "s", data: "pong", addr: "peer", port: 2 }, { op: "recvfrom", id: "c", len: 16 }],
  },
  {
    name: "udp-sendmsg-gather",
    about: "sendmsg gathers its iovecs into one datagram",
    ops: [...udpPair(), { op: "connect", id: "c", addr: "peer", port: 1 },
      { op: "sendmsg", id: "c", parts: ["ab", "cd", "efg"] }, recvmsg("s", 64), recv("s", 64)],
  },
  {
    name: "udp-closed-port-connected",
    about: "a connected UDP socket learns ECONNREFUSED from ICMP port unreachable (the next call reports it once)",
    ops: [udp("c", "B"), { op: "connect", id: "c", addr: "peer", port: 9 }, send("c", "x"), send("c", "y"), send("c", "z"),
      recv("c", 10)],
  },
  {
    name: "udp-closed-port-so-error",
    about: "the ICMP error shows in SO_ERROR and POLLERR, and reading SO_ERROR clears it",
    ops: [udp("c", "B"), { op: "connect", id: "c", addr: "peer", port: 9 }, send("c", "x"),
      poll("c", "POLLIN", "POLLOUT"), gi("c", S, "SO_ERROR"), gi("c", S, "SO_ERROR"), recv("c", 10)],
  },
  {
    name: "udp-closed-port-unconnected",
    about: "an unconnected UDP socket is not told about ICMP port unreachable",
    ops: [udp("c", "B"), { op: "sendto", id: "c", data: "x", addr: "peer", port: 9 },
      { op: "sendto", id: "c", data: "y", addr: "peer", port: 9 }, recv("c", 10), gi("c", S, "SO_ERROR")],
  },
  {
    name: "udp-eaddrinuse",
    about: "binding a used UDP port is EADDRINUSE unless every socket set SO_REUSEADDR",
    ops: [udp("a"), udp("b"), { op: "bind", id: "a", addr: "any", port: 1 }, { op: "bind", id: "b", addr: "any", port: 1 },
      udp("c"), udp("d"), si("c", S, "SO_REUSEADDR", 1), si("d", S, "SO_REUSEADDR", 1),
      { op: "bind", id: "c", addr: "any", port: 2 }, { op: "bind", id: "d", addr: "any", port: 2 },
      udp("e"), { op: "bind", id: "e", addr: "any", port: 2 }],
  },
  {
    name: "udp-bind-twice",
    about: "a second bind on a bound socket is EINVAL",
    ops: [udp("u"), { op: "bind", id: "u", addr: "any", port: 1 }, { op: "bind", id: "u", addr: "any", port: 2 },
      { op: "getsockname", id: "u" }],
  },
  {
    name: "udp-names",
    about: "getsockname on an unbound socket is 0.0.0.0:0; connect picks the source address and an ephemeral port",
    ops: [udp("u", "B"), { op: "getsockname", id: "u" }, { op: "getpeername", id: "u" },
      { op: "connect", id: "u", addr: "peer", port: 1 }, { op: "getsockname", id: "u" }, { op: "getpeername", id: "u" }],
  },
  {
    name: "udp-no-destination",
    about: "send on an unconnected UDP socket is EDESTADDRREQ; sendto port 0 is EINVAL",
    ops: [udp("u"), send("u", "x"), { op: "sendto", id: "u", data: "x", addr: "peer", port: 0 }],
  },
  {
    name: "udp-shutdown",
    about: "shutdown on an unconnected UDP socket is ENOTCONN; a connected one can shut down",
    ops: [udp("u"), { op: "shutdown", id: "u", how: "SHUT_RDWR" }, udp("v", "B"),
      { op: "connect", id: "v", addr: "peer", port: 1 }, { op: "shutdown", id: "v", how: "SHUT_WR" }, send("v", "x"),
      { op: "shutdown", id: "v", how: "SHUT_RD" }, recv("v", 10)],
  },
  {
    name: "udp-dontwait-empty",
    about: "recv on an empty socket is EAGAIN; MSG_DONTWAIT too",
    ops: [udp("u"), { op: "bind", id: "u", addr: "any", port: 1 }, recv("u", 10), recv("u", 10, "MSG_DONTWAIT"),
      poll("u", "POLLIN", "POLLOUT")],
  },
  {
    name: "udp-recvtos-cmsg",
    about: "IP_RECVTOS delivers the TOS byte as an IP_TOS control message",
    ops: [...udpPair(), si("s", IP, "IP_RECVTOS", 1), si("c", IP, "IP_TOS", 0x20),
      { op: "sendto", id: "c", data: "t", addr: "peer", port: 1 }, { op: "recvmsg", id: "s", len: 8, anc: 64 }],
  },
  {
    name: "udp-recvttl-cmsg",
    about: "IP_RECVTTL delivers the TTL as an int IP_TTL control message",
    ops: [...udpPair(), si("s", IP, "IP_RECVTTL", 1), si("c", IP, "IP_TTL", 33),
      { op: "sendto", id: "c", data: "t", addr: "peer", port: 1 }, { op: "recvmsg", id: "s", len: 8, anc: 64 }],
  },
  {
    name: "udp-v4mapped-recvfrom",
    about: "an AF_INET6 socket bound to :: receives IPv4 datagrams from ::ffff:a.b.c.d",
    ops: [udp("s", "A", "inet6"), { op: "bind", id: "s", addr: "any", port: 1 }, udp("c", "B"),
      { op: "bind", id: "c", addr: "any", port: 2 }, { op: "sendto", id: "c", data: "v4", addr: "peer", port: 1 },
      { op: "recvfrom", id: "s", len: 8 }, { op: "getsockname", id: "s" }],
  },
  {
    name: "udp-v4mapped-connect",
    about: "an AF_INET6 socket connects to a v4-mapped address and reports mapped names",
    ops: [udp("s"), { op: "bind", id: "s", addr: "any", port: 1 }, udp("c", "B", "inet6"),
      { op: "connect", id: "c", addr: "mapped-peer", port: 1 }, { op: "getpeername", id: "c" },
      { op: "getsockname", id: "c" }, send("c", "m"), { op: "recvfrom", id: "s", len: 4 }],
  },
  {
    name: "v6only-mapped",
    about: "with IPV6_V6ONLY set, connecting to a v4-mapped address is ENETUNREACH",
    ops: [udp("s", "A", "inet6"), si("s", V6, "IPV6_V6ONLY", 1), gi("s", V6, "IPV6_V6ONLY"),
      { op: "connect", id: "s", addr: "mapped-peer", port: 1 }],
  },
  {
    name: "sockaddr-raw",
    about: "bind(2) with raw sockaddr bytes: short is EINVAL, wrong family EAFNOSUPPORT, AF_UNSPEC+INADDR_ANY allowed",
    ops: [udp("u"), { op: "bind_raw", id: "u", hex: "0200" }, { op: "bind_raw", id: "u", hex: "02005208000000" },
      { op: "bind_raw", id: "u", hex: "0a00520800000000000000000000000000000000000000000000000000" },
      { op: "bind_raw", id: "u", hex: "00005208000000000000000000000000" }, { op: "getsockname", id: "u" }],
  },
  {
    name: "sockaddr-raw-v6",
    about: "AF_INET6 sockaddr: 24 bytes are enough, fewer EINVAL; an AF_INET sockaddr EAFNOSUPPORT",
    ops: [udp("u", "A", "inet6"), { op: "bind_raw", id: "u", hex: "0a00" + "5208" + "00000000" + "00".repeat(10) },
      { op: "bind_raw", id: "u", hex: "02005208000000000000000000000000" },
      { op: "bind_raw", id: "u", hex: "0a00" + "5209" + "00000000" + "00".repeat(16) }, { op: "getsockname", id: "u" }],
  },
  {
    name: "udp-connect-unspec",
    about: "connect with AF_UNSPEC dissolves a UDP association",
    ops: [udp("u", "B"), { op: "connect", id: "u", addr: "peer", port: 1 }, { op: "getpeername", id: "u" },
      { op: "connect_raw", id: "u", hex: "00000000000000000000000000000000" }, { op: "getpeername", id: "u" }],
  },
  {
    name: "ioctl-unknown",
    about: "unknown ioctl requests are ENOTTY; FIONBIO is accepted",
    ops: [udp("u"), { op: "ioctl_int", id: "u", req: "SIOCATMARK" }, { op: "ioctl_int", id: "u", req: "FIONBIO", value: 1 }],
  },
  // ------------------------------------------------------------------ TCP
  {
    name: "tcp-default-options",
    about: "Linux's defaults for a TCP socket: TCP_MAXSEG 536 before connect, keepalive 7200/75/9, flags off",
    ops: [tcp("t"), gi("t", S, "SO_TYPE"), gi("t", S, "SO_PROTOCOL"), gi("t", S, "SO_RCVBUF"), gi("t", T, "TCP_NODELAY"),
      gi("t", T, "TCP_MAXSEG"), gi("t", T, "TCP_KEEPIDLE"), gi("t", T, "TCP_KEEPINTVL"), gi("t", T, "TCP_KEEPCNT"),
      gi("t", S, "SO_KEEPALIVE"), gi("t", T, "TCP_CORK"), gi("t", T, "TCP_USER_TIMEOUT"), gi("t", S, "SO_ACCEPTCONN"),
      gi("t", IP, "IP_TTL"), go("t", T, "TCP_INFO", 1), gi("t", S, "SO_ERROR"), go("t", S, "SO_LINGER", 8)],
  },
  {
    name: "tcp-option-values",
    about: "TCP option ranges: KEEPIDLE 1..32767, KEEPCNT 1..127, MAXSEG 88..32767, USER_TIMEOUT >= 0",
    ops: [tcp("t"), si("t", T, "TCP_KEEPIDLE", 0), si("t", T, "TCP_KEEPIDLE", 60), gi("t", T, "TCP_KEEPIDLE"),
      si("t", T, "TCP_KEEPINTVL", 32768), si("t", T, "TCP_KEEPCNT", 128), si("t", T, "TCP_KEEPCNT", 3),
      gi("t", T, "TCP_KEEPCNT"), si("t", T, "TCP_MAXSEG", 50), si("t", T, "TCP_USER_TIMEOUT", -1),
      si("t", T, "TCP_USER_TIMEOUT", 5000), gi("t", T, "TCP_USER_TIMEOUT"), si("t", T, "TCP_NODELAY", 7),
      gi("t", T, "TCP_NODELAY"), si("t", T, "TCP_CORK", 1), gi("t", T, "TCP_CORK"), si("t", IP, "IP_TOS", 0x1f),
      gi("t", IP, "IP_TOS")],
  },
  {
    name: "tcp-buffer-doubling",
    about: "TCP SO_RCVBUF/SO_SNDBUF double the value set, floor at 2304/4608",
    ops: [tcp("t"), si("t", S, "SO_RCVBUF", 65536), gi("t", S, "SO_RCVBUF"), si("t", S, "SO_SNDBUF", 32768),
      gi("t", S, "SO_SNDBUF"), si("t", S, "SO_SNDBUF", 10), gi("t", S, "SO_SNDBUF"), si("t", S, "SO_RCVBUF", 10),
      gi("t", S, "SO_RCVBUF")],
  },
  {
    name: "tcp-buffer-clamp",
    about: "TCP SO_RCVBUF/SO_SNDBUF clamp to rmem_max/wmem_max (4 MiB) before doubling",
    ops: [tcp("t"), si("t", S, "SO_RCVBUF", 16 << 20), gi("t", S, "SO_RCVBUF"), si("t", S, "SO_SNDBUF", 1 << 20),
      gi("t", S, "SO_SNDBUF")],
  },
  {
    name: "tcp-default-sndbuf",
    about: "a fresh TCP socket's SO_SNDBUF is tcp_wmem[1] = 16384",
    ops: [tcp("t"), gi("t", S, "SO_SNDBUF")],
  },
  {
    name: "tcp-unconnected-calls",
    about: "fresh TCP socket: recv ENOTCONN, send EPIPE, getpeername ENOTCONN, shutdown ENOTCONN, accept EINVAL",
    ops: [tcp("t"), recv("t", 10), send("t", "x"), { op: "getpeername", id: "t" },
      { op: "shutdown", id: "t", how: "SHUT_RDWR" }, { op: "accept", id: "t", as: "z" }, { op: "getsockname", id: "t" },
      poll("t", "POLLIN", "POLLOUT")],
  },
  {
    name: "tcp-connect-refused",
    about: "non-blocking connect to a closed port: EINPROGRESS, then POLLOUT|POLLERR|POLLHUP and SO_ERROR ECONNREFUSED (read once)",
    ops: [tcp("c", "B"), { op: "connect", id: "c", addr: "peer", port: 9 }, poll("c", "POLLIN", "POLLOUT"),
      gi("c", S, "SO_ERROR"), gi("c", S, "SO_ERROR"), go("c", T, "TCP_INFO", 1)],
  },
  {
    name: "tcp-connect-ok",
    about: "non-blocking connect: EINPROGRESS, then writable with SO_ERROR 0; names on both ends",
    ops: [tcp("l"), { op: "bind", id: "l", addr: "any", port: 1 }, { op: "listen", id: "l" }, gi("l", S, "SO_ACCEPTCONN"),
      poll("l", "POLLIN"), tcp("c", "B"), { op: "connect", id: "c", addr: "peer", port: 1 }, poll("l", "POLLIN"),
      poll("c", "POLLIN", "POLLOUT"), gi("c", S, "SO_ERROR"), { op: "getpeername", id: "c" }, { op: "getsockname", id: "c" },
      { op: "accept", id: "l", as: "a" }, { op: "getpeername", id: "a" }, { op: "getsockname", id: "a" },
      { op: "accept", id: "l", as: "b" }, { op: "connect", id: "c", addr: "peer", port: 1 },
      { op: "connect", id: "c", addr: "peer", port: 1 }, go("c", T, "TCP_INFO", 1),
      go("l", T, "TCP_INFO", 1), gi("a", S, "SO_ACCEPTCONN")],
  },
  {
    name: "tcp-listen-eaddrinuse",
    about: "a listening port cannot be bound again, even with SO_REUSEADDR on both",
    ops: [tcp("l"), si("l", S, "SO_REUSEADDR", 1), { op: "bind", id: "l", addr: "any", port: 1 }, { op: "listen", id: "l" },
      tcp("m"), si("m", S, "SO_REUSEADDR", 1), { op: "bind", id: "m", addr: "any", port: 1 },
      tcp("n"), { op: "bind", id: "n", addr: "any", port: 1 }],
  },
  {
    name: "tcp-bind-eaddrinuse",
    about: "two bound (not listening) TCP sockets on one port: EADDRINUSE without SO_REUSEADDR, allowed with it",
    ops: [tcp("a"), { op: "bind", id: "a", addr: "any", port: 1 }, tcp("b"), { op: "bind", id: "b", addr: "any", port: 1 },
      tcp("c"), tcp("d"), si("c", S, "SO_REUSEADDR", 1), si("d", S, "SO_REUSEADDR", 1),
      { op: "bind", id: "c", addr: "any", port: 2 }, { op: "bind", id: "d", addr: "any", port: 2 }],
  },
  {
    name: "tcp-listen-dgram",
    about: "listen on a datagram socket is EOPNOTSUPP",
    ops: [udp("u"), { op: "listen", id: "u" }],
  },
  {
    name: "tcp-peek",
    about: "stream MSG_PEEK copies without consuming; the next read gets the same bytes",
    ops: [...tcpPair(), send("c", "hello world"), recv("a", 5, "MSG_PEEK"), recv("a", 100, "MSG_PEEK"), recv("a", 100),
      recv("a", 100)],
  },
  {
    name: "tcp-peek-trunc",
    about: "stream MSG_PEEK|MSG_TRUNC reports how much could be read; MSG_TRUNC alone discards bytes",
    ops: [...tcpPair(), send("c", "hello world"), recvmsg("a", 5, "MSG_PEEK", "MSG_TRUNC"),
      recvmsg("a", 100, "MSG_PEEK", "MSG_TRUNC"), recvmsg("a", 3, "MSG_TRUNC"), recvmsg("a", 100)],
  },
  {
    name: "tcp-coalesce",
    about: "stream reads coalesce bytes from several segments",
    ops: [...tcpPair(), send("c", "ab"), send("c", "cd"), send("c", "efg"), { op: "ioctl_int", id: "a", req: "FIONREAD" },
      recv("a", 4), recv("a", 100), { op: "ioctl_int", id: "a", req: "FIONREAD" }],
  },
  {
    name: "tcp-fionread-outq",
    about: "FIONREAD counts queued stream bytes; TIOCOUTQ is 0 once acknowledged; listeners EINVAL",
    ops: [...tcpPair(), send("c", "0123456789"), { op: "settle" }, { op: "ioctl_int", id: "a", req: "FIONREAD" },
      { op: "ioctl_int", id: "c", req: "TIOCOUTQ" }, { op: "ioctl_int", id: "l", req: "FIONREAD" }],
  },
  {
    name: "tcp-epipe",
    about: "send after shutdown(SHUT_WR) is EPIPE; the peer reads EOF (0) and sees POLLIN|POLLRDHUP",
    ops: [...tcpPair(), { op: "shutdown", id: "c", how: "SHUT_WR" }, send("c", "x", "MSG_NOSIGNAL"), recv("a", 10),
      poll("a", "POLLIN", "POLLRDHUP", "POLLOUT"), send("a", "back"), recv("c", 10)],
  },
  {
    name: "tcp-eof-then-empty",
    about: "after the peer closes, reads return 0 repeatedly",
    ops: [...tcpPair(), send("c", "bye"), { op: "close", id: "c" }, recv("a", 10), recv("a", 10), recv("a", 10)],
  },
  {
    name: "tcp-econnreset-unread",
    about: "closing with unread data sends RST: the peer's recv is ECONNRESET, then EOF; send EPIPE",
    ops: [...tcpPair(), send("c", "unread"), { op: "close", id: "a" }, poll("c", "POLLIN", "POLLOUT"), recv("c", 10),
      recv("c", 10), send("c", "x", "MSG_NOSIGNAL"), gi("c", S, "SO_ERROR")],
  },
  {
    name: "tcp-linger-zero",
    about: "SO_LINGER {1,0} then close resets the connection: the peer gets ECONNRESET",
    ops: [...tcpPair(), sh("a", S, "SO_LINGER", "0100000000000000"), go("a", S, "SO_LINGER", 8), { op: "close", id: "a" },
      gi("c", S, "SO_ERROR"), recv("c", 10)],
  },
  {
    name: "tcp-shutdown-read",
    about: "shutdown(SHUT_RD) on a stream: reads return 0",
    ops: [...tcpPair(), { op: "shutdown", id: "a", how: "SHUT_RD" }, recv("a", 10), poll("a", "POLLIN", "POLLRDHUP")],
  },
  {
    name: "tcp-recv-zero-len",
    about: "a zero-length recv on a connected stream returns 0 without waiting",
    ops: [...tcpPair(), recv("a", 0), send("c", "q"), recv("a", 0), recv("a", 5)],
  },
  {
    name: "tcp-send-zero-len",
    about: "a zero-length send on a connected stream returns 0",
    ops: [...tcpPair(), send("c", ""), recv("a", 5)],
  },
  {
    name: "tcp-v4mapped",
    about: "an AF_INET6 stream socket connects to ::ffff:a.b.c.d; the IPv4 listener sees a plain IPv4 peer",
    ops: [...tcpPair("inet6"), { op: "getpeername", id: "c" }, { op: "getsockname", id: "c" }, { op: "getpeername", id: "a" },
      send("c", "mapped"), recv("a", 10)],
  },
  {
    name: "tcp-v6-listener-mapped-peer",
    about: "an AF_INET6 listener bound to :: accepts an IPv4 client, which it names ::ffff:a.b.c.d",
    ops: [tcp("l", "A", "inet6"), { op: "bind", id: "l", addr: "any", port: 1 }, { op: "listen", id: "l" },
      tcp("c", "B"), { op: "connect", id: "c", addr: "peer", port: 1 }, { op: "accept", id: "l", as: "a" },
      { op: "getpeername", id: "a" }, { op: "getsockname", id: "l" }],
  },
  {
    name: "tcp-waitall-dontwait",
    about: "MSG_WAITALL on a non-blocking socket returns what is there",
    ops: [...tcpPair(), send("c", "abc"), recv("a", 10, "MSG_WAITALL"), recv("a", 10, "MSG_WAITALL")],
  },
  {
    name: "tcp-oob-none",
    about: "MSG_OOB recv with no urgent data is EINVAL",
    ops: [...tcpPair(), send("c", "abc"), recv("a", 10, "MSG_OOB")],
  },
  {
    name: "tcp-connect-on-listener",
    about: "connect on a listening socket is EISCONN",
    ops: [tcp("l"), { op: "bind", id: "l", addr: "any", port: 1 }, { op: "listen", id: "l" },
      { op: "connect", id: "l", addr: "peer", port: 1 }],
  },
  {
    name: "tcp-reconnect-after-refused",
    about: "after a refused connect the socket can connect again",
    ops: [tcp("c", "B"), { op: "connect", id: "c", addr: "peer", port: 2 }, gi("c", S, "SO_ERROR"), tcp("l"),
      { op: "bind", id: "l", addr: "any", port: 2 }, { op: "listen", id: "l" }, { op: "connect", id: "c", addr: "peer", port: 2 },
      gi("c", S, "SO_ERROR"), { op: "getpeername", id: "c" }],
  },
  {
    name: "tcp-congestion-name",
    about: "TCP_CONGESTION: unknown names are ENOENT; reno can be selected and reads back NUL-padded",
    ops: [tcp("t"), sh("t", T, "TCP_CONGESTION", Buffer.from("nosuchalgo").toString("hex")),
      sh("t", T, "TCP_CONGESTION", Buffer.from("reno").toString("hex")), go("t", T, "TCP_CONGESTION", 16),
      go("t", T, "TCP_CONGESTION", 2)],
  },
  {
    name: "tcp-defer-accept-rounding",
    about: "TCP_DEFER_ACCEPT reads back rounded up to the SYN-ACK retransmission schedule",
    ops: [tcp("t"), si("t", T, "TCP_DEFER_ACCEPT", 5), gi("t", T, "TCP_DEFER_ACCEPT"), si("t", T, "TCP_DEFER_ACCEPT", 1),
      gi("t", T, "TCP_DEFER_ACCEPT"), si("t", T, "TCP_DEFER_ACCEPT", 0), gi("t", T, "TCP_DEFER_ACCEPT")],
  },
];
