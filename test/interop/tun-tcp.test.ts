/**
 * TCP between netstack-ts (on a TUN device) and the Linux kernel, both directions: handshakes,
 * 64 MiB each way with sha256 verified, half-close both ways, RST on close with unread data, 200
 * concurrent echo connections, and a refused connection. IPv6 variants run when the stack exports
 * `ipv6`. Each scenario runs in a namespace created and deleted here (see netns.ts).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { NET, Netns, PEERS, interopPrereqs, itInterop, skipInterop, withNetns, type Proc } from "./netns.js";
import { optionalProtocols } from "../../packages/link-tun/src/setup.js";
import { kernelHasIpv6 } from "../../packages/link-tun/src/netif.js";

const STACK_PEER = join(PEERS, "stack-peer.ts");
const MiB = 1 << 20;
const BULK = 64 * MiB;
const opt = optionalProtocols();
const FAMILIES: (4 | 6)[] = opt.ipv6 && kernelHasIpv6() ? [4, 6] : [4];

function requireTcp(): void {
  if (!opt.tcp) throw new Error("TCP is not exported by @netstack-ts/netstack yet (no `tcp` factory)");
}

function addrs(fam: 4 | 6) {
  return fam === 4
    ? { kernel: NET.kernel4, stack: NET.stack4, peerArgs: ["--addr", `${NET.stack4}/24`, "--host-addr", `${NET.kernel4}/24`] }
    : {
      kernel: NET.kernel6, stack: NET.stack6,
      peerArgs: ["--addr", `${NET.stack4}/24`, "--host-addr", `${NET.kernel4}/24`, "--addr6", `${NET.stack6}/64`,
        "--host-addr6", `${NET.kernel6}/64`, "--family", "6"],
    };
}

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) throw new Error(`no JSON result in: ${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

for (const fam of FAMILIES) {
  const A = addrs(fam);

  describe(`TCP, kernel client -> netstack echo server (IPv${fam})`, () => {
    let ns: Netns | null = null;
    let server: Proc | null = null;

    beforeAll(async () => {
      if (skipInterop() || !interopPrereqs().ok || !opt.tcp) return;
      ns = Netns.create();
      server = await ns.echoServer({ tun: "nst0", port: 7, mode: "echo", ipv6: fam === 6 });
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await ns?.delete();
    });

    itInterop("completes the kernel's three-way handshake and echoes (RFC 9293 §3.5)", async () => {
      requireTcp();
      const r = await ns!.kernel(["tcp-echo", A.stack, 7, "--bytes", 1000]);
      expect(r).toMatchObject({ error: null, received: 1000, eof: true });
      expect(r.sha_received).toBe(r.sha_sent);
    });

    itInterop("half-close by the kernel: after its FIN the echo still flows back, then our FIN (RFC 9293 §3.6)", async () => {
      requireTcp();
      const r = await ns!.kernel(["tcp-halfclose", A.stack, 7, "--bytes", 4 * MiB], 60);
      expect(r).toMatchObject({ error: null, received: 4 * MiB, eof: true });
      expect(r.sha_received).toBe(r.sha_sent);
    });

    itInterop("200 concurrent connections echo at once, every byte verified", async () => {
      requireTcp();
      const r = await ns!.kernel(["tcp-many", A.stack, 7, "--conns", 200, "--bytes", 16384], 90);
      expect(r).toEqual({ conns: 200, verified: 200, finished: 200 });
    }, 150_000);

    itInterop("a connection to a closed port gives the kernel ECONNREFUSED (RST, RFC 9293 §3.10.7.1)", async () => {
      requireTcp();
      const r = await ns!.kernel(["tcp-refused", A.stack, 9]);
      expect(r.error).toBe("ECONNREFUSED");
    });

    itInterop("64-byte request/response round trips all verified", async () => {
      requireTcp();
      const r = await ns!.kernel(["tcp-rr", A.stack, 7, "--rounds", 2000, "--size", 64], 60);
      expect(r.ok).toBe(2000);
      console.log(`[interop] IPv${fam} 64-byte round trips: ${String(r.per_second)}/s`);
    });
  });

  describe(`TCP bulk and close semantics (IPv${fam})`, () => {
    itInterop("64 MiB kernel -> stack arrives intact (sha256 computed by the stack)", async () => {
      requireTcp();
      await withNetns(async (ns) => {
        const peer = ns.node(STACK_PEER, ["--tun", "nst1", ...A.peerArgs, "--timeout", "100", "serve-sha", "5001"],
          120_000, "stack-peer serve-sha");
        await peer.waitFor(/^LISTENING/, 30_000);
        const k = await ns.kernel(["tcp-upload", A.stack, 5001, "--bytes", BULK], 90);
        expect(k.error).toBeNull();
        const [sha, count] = String(k.reply).trim().split(" ");
        expect(Number(count)).toBe(BULK);
        expect(sha).toBe(k.sha_sent);
        const s = lastJson((await peer.exited).stdout);
        expect(s).toMatchObject({ received: BULK, sha_received: k.sha_sent, error: null });
        console.log(`[interop] IPv${fam} kernel -> stack 64 MiB: ${String(k.mib_s)} MiB/s`);
      });
    }, 150_000);

    itInterop("64 MiB stack -> kernel arrives intact; the stack half-closes and still reads the reply", async () => {
      requireTcp();
      await withNetns(async (ns) => {
        // The kernel server listens on the wildcard address: the device (and the kernel's address
        // on it) appears only once the stack process opens it.
        const k = ns.kernelBackground(["serve-sha", fam === 4 ? "0.0.0.0" : "::", 5002], 90);
        await k.waitFor(/listening/, 20_000);
        const peer = ns.node(STACK_PEER, ["--tun", "nst1", ...A.peerArgs, "--timeout", "100", "connect-send", A.kernel,
          "5002", String(BULK)], 120_000, "stack-peer connect-send");
        const s = lastJson((await peer.exited).stdout);
        const kr = lastJson((await k.exited).stdout);
        expect(kr).toMatchObject({ received: BULK, sha_received: s.sha_sent });
        expect(s.error).toBeNull();
        expect(String(s.reply).trim()).toBe(`${String(s.sha_sent)} ${BULK}`);
        console.log(`[interop] IPv${fam} stack -> kernel 64 MiB: ${(s.mib_s as number).toFixed(1)} MiB/s`);
      });
    }, 150_000);

    itInterop("the stack connects to a kernel server and reads to the kernel's FIN (active open, RFC 9293 §3.5)", async () => {
      requireTcp();
      await withNetns(async (ns) => {
        const k = ns.kernelBackground(["serve-send", fam === 4 ? "0.0.0.0" : "::", 5003, "--bytes", 2 * MiB], 60);
        await k.waitFor(/listening/, 20_000);
        const peer = ns.node(STACK_PEER, ["--tun", "nst1", ...A.peerArgs, "--timeout", "60", "connect-recv", A.kernel,
          "5003"], 90_000, "stack-peer connect-recv");
        const s = lastJson((await peer.exited).stdout);
        const kr = lastJson((await k.exited).stdout);
        expect(kr.peer).toBe(A.stack);
        expect(s).toMatchObject({ received: 2 * MiB, sha_received: kr.sha_sent, error: null });
      });
    });

    itInterop("closing with unread data sends RST: the kernel reads ECONNRESET (RFC 9293 §3.6, RFC 2525 §2.17)", async () => {
      requireTcp();
      await withNetns(async (ns) => {
        const peer = ns.node(STACK_PEER, ["--tun", "nst1", ...A.peerArgs, "--timeout", "60", "serve-close-unread", "5004"],
          90_000, "stack-peer close-unread");
        await peer.waitFor(/^LISTENING/, 30_000);
        const k = await ns.kernel(["tcp-rst", A.stack, 5004, "--bytes", 5000], 30);
        expect(k.error).toBe("ECONNRESET");
        const s = lastJson((await peer.exited).stdout);
        expect(s.closed).toBe(true);
        expect(s.unread as number).toBeGreaterThan(0);
      });
    });

    itInterop("sink mode counts an upload and answers with the count after the kernel's FIN", async () => {
      requireTcp();
      await withNetns(async (ns) => {
        const server = await ns.echoServer({ tun: "nst2", port: 7, mode: "sink", ipv6: fam === 6 });
        const r = await ns.kernel(["tcp-sink", A.stack, 7, "--bytes", 16 * MiB], 60);
        expect(r.error).toBeNull();
        expect(r.reply).toBe(`${16 * MiB}\n`);
        console.log(`[interop] IPv${fam} kernel -> stack upload into sink: ${String(r.mib_s)} MiB/s`);
        expect((await server.stop()).code).toBe(0);
      });
    });
  });
}
