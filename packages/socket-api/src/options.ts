/**
 * getsockopt(2) / setsockopt(2) with Linux's binary layouts. Integers are 4-byte host-order
 * (little-endian) ints; SO_LINGER is struct linger { int l_onoff; int l_linger; };
 * SO_RCVTIMEO / SO_SNDTIMEO are struct timeval { long tv_sec; long tv_usec; } (16 bytes);
 * TCP_INFO is struct tcp_info (tcpinfo.ts).
 *
 * Linux's rules kept here: a value shorter than the option needs is EINVAL on set; on get the
 * result is cut to the caller's length (outLen), and IPPROTO_IP integers fit in one byte when the
 * caller asks for fewer than 4; options the socket's protocol does not know are ENOPROTOOPT;
 * SO_SNDBUF/SO_RCVBUF are clamped to wmem_max/rmem_max, doubled and floored at the minimums.
 */
import { IPV4_PROTOCOL, IPV6_PROTOCOL, isError, type SockOptionName, type TcpipError } from "@netstack-ts/netstack";
import {
  AF_INET, AF_INET6, IFNAMSIZ, IP_MTU, IP_MTU_DISCOVER, IP_MULTICAST_LOOP, IP_MULTICAST_TTL, IP_PKTINFO, IP_RECVERR,
  IP_RECVTOS, IP_RECVTTL, IP_TOS, IP_TTL, IPV6_MULTICAST_HOPS, IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO, IPV6_RECVTCLASS,
  IPV6_TCLASS, IPV6_UNICAST_HOPS, IPV6_V6ONLY, SO_ACCEPTCONN, SO_BINDTODEVICE, SO_BROADCAST, SO_DEBUG, SO_DOMAIN,
  SO_DONTROUTE, SO_ERROR, SO_KEEPALIVE, SO_LINGER, SO_NO_CHECK, SO_OOBINLINE, SO_PASSCRED, SO_PRIORITY, SO_PROTOCOL,
  SO_RCVBUF, SO_RCVBUFFORCE, SO_RCVLOWAT, SO_RCVTIMEO, SO_REUSEADDR, SO_REUSEPORT, SO_SNDBUF, SO_SNDBUFFORCE,
  SO_SNDLOWAT, SO_SNDTIMEO, SO_TIMESTAMP, SO_TYPE, SOL_IP, SOL_IPV6, SOL_SOCKET, SOL_TCP, SOL_UDP, TCP_CONGESTION,
  TCP_CORK, TCP_DEFER_ACCEPT, TCP_INFO, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_LINGER2, TCP_MAXSEG,
  TCP_NODELAY, TCP_NOTSENT_LOWAT, TCP_QUICKACK, TCP_SYNCNT, TCP_USER_TIMEOUT, TCP_WINDOW_CLAMP,
} from "./constants.js";
import { SocketError } from "./errors.js";
import { encodeTcpInfo } from "./tcpinfo.js";
import type { Socket } from "./socket.js";

/**
 * net.core.rmem_max / wmem_max: what SO_RCVBUF / SO_SNDBUF accept before doubling. Current
 * kernels default both to 4 MiB (older ones to 212992); the endpoint may clamp lower.
 */
export const RMEM_MAX = 4194304;
export const WMEM_MAX = 4194304;
/** Linux's TCP_MSS_DEFAULT (what TCP_MAXSEG reads before a connection), TCP_MIN_MSS, MAX_TCP_WINDOW. */
const TCP_MSS_DEFAULT = 536;
const TCP_MIN_MSS = 88;
const MAX_TCP_WINDOW = 32767;
const MAX_TCP_KEEPIDLE = 32767;
const MAX_TCP_KEEPINTVL = 32767;
const MAX_TCP_KEEPCNT = 127;
const TCP_CA_NAME_MAX = 16;
const DEFAULT_TTL = 64;

