/**
 * Executes compiled scenarios on socket-api over two in-memory stacks (ManualClock): host A is
 * 198.18.0.1, host B 198.18.0.2. After each op that can put packets on the wire, `settle` delivers
 * them and moves virtual time on (250 ms), standing in for the kernel's loopback delivering
 * within the syscall.
 */
import * as C from "../../src/constants.js";
import { socket, type Socket } from "../../src/socket.js";
import { pollNow } from "../../src/poll.js";
import { SocketError } from "../../src/errors.js";
import { manualPair } from "../helpers.js";
import type { CompiledScenario, Result } from "./dsl.js";

const EPHEMERAL_MIN = 32768;

/** `ipv6`: the stacks run IPv6 too, so AF_INET6 sockets use (dual-stack) IPv6 endpoints. */
export function runTs(scn: CompiledScenario, opts: { ipv6?: boolean } = {}): Result[] {
  const pair = manualPair({ ipv6: opts.ipv6 ?? false });
  const hostAddr = { A: pair.addrA, B: pair.addrB } as const;
  const hostOf = new Map<string, "A" | "B">();
  const socks = new Map<string, Socket>();
  const settle = () => pair.settle(250);

  const normAddr = (a: string) => {
    if (a === pair.addrA || a === pair.addrB) return "H";
    if (a === `::ffff:${pair.addrA}` || a === `::ffff:${pair.addrB}`) return "::ffff:H";
    return a;
  };
  const normPort = (p: number): string | number => {
    if (p >= EPHEMERAL_MIN) return "EPH";
    if (p >= scn.base && p < scn.base + 10) return `P${p - scn.base}`;
    return p;
  };
  const addrOut = (a: { address: string; port: number }) => [normAddr(a.address), normPort(a.port)];
  const resolve = (id: string, s: Socket, spec: string) => {
    const host = hostOf.get(id)!;
    const other = host === "A" ? "B" : "A";
    const v6 = s.domain === C.AF_INET6;
    switch (spec) {
      case "self": return v6 ? `::ffff:${hostAddr[host]}` : hostAddr[host];
      case "peer": return v6 ? `::ffff:${hostAddr[other]}` : hostAddr[other];
      case "mapped-self": return `::ffff:${hostAddr[host]}`;
      case "mapped-peer": return `::ffff:${hostAddr[other]}`;
      case "any": return v6 ? "::" : "0.0.0.0";
      default: return spec;
    }
  };

  const one = (o: Record<string, unknown>): unknown => {
    const id = o.id as string;
    const s = socks.get(id)!;
    // An op on a socket an earlier op failed to create: what the kernel says for a bad fd.
    if (!s && o.op !== "socket" && o.op !== "socket_raw" && o.op !== "settle") throw new SocketError("EBADF");
    const hex = (k: string) => Buffer.from(o[k] as string, "hex");
    switch (o.op) {
      case "socket": case "socket_raw": {
        const host = o.host as "A" | "B";
        const stack = host === "A" ? pair.a : pair.b;
        const t = (o.type as number) | (o.op === "socket" ? C.SOCK_NONBLOCK : 0);
        socks.set(id, socket(stack, o.family as number, t, (o.proto as number) ?? 0));
        hostOf.set(id, host);
        return "ok";
      }
      case "close": s.close(); settle(); return "ok";
      case "bind": s.bind({ address: resolve(id, s, o.addr as string), port: o.port as number }); return "ok";
      case "bind_raw": s.bind(hex("hex")); return 0;
      case "connect_raw": try { s.connect(hex("hex")); } finally { settle(); } return 0;
      case "listen": s.listen((o.backlog as number) ?? 16); return "ok";
      case "accept": {
        const n = s.accept(C.SOCK_NONBLOCK);
        socks.set(o.as as string, n);
        hostOf.set(o.as as string, hostOf.get(id)!);
        return "ok";
      }
      case "connect":
        try {
          s.connect({ address: resolve(id, s, o.addr as string), port: o.port as number });
        } finally {
          settle();
        }
        return "ok";
      case "shutdown": s.shutdown(o.how as number); settle(); return "ok";
      case "send": { const r = s.send(hex("hex"), o.flags as number); settle(); return r; }
      case "sendto": {
        const r = s.sendto(hex("hex"), o.flags as number, { address: resolve(id, s, o.addr as string), port: o.port as number });
        settle();
        return r;
      }
      case "sendmsg": {
        const r = s.sendmsg((o.hexes as string[]).map((h) => Buffer.from(h, "hex")), o.flags as number);
        settle();
        return r;
      }
      case "recv": case "recvfrom": case "recvmsg": {
        const n = o.len as number;
        const buf = Buffer.alloc(n);
        const r = s.recvmsg([buf], o.flags as number, (o.anc as number) ?? 0);
        const data = buf.subarray(0, Math.min(r.bytes, n)).toString("hex");
        if (o.op === "recv") return { n: r.bytes, data };
        const addr = s.isStream ? null : r.address ? addrOut(r.address) : null;
        if (o.op === "recvfrom") return { n: r.bytes, data, addr };
        const res: Record<string, unknown> = {
          n: r.bytes, data, flags: r.flags, cmsg: r.control.map((c) => [c.level, c.type, c.data.toString("hex")]),
        };
        if (!s.isStream) res.addr = addr;
        return res;
      }
      case "getsockopt": return s.getsockopt(o.level as number, o.name as number, o.len as number).toString("hex");
      case "getsockopt_int": return s.getsockoptInt(o.level as number, o.name as number);
      case "setsockopt":
        s.setsockopt(o.level as number, o.name as number, o.hex !== undefined ? hex("hex") : (o.value as number));
        return "ok";
      case "getsockname": return addrOut(s.getsockname());
      case "getpeername": return addrOut(s.getpeername());
      case "ioctl_int": {
        const b = Buffer.alloc(4);
        b.writeInt32LE((o.value as number) ?? 0, 0);
        s.ioctl(o.req as number, b);
        return b.readInt32LE(0);
      }
      case "poll": {
        const fds = [{ socket: s, events: o.events as number, revents: 0 }];
        pollNow(fds);
        return fds[0]!.revents;
      }
      case "settle": pair.settle(1000); return "ok";
      default: throw new Error(`unknown op ${String(o.op)}`);
    }
  };

  const out: Result[] = [];
  try {
    for (const o of scn.ops) {
      try {
        out.push({ ret: one(o) });
      } catch (e) {
        if (e instanceof SocketError) out.push({ err: e.errno });
        else throw e;
      }
    }
  } finally {
    for (const s of socks.values()) s.close();
    pair.close();
  }
  return out;
}
