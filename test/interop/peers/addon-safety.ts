/**
 * The addon's descriptor hygiene and error messages, run inside a test namespace (never in the
 * root one: the TUN devices it creates live and die in the namespace). Prints one JSON line:
 *   fdsBefore / fdsAfter    entries of /proc/self/fd before and after N open/close cycles of a
 *                           TUN device and N/10 of a TAP device, and after every error case below
 *   errors                  for each failing call: the LinkTunError code and message
 * Usage: addon-safety.ts CYCLES
 */
import { readdirSync } from "node:fs";
import { LinkTunError, TunEndpoint } from "@netstack-ts/link-tun";

const cycles = Number(process.argv[2] ?? 1000);
const fds = () => readdirSync("/proc/self/fd").length;

function attempt(label: string, f: () => TunEndpoint): { label: string; code: string; errno: string | null; message: string } {
  try {
    const t = f();
    t.close();
    return { label, code: "no-error", errno: null, message: "" };
  } catch (e) {
    if (e instanceof LinkTunError) return { label, code: e.code, errno: e.errno, message: e.message };
    return { label, code: "not-a-LinkTunError", errno: null, message: String(e) };
  }
}

// Warm up (loads the addon, which opens nothing persistent but may map files).
TunEndpoint.open({ name: "nsafe0" }).close();
const fdsBefore = fds();
let maxDuring = 0;
for (let i = 0; i < cycles; i++) {
  const t = TunEndpoint.open({ name: "nsafe0", mtu: 1500 });
  if (i % 100 === 0) maxDuring = Math.max(maxDuring, fds());
  t.close();
}
for (let i = 0; i < Math.ceil(cycles / 10); i++) TunEndpoint.openFrames({ name: "nsafe1" }).close();
const afterCycles = fds();

const held = TunEndpoint.open({ name: "nsafe2" });
const errors = [
  attempt("name too long", () => TunEndpoint.open({ name: "x".repeat(20) })),
  attempt("busy (second open of a single-queue device)", () => TunEndpoint.open({ name: "nsafe2" })),
  attempt("TAP on a TUN name", () => TunEndpoint.openFrames({ name: "nsafe2", multiQueue: true })),
  attempt("MTU beyond the maximum", () => TunEndpoint.open({ name: "nsafe3", mtu: 1_000_000 })),
  attempt("bad host address", () => TunEndpoint.open({ name: "nsafe4", host: { address: "198.18.0.1/99" } })),
];
held.close();
console.log(JSON.stringify({ cycles, fdsBefore, maxDuring, afterCycles, fdsAfter: fds(), errors }));
