/**
 * Send-side GSO over the TUN's virtio-net header: with `vnetHdr`, netstack-ts writes TCP
 * super-segments of several MSS in one write (gso_type TCPV4 / TCPV6, NEEDS_CSUM) and the Linux
 * kernel cuts them to the MTU and completes their checksums. These tests download 64 MiB from the
 * stack to a kernel server and check both that the bytes arrive intact (sha256 on both sides) and
 * that super-segments were really written (the TunEndpoint's gsoPacketsSent counter). The
 * control runs the same transfer without the header: no GSO writes. Each scenario runs in a
 * namespace created and deleted here (see netns.ts).
 */
import { join } from "node:path";
import { describe, expect } from "vitest";
import { NET, PEERS, itInterop, withNetns, type Netns } from "./netns.js";
import { optionalProtocols } from "../../packages/link-tun/src/setup.js";
import { kernelHasIpv6 } from "../../packages/link-tun/src/netif.js";

const STACK_PEER = join(PEERS, "stack-peer.ts");
const MiB = 1 << 20;
const BULK = 64 * MiB;
const opt = optionalProtocols();
const FAMILIES: (4 | 6)[] = opt.ipv6 && kernelHasIpv6() ? [4, 6] : [4];

function peerArgs(fam: 4 | 6): string[] {
  const v4 = ["--addr", `${NET.stack4}/24`, "--host-addr", `${NET.kernel4}/24`];
  return fam === 4 ? v4 : [...v4, "--addr6", `${NET.stack6}/64`, "--host-addr6", `${NET.kernel6}/64`];
}

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) throw new Error(`no JSON result in: ${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** The stack connects to a kernel sha256 server and sends `BULK` bytes; both sides' results. */
async function download(ns: Netns, fam: 4 | 6, vnet: boolean, port: number) {
  const k = ns.kernelBackground(["serve-sha", fam === 4 ? "0.0.0.0" : "::", port], 90);
  await k.waitFor(/listening/, 20_000);
  const to = fam === 4 ? NET.kernel4 : NET.kernel6;
  const peer = ns.node(STACK_PEER, ["--tun", "nsg1", ...peerArgs(fam), vnet ? "--vnet-hdr" : "--no-vnet-hdr",
    "--timeout", "100", "connect-send", to, String(port), String(BULK)], 120_000, "stack-peer connect-send");
  const s = lastJson((await peer.exited).stdout);
  const kr = lastJson((await k.exited).stdout);
  return { s, kr };
}

for (const fam of FAMILIES) {
  describe(`TUN send-side GSO (IPv${fam})`, () => {
    itInterop("64 MiB stack -> kernel in GSO super-segments arrives intact (sha256 both sides)", async () => {
      if (!opt.tcp) throw new Error("TCP is not exported by @netstack-ts/netstack yet");
      await withNetns(async (ns) => {
        const { s, kr } = await download(ns, fam, true, 5101);
        expect(s.error).toBeNull();
        expect(kr).toMatchObject({ received: BULK, sha_received: s.sha_sent });
        expect(String(s.reply).trim()).toBe(`${String(s.sha_sent)} ${BULK}`);
        // At most ~43 MSS per super-segment: 64 MiB needs well over 64 MiB / 64 KiB = 1024 of them
        // if most of the data went that way; insist on a clear majority.
        expect(s.gso_packets as number).toBeGreaterThan(BULK / 65536 / 2);
        console.log(`[interop] IPv${fam} stack -> kernel 64 MiB with GSO: ${(s.mib_s as number).toFixed(1)} MiB/s, ` +
          `${String(s.gso_packets)} super-segments`);
      });
    }, 150_000);

    itInterop("without the virtio-net header the same download writes no super-segment", async () => {
      if (!opt.tcp) throw new Error("TCP is not exported by @netstack-ts/netstack yet");
      await withNetns(async (ns) => {
        const { s, kr } = await download(ns, fam, false, 5102);
        expect(s.error).toBeNull();
        expect(kr).toMatchObject({ received: BULK, sha_received: s.sha_sent });
        expect(s.gso_packets).toBe(0);
      });
    }, 150_000);
  });
}
