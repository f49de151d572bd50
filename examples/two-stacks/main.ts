/**
 * examples/two-stacks: two netstack-ts stacks in one process, wired back to back over an
 * in-memory link, talking TCP (node:net style) and UDP (node:dgram style). No root needed.
 *
 *   npx tsx examples/two-stacks/main.ts
 *
 * Prints one line per step and a final "OK" line with what was checked.
 */
import { createStackPair } from "@netstack-ts/socket-api";

const [alice, bob] = await createStackPair({
  a: { name: "alice", address: "198.18.0.1/24", address6: "fd00:198:18::1/64" },
  b: { name: "bob", address: "198.18.0.2/24", address6: "fd00:198:18::2/64" },
});

// TCP: bob serves an uppercasing echo, node:net style.
const server = bob.createServer((sock) => {
  sock.on("data", (d: Buffer) => sock.write(d.toString("utf8").toUpperCase()));
  sock.on("end", () => sock.end());
});
await new Promise<void>((resolve) => server.listen(7000, resolve));

const tcpReply = await new Promise<string>((resolve, reject) => {
  const c = alice.connect(7000, "198.18.0.2", () => c.end("hello over tcp"));
  let got = "";
  c.on("data", (d: Buffer) => (got += d.toString("utf8")));
  c.on("end", () => resolve(got));
  c.on("error", reject);
});
console.log(`tcp: alice -> bob:7000 replied ${JSON.stringify(tcpReply)}`);

// UDP over IPv6: bob echoes datagrams back, node:dgram style.
const echo = bob.createSocket("udp6", (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
await new Promise<void>((resolve) => echo.bind(7001, resolve));
const client = alice.createSocket("udp6");
const udpReply = await new Promise<string>((resolve) => {
  client.on("message", (msg) => resolve(msg.toString("utf8")));
  client.send("hello over udp6", 7001, "fd00:198:18::2");
});
console.log(`udp6: alice -> [fd00:198:18::2]:7001 echoed ${JSON.stringify(udpReply)}`);

const ok = tcpReply === "HELLO OVER TCP" && udpReply === "hello over udp6";
const s = alice.stats();
console.log(`alice: tcp active opens ${s.tcp.activeConnectionOpenings}, udp datagrams out ${s.udp.packetsSent}`);
server.close();
alice.close();
bob.close();
console.log(ok ? "OK two-stacks tcp+udp6" : "FAILED");
if (!ok) process.exitCode = 1;
