/**
 * The differential scenario DSL. A scenario is a list of JSON ops on named sockets; `compile`
 * turns symbolic names (SOL_SOCKET, MSG_PEEK, "inet6", text data) into Linux's numbers and hex,
 * and gives every scenario its own block of 10 ports (`port: 3` means base + 3) so scenarios
 * never collide on the kernel side. The same compiled JSON is executed by linux_runner.py (the
 * kernel, in a test namespace) and by runTs (socket-api over two in-memory stacks).
 *
 * Results are one entry per op, `{ret}` or `{err: errno}`. Addresses are normalised: the hosts'
 * own addresses read "H" (v4-mapped: "::ffff:H"), ports of the scenario block "P<n>", ephemeral
 * ports "EPH".
 */
import * as C from "../../src/constants.js";

export type Host = "A" | "B";
/** Address names: "self"/"peer" (the hosts), "mapped-peer" (::ffff:peer), "any". */
export type AddrName = "self" | "peer" | "mapped-self" | "mapped-peer" | "any";
type Flags = string[];

export type Op =
  | { op: "socket"; id: string; host: Host; family?: "inet" | "inet6"; type: "stream" | "dgram"; proto?: number }
  | { op: "socket_raw"; id: string; host: Host; family: number; type: number; proto?: number }
  | { op: "close"; id: string }
  | { op: "bind"; id: string; addr: AddrName; port: number }
  | { op: "bind_raw"; id: string; hex: string }
  | { op: "connect_raw"; id: string; hex: string }
  | { op: "listen"; id: string; backlog?: number }
  | { op: "accept"; id: string; as: string }
  | { op: "connect"; id: string; addr: AddrName; port: number }
  | { op: "shutdown"; id: string; how: "SHUT_RD" | "SHUT_WR" | "SHUT_RDWR" }
  | { op: "send"; id: string; data: string; flags?: Flags }
  | { op: "sendto"; id: string; data: string; addr: AddrName; port: number; flags?: Flags }
  | { op: "sendmsg"; id: string; parts: string[]; flags?: Flags }
  | { op: "recv" | "recvfrom"; id: string; len: number; flags?: Flags }
  | { op: "recvmsg"; id: string; len: number; flags?: Flags; anc?: number }
  | { op: "getsockopt"; id: string; level: string; name: string; len: number }
  | { op: "getsockopt_int"; id: string; level: string; name: string }
  | { op: "setsockopt"; id: string; level: string; name: string; value?: number; hex?: string }
  | { op: "getsockname" | "getpeername"; id: string }
  | { op: "ioctl_int"; id: string; req: string; value?: number }
  | { op: "poll"; id: string; events: Flags }
  | { op: "settle" };

export interface Scenario {
  name: string;
  /** What the scenario checks, and the Linux rule behind it. */
  about: string;
  ops: Op[];
  /** Needs TCP on the stack side. */
  tcp?: boolean;
  /**
   * A known divergence outside socket-api (the text says where and why). The test then expects
   * the comparison to FAIL, so it turns red once the divergence is fixed and the mark can go.
   */
  known?: string;
}

export interface CompiledOp {
  op: string;
  [k: string]: unknown;
}

export interface CompiledScenario {
  name: string;
  known?: string;
  base: number;
  tcp: boolean;
  ops: CompiledOp[];
}

export type Result = { ret: unknown } | { err: number };

const num = (name: string): number => {
  if (/^-?\d+$/.test(name)) return Number(name);
  const v = (C as unknown as Record<string, unknown>)[name];
  if (typeof v !== "number") throw new Error(`unknown constant ${name}`);
  return v;
};

const flagsOf = (f: Flags | undefined) => (f ?? []).reduce((m, n) => m | num(n), 0);
const hex = (s: string) => Buffer.from(s, "latin1").toString("hex");

export const PORT_BASE = 21000;

export function compile(list: Scenario[]): CompiledScenario[] {
  const names = new Set<string>();
  return list.map((s, i) => {
    if (names.has(s.name)) throw new Error(`duplicate scenario ${s.name}`);
    names.add(s.name);
    const base = PORT_BASE + i * 10;
    const ops = s.ops.map((o): CompiledOp => {
      switch (o.op) {
        case "socket":
          return { op: "socket", id: o.id, host: o.host, family: o.family === "inet6" ? C.AF_INET6 : C.AF_INET,
            type: o.type === "stream" ? C.SOCK_STREAM : C.SOCK_DGRAM, proto: o.proto ?? 0 };
        case "bind": case "connect":
          return { op: o.op, id: o.id, addr: o.addr, port: o.port === 0 ? 0 : base + o.port };
        case "sendto":
          return { op: "sendto", id: o.id, hex: hex(o.data), addr: o.addr, port: o.port === 0 ? 0 : base + o.port,
            flags: flagsOf(o.flags) };
        case "shutdown":
          return { op: "shutdown", id: o.id, how: num(o.how) };
        case "send":
          return { op: "send", id: o.id, hex: hex(o.data), flags: flagsOf(o.flags) };
        case "sendmsg":
          return { op: "sendmsg", id: o.id, hexes: o.parts.map(hex), flags: flagsOf(o.flags) };
        case "recv": case "recvfrom":
          return { op: o.op, id: o.id, len: o.len, flags: flagsOf(o.flags) };
        case "recvmsg":
          return { op: "recvmsg", id: o.id, len: o.len, flags: flagsOf(o.flags), anc: o.anc ?? 0 };
        case "getsockopt":
          return { op: "getsockopt", id: o.id, level: num(o.level), name: num(o.name), len: o.len };
        case "getsockopt_int":
          return { op: "getsockopt_int", id: o.id, level: num(o.level), name: num(o.name) };
        case "setsockopt":
          return o.hex !== undefined
            ? { op: "setsockopt", id: o.id, level: num(o.level), name: num(o.name), hex: o.hex }
            : { op: "setsockopt", id: o.id, level: num(o.level), name: num(o.name), value: o.value ?? 0 };
        case "ioctl_int":
          return { op: "ioctl_int", id: o.id, req: num(o.req), value: o.value ?? 0 };
        case "poll":
          return { op: "poll", id: o.id, events: flagsOf(o.events) };
        default:
          return { ...o } as CompiledOp;
      }
    });
    return { name: s.name, ...(s.known ? { known: s.known } : {}), base, tcp: s.tcp ?? ops.some((o) => o.op === "socket" && o.type === C.SOCK_STREAM), ops };
  });
}

/** Renders a result list for a failure message, with errno names. */
export function describe(results: Result[], ops: CompiledOp[]): string {
  return results.map((r, i) => {
    const o = ops[i]!;
    const what = `${o.op}(${o.id ?? ""})`;
    return "err" in r ? `${what} -> ${C.errnoName(r.err)}` : `${what} -> ${JSON.stringify(r.ret)}`;
  }).join("\n");
}
