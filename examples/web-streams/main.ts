/**
 * examples/web-streams: the echo of examples/two-stacks written with Web Streams, `for await`
 * and `await using`: the server iterates its listener, pipes each connection's `readable` into
 * its own `writable`; the client writes through a WritableStream writer and reads the
 * ReadableStream until the server's FIN. Also a UDP echo iterating datagrams. No root needed.
 *
 *   npx tsx examples/web-streams/main.ts [bytes]
 *
 * Prints "OK web-streams <bytes> bytes echoed, sha256 <hex>" when the echo came back intact.
 */
import { createHash } from "node:crypto";
import { createStackPair } from "@netstack-ts/socket-api";

const size = Number(process.argv[2] ?? 1 << 20);

await using stacks = await pair();
const [client, server] = stacks.list;

// Server: every connection is piped back to itself (backpressure comes from pipeTo).
await using listener = await server.listen({ port: 7 });
const serving = (async () => {
  for await (const conn of listener) void conn.readable.pipeTo(conn.writable).catch(() => conn.reset());
})();

// UDP: iterate datagrams, answer each.
await using udp = await server.bindUdp({ port: 7 });
const udpServing = (async () => {
  for await (const d of udp) await udp.send(d.data, d.port, d.address);
})();

// Client: write `size` bytes through the writer, close (FIN), read until end of stream.
const payload = new Uint8Array(size);
for (let i = 0; i < size; i++) payload[i] = (i * 7 + 3) & 0xff;
const conn = await client.dial({ host: "198.18.0.2", port: 7, signal: AbortSignal.timeout(10_000) });
const writing = (async () => {
  const w = conn.writable.getWriter();
  for (let off = 0; off < size; off += 16384) {
    await w.ready;
    await w.write(payload.subarray(off, Math.min(size, off + 16384)));
  }
  await w.close();
})();
const hash = createHash("sha256");
let received = 0;
for await (const chunk of conn.readable) {
  hash.update(chunk);
  received += chunk.length;
}
await writing;
const got = hash.digest("hex");
const want = createHash("sha256").update(payload).digest("hex");

await using dgram = await client.bindUdp();
await dgram.send("ping over udp", 7, "198.18.0.2");
const reply = await dgram.receive({ signal: AbortSignal.timeout(5_000) });

const ok = received === size && got === want && reply !== null && Buffer.from(reply.data).toString() === "ping over udp";
console.log(`udp: ${reply ? JSON.stringify(Buffer.from(reply.data).toString()) : "no reply"} from ${reply?.address}:${reply?.port}`);
console.log(ok ? `OK web-streams ${received} bytes echoed, sha256 ${got}` : `FAILED received ${received}/${size} sha ${got} want ${want}`);
if (!ok) process.exitCode = 1;

// Leaving the scope disposes the UDP sockets, the listener and both stacks (in reverse order);
// the iterations above then end by themselves.
void serving;
void udpServing;

async function pair() {
  const [a, b] = await createStackPair({
    a: { name: "client", address: "198.18.0.1/24" },
    b: { name: "server", address: "198.18.0.2/24" },
  });
  return {
    list: [a, b] as const,
    async [Symbol.asyncDispose]() {
      a.close();
      b.close();
    },
  };
}
