/**
 * `netstack` command line (`npm run netstack -- ...`).
 *
 *   netstack echo --tun NAME --addr CIDR [--addr6 CIDR] [--host-addr CIDR] [--host-addr6 CIDR]
 *                 --port N [--mode echo|sink|discard] [--mtu N] [--pcap FILE] [--stats] [--no-vnet-hdr]
 *
 * Opens (or creates) TUN device NAME, gives the userspace stack --addr (and --addr6), optionally
 * configures the kernel's side of the device (--host-addr, --host-addr6), and serves TCP and UDP
 * on --port per the echo server's wire contract. Ping is answered by the stack. Errors are one
 * line on stderr (exit 1); bad flags print the usage (exit 2); SIGINT/SIGTERM close the
 * connections and exit 0.
 */
import { parseArgs } from "node:util";
import {
  RealClock, SnifferEndpoint, Subnet, formatStackStats, type LinkEndpoint, type Stack,
} from "@netstack-ts/netstack";
import { LinkTunError } from "./errors.js";
import { EchoServer, type EchoMode } from "./echo-server.js";
import { buildLinkStack, optionalProtocols } from "./setup.js";
import { TunEndpoint } from "./tun.js";
import { waitKernelAddress6 } from "./netif.js";

const USAGE = `usage: netstack echo --tun NAME --addr CIDR [--addr6 CIDR] [--host-addr CIDR] [--host-addr6 CIDR]
                     --port N [--mode echo|sink|discard] [--mtu N] [--pcap FILE] [--stats] [--no-vnet-hdr]

  --tun NAME          TUN device to open (created if missing; attached to if it exists)
  --addr CIDR         the stack's IPv4 address, e.g. 198.18.0.2/24
  --addr6 CIDR        the stack's IPv6 address, e.g. fd00:198:18::2/64 (when the stack has IPv6)
  --host-addr CIDR    also give the kernel's side of the device this IPv4 address
  --host-addr6 CIDR   also give the kernel's side of the device this IPv6 address
  --port N            TCP and UDP port to serve
  --mode MODE         echo (default): send everything back; sink: count, reply with the count
                      after the client's FIN; discard: drop
  --mtu N             set the device MTU (default: keep the device's)
  --pcap FILE         write a capture of the TUN traffic (LINKTYPE_RAW); implies --no-vnet-hdr
                      unless --vnet-hdr is given (with offloads, checksums in the capture are
                      partial and TCP segments exceed the MTU, as tcpdump shows on a TSO device)
  --stats             print the stack's counters every second and on exit
  --no-vnet-hdr       open the device without virtio-net headers. By default (--vnet-hdr) it has them
                      (IFF_VNET_HDR + TUNSETOFFLOAD): TCP segments of up to 64 KiB cross the device
                      in one read or write both ways; the kernel vouches for checksums and cuts the
                      stack's large segments to the MTU (GSO)`;

class UsageError extends Error {}

interface EchoArgs {
  tun: string;
  addr: string;
  addr6?: string | undefined;
  hostAddr?: string | undefined;
  hostAddr6?: string | undefined;
  port: number;
  mode: EchoMode;
  mtu?: number | undefined;
  pcap?: string | undefined;
  stats: boolean;
  vnetHdr: boolean;
}