function readInt(v: Uint8Array, syscall: string, minLen = 4): number {
  if (v.length < minLen) throw new SocketError("EINVAL", syscall);
  if (v.length < 4) return v[0]!; // IPPROTO_IP options accept a single byte
  return new DataView(v.buffer, v.byteOffset, v.byteLength).getInt32(0, true);
}

function intBuf(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n | 0, 0);
  return b;
}

/** Normalises a setsockopt value: numbers become 4-byte ints, booleans 0/1, strings their bytes. */
export function optionBytes(value: Uint8Array | number | boolean | string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "boolean") return intBuf(value ? 1 : 0);
  if (typeof value === "string") return Buffer.from(value, "utf8");
  return intBuf(value);
}

/** Endpoint error → errno for option calls: unknown options are ENOPROTOOPT, bad values EINVAL. */
function fail(err: TcpipError, syscall: string): never {
  throw SocketError.fromTcpip(err, syscall);
}

/**
 * The unit of the endpoint's keepIdle / keepInterval options. The contract says milliseconds;
 * the TCP endpoint currently keeps seconds (like Linux's sysctls). Tell them apart by the default
 * idle time (7200 s), read once per socket before anything sets it.
 */
function keepUnit(s: Socket): number {
  let u = s.shadow.get("keepunit");
  if (u === undefined) {
    const r = s.getEndpointOpt("keepIdle");
    u = !isError(r) && r > 0 && r < 100_000 ? 1 : 1000;
    s.shadow.set("keepunit", u);
  }
  return u;
}

// ---------------------------------------------------------------------- TCP_DEFER_ACCEPT

/** Linux stores TCP_DEFER_ACCEPT as SYN-ACK retransmissions (1 s initial timeout, doubling, 120 s cap). */
function deferSecsToRetrans(secs: number): number {
  if (secs <= 0) return 0;
  let res = 1;
  let timeout = 1;
  let period = 1;
  while (secs > period && res < 255) {
    res++;
    timeout = Math.min(timeout * 2, 120);
    period += timeout;
  }
  return res;
}

function deferRetransToSecs(retrans: number): number {
  if (retrans <= 0) return 0;
  let timeout = 1;
  let period = 1;
  while (--retrans > 0) {
    timeout = Math.min(timeout * 2, 120);
    period += timeout;
  }
  return period;
}

// ---------------------------------------------------------------------- set

