/**
 * ioctl(2) on sockets with Linux's request numbers and structure layouts.
 *
 * struct ifreq (40 bytes on 64-bit): char ifr_name[16] | union (24 bytes): struct sockaddr
 * (SIOCGIFADDR / NETMASK / BRDADDR / HWADDR), int (MTU, INDEX, METRIC, TXQLEN), short (FLAGS).
 * struct ifconf (16 bytes): int ifc_len | 4 bytes padding | pointer. Pointers cannot cross into
 * JavaScript, so SIOCGIFCONF takes the array it points at as a separate buffer: pass `null`
 * there for the size query (ifc_len receives the bytes needed), as with a NULL ifc_buf.
 */
import { isError, type Nic } from "@netstack-ts/netstack";
import {
  AF_INET, ARPHRD_ETHER, ARPHRD_LOOPBACK, ARPHRD_NONE, FIONBIO, FIONREAD, IFCONF_SIZE, IFF_BROADCAST, IFF_LOOPBACK,
  IFF_MULTICAST, IFF_NOARP, IFF_POINTOPOINT, IFF_PROMISC, IFF_RUNNING, IFF_UP, IFNAMSIZ, IFREQ_SIZE, SIOCGIFADDR,
  SIOCGIFBRDADDR, SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFHWADDR, SIOCGIFINDEX, SIOCGIFMETRIC, SIOCGIFMTU, SIOCGIFNAME,
  SIOCGIFNETMASK, SIOCGIFTXQLEN, SIOCOUTQNSD, TIOCOUTQ,
} from "./constants.js";
import { SocketError } from "./errors.js";
import type { Socket } from "./socket.js";

const IFR_UNION = IFNAMSIZ; // offset of the union inside struct ifreq

