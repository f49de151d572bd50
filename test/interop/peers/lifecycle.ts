/**
 * Lifecycle checks for TunEndpoint, run inside a test namespace. Each scenario prints one JSON
 * line and must end the process WITHOUT process.exit: the point is that nothing keeps Node's
 * event loop alive once the device is closed (or unref'd).
 *
 *   lifecycle.ts close NAME       open, attach a stack, close the stack: the process ends
 *   lifecycle.ts unref NAME       open and unref: the process ends with the device still open
 *   lifecycle.ts multiqueue NAME  two queues of one IFF_MULTI_QUEUE device, then close both
 *   lifecycle.ts close-in-batch NAME  the dispatcher closes the link while a batch is delivered
 */
import { createSocket } from "node:dgram";
import { Stack, ipv4, udp, type PacketBuffer } from "@netstack-ts/netstack";
import { TunEndpoint } from "@netstack-ts/link-tun";

const [cmd, name] = process.argv.slice(2);
switch (cmd) {
  case "close": {
    const t = TunEndpoint.open({ name: name!, host: { address: "198.18.0.1/24" } });
    const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [udp] });
    s.createNic(1, t);
    s.close(); // closes the link: poller stopped, fd closed
    console.log(JSON.stringify({ closed: t.closed }));
    break;
  }
  case "unref": {
    const t = TunEndpoint.open({ name: name! }).unref();
    console.log(JSON.stringify({ open: !t.closed }));
    break;
  }
  case "multiqueue": {
    const a = TunEndpoint.open({ name: name!, multiQueue: true });
    const b = TunEndpoint.open({ name: name!, multiQueue: true });
    console.log(JSON.stringify({ a: a.name, b: b.name, distinctFds: a.fd !== b.fd }));
    a.close();
    b.close();
    break;
  }
  case "close-in-batch": {
    const t = TunEndpoint.open({ name: name!, host: { address: "198.18.0.1/24" } });
    let seen = 0;
    t.attach({
      deliverNetworkPacket(_p: number, pkt: PacketBuffer) {
        seen++;
        if (pkt.size > 0) t.close(); // closing from inside the native callback
      },
      deliverBatchEnd() {
        console.log(JSON.stringify({ seen, closed: t.closed }));
      },
    });
    // A kernel socket in this namespace sends through the TUN device (198.18.0.0/24 is on it).
    const s = createSocket("udp4");
    s.send("x", 9, "198.18.0.2", () => s.close());
    break;
  }
  default:
    console.log(JSON.stringify({ error: `unknown ${cmd}` }));
}
