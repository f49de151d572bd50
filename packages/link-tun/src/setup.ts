/**
 * Builds a stack on a TUN/TAP link with the protocols this build of netstack-ts has. TCP and
 * IPv6 are picked up when the netstack package exports them (`tcp`, `ipv6`), so the CLI and the
 * demo grow with the stack without edits here.
 */
import * as netstack from "@netstack-ts/netstack";
import {
  Stack, Subnet, arp, icmp, ipv4, udp, type Clock, type LinkEndpoint, type NetworkProtocolFactory,
  type TransportProtocolFactory,
} from "@netstack-ts/netstack";

/** Protocol factories that may or may not be exported yet. */
export interface OptionalProtocols {
  tcp: TransportProtocolFactory | null;
  ipv6: NetworkProtocolFactory | null;
  /** ICMPv6 echo (ping) endpoints. */
  icmp6: TransportProtocolFactory | null;
}

export function optionalProtocols(): OptionalProtocols {
  const ns = netstack as unknown as Record<string, unknown>;
  const fn = (k: string) => (typeof ns[k] === "function" ? ns[k] : null);
  return {
    tcp: fn("tcp") as TransportProtocolFactory | null,
    ipv6: fn("ipv6") as NetworkProtocolFactory | null,
    icmp6: fn("icmp6") as TransportProtocolFactory | null,
  };
}

export interface LinkStackOptions {
  link: LinkEndpoint;
  /** The stack's IPv4 address, "a.b.c.d/n" (the subnet becomes an on-link route). */
  addr: string;
  /** The stack's IPv6 address, "x::y/n" (used when the stack has IPv6). */
  addr6?: string | undefined;
  /** The link carries Ethernet frames (TAP): ARP (and NDP with IPv6) are added. */
  l2?: boolean;
  nicName?: string;
  clock?: Clock;
  /** Leave TCP out even when available. */
  noTcp?: boolean;
}

export interface LinkStack {
  stack: Stack;
  hasTcp: boolean;
  hasIpv6: boolean;
}

/** A stack with one NIC (id 1) on `link`, its addresses and on-link routes. Throws on bad input. */
export function buildLinkStack(o: LinkStackOptions): LinkStack {
  const opt = optionalProtocols();
  const v4 = Subnet.parse(o.addr);
  if (!v4.address.isV4) throw new RangeError(`not an IPv4 address: ${o.addr}`);
  const v6 = o.addr6 !== undefined ? Subnet.parse(o.addr6) : null;
  if (v6 && !v6.address.isV6) throw new RangeError(`not an IPv6 address: ${o.addr6}`);
  const hasIpv6 = opt.ipv6 !== null;
  const hasTcp = opt.tcp !== null && !o.noTcp;
  const net: NetworkProtocolFactory[] = [ipv4];
  if (o.l2) net.push(arp);
  if (hasIpv6) net.push(opt.ipv6!);
  const trans: TransportProtocolFactory[] = [udp, icmp];
  if (hasIpv6 && opt.icmp6) trans.push(opt.icmp6);
  if (hasTcp) trans.push(opt.tcp!);
  const stack = new Stack({ networkProtocols: net, transportProtocols: trans, ...(o.clock ? { clock: o.clock } : {}) });
  stack.createNic(1, o.link, { name: o.nicName ?? "tun" });
  const e4 = stack.addAddress(1, v4);
  if (e4) throw new Error(`cannot add ${o.addr}: ${e4.message}`);
  stack.addRoute({ destination: v4, nic: 1 });
  if (v6 && hasIpv6) {
    const e6 = stack.addAddress(1, v6);
    if (e6) throw new Error(`cannot add ${o.addr6}: ${e6.message}`);
    stack.addRoute({ destination: v6, nic: 1 });
  }
  return { stack, hasTcp, hasIpv6 };
}
