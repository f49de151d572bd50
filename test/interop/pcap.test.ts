/**
 * `netstack echo --pcap FILE` writes a capture of the TUN traffic that tshark reads cleanly: no
 * malformed packets and no bad checksums, with IPv4, UDP and TCP checksum validation switched on.
 * tshark is installed by ensureTshark() in CI when missing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { NET, ensureTshark, itInterop, withNetns } from "./netns.js";
import { optionalProtocols } from "../../packages/link-tun/src/setup.js";

const HAS_TCP = optionalProtocols().tcp !== null;
const HAS_IPV6 = optionalProtocols().ipv6 !== null;
const CHECKS = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"];

function tshark(args: string[]): string {
  const r = spawnSync("tshark", args, { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`tshark ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe("the echo server's --pcap capture", () => {
  itInterop("reads cleanly in tshark: no malformed packets, no bad checksums", async () => {
    const t = ensureTshark();
    if (!t.ok) throw new Error(t.reason);
    const dir = mkdtempSync(join(tmpdir(), "netstack-pcap-"));
    const file = join(dir, "echo.pcap");
    try {
      await withNetns(async (ns) => {
        const server = await ns.echoServer({ tun: "nst0", port: 7, mode: "echo", pcap: file, ipv6: HAS_IPV6 });
        expect(await ns.kernel(["ping", NET.stack4, "--count", 3])).toMatchObject({ received: 3 });
        expect(await ns.kernel(["udp-echo", NET.stack4, 7, "--count", 5, "--size", 300])).toMatchObject({ echoed: 5 });
        expect(await ns.kernel(["udp-echo", NET.stack4, 7, "--count", 1, "--size", 20000])).toMatchObject({ echoed: 1 });
        expect(await ns.kernel(["udp-refused", NET.stack4, 9])).toMatchObject({ error: "ECONNREFUSED" });
        if (HAS_IPV6) {
          expect(await ns.kernel(["ping", NET.stack6, "--count", 2])).toMatchObject({ received: 2 });
          expect(await ns.kernel(["udp-echo", NET.stack6, 7, "--count", 2, "--size", 5000])).toMatchObject({ echoed: 2 });
          expect(await ns.kernel(["udp-refused", NET.stack6, 9])).toMatchObject({ error: "ECONNREFUSED" });
        }
        if (HAS_TCP) {
          const r = await ns.kernel(["tcp-echo", NET.stack4, 7, "--bytes", 200_000]);
          expect(r.sha_received).toBe(r.sha_sent);
          expect(await ns.kernel(["tcp-refused", NET.stack4, 9])).toMatchObject({ error: "ECONNREFUSED" });
        }
        const stopped = await server.stop();
        expect(stopped.code).toBe(0);
      });
      expect(statSync(file).size).toBeGreaterThan(24);
      const bad = tshark(["-r", file, ...CHECKS, "-Y", "_ws.malformed || _ws.expert.severity >= error"]);
      expect(bad.trim()).toBe("");
      const protocols = tshark(["-r", file, "-T", "fields", "-e", "frame.protocols"]);
      expect(protocols).toContain("raw:ip:icmp");
      expect(protocols).toContain("raw:ip:udp");
      if (HAS_TCP) expect(protocols).toContain("raw:ip:tcp");
      if (HAS_IPV6) expect(protocols).toContain("raw:ipv6:udp");
      // Reassembled in tshark too: the 20,000-byte datagram went through as fragments both ways.
      const frags = tshark(["-r", file, "-Y", "ip.flags.mf == 1", "-T", "fields", "-e", "ip.src"]).trim().split("\n");
      expect(frags).toContain(NET.kernel4);
      expect(frags).toContain(NET.stack4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
