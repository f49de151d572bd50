/** References measured in the same run: node:net over the kernel's loopback, in this process. */
import * as net from "node:net";
import { PATTERN, PATTERN_MASK, checkPattern, cpuNow, type Measurement } from "./common.js";

/** Bulk transfer of `bytes` over one node:net connection on 127.0.0.1; Gbit/s. */
export async function nodeNetBulk(bytes: number): Promise<Measurement> {
  let received = 0;
  let ok = true;
  const server = net.createServer((sock) => {
    sock.on("data", (d: Buffer) => {
      if (ok && !checkPattern(d, received)) ok = false;
      received += d.length;
      if (received >= bytes) sock.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const cpu0 = cpuNow();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(port, "127.0.0.1");
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const p = sent & PATTERN_MASK;
        const n = Math.min(bytes - sent, 256 * 1024, PATTERN.length - p);
        sent += n;
        if (!c.write(PATTERN.subarray(p, p + n))) return;
      }
    };
    c.on("connect", pump);
    c.on("drain", pump);
    c.on("end", () => { c.destroy(); resolve(); });
    c.on("error", reject);
  });
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - cpu0;
  server.close();
  if (!ok || received !== bytes) throw new Error(`node:net bulk: verification failed (${received}/${bytes})`);
  return { value: (bytes * 8) / secs / 1e9, cpuSeconds: cpu, verified: received };
}

/** `count` 64-byte request/response round trips over one node:net connection; round trips/s. */
export async function nodeNetPingPong(count: number): Promise<Measurement> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    let pending = 0;
    sock.on("data", (d: Buffer) => {
      pending += d.length;
      while (pending >= 64) {
        sock.write(d.subarray(0, 64));
        pending -= 64;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const msg = Buffer.from(PATTERN.subarray(0, 64));
  const lat: number[] = [];
  const cpu0 = cpuNow();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(port, "127.0.0.1");
    c.setNoDelay(true);
    let done = 0;
    let got = 0;
    let ts = 0;
    const send = () => {
      ts = performance.now();
      c.write(msg);
    };
    c.on("connect", send);
    c.on("data", (d: Buffer) => {
      got += d.length;
      while (got >= 64) {
        got -= 64;
        lat.push(performance.now() - ts);
        if (++done === count) {
          c.destroy();
          resolve();
          return;
        }
        send();
      }
    });
    c.on("error", reject);
  });
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - cpu0;
  server.close();
  lat.sort((a, b) => a - b);
  return {
    value: count / secs, cpuSeconds: cpu, verified: count,
    extra: { medianUs: lat[lat.length >> 1]! * 1000, p99Us: lat[Math.floor(lat.length * 0.99)]! * 1000 },
  };
}
