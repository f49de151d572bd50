/**
 * The IPv6 versions of the TUN/TAP interop checks (ping, UDP echo, port unreachable, fragment
 * reassembly, NDP over TAP). They run once @netstack-ts/netstack exports `ipv6`; until then they
 * are skipped with that reason printed. Each scenario runs in a namespace created and deleted here.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { NET, Netns, PEERS, interopPrereqs, itInterop, skipInterop, withNetns, type Proc } from "./netns.js";
import { optionalProtocols } from "../../packages/link-tun/src/setup.js";

const HAS_IPV6 = optionalProtocols().ipv6 !== null;
const STACK_PEER = join(PEERS, "stack-peer.ts");
if (!HAS_IPV6) console.warn("[interop] IPv6 interop tests skipped: @netstack-ts/netstack does not export `ipv6` yet");

describe.skipIf(!HAS_IPV6)("TUN echo server vs the Linux kernel (IPv6)", () => {
  let ns: Netns | null = null;
  let server: Proc | null = null;

  beforeAll(async () => {
    if (skipInterop() || !interopPrereqs().ok) return;
    ns = Netns.create();
    server = await ns.echoServer({ tun: "nst0", port: 7, mode: "echo", ipv6: true });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await ns?.delete();
  });

  itInterop("the kernel's side got its IPv6 address through the in6_ifreq ioctl", async () => {
    expect(ns!.ip("-6", "addr", "show", "dev", "nst0")).toContain(`inet6 ${NET.kernel6}/${NET.prefix6}`);
  });

  itInterop("answers the kernel's ICMPv6 echo requests (RFC 4443 §4.2)", async () => {
    const r = await ns!.kernel(["ping", NET.stack6, "--count", 3]);
    expect(r).toMatchObject({ sent: 3, received: 3 });
  });

  itInterop("echoes UDP over IPv6", async () => {
    const r = await ns!.kernel(["udp-echo", NET.stack6, 7, "--count", 10, "--size", 1000]);
    expect(r).toMatchObject({ sent: 10, echoed: 10 });
  });

  itInterop("a datagram to a closed port gives ECONNREFUSED (ICMPv6 port unreachable, RFC 4443 §3.1)", async () => {
    const r = await ns!.kernel(["udp-refused", NET.stack6, 9]);
    expect(r.error).toBe("ECONNREFUSED");
  });

  itInterop("reassembles a 20,000-byte UDP datagram the kernel fragmented (RFC 8200 §4.5)", async () => {
    const r = await ns!.kernel(["udp-echo", NET.stack6, 7, "--count", 2, "--size", 20000]);
    expect(r).toMatchObject({ sent: 2, echoed: 2 });
  });
});

describe.skipIf(!HAS_IPV6)("TUN link: the stack pings the kernel (IPv6)", () => {
  itInterop("ICMPv6 echo from the stack to the kernel, every reply verified", async () => {
    await withNetns(async (ns) => {
      const p = ns.node(STACK_PEER, ["--tun", "nst1", "--addr", `${NET.stack4}/24`, "--host-addr", `${NET.kernel4}/24`,
        "--addr6", `${NET.stack6}/64`, "--host-addr6", `${NET.kernel6}/64`, "--timeout", "30", "ping", NET.kernel6, "3"],
      60_000, "stack-peer ping6");
      const r = await p.exited;
      expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toEqual({ sent: 3, received: 3 });
    });
  });
});

describe.skipIf(!HAS_IPV6)("TAP link vs the Linux kernel (IPv6, NDP)", () => {
  let ns: Netns | null = null;
  let peer: Proc | null = null;

  beforeAll(async () => {
    if (skipInterop() || !interopPrereqs().ok) return;
    ns = Netns.create();
    peer = ns.node(STACK_PEER, ["--tap", "--tun", "nstap6", "--addr", `${NET.stack4}/24`, "--host-addr", `${NET.kernel4}/24`,
      "--addr6", `${NET.stack6}/64`, "--host-addr6", `${NET.kernel6}/64`, "--timeout", "100", "serve-echo", "7"], 120_000,
    "stack-peer tap6");
    await peer.waitFor(/^LISTENING/, 30_000);
  }, 60_000);

  afterAll(async () => {
    await peer?.stop();
    await ns?.delete();
  });

  itInterop("the kernel resolves the stack by neighbor solicitation and its pings are answered (RFC 4861 §7.2)", async () => {
    const r = await ns!.kernel(["ping", NET.stack6, "--count", 3]);
    expect(r).toMatchObject({ sent: 3, received: 3 });
    expect(ns!.ip("-6", "neigh", "show", "dev", "nstap6")).toMatch(new RegExp(`${NET.stack6} lladdr [0-9a-f:]{17}`));
  });

  itInterop("UDP echo over IPv6 on Ethernet framing", async () => {
    const r = await ns!.kernel(["udp-echo", NET.stack6, 7, "--count", 5, "--size", 1200]);
    expect(r).toMatchObject({ sent: 5, echoed: 5 });
  });
});
