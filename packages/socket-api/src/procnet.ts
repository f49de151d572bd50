/**
 * Readable state for a user: the stack's counters, and `/proc/net/tcp`- and `/proc/net/udp`-style
 * listings of the sockets opened through socket-api (states and queue sizes, Linux's column
 * layout: addresses as the hex of the 32-bit value in host order, ports in hex, state in hex).
 */
import { isError, type Stack } from "@netstack-ts/netstack";
import { TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN } from "./constants.js";
import { linuxTcpState } from "./tcpinfo.js";
import { socketsOf, type Socket } from "./socket.js";

export interface SocketRow {
  protocol: "tcp" | "tcp6" | "udp" | "udp6" | "icmp";
  local: { address: string; port: number };
  remote: { address: string; port: number } | null;
  /** Linux TCP state number (TCP_ESTABLISHED = 1 ... TCP_LISTEN = 10; UDP: 7 unconnected, 1 connected). */
  state: number;
  stateName: string;
  /** Bytes queued to send (listeners: 0) and to read (listeners: 0). */
  txQueue: number;
  rxQueue: number;
}

const STATE_NAMES = ["", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
  "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"];

function rowOf(s: Socket): SocketRow {
  const ep = s.endpoint;
  const v6 = s.domain === 10;
  const protocol = s.protocol === 6 ? (v6 ? "tcp6" : "tcp") : s.protocol === 17 ? (v6 ? "udp6" : "udp") : "icmp";
  const l = ep.getLocalAddress();
  const r = ep.getRemoteAddress();
  const local = isError(l) ? { address: v6 ? "::" : "0.0.0.0", port: 0 } : s.infoOf(l);
  const remote = isError(r) ? null : s.infoOf(r);
  let state: number;
  if (s.isStream) {
    if (s.listening) state = TCP_LISTEN;
    else {
      const info = ep.getSockOpt("tcpInfo");
      state = isError(info) ? TCP_CLOSE : linuxTcpState(info.state);
    }
  } else state = remote ? TCP_ESTABLISHED : TCP_CLOSE;
  const rq = ep.getSockOpt("receiveQueueSize");
  const tq = ep.getSockOpt("sendQueueSize");
  return {
    protocol, local: { address: local.address, port: local.port },
    remote: remote ? { address: remote.address, port: remote.port } : null,
    state, stateName: STATE_NAMES[state] ?? "UNKNOWN",
    txQueue: isError(tq) || s.listening ? 0 : tq, rxQueue: isError(rq) || s.listening ? 0 : rq,
  };
}

/** Rows for every open socket on `stack`. */
export function socketTable(stack: Stack): SocketRow[] {
  return socketsOf(stack).map(rowOf);
}

function hexAddr(text: string, v6: boolean): string {
  if (!v6) {
    const p = text.split(".").map(Number);
    // The kernel prints the __be32 as a host-order (little-endian) u32.
    const v = ((p[3]! << 24) | (p[2]! << 16) | (p[1]! << 8) | p[0]!) >>> 0;
    return v.toString(16).toUpperCase().padStart(8, "0");
  }
  return "0".repeat(32);
}

function listing(rows: SocketRow[], v6: boolean): string {
  const header = v6
    ? "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    : "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
  const lines = [header];
  rows.forEach((r, i) => {
    const loc = `${hexAddr(r.local.address, v6)}:${r.local.port.toString(16).toUpperCase().padStart(4, "0")}`;
    const rem = r.remote
      ? `${hexAddr(r.remote.address, v6)}:${r.remote.port.toString(16).toUpperCase().padStart(4, "0")}`
      : `${hexAddr(v6 ? "::" : "0.0.0.0", v6)}:0000`;
    const q = `${r.txQueue.toString(16).toUpperCase().padStart(8, "0")}:${r.rxQueue.toString(16).toUpperCase().padStart(8, "0")}`;
    lines.push(`${String(i).padStart(4)}: ${loc} ${rem} ${r.state.toString(16).toUpperCase().padStart(2, "0")} ${q} 00:00000000 00000000     0        0 0 1`);
  });
  return `${lines.join("\n")}\n`;
}

/** /proc/net/tcp text for the stack's IPv4 TCP sockets. */
export function procNetTcp(stack: Stack): string {
  return listing(socketTable(stack).filter((r) => r.protocol === "tcp"), false);
}

/** /proc/net/udp text for the stack's IPv4 UDP sockets. */
export function procNetUdp(stack: Stack): string {
  return listing(socketTable(stack).filter((r) => r.protocol === "udp"), false);
}

/** The stack's counters (stack-wide and per NIC) as one plain object. */
export function stackStats(stack: Stack): ReturnType<Stack["snapshot"]> {
  return stack.snapshot();
}

/** `/proc/net/snmp`-style text: one "Proto: names" line and one "Proto: values" line per group. */
export function formatStats(stack: Stack): string {
  const snap = stack.snapshot() as unknown as Record<string, unknown>;
  const lines: string[] = [];
  const group = (title: string, obj: Record<string, unknown>) => {
    const keys = Object.keys(obj).filter((k) => typeof obj[k] === "number");
    if (keys.length === 0) return;
    lines.push(`${title}: ${keys.join(" ")}`);
    lines.push(`${title}: ${keys.map((k) => String(obj[k])).join(" ")}`);
  };
  group("Stack", snap);
  for (const [k, v] of Object.entries(snap)) {
    if (v && typeof v === "object" && !Array.isArray(v)) group(k[0]!.toUpperCase() + k.slice(1), v as Record<string, unknown>);
  }
  return `${lines.join("\n")}\n`;
}
