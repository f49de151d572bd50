/**
 * Both ends of the tun-forward interop test (test/interop/tun-forward.test.ts), on the kernel's
 * sockets inside the test's namespaces:
 *
 *   server --host H --port P --udp-port U --size N --seconds S
 *     node:http on H:P answering GET /data with N bytes of a fixed pattern, and a UDP echo
 *     server on H:U. Prints `READY sha256=<hex>`; exits after S seconds.
 *   client --host H --port P --udp-port U --seconds S
 *     GET http://H:P/data (bytes counted, sha256 computed), then 20 UDP datagrams to H:U, each
 *     expected back. Prints one JSON line; exits by itself within S seconds.
 */
import http from "node:http";
import dgram from "node:dgram";
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: "string", default: "198.18.1.2" },
    port: { type: "string", default: "8080" },
    "udp-port": { type: "string", default: "9000" },
    size: { type: "string", default: String(4 << 20) },
    seconds: { type: "string", default: "60" },
  },
});
const host = values.host!;
const port = Number(values.port);
const udpPort = Number(values["udp-port"]);
const seconds = Number(values.seconds);
setTimeout(() => {
  console.log(JSON.stringify({ error: "time limit" }));
  process.exit(3);
}, seconds * 1000).unref();

if (positionals[0] === "server") {
  const size = Number(values.size);
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = (i * 131 + (i >>> 11)) & 0xff;
  const srv = http.createServer((req, res) => {
    if (req.url === "/data") res.writeHead(200, { "content-length": size }).end(body);
    else res.writeHead(404).end();
  });
  const udp = dgram.createSocket("udp4");
  udp.on("message", (msg, r) => udp.send(msg, r.port, r.address));
  await new Promise<void>((res) => srv.listen(port, host, res));
  await new Promise<void>((res) => udp.bind(udpPort, host, res));
  console.log(`READY sha256=${createHash("sha256").update(body).digest("hex")}`);
  // Keep the event loop alive until the time limit.
  setTimeout(() => process.exit(0), seconds * 1000);
} else if (positionals[0] === "client") {
  const result: Record<string, unknown> = { error: null };
  try {
    const got = await new Promise<{ status: number; bytes: number; sha256: string }>((res, rej) => {
      const req = http.get({ host, port, path: "/data", timeout: 20_000 }, (r) => {
        const h = createHash("sha256");
        let bytes = 0;
        r.on("data", (d: Buffer) => {
          bytes += d.length;
          h.update(d);
        });
        r.on("end", () => res({ status: r.statusCode ?? 0, bytes, sha256: h.digest("hex") }));
        r.on("error", rej);
      });
      req.on("timeout", () => req.destroy(new Error("http timeout")));
      req.on("error", rej);
    });
    Object.assign(result, { http: got });
    const sock = dgram.createSocket("udp4");
    const echoed = new Set<number>();
    let wrong = 0;
    await new Promise<void>((res, rej) => {
      sock.on("error", rej);
      sock.on("message", (msg, r) => {
        const text = msg.toString();
        const m = /^datagram (\d+) /.exec(text);
        if (!m || r.address !== host || r.port !== udpPort || text !== payload(Number(m[1]))) wrong++;
        else echoed.add(Number(m[1]));
        if (echoed.size === 20) res();
      });
      sock.bind(0, () => {
        // Sent a few times over (UDP may drop); each distinct datagram must come back once at least.
        let round = 0;
        const send = () => {
          for (let i = 0; i < 20; i++) if (!echoed.has(i)) sock.send(payload(i), udpPort, host);
          if (++round < 10 && echoed.size < 20) setTimeout(send, 500);
          else if (echoed.size < 20) setTimeout(() => rej(new Error(`udp: ${echoed.size}/20 echoed`)), 1000);
        };
        send();
      });
    });
    sock.close();
    Object.assign(result, { udp: { echoed: echoed.size, wrong } });
  } catch (e) {
    result.error = (e as Error).message;
  }
  console.log(JSON.stringify(result));
  process.exit(0);
} else {
  console.error("forward-peer: want `server` or `client`");
  process.exit(2);
}

function payload(i: number): string {
  return `datagram ${i} ${"x".repeat(i * 7)}`;
}
