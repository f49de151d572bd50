/**
 * Child process for tun-http.test.ts, run INSIDE the test's network namespace
 * (`ip netns exec NAME node --import tsx http-server.ts`): opens a TUN device there (kernel side
 * 198.18.0.1/24), runs a netstack-ts stack at 198.18.0.2 with a node:http server on socket-api's
 * NetServer (port 8080), prints "READY" and serves until stdin closes or 60 s pass, whichever
 * comes first. It never touches the root namespace: the device and its address exist only in
 * the namespace it was started in.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import { TunEndpoint } from "@netstack-ts/link-tun";
import { Stack, icmp, ipv4, tcp, udp } from "@netstack-ts/netstack";
import { createServer } from "../../src/net.js";

const BODY = Buffer.alloc(1 << 20);
for (let i = 0; i < BODY.length; i++) BODY[i] = (i * 31 + 7) & 0xff;

const link = TunEndpoint.open({ name: process.env.TUN_NAME ?? "nsapi0", host: { address: "198.18.0.1/24" } });
const stack = new Stack({ networkProtocols: [ipv4], transportProtocols: [udp, icmp, tcp] });
stack.createNic(1, link, { name: "tun" });
stack.addAddress(1, "198.18.0.2/24");
stack.addRoute({ destination: "198.18.0.0/24", nic: 1 });

const httpServer = http.createServer((req, res) => {
  if (req.method === "GET") {
    res.setHeader("content-type", "application/octet-stream");
    res.end(BODY);
    return;
  }
  const h = createHash("sha256");
  let n = 0;
  req.on("data", (d: Buffer) => {
    h.update(d);
    n += d.length;
  });
  req.on("end", () => res.end(JSON.stringify({ n, sha: h.digest("hex") })));
});
const server = createServer({ stack }, (s) => httpServer.emit("connection", s));
server.listen(8080, "0.0.0.0", () => process.stdout.write("READY\n"));

const stop = () => {
  server.close();
  httpServer.close();
  stack.close();
  process.exit(0);
};
setTimeout(stop, 60_000).unref();
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