function need(buf: Uint8Array | null | undefined, len: number): Buffer {
  if (!buf || buf.length < len) throw new SocketError("EFAULT", "ioctl");
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

function ifrName(b: Buffer): string {
  const end = b.subarray(0, IFNAMSIZ).indexOf(0);
  return b.subarray(0, end < 0 ? IFNAMSIZ : end).toString("latin1");
}

/** SIOCGIFFLAGS for a NIC, in the style Linux reports for the matching device kind. */
export function interfaceFlags(nic: Nic): number {
  let f = 0;
  if (nic.enabled) f |= IFF_UP | IFF_RUNNING;
  if (nic.isLoopback) f |= IFF_LOOPBACK;
  else if (nic.linkAddress.length === 6) f |= IFF_BROADCAST | IFF_MULTICAST;
  else f |= IFF_POINTOPOINT | IFF_NOARP | IFF_MULTICAST; // an L3 link, like a TUN device
  if (nic.promiscuous) f |= IFF_PROMISC;
  return f & 0xffff;
}

function writeSockaddrIn(b: Buffer, off: number, addr: Uint8Array | null): void {
  b.fill(0, off, off + 16);
  b.writeUInt16LE(AF_INET, off);
  if (addr) b.set(addr, off + 4);
}

function firstV4(nic: Nic) {
  for (const s of nic.addresses()) if (s.address.isV4) return s;
  return null;
}

/**
 * Performs `request` on `s`. `arg` is the in/out argument (an int or a struct, as the request
 * needs); `data` is SIOCGIFCONF's ifc_buf. Returns the syscall's return value (0).
 * Unknown requests: ENOTTY.
 */
export function ioctl(s: Socket, request: number, arg: Uint8Array | null = null, data?: Uint8Array | null): number {
  if (s.isClosed) throw new SocketError("EBADF", "ioctl");
  const stack = s.stack;
  switch (request) {
    case FIONREAD: {
      const b = need(arg, 4);
      if (s.listening) throw new SocketError("EINVAL", "ioctl");
      const r = s.endpoint.getSockOpt("receiveQueueSize");
      b.writeInt32LE(isError(r) ? 0 : r, 0);
      return 0;
    }
    case TIOCOUTQ: case SIOCOUTQNSD: {
      const b = need(arg, 4);
      if (s.listening) throw new SocketError("EINVAL", "ioctl");
      const r = s.endpoint.getSockOpt("sendQueueSize");
      b.writeInt32LE(isError(r) ? 0 : r, 0);
      return 0;
    }
    case FIONBIO: {
      const b = need(arg, 4);
      s.nonblocking = b.readInt32LE(0) !== 0;
      return 0;
    }
    case SIOCGIFCONF: {
      const ifc = need(arg, IFCONF_SIZE);
      const entries: [string, Uint8Array][] = [];
      for (const nic of stack.allNics()) {
        for (const sub of nic.addresses()) if (sub.address.isV4) entries.push([nic.name, sub.address.bytes]);
      }
      if (data === null || data === undefined) {
        // A NULL ifc_buf asks for the size needed.
        ifc.writeInt32LE(entries.length * IFREQ_SIZE, 0);
        return 0;
      }
      const room = Math.min(ifc.readInt32LE(0), data.length);
      const out = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      let used = 0;
      for (const [name, addr] of entries) {
        if (used + IFREQ_SIZE > room) break;
        out.fill(0, used, used + IFREQ_SIZE);
        out.write(name.slice(0, IFNAMSIZ - 1), used, "latin1");
        writeSockaddrIn(out, used + IFR_UNION, addr);
        used += IFREQ_SIZE;
      }
      ifc.writeInt32LE(used, 0);
      return 0;
    }
    case SIOCGIFNAME: {
      const b = need(arg, IFREQ_SIZE);
      const nic = stack.nic(b.readInt32LE(IFR_UNION));
      if (!nic) throw new SocketError("ENODEV", "ioctl");
      b.fill(0, 0, IFNAMSIZ);
      b.write(nic.name.slice(0, IFNAMSIZ - 1), 0, "latin1");
      return 0;
    }
    case SIOCGIFFLAGS: case SIOCGIFADDR: case SIOCGIFNETMASK: case SIOCGIFBRDADDR: case SIOCGIFMTU: case SIOCGIFINDEX:
    case SIOCGIFHWADDR: case SIOCGIFMETRIC: case SIOCGIFTXQLEN: {
      const b = need(arg, IFREQ_SIZE);
      const nic = stack.nicByName(ifrName(b));
      if (!nic) throw new SocketError("ENODEV", "ioctl");
      const u = IFR_UNION;
      switch (request) {
        case SIOCGIFFLAGS:
          b.fill(0, u, u + 2);
          b.writeUInt16LE(interfaceFlags(nic), u);
          return 0;
        case SIOCGIFADDR: case SIOCGIFNETMASK: case SIOCGIFBRDADDR: {
          const sub = firstV4(nic);
          if (!sub) throw new SocketError("EADDRNOTAVAIL", "ioctl");
          if (request === SIOCGIFADDR) writeSockaddrIn(b, u, sub.address.bytes);
          else if (request === SIOCGIFNETMASK) {
            const m = sub.prefixLen === 0 ? 0 : (0xffffffff << (32 - sub.prefixLen)) >>> 0;
            writeSockaddrIn(b, u, Uint8Array.of(m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255));
          } else {
            const bc = interfaceFlags(nic) & IFF_BROADCAST ? sub.broadcast() : null;
            writeSockaddrIn(b, u, bc ? bc.bytes : null);
          }
          return 0;
        }
        case SIOCGIFMTU:
          b.writeInt32LE(nic.mtu, u);
          return 0;
        case SIOCGIFINDEX:
          b.writeInt32LE(nic.id, u);
          return 0;
        case SIOCGIFMETRIC:
          b.writeInt32LE(0, u);
          return 0;
        case SIOCGIFTXQLEN:
          b.writeInt32LE(nic.isLoopback ? 1000 : nic.linkAddress.length === 6 ? 1000 : 500, u);
          return 0;
        case SIOCGIFHWADDR: {
          b.fill(0, u, u + 16);
          const hw = nic.isLoopback ? ARPHRD_LOOPBACK : nic.linkAddress.length === 6 ? ARPHRD_ETHER : ARPHRD_NONE;
          b.writeUInt16LE(hw, u);
          b.set(nic.linkAddress.subarray(0, 14), u + 2);
          return 0;
        }
      }
      return 0;
    }
    default:
      throw new SocketError("ENOTTY", "ioctl");
  }
}

/** Builds a struct ifreq with `name` filled in (and an int in the union, for SIOCGIFNAME). */
export function makeIfreq(name = "", ifindex = 0): Buffer {
  const b = Buffer.alloc(IFREQ_SIZE);
  b.write(name.slice(0, IFNAMSIZ - 1), 0, "latin1");
  b.writeInt32LE(ifindex, IFR_UNION);
  return b;
}

/** Parses an ifreq array filled by SIOCGIFCONF into { name, address } entries. */
export function parseIfconf(data: Uint8Array, len: number): { name: string; address: string }[] {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: { name: string; address: string }[] = [];
  for (let o = 0; o + IFREQ_SIZE <= len; o += IFREQ_SIZE) {
    out.push({ name: ifrName(b.subarray(o)), address: [...b.subarray(o + 20, o + 24)].join(".") });
  }
  return out;
}
