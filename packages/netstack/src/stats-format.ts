/**
 * A `netstat -s`-style pretty printer for `Stack.snapshot()` (used by `netstack echo --stats` and
 * by socket-api's `NetStack.formatStats()`). Pure formatting over the plain counter object: the
 * counters' own names are printed, so a new counter shows up without edits here.
 */
import type { Stack } from "./stack/stack.js";

/**
 * `netstat -s`-style text for a stats snapshot: one heading per protocol group, then one indented
 * line per nonzero counter ("          12 checksumErrors"; groups with none are left out), then
 * two lines per NIC. `all: true` prints zero counters too.
 */
export function formatStackStats(snap: ReturnType<Stack["snapshot"]>, opts: { all?: boolean } = {}): string {
  const lines: string[] = [];
  const walk = (prefix: string, obj: Record<string, unknown>, indent: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === "number") {
        if (v !== 0 || opts.all) lines.push(`${indent}${String(v).padStart(10)} ${prefix}${k}`);
      } else if (v && typeof v === "object" && !Array.isArray(v)) walk(`${prefix}${k}.`, v as Record<string, unknown>, indent);
    }
  };
  const root = snap as unknown as Record<string, unknown>;
  const titles: Record<string, string> = { ip: "IP", ipv6: "IPv6", icmp: "ICMP", ndp: "NDP", arp: "ARP", tcp: "TCP", udp: "UDP" };
  const top: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(root)) if (typeof v === "number") top[k] = v;
  const groups: [string, Record<string, unknown>][] = [["Stack", top]];
  for (const [k, v] of Object.entries(root)) {
    if (k === "nics" || !v || typeof v !== "object" || Array.isArray(v)) continue;
    groups.push([titles[k] ?? k[0]!.toUpperCase() + k.slice(1), v as Record<string, unknown>]);
  }
  for (const [title, obj] of groups) {
    const at = lines.length;
    walk("", obj, "  ");
    // Groups with nothing to show are left out (all counters zero).
    if (lines.length > at) lines.splice(at, 0, `${title}:`);
  }
  for (const nic of snap.nics) {
    const s = nic.stats;
    lines.push(`NIC ${nic.id} ${nic.name}: mtu ${nic.mtu} ${nic.enabled ? "up" : "down"} ${nic.addresses.join(" ")}`);
    lines.push(`  rx ${s.rx.packets} packets ${s.rx.bytes} bytes, tx ${s.tx.packets} packets ${s.tx.bytes} bytes, ` +
      `tx errors ${s.txErrors}, neighbor drops ${s.neighborDrops}, disabled rx ${s.disabledRx}`);
  }
  return `${lines.join("\n")}\n`;
}