export function setSockOpt(s: Socket, level: number, name: number, raw: Uint8Array | number | boolean | string): void {
  const sc = "setsockopt";
  if (s.isClosed) throw new SocketError("EBADF", sc);
  const v = optionBytes(raw);
  const ep = <K extends SockOptionName>(k: K, val: Parameters<Socket["setEndpointOpt"]>[1] & unknown) => {
    const err = s.setEndpointOpt(k, val as never);
    if (err) fail(err, sc);
  };
  /** Endpoint option, kept in the socket's shadow when the endpoint does not model it. */
  const epOrShadow = (k: SockOptionName, key: string, val: unknown) => {
    const err = s.setEndpointOpt(k, val as never);
    if (err && err.code !== "ENOPROTOOPT") fail(err, sc);
    s.shadow.set(key, typeof val === "boolean" ? (val ? 1 : 0) : Number(val));
  };
  switch (level) {
    case SOL_SOCKET:
      switch (name) {
        case SO_REUSEADDR: return epOrShadow("reuseAddress", "reuseaddr", readInt(v, sc) !== 0);
        case SO_REUSEPORT: return epOrShadow("reusePort", "reuseport", readInt(v, sc) !== 0);
        case SO_KEEPALIVE: return epOrShadow("keepAlive", "keepalive", readInt(v, sc) !== 0);
        case SO_BROADCAST: return epOrShadow("broadcast", "broadcast", readInt(v, sc) !== 0);
        case SO_SNDBUF: case SO_SNDBUFFORCE: {
          // Linux: min_t(u32, val, wmem_max), then doubled (the endpoint doubles) and floored.
          const n = readInt(v, sc) >>> 0;
          const val = name === SO_SNDBUFFORCE ? Math.min(n, 0x3fffffff) : Math.min(n, WMEM_MAX);
          return ep("sendBufferSize", val);
        }
        case SO_RCVBUF: case SO_RCVBUFFORCE: {
          const n = readInt(v, sc) >>> 0;
          const val = name === SO_RCVBUFFORCE ? Math.min(n, 0x3fffffff) : Math.min(n, RMEM_MAX);
          return ep("receiveBufferSize", val);
        }
        case SO_LINGER: {
          if (v.length < 8) throw new SocketError("EINVAL", sc);
          const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
          const onoff = dv.getInt32(0, true);
          const secs = dv.getInt32(4, true);
          const linger = { enabled: onoff !== 0, timeout: Math.max(0, secs) };
          const err = s.setEndpointOpt("linger", linger);
          if (err && err.code !== "ENOPROTOOPT") fail(err, sc);
          s.lingerShadow = linger;
          return;
        }
        case SO_RCVTIMEO: case SO_SNDTIMEO: {
          if (v.length < 16) throw new SocketError("EINVAL", sc);
          const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
          const sec = Number(dv.getBigInt64(0, true));
          const usec = Number(dv.getBigInt64(8, true));
          if (usec < 0 || usec >= 1_000_000) throw new SocketError("EDOM", sc);
          // A negative time means "do not wait" in Linux; model it as the smallest timeout.
          const ms = sec < 0 ? 0.001 : sec * 1000 + usec / 1000;
          if (name === SO_RCVTIMEO) s.rcvTimeoMs = ms;
          else s.sndTimeoMs = ms;
          return;
        }
        case SO_RCVLOWAT: {
          let n = readInt(v, sc);
          if (n < 0) n = 0x7fffffff;
          s.rcvLowat = n === 0 ? 1 : n;
          return;
        }
        case SO_TIMESTAMP:
          s.timestamp = readInt(v, sc) !== 0;
          return;
        case SO_BINDTODEVICE: {
          // The value is an interface name (up to IFNAMSIZ-1 bytes, NUL-terminated or not).
          let len = Math.min(v.length, IFNAMSIZ - 1);
          const z = v.subarray(0, len).indexOf(0);
          if (z >= 0) len = z;
          const ifname = Buffer.from(v.subarray(0, len)).toString("latin1");
          if (ifname === "") return ep("bindToDevice", 0);
          const nic = s.stack.nicByName(ifname);
          if (!nic) throw new SocketError("ENODEV", sc);
          return ep("bindToDevice", nic.id);
        }
        case SO_DEBUG: case SO_DONTROUTE: case SO_OOBINLINE: case SO_NO_CHECK: case SO_PASSCRED:
          s.shadow.set(`so${name}`, readInt(v, sc) !== 0 ? 1 : 0);
          return;
        case SO_PRIORITY: {
          const n = readInt(v, sc);
          if (n < 0 || n > 6) throw new SocketError("EPERM", sc); // 7+ needs CAP_NET_ADMIN; keep to 0..6
          s.shadow.set("priority", n);
          return;
        }
        default:
          // SO_TYPE, SO_ERROR, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_SNDLOWAT are read-only.
          throw new SocketError("ENOPROTOOPT", sc);
      }
    case SOL_TCP:
      if (!s.isStream) throw new SocketError("ENOPROTOOPT", sc);
      switch (name) {
        case TCP_NODELAY: return ep("noDelay", readInt(v, sc) !== 0);
        case TCP_CORK: return ep("cork", readInt(v, sc) !== 0);
        case TCP_QUICKACK: return epOrShadow("quickAck", "quickack", readInt(v, sc) !== 0);
        case TCP_MAXSEG: {
          const n = readInt(v, sc);
          if (n !== 0 && (n < TCP_MIN_MSS || n > MAX_TCP_WINDOW)) throw new SocketError("EINVAL", sc);
          return epOrShadow("maxSegment", "maxseg", n);
        }
        case TCP_KEEPIDLE: {
          const n = readInt(v, sc);
          if (n < 1 || n > MAX_TCP_KEEPIDLE) throw new SocketError("EINVAL", sc);
          return ep("keepIdle", n * keepUnit(s));
        }
        case TCP_KEEPINTVL: {
          const n = readInt(v, sc);
          if (n < 1 || n > MAX_TCP_KEEPINTVL) throw new SocketError("EINVAL", sc);
          return ep("keepInterval", n * keepUnit(s));
        }
        case TCP_KEEPCNT: {
          const n = readInt(v, sc);
          if (n < 1 || n > MAX_TCP_KEEPCNT) throw new SocketError("EINVAL", sc);
          return ep("keepCount", n);
        }
        case TCP_USER_TIMEOUT: {
          const n = readInt(v, sc);
          if (n < 0) throw new SocketError("EINVAL", sc);
          return ep("userTimeout", n);
        }
        case TCP_CONGESTION: {
          if (v.length < 1) throw new SocketError("EINVAL", sc);
          let len = Math.min(v.length, TCP_CA_NAME_MAX - 1);
          const z = v.subarray(0, len).indexOf(0);
          if (z >= 0) len = z;
          const algo = Buffer.from(v.subarray(0, len)).toString("latin1");
          const err = s.setEndpointOpt("congestionControl", algo);
          if (err) throw new SocketError(err.code === "EINVAL" || err.code === "ENOPROTOOPT" ? "ENOENT" : err.code, sc);
          return;
        }
        case TCP_DEFER_ACCEPT: {
          const n = readInt(v, sc);
          s.shadow.set("deferaccept", deferSecsToRetrans(n));
          return;
        }
        case TCP_SYNCNT: {
          const n = readInt(v, sc);
          if (n < 1 || n > 127) throw new SocketError("EINVAL", sc);
          s.shadow.set("syncnt", n);
          return;
        }
        case TCP_LINGER2: case TCP_WINDOW_CLAMP: case TCP_NOTSENT_LOWAT:
          s.shadow.set(`tcp${name}`, readInt(v, sc));
          return;
        default:
          // TCP_INFO is read-only.
          throw new SocketError("ENOPROTOOPT", sc);
      }
    case SOL_IP:
      switch (name) {
        case IP_TTL: {
          const n = readInt(v, sc, 1);
          if (n !== -1 && (n < 1 || n > 255)) throw new SocketError("EINVAL", sc);
          return ep("ttl", n);
        }
        case IP_TOS: {
          let n = readInt(v, sc, 1) & 0xff;
          // Linux: stream sockets keep the ECN bits to TCP itself.
          if (s.isStream) n &= ~3;
          return ep("tos", n);
        }
        case IP_RECVTOS: return epOrShadow("receiveTos", "recvtos", readInt(v, sc, 1) !== 0);
        case IP_RECVTTL: return epOrShadow("receiveTtl", "recvttl", readInt(v, sc, 1) !== 0);
        case IP_PKTINFO: return epOrShadow("receivePacketInfo", "pktinfo", readInt(v, sc, 1) !== 0);
        case IP_MTU_DISCOVER: {
          const n = readInt(v, sc, 1);
          if (n < 0 || n > 5) throw new SocketError("EINVAL", sc);
          s.shadow.set("pmtudisc", n);
          return;
        }
        case IP_MULTICAST_TTL: {
          let n = readInt(v, sc, 1);
          if (n === -1) n = 1;
          if (n < 0 || n > 255) throw new SocketError("EINVAL", sc);
          s.shadow.set("mcastttl", n);
          return;
        }
        case IP_MULTICAST_LOOP: case IP_RECVERR:
          s.shadow.set(`ip${name}`, readInt(v, sc, 1) !== 0 ? 1 : 0);
          return;
        default:
          throw new SocketError("ENOPROTOOPT", sc);
      }
    case SOL_IPV6:
      if (s.domain !== AF_INET6) throw new SocketError("ENOPROTOOPT", sc);
      switch (name) {
        case IPV6_V6ONLY: {
          const on = readInt(v, sc) !== 0;
          if (s.bound || s.connected || s.listening) throw new SocketError("EINVAL", sc);
          if (s.netProto === IPV6_PROTOCOL) {
            const err = s.setEndpointOpt("v6Only", on);
            if (err && err.code !== "ENOPROTOOPT") fail(err, sc);
          }
          s.v6only = on;
          return;
        }
        case IPV6_UNICAST_HOPS: {
          const n = readInt(v, sc);
          if (n < -1 || n > 255) throw new SocketError("EINVAL", sc);
          return ep("ttl", n);
        }
        case IPV6_MULTICAST_HOPS: {
          const n = readInt(v, sc);
          if (n < -1 || n > 255) throw new SocketError("EINVAL", sc);
          s.shadow.set("mcasthops", n === -1 ? 1 : n);
          return;
        }
        case IPV6_TCLASS: {
          const n = readInt(v, sc);
          if (n < -1 || n > 255) throw new SocketError("EINVAL", sc);
          return ep("tos", n === -1 ? 0 : n);
        }
        case IPV6_RECVTCLASS: return epOrShadow("receiveTos", "recvtclass", readInt(v, sc) !== 0);
        case IPV6_RECVHOPLIMIT: return epOrShadow("receiveTtl", "recvhoplimit", readInt(v, sc) !== 0);
        case IPV6_RECVPKTINFO: return epOrShadow("receivePacketInfo", "recvpktinfo", readInt(v, sc) !== 0);
        default:
          throw new SocketError("ENOPROTOOPT", sc);
      }
    case SOL_UDP:
      if (s.isStream) throw new SocketError("ENOPROTOOPT", sc);
      throw new SocketError("ENOPROTOOPT", sc);
    default:
      throw new SocketError("ENOPROTOOPT", sc);
  }
}