function parseEcho(argv: string[]): EchoArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        tun: { type: "string" },
        addr: { type: "string" },
        addr6: { type: "string" },
        "host-addr": { type: "string" },
        "host-addr6": { type: "string" },
        port: { type: "string" },
        mode: { type: "string" },
        mtu: { type: "string" },
        pcap: { type: "string" },
        stats: { type: "boolean" },
        "vnet-hdr": { type: "boolean" },
        "no-vnet-hdr": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) throw new UsageError("");
  if (values["vnet-hdr"] && values["no-vnet-hdr"]) throw new UsageError("--vnet-hdr and --no-vnet-hdr contradict each other");
  const need = (k: string, v: string | undefined): string => {
    if (v === undefined || v === "") throw new UsageError(`missing --${k}`);
    return v;
  };
  const tun = need("tun", values.tun);
  const addr = need("addr", values.addr);
  const portText = need("port", values.port);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new UsageError(`invalid --port ${portText} (1..65535)`);
  const mode = (values.mode ?? "echo") as EchoMode;
  if (mode !== "echo" && mode !== "sink" && mode !== "discard") throw new UsageError(`invalid --mode ${values.mode}`);
  let mtu: number | undefined;
  if (values.mtu !== undefined) {
    mtu = Number(values.mtu);
    if (!/^\d+$/.test(values.mtu) || mtu < 576 || mtu > 65535) throw new UsageError(`invalid --mtu ${values.mtu} (576..65535)`);
  }
  const cidr = (flag: string, v: string | undefined, v6: boolean): string | undefined => {
    if (v === undefined) return undefined;
    let s: Subnet;
    try {
      s = Subnet.parse(v);
    } catch {
      throw new UsageError(`invalid --${flag} ${v}`);
    }
    if (s.address.isV6 !== v6 || !v.includes("/")) throw new UsageError(`invalid --${flag} ${v} (want ${v6 ? "x::y/n" : "a.b.c.d/n"})`);
    return v;
  };
  return {
    tun, port, mode, mtu,
    addr: cidr("addr", addr, false)!,
    addr6: cidr("addr6", values.addr6, true),
    hostAddr: cidr("host-addr", values["host-addr"], false),
    hostAddr6: cidr("host-addr6", values["host-addr6"], true),
    pcap: values.pcap,
    stats: values.stats ?? false,
    // Offloads by default; a capture shows the wire as it is (complete checksums) unless asked.
    vnetHdr: values["vnet-hdr"] === true || (values["no-vnet-hdr"] !== true && values.pcap === undefined),
  };
}

/** The counters as labelled groups: one line per group. */
function statsGroups(stack: Stack, tun: TunEndpoint, server: EchoServer): [string, string][] {
  const s = stack.stats;
  const l = tun.stats();
  const e = server.stats();
  return [
    ["link", `rx ${l.rxPackets} packets / ${l.rxBytes} bytes in ${l.rxBatches} batches, tx ${l.txPackets} packets / ` +
      `${l.txBytes} bytes (${l.txGsoPackets} GSO), tx queued ${l.txQueued}, drops ${l.txDrops}, errors ${l.txErrors}`],
    ["ip", `received ${s.ip.packetsReceived}, delivered ${s.ip.packetsDelivered}, sent ${s.ip.packetsSent}, ` +
      `malformed ${s.ip.malformedPacketsReceived}, checksum errors ${s.ip.checksumErrors}, fragments in ` +
      `${s.ip.fragmentsReceived} (reassembled ${s.ip.reassembled}), fragments out ${s.ip.fragmentsSent}`],
    ["icmp", `echo requests in ${s.icmp.v4.received.echoRequest}, replies out ${s.icmp.v4.sent.echoReply}, ` +
      `unreachables out ${s.icmp.v4.sent.dstUnreachable}; v6 echo requests in ${s.icmp.v6.received.echoRequest}, ` +
      `replies out ${s.icmp.v6.sent.echoReply}, unreachables out ${s.icmp.v6.sent.dstUnreachable}`],
    ["udp", `datagrams in ${s.udp.packetsReceived}, out ${s.udp.packetsSent}, unknown port ${s.udp.unknownPortErrors}, ` +
      `checksum errors ${s.udp.checksumErrors}`],
    ["tcp", `passive opens ${s.tcp.passiveConnectionOpenings}, established ${s.tcp.currentEstablished}, segments in ` +
      `${s.tcp.validSegmentsReceived} out ${s.tcp.segmentsSent}, retransmits ${s.tcp.retransmits}, resets in ` +
      `${s.tcp.resetsReceived} out ${s.tcp.resetsSent}, checksum errors ${s.tcp.checksumErrors}`],
    ["server", `connections ${e.tcpAccepted} (open ${e.tcpOpen}, errors ${e.tcpErrors}), tcp bytes in ${e.tcpBytesIn} ` +
      `out ${e.tcpBytesOut}, udp datagrams in ${e.udpDatagramsIn} out ${e.udpDatagramsOut}`],
  ];
}

