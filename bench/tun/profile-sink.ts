/**
 * Profiles the TUN server during one sink (and one download) run:
 * `npx tsx bench/tun/profile-sink.ts DIR [MiB]` writes the server's .cpuprofile into DIR
 * (summarize with `npx tsx bench/profile.ts summary FILE`). Same namespace rules as bench/tun.ts.
 */
import { join } from "node:path";
import { KERNEL, REPO, STACK, withNamespaces } from "./netns.js";

const dir = process.argv[2] ?? "/tmp/netstack-prof";
const mib = Number(process.argv[3] ?? 512);
const tests = (process.argv[4] ?? "sink").split(",");
await withNamespaces(1, async ([ns]) => {
  const server = ns!.spawn(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--import", "tsx", join(REPO, "bench", "tun", "server.ts"),
    "--tun", "nsbt0", "--addr", `${STACK}/24`, "--host-addr", `${KERNEL}/24`, ...(process.env.VNET ? ["--vnet"] : [])], 300_000, "server");
  await server.waitLine(/^READY/, 30_000);
  for (const t of tests) {
    const c0 = server.cpuSeconds();
    const p = ns!.spawn("python3", [join(REPO, "bench", "tun", "peer.py"), t, STACK, "--bytes", String(mib << 20), "--timeout", "120"], 150_000, t);
    const r = await p.json();
    console.log(t, JSON.stringify(r), "gbit/s", ((mib << 20) * 8 / (r.seconds as number) / 1e9).toFixed(2), "server CPU s", (server.cpuSeconds() - c0).toFixed(2));
  }
  server.kill("SIGTERM");
  await server.exited;
  console.log(server.stderr.split("\n").filter((l) => l.startsWith("STATS")).join("\n"));
});