// ---------------------------------------------------------------------- get

/** Reads an endpoint option, falling back to the socket's shadow value (or `dflt`). */
function epGet(s: Socket, k: SockOptionName, key: string, dflt: number): number {
  const r = s.getEndpointOpt(k);
  if (!isError(r)) {
    if (typeof r === "boolean") return r ? 1 : 0;
    if (typeof r === "number") return r;
  }
  return s.shadow.get(key) ?? dflt;
}

function mustGet(s: Socket, k: SockOptionName, sc: string): unknown {
  const r = s.getEndpointOpt(k);
  if (isError(r)) fail(r, sc);
  return r;
}

/**
 * Returns the option value in Linux's layout, cut to `outLen` bytes (default: the full size).
 * Negative outLen is EINVAL.
 */
export function getSockOpt(s: Socket, level: number, name: number, outLen = 256): Buffer {
  const sc = "getsockopt";
  if (s.isClosed) throw new SocketError("EBADF", sc);
  if (outLen < 0) throw new SocketError("EINVAL", sc);
  const cut = (b: Buffer) => (b.length > outLen ? b.subarray(0, outLen) : b);
  const int = (n: number) => cut(intBuf(n));
  switch (level) {
    case SOL_SOCKET:
      switch (name) {
        case SO_TYPE: return int(s.type);
        case SO_PROTOCOL: return int(s.protocol);
        case SO_DOMAIN: return int(s.domain);
        case SO_ACCEPTCONN: return int(s.listening ? 1 : 0);
        case SO_ERROR: {
          const r = s.getEndpointOpt("error");
          // The value itself is a TcpipError (or null): read once, then cleared.
          return int(r ? r.errno : 0);
        }
        case SO_REUSEADDR: return int(epGet(s, "reuseAddress", "reuseaddr", 0));
        case SO_REUSEPORT: return int(epGet(s, "reusePort", "reuseport", 0));
        case SO_KEEPALIVE: return int(epGet(s, "keepAlive", "keepalive", 0));
        case SO_BROADCAST: return int(epGet(s, "broadcast", "broadcast", 0));
        case SO_SNDBUF: return int(mustGet(s, "sendBufferSize", sc) as number);
        case SO_RCVBUF: return int(mustGet(s, "receiveBufferSize", sc) as number);
        case SO_LINGER: {
          const got = s.getEndpointOpt("linger");
          const r = isError(got) ? s.lingerShadow : got;
          const b = Buffer.alloc(8);
          {
            b.writeInt32LE(r.enabled ? 1 : 0, 0);
            b.writeInt32LE(r.timeout, 4);
          }
          return cut(b);
        }
        case SO_RCVTIMEO: case SO_SNDTIMEO: {
          const ms = name === SO_RCVTIMEO ? s.rcvTimeoMs : s.sndTimeoMs;
          const b = Buffer.alloc(16);
          const us = Math.round(ms * 1000);
          b.writeBigInt64LE(BigInt(Math.floor(us / 1_000_000)), 0);
          b.writeBigInt64LE(BigInt(us % 1_000_000), 8);
          return cut(b);
        }
        case SO_RCVLOWAT: return int(s.rcvLowat);
        case SO_SNDLOWAT: return int(1);
        case SO_TIMESTAMP: return int(s.timestamp ? 1 : 0);
        case SO_BINDTODEVICE: {
          const id = epGet(s, "bindToDevice", "bindtodevice", 0);
          if (id === 0) return Buffer.alloc(0);
          const nic = s.stack.nic(id);
          const nameBytes = Buffer.from(`${nic?.name ?? ""}\0`, "latin1");
          if (outLen < nameBytes.length) throw new SocketError("EINVAL", sc);
          return nameBytes;
        }
        case SO_DEBUG: case SO_DONTROUTE: case SO_OOBINLINE: case SO_NO_CHECK: case SO_PASSCRED:
          return int(s.shadow.get(`so${name}`) ?? 0);
        case SO_PRIORITY: return int(s.shadow.get("priority") ?? 0);
        default:
          throw new SocketError("ENOPROTOOPT", sc);
      }
    case SOL_TCP:
      if (!s.isStream) throw wrongLevel(s);
      switch (name) {
        case TCP_NODELAY: return int(epGet(s, "noDelay", "nodelay", 0));
        case TCP_CORK: return int(epGet(s, "cork", "cork", 0));
        case TCP_QUICKACK: return int(epGet(s, "quickAck", "quickack", 1));
        case TCP_MAXSEG: {
          const r = s.getEndpointOpt("maxSegment");
          return int(!isError(r) && r > 0 ? r : s.shadow.get("maxseg") || TCP_MSS_DEFAULT);
        }
        case TCP_KEEPIDLE: return int(Math.round(epGet(s, "keepIdle", "keepidle", 7200 * keepUnit(s)) / keepUnit(s)));
        case TCP_KEEPINTVL: return int(Math.round(epGet(s, "keepInterval", "keepintvl", 75 * keepUnit(s)) / keepUnit(s)));
        case TCP_KEEPCNT: return int(epGet(s, "keepCount", "keepcnt", 9));
        case TCP_USER_TIMEOUT: return int(epGet(s, "userTimeout", "usertimeout", 0));
        case TCP_CONGESTION: {
          const r = s.getEndpointOpt("congestionControl");
          const b = Buffer.alloc(TCP_CA_NAME_MAX);
          b.write(isError(r) ? "reno" : r, "latin1");
          return cut(b);
        }
        case TCP_INFO: {
          const r = s.getEndpointOpt("tcpInfo");
          return cut(encodeTcpInfo(isError(r) ? null : r, s));
        }
        case TCP_DEFER_ACCEPT: return int(deferRetransToSecs(s.shadow.get("deferaccept") ?? 0));
        case TCP_SYNCNT: return int(s.shadow.get("syncnt") ?? 6);
        case TCP_LINGER2: return int(s.shadow.get(`tcp${name}`) ?? 60);
        case TCP_WINDOW_CLAMP: case TCP_NOTSENT_LOWAT:
          return int(s.shadow.get(`tcp${name}`) ?? (name === TCP_NOTSENT_LOWAT ? 0xffffffff | 0 : 0));
        default:
          throw new SocketError("ENOPROTOOPT", sc);
      }
    case SOL_IP: {
      let n: number;
      switch (name) {
        case IP_TTL: {
          const r = s.getEndpointOpt("ttl");
          n = isError(r) || r < 0 ? DEFAULT_TTL : r;
          break;
        }
        case IP_TOS: n = epGet(s, "tos", "tos", 0); break;
        case IP_RECVTOS: n = epGet(s, "receiveTos", "recvtos", 0); break;
        case IP_RECVTTL: n = epGet(s, "receiveTtl", "recvttl", 0); break;
        case IP_PKTINFO: n = epGet(s, "receivePacketInfo", "pktinfo", 0); break;
        case IP_MTU_DISCOVER: n = s.shadow.get("pmtudisc") ?? 1; break;
        case IP_MULTICAST_TTL: n = s.shadow.get("mcastttl") ?? 1; break;
        case IP_MULTICAST_LOOP: n = s.shadow.get(`ip${name}`) ?? 1; break;
        case IP_RECVERR: n = s.shadow.get(`ip${name}`) ?? 0; break;
        case IP_MTU: {
          const peer = s.endpoint.getRemoteAddress();
          if (isError(peer)) throw new SocketError("ENOTCONN", sc);
          const route = peer.addr ? s.stack.findRoute(0, null, peer.addr, IPV4_PROTOCOL) : null;
          n = route && !isError(route) ? (s.stack.nic(route.nicId)?.mtu ?? 1500) : 1500;
          break;
        }
        default:
          throw new SocketError("ENOPROTOOPT", sc);
      }
      // Linux (ip_getsockopt): a caller asking for fewer than 4 bytes gets one byte when it fits.
      if (outLen < 4 && outLen > 0 && n >= 0 && n <= 255) return Buffer.of(n);
      return int(n);
    }
    case SOL_IPV6:
      if (s.domain !== AF_INET6) throw wrongLevel(s);
      switch (name) {
        case IPV6_V6ONLY: return int(s.v6only ? 1 : 0);
        case IPV6_UNICAST_HOPS: {
          const r = s.getEndpointOpt("ttl");
          return int(isError(r) || r < 0 ? DEFAULT_TTL : r);
        }
        case IPV6_MULTICAST_HOPS: return int(s.shadow.get("mcasthops") ?? 1);
        case IPV6_TCLASS: return int(epGet(s, "tos", "tclass", 0));
        case IPV6_RECVTCLASS: return int(epGet(s, "receiveTos", "recvtclass", 0));
        case IPV6_RECVHOPLIMIT: return int(epGet(s, "receiveTtl", "recvhoplimit", 0));
        case IPV6_RECVPKTINFO: return int(epGet(s, "receivePacketInfo", "recvpktinfo", 0));
        default:
          throw new SocketError("ENOPROTOOPT", sc);
      }
    case SOL_UDP:
      if (s.isStream) throw wrongLevel(s);
      throw new SocketError("ENOPROTOOPT", sc);
    default:
      throw wrongLevel(s);
  }
}

/**
 * getsockopt at a level the socket's protocol does not handle: an IPv4 socket passes it down to
 * ip_getsockopt, which answers EOPNOTSUPP; an IPv6 socket's ipv6_getsockopt answers ENOPROTOOPT.
 */
function wrongLevel(s: Socket): SocketError {
  return new SocketError(s.domain === AF_INET ? "EOPNOTSUPP" : "ENOPROTOOPT", "getsockopt");
}

