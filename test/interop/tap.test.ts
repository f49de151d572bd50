/**
 * TAP mode against the Linux kernel: Ethernet frames, with ARP run by the stack (RFC 826) in both
 * directions, then ping, UDP and TCP over the resolved link. Each scenario runs in a namespace
 * created and deleted here.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { NET, Netns, PEERS, interopPrereqs, itInterop, skipInterop, withNetns, type Proc } from "./netns.js";
import { optionalProtocols } from "../../packages/link-tun/src/setup.js";

const STACK_PEER = join(PEERS, "stack-peer.ts");
const HOST4 = `${NET.kernel4}/${NET.prefix4}`;
const ADDR4 = `${NET.stack4}/${NET.prefix4}`;
const HAS_TCP = optionalProtocols().tcp !== null;

function macs(readyLine: string): { stack: string; kernel: string } {
  const m = /mac ([0-9a-f:]{17}) kernel-mac ([0-9a-f:]{17})/.exec(readyLine);
  if (!m) throw new Error(`no MACs in ${readyLine}`);
  return { stack: m[1]!, kernel: m[2]! };
}

describe("TAP link vs the Linux kernel (IPv4, ARP)", () => {
  let ns: Netns | null = null;
  let peer: Proc | null = null;
  let ready = "";

  beforeAll(async () => {
    if (skipInterop() || !interopPrereqs().ok) return;
    ns = Netns.create();
    peer = ns.node(STACK_PEER, ["--tap", "--tun", "nstap0", "--addr", ADDR4, "--host-addr", HOST4, "--timeout", "160",
      "serve-echo", "7"], 170_000, "stack-peer tap");
    ready = await peer.waitFor(/^READY/, 30_000);
    await peer.waitFor(/^LISTENING/, 10_000);
  }, 60_000);

  afterAll(async () => {
    await peer?.stop();
    await ns?.delete();
  });

  itInterop("the kernel resolves the stack's address by ARP and its pings are answered", async () => {
    const r = await ns!.kernel(["ping", NET.stack4, "--count", 3]);
    expect(r).toMatchObject({ sent: 3, received: 3 });
    // The stack answered the kernel's ARP request with its own MAC (RFC 826 reply).
    const neigh = ns!.ip("neigh", "show", "dev", "nstap0");
    expect(neigh).toContain(`${NET.stack4} lladdr ${macs(ready).stack}`);
  });

  itInterop("UDP echo over Ethernet framing", async () => {
    const r = await ns!.kernel(["udp-echo", NET.stack4, 7, "--count", 10, "--size", 1400]);
    expect(r).toMatchObject({ sent: 10, echoed: 10 });
  });

  itInterop("TCP echo over the TAP link (kernel client, 1 MiB, sha256 verified)", async () => {
    if (!HAS_TCP) throw new Error("TCP is not exported by @netstack-ts/netstack yet");
    const r = await ns!.kernel(["tcp-echo", NET.stack4, 7, "--bytes", 1 << 20], 60);
    expect(r.error).toBeNull();
    expect(r.received).toBe(1 << 20);
    expect(r.sha_received).toBe(r.sha_sent);
    expect(r.eof).toBe(true);
  });
});

describe("TAP link: the stack resolves the kernel", () => {
  itInterop("the stack ARP-resolves the kernel's MAC and its pings are answered", async () => {
    await withNetns(async (ns) => {
      const p = ns.node(STACK_PEER, ["--tap", "--tun", "nstap1", "--addr", ADDR4, "--host-addr", HOST4, "--timeout", "30",
        "ping", NET.kernel4, "3"], 60_000, "stack-peer tap ping");
      const r = await p.exited;
      const res = JSON.parse(r.stdout.trim().split("\n").pop()!);
      expect(res).toEqual({ sent: 3, received: 3 });
    });
  });
});