/** Every second: one line. */
function statsLine(stack: Stack, tun: TunEndpoint, server: EchoServer, label: string): string {
  return `[stats ${label}] ` + statsGroups(stack, tun, server).map(([k, v]) => `${k}: ${v}`).join(" | ");
}

/** On exit: one line per group, then every nonzero counter (`netstat -s` style, formatStackStats). */
function statsBlock(stack: Stack, tun: TunEndpoint, server: EchoServer): string {
  return "[stats final]\n" + statsGroups(stack, tun, server).map(([k, v]) => `  ${k.padEnd(6)} ${v}`).join("\n") +
    "\n[counters]\n" + formatStackStats(stack.snapshot());
}

async function runEcho(a: EchoArgs): Promise<void> {
  const opt = optionalProtocols();
  if ((a.addr6 || a.hostAddr6) && !opt.ipv6)
    console.error("netstack: this build of the stack has no IPv6 yet; --addr6 is ignored");
  const clock = new RealClock();
  const tun = TunEndpoint.open({
    name: a.tun,
    mtu: a.mtu,
    up: true,
    host: { address: a.hostAddr, address6: a.hostAddr6 },
    vnetHdr: a.vnetHdr,
  });
  let link: LinkEndpoint = tun;
  let sniffer: SnifferEndpoint | null = null;
  if (a.pcap) {
    try {
      sniffer = new SnifferEndpoint(tun, { path: a.pcap, clock, linkType: "raw" });
    } catch (err) {
      tun.close();
      throw new Error(`cannot write ${a.pcap}: ${err instanceof Error ? err.message : String(err)}`);
    }
    link = sniffer;
  }
  const { stack, hasTcp, hasIpv6 } = buildLinkStack({ link, addr: a.addr, addr6: a.addr6, nicName: tun.name, clock });
  const server = new EchoServer({ stack, port: a.port, mode: a.mode });
  try {
    server.start();
  } catch (err) {
    stack.close();
    throw err;
  }

  let timer: NodeJS.Timeout | null = null;
  let seconds = 0;
  if (a.stats) timer = setInterval(() => console.log(statsLine(stack, tun, server, `${++seconds}s`)), 1000);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    server.close();
    if (a.stats) console.log(statsBlock(stack, tun, server));
    stack.close(); // closes the sniffer (flushing the file) and the TUN device
    console.error(`netstack: ${why}, exiting`);
    process.exit(0);
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  tun.onError = (err) => {
    console.error(`netstack: ${err.message}`);
    if (timer) clearInterval(timer);
    server.close();
    stack.close();
    process.exit(1);
  };

  // A fresh kernel IPv6 address is tentative until the kernel's DAD work runs: wait (bounded)
  // so that READY means the kernel side can use it.
  if (a.hostAddr6 && !(await waitKernelAddress6(tun.name, a.hostAddr6)))
    console.error(`netstack: the kernel's address ${a.hostAddr6} is not usable yet (still tentative)`);

  const protos = `${hasTcp ? "tcp+" : ""}udp`;
  const v6 = hasIpv6 && a.addr6 ? ` and [${a.addr6.split("/")[0]}]:${a.port}` : "";
  console.log(`READY netstack echo: ${protos} ${a.mode} on ${a.addr.split("/")[0]}:${a.port}${v6} via ${tun.name} ` +
    `(mtu ${tun.mtu}${a.vnetHdr ? ", virtio-net offloads" : ""}${a.pcap ? `, capturing to ${a.pcap}` : ""})`);
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === "-h" || cmd === "--help" || cmd === "help") {
    console.log(USAGE);
    return;
  }
  if (cmd !== "echo") {
    console.error(cmd === undefined ? "netstack: missing command" : `netstack: unknown command ${JSON.stringify(cmd)}`);
    console.error(USAGE);
    process.exit(2);
  }
  let args: EchoArgs;
  try {
    args = parseEcho(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message) console.error(`netstack: ${err.message}`);
      console.error(USAGE);
      process.exit(err.message ? 2 : 0);
    }
    throw err;
  }
  try {
    await runEcho(args);
  } catch (err) {
    const msg = err instanceof LinkTunError || err instanceof Error ? err.message : String(err);
    console.error(`netstack: ${msg}`);
    process.exit(1);
  }
}

await main(process.argv.slice(2));
