/**
 * examples/tun-forward against the Linux kernel, across two namespaces:
 *
 *   namespace A                                              namespace B
 *   client (node http / dgram)                               HTTP + UDP echo server
 *     -> 198.18.1.2:8080 / :9000                             on 198.18.1.2 (lo)
 *     route 198.18.1.0/24 dev fwd0 (the TUN)                      ^
 *       -> tun-forward (transparent netstack-ts stack)            |
 *            -> node:net / node:dgram from 198.18.2.1             |
 *               rule "from 198.18.2.1 lookup 100":                |
 *               198.18.1.0/24 via 198.18.2.2 dev fvA ===veth=== fvB 198.18.2.2
 *
 * The client's connection and flow reach the forwarder with their original destination, the
 * example relays them to the server in B over the veth pair, and the bytes are verified
 * (sha256 of the HTTP body, every UDP datagram echoed). Both namespaces are created here and
 * always deleted (netns.ts).
 */
import { join } from "node:path";
import { describe, expect } from "vitest";
import { Netns, PEERS, REPO, itInterop } from "./netns.js";

const EXAMPLE = join(REPO, "examples", "tun-forward", "main.ts");
const PEER = join(PEERS, "forward-peer.ts");
const SIZE = 4 << 20;

describe("examples/tun-forward between two namespaces", () => {
  itInterop("relays a kernel client's HTTP fetch and UDP flow to a server in another namespace, bytes verified", async () => {
    let a: Netns | null = null;
    let b: Netns | null = null;
    try {
      a = Netns.create();
      b = Netns.create();
      // The veth pair is created from inside A with its peer end moved straight into B.
      a.ip("link", "add", "fvA", "type", "veth", "peer", "name", "fvB", "netns", b.name);
      a.ip("addr", "add", "198.18.2.1/24", "dev", "fvA");
      a.ip("link", "set", "fvA", "up");
      b.ip("addr", "add", "198.18.2.2/24", "dev", "fvB");
      b.ip("link", "set", "fvB", "up");
      b.ip("addr", "add", "198.18.1.2/32", "dev", "lo");
      // The relay's own sockets (bound to 198.18.2.1) reach 198.18.1.0/24 over the veth.
      a.ip("route", "add", "198.18.1.0/24", "via", "198.18.2.2", "dev", "fvA", "table", "100");
      a.ip("rule", "add", "from", "198.18.2.1", "lookup", "100", "priority", "100");

      const server = b.node(PEER, ["server", "--host", "198.18.1.2", "--port", "8080", "--udp-port", "9000",
        "--size", String(SIZE), "--seconds", "100"], 110_000, "forward-peer server");
      const ready = await server.waitFor(/^READY/, 30_000);
      const want = /sha256=([0-9a-f]{64})/.exec(ready)![1];

      const fwd = a.node(EXAMPLE, ["--tun", "fwd0", "--bind", "198.18.2.1", "--seconds", "100"], 110_000, "tun-forward");
      await fwd.waitFor(/^READY/, 30_000);
      // Everyone else in A reaches 198.18.1.0/24 through the TUN, i.e. through the forwarder.
      a.ip("route", "add", "198.18.1.0/24", "dev", "fwd0");

      const client = await a.run(process.execPath, ["--import", "tsx", PEER, "client", "--host", "198.18.1.2",
        "--port", "8080", "--udp-port", "9000", "--seconds", "60"], 70_000, "forward-peer client");
      const line = client.stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
      if (!line) throw new Error(`client printed no result\nstdout: ${client.stdout}\nstderr: ${client.stderr}\n` +
        `forwarder: ${fwd.stdout}\n${fwd.stderr}`);
      const r = JSON.parse(line) as { error: string | null; http?: { status: number; bytes: number; sha256: string };
        udp?: { echoed: number; wrong: number } };
      if (r.error) throw new Error(`client: ${r.error}\nforwarder: ${fwd.stdout}\n${fwd.stderr}`);
      expect(r.http).toEqual({ status: 200, bytes: SIZE, sha256: want });
      expect(r.udp).toEqual({ echoed: 20, wrong: 0 });

      const done = await fwd.stop();
      console.log(`tun-forward: ${done.stdout.split("\n").find((l) => l.startsWith("{"))}`);
      const stats = JSON.parse(done.stdout.split("\n").find((l) => l.startsWith("{"))!) as {
        tcpRelayed: number; udpFlows: number; tcp: { requests: number; established: number }; udp: { accepted: number };
      };
      // The fetch went through the TCP forwarder and the datagrams through one UDP flow.
      expect(stats.tcpRelayed).toBeGreaterThanOrEqual(1);
      expect(stats.tcp.established).toBeGreaterThanOrEqual(1);
      expect(stats.udpFlows).toBe(1);
      expect(stats.udp.accepted).toBe(1);
    } finally {
      await a?.delete();
      await b?.delete();
    }
  }, 150_000);
});
