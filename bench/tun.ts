/**
 * TUN benchmarks (rows 3 and 4, and the TUN half of row 6): the Linux kernel's TCP as the client
 * of netstack-ts behind a TUN device, and — as the reference, in the same run — of a kernel TCP
 * server over a veth pair. Everything runs in namespaces created and deleted here (bench/tun/netns.ts),
 * on 198.18.0.0/24 only; every load is bounded in bytes and time.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { BenchNetns, KERNEL, REPO, STACK, withNamespaces, type BenchProc } from "./tun/netns.js";
import type { Measurement } from "./common.js";

const PEER = join(REPO, "bench", "tun", "peer.py");
const SERVER = join(REPO, "bench", "tun", "server.ts");

export interface TunSizes {
  bulkBytes: number;
  rounds: number;
  runs: number;
  mtu: number;
  /** Pin the server / the client to this CPU (taskset); absent: the scheduler places them. */
  serverCpu?: number;
  clientCpu?: number;
}

export interface TunResults {
  sink: Measurement[];
  download: Measurement[];
  echo: Measurement[];
  rr: Measurement[];
  /** Runs that failed verification (or timed out) and were repeated; they do not count. */
  failures: string[];
}

type TestName = "sink" | "download" | "echo" | "rr";

/** One client test against the server; the server's CPU over the test is `cpuSeconds`. */
async function client(ns: BenchNetns, server: BenchProc, test: TestName, s: TunSizes): Promise<Measurement> {
  const limit = 60;
  const args = [PEER, test, STACK_OR_KERNEL.target, "--bytes", String(s.bulkBytes), "--rounds", String(s.rounds), "--timeout", String(limit)];
  const cpu0 = server.cpuSeconds();
  const p = ns.spawn("python3", args, (limit + 15) * 1000, `peer.py ${test}`, s.clientCpu);
  const r = await p.json();
  const cpu = server.cpuSeconds() - cpu0;
  if (r.verified !== true) throw new Error(`TUN bench ${test}: not verified: ${JSON.stringify(r)}\nserver stderr: ${server.stderr.slice(-2000)}`);
  const secs = r.seconds as number;
  if (test === "rr") {
    return { value: s.rounds / secs, cpuSeconds: cpu, verified: s.rounds,
      extra: { medianUs: r.median_us as number, p99Us: r.p99_us as number } };
  }
  return { value: (s.bulkBytes * 8) / secs / 1e9, cpuSeconds: cpu, verified: s.bulkBytes };
}

// The peers talk to the server at 198.18.0.2 in both topologies.
const STACK_OR_KERNEL = { target: STACK };

/** Each test `runs` times; a run that fails verification is recorded and repeated (twice at most per test). */
async function runAll(ns: BenchNetns, server: BenchProc, s: TunSizes, tests: TestName[]): Promise<TunResults> {
  const res: TunResults = { sink: [], download: [], echo: [], rr: [], failures: [] };
  for (let i = 0; i < s.runs; i++) {
    for (const t of tests) {
      for (let attempt = 0; ; attempt++) {
        try {
          res[t].push(await client(ns, server, t, s));
          break;
        } catch (err) {
          if (!server.running || attempt >= 2) throw err;
          res.failures.push(`${t}: ${(err as Error).message.split("\n")[0]}`);
        }
      }
    }
  }
  return res;
}

const ALL: TestName[] = ["sink", "download", "echo", "rr"];

/**
 * netstack-ts behind a TUN device in one namespace, the kernel client in the same namespace.
 * `vnet`: the device carries virtio-net headers (the kernel passes large TCP segments, and takes
 * the stack's super-segments unless `gso` is false).
 */
export function tunStack(s: TunSizes, vnet: boolean, tests: TestName[] = ALL, gso = true): Promise<TunResults> {
  return withNamespaces(1, async ([ns]) => {
    const dev = "nsbt0";
    const server = ns!.spawn(process.execPath, ["--import", "tsx", SERVER, "--tun", dev, "--addr", `${STACK}/24`,
      "--host-addr", `${KERNEL}/24`, "--mtu", String(s.mtu), ...(vnet ? ["--vnet"] : []), ...(vnet && !gso ? ["--no-gso"] : [])], 600_000, "tun server", s.serverCpu);
    await server.waitLine(/^READY/, 30_000);
    ns!.ip("link", "set", dev, "txqueuelen", "1000");
    try {
      return await runAll(ns!, server, s, tests);
    } finally {
      server.kill("SIGTERM");
    }
  });
}

/** The reference: the kernel's own server in a second namespace, over a veth pair. */
/** Whether pinned rows can run here: taskset exists and there are at least two CPUs. */
export function canPin(): boolean {
  return spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore", timeout: 10_000 }).status === 0 && availableParallelism() >= 2;
}

export function tunKernel(s: TunSizes, tests: TestName[] = ALL): Promise<TunResults> {
  return withNamespaces(2, async ([a, b]) => {
    // Created from inside namespace A; the peer end goes straight into B (the root namespace never sees it).
    a!.ip("link", "add", "nsbva", "type", "veth", "peer", "name", "nsbvb", "netns", b!.name);
    a!.ip("addr", "add", `${KERNEL}/24`, "dev", "nsbva");
    b!.ip("addr", "add", `${STACK}/24`, "dev", "nsbvb");
    a!.ip("link", "set", "nsbva", "mtu", String(s.mtu), "up");
    b!.ip("link", "set", "nsbvb", "mtu", String(s.mtu), "up");
    const server = b!.spawn("python3", [PEER, "serve", STACK, "--timeout", "900"], 905_000, "kernel server", s.serverCpu);
    await server.waitLine(/^READY/, 30_000);
    try {
      return await runAll(a!, server, s, tests);
    } finally {
      server.kill("SIGTERM");
    }
  });
}
