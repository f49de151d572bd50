/**
 * Kernel-side interface configuration without `ip` commands: MTU, up/down, IPv4 and IPv6
 * addresses, through the ioctls the native addon issues (SIOCSIFMTU, SIOCSIFFLAGS,
 * SIOCSIFADDR/SIOCSIFNETMASK, and SIOCSIFADDR with struct in6_ifreq on an AF_INET6 socket).
 *
 * These act on the calling process's network namespace. The project's tests and demo only call
 * them from processes started inside namespaces they created.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { LinkTunError, configError } from "./errors.js";
import { loadNative } from "./native.js";

export interface InterfaceConfig {
  /** MTU (SIOCSIFMTU). */
  mtu?: number | undefined;
  /** Up or down (SIOCSIFFLAGS). */
  up?: boolean | undefined;
  /** The kernel's IPv4 address on it, "a.b.c.d/n". */
  address?: string | undefined;
  /** The kernel's IPv6 address on it, "x::y/n". */
  address6?: string | undefined;
  /** Transmit queue length in packets (SIOCSIFTXQLEN; kernel default 500 for TUN/TAP). */
  txQueueLength?: number | undefined;
  /**
   * Skip duplicate address detection for the IPv6 address (writes the namespace's
   * net.ipv6.conf.NAME.accept_dad = 0 first). TUN devices skip DAD anyway (IFF_NOARP); on TAP
   * the address is otherwise tentative for about a second.
   */
  noDad?: boolean | undefined;
}

const IFF_UP = 0x1;

function splitCidr(cidr: string, v6: boolean): { addr: string; prefix: number } {
  const slash = cidr.indexOf("/");
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const max = v6 ? 128 : 32;
  const prefix = slash < 0 ? max : Number(cidr.slice(slash + 1));
  const looksRight = v6 ? addr.includes(":") : /^\d+\.\d+\.\d+\.\d+$/.test(addr);
  if (!looksRight || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
    throw new LinkTunError("config-failed", `invalid ${v6 ? "IPv6" : "IPv4"} address ${JSON.stringify(cidr)} (want ${v6 ? "x::y/n" : "a.b.c.d/n"})`);
  return { addr, prefix };
}

/** Applies `cfg` to interface `name` in this network namespace; throws LinkTunError. */
export function configureInterface(name: string, cfg: InterfaceConfig): void {
  const n = loadNative();
  const step = (what: string, f: () => void) => {
    try {
      f();
    } catch (err) {
      throw configError(err, name, what);
    }
  };
  if (cfg.mtu !== undefined) {
    const mtu = cfg.mtu;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new LinkTunError("config-failed", `invalid MTU ${mtu} (68..65535)`);
    step(`MTU ${mtu}`, () => n.ifSetMtu(name, mtu));
  }
  if (cfg.txQueueLength !== undefined) {
    const q = cfg.txQueueLength;
    step(`txqueuelen ${q}`, () => n.ifSetTxQueueLen(name, q));
  }
  if (cfg.address !== undefined) {
    const { addr, prefix } = splitCidr(cfg.address, false);
    step(`address ${cfg.address}`, () => n.ifSetAddress4(name, addr, prefix));
  }
  if (cfg.up !== undefined) {
    const up = cfg.up;
    step(up ? "the interface up" : "the interface down", () => n.ifSetUp(name, up));
  }
  if (cfg.address6 !== undefined) {
    const { addr, prefix } = splitCidr(cfg.address6, true);
    if (cfg.noDad) {
      try {
        writeFileSync(`/proc/sys/net/ipv6/conf/${name}/accept_dad`, "0");
      } catch {
        // no IPv6 sysctls (IPv6 disabled): the address step below reports it
      }
    }
    step(`IPv6 address ${cfg.address6}`, () => n.ifSetAddress6(name, addr, prefix));
  }
}

/** The interface's MTU (SIOCGIFMTU). */
export function interfaceMtu(name: string): number {
  try {
    return loadNative().ifGetMtu(name);
  } catch (err) {
    throw configError(err, name, "(reading) the MTU");
  }
}

/** Whether the interface is administratively up. */
export function interfaceIsUp(name: string): boolean {
  try {
    return (loadNative().ifGetFlags(name) & IFF_UP) !== 0;
  } catch (err) {
    throw configError(err, name, "(reading) the flags");
  }
}

/** The interface's index (SIOCGIFINDEX). */
export function interfaceIndex(name: string): number {
  try {
    return loadNative().ifIndex(name);
  } catch (err) {
    throw configError(err, name, "(reading) the index");
  }
}

/** The interface's hardware address (SIOCGIFHWADDR): the kernel side's MAC for a TAP device. */
export function interfaceMac(name: string): Uint8Array {
  try {
    return loadNative().ifGetHwAddr(name);
  } catch (err) {
    throw configError(err, name, "(reading) the MAC");
  }
}

const IFA_F_TENTATIVE = 0x40;
const IFA_F_DADFAILED = 0x08;

/** Expands an IPv6 address to the 32 hex digits /proc/net/if_inet6 uses ("" if not IPv6). */
function hex32(addr: string): string {
  const a = addr.split("/")[0]!;
  const halves = a.split("::");
  if (halves.length > 2) return "";
  const words = (h: string | undefined) => (h ? h.split(":") : []);
  const head = words(halves[0]);
  const tail = words(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const all = [...head, ...Array<string>(Math.max(0, fill)).fill("0"), ...tail];
  if (all.length !== 8 || all.some((w) => !/^[0-9a-fA-F]{1,4}$/.test(w))) return "";
  return all.map((w) => w.toLowerCase().padStart(4, "0")).join("");
}

/**
 * State of the kernel's IPv6 address `addr` on `name` in this namespace: "ready", "tentative"
 * (duplicate address detection still running; the kernel drops packets to it), "failed", or
 * "absent" (from /proc/net/if_inet6).
 */
export function kernelAddress6State(name: string, addr: string): "ready" | "tentative" | "failed" | "absent" {
  const want = hex32(addr);
  let text: string;
  try {
    text = readFileSync("/proc/net/if_inet6", "utf8");
  } catch {
    return "absent";
  }
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[0] !== want || f[5] !== name) continue;
    const flags = parseInt(f[4]!, 16);
    if (flags & IFA_F_DADFAILED) return "failed";
    return flags & IFA_F_TENTATIVE ? "tentative" : "ready";
  }
  return "absent";
}

/**
 * Waits (polling, bounded by `timeoutMs`) until the kernel's IPv6 address is usable: a new
 * address stays tentative until the kernel's DAD work has run, even on a TUN device that skips
 * the probes. Resolves true when ready.
 */
export async function waitKernelAddress6(name: string, addr: string, timeoutMs = 3000): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const st = kernelAddress6State(name, addr);
    if (st === "ready") return true;
    if (st === "failed" || performance.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether IPv6 is enabled in this network namespace (for the kernel side). */
export function kernelHasIpv6(): boolean {
  try {
    return readFileSync("/proc/sys/net/ipv6/conf/all/disable_ipv6", "utf8").trim() === "0";
  } catch {
    return false;
  }
}
