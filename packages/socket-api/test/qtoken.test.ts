/**
 * The queue-token API (Demikernel style) on a ManualClock pair: tokens from accept, connect,
 * push (scatter-gather) and pop; wait / waitAny with completions, errnos and timeouts.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as C from "../src/constants.js";
import { SocketError } from "../src/errors.js";
import { LibOS } from "../src/qtoken.js";
import { drive, manualPair, type StackPair } from "./helpers.js";

let pair: StackPair;
afterEach(() => pair?.close());

describe("queue tokens over UDP", () => {
  it("pushto/pop complete through wait with the bytes and the sender", async () => {
    pair = manualPair();
    const osA = new LibOS(pair.a);
    const osB = new LibOS(pair.b);
    const qa = osA.socket(C.AF_INET, C.SOCK_DGRAM);
    osA.bind(qa, { address: "0.0.0.0", port: 9000 });
    const qb = osB.socket(C.AF_INET, C.SOCK_DGRAM);
    osB.bind(qb, { address: "0.0.0.0", port: 9001 });
    const pop = osA.pop(qa);
    expect(osA.isDone(pop)).toBe(false);
    const push = osB.pushto(qb, [Buffer.from("scatter-"), Buffer.from("gather")], { address: pair.addrA, port: 9000 });
    const pushed = await drive(pair, osB.wait(push));
    expect(pushed).toMatchObject({ qt: push, qd: qb, opcode: "push", bytes: 14 });
    const popped = await drive(pair, osA.wait(pop));
    expect(popped.data!.toString()).toBe("scatter-gather");
    expect(popped.from).toEqual({ family: "IPv4", address: pair.addrB, port: 9001 });
    await expect(osA.wait(pop)).rejects.toMatchObject({ code: "EINVAL" }); // retired
  });

  it("wait with a timeout rejects ETIMEDOUT and leaves the token usable", async () => {
    pair = manualPair();
    const os = new LibOS(pair.a);
    const q = os.socket(C.AF_INET, C.SOCK_DGRAM);
    os.bind(q, { address: "0.0.0.0", port: 9002 });
    const t = os.pop(q);
    const err = await drive(pair, os.wait(t, 50).catch((e: SocketError) => e));
    expect((err as SocketError).code).toBe("ETIMEDOUT");
    const c = new LibOS(pair.b);
    const qc = c.socket(C.AF_INET, C.SOCK_DGRAM);
    await drive(pair, c.wait(c.pushto(qc, Buffer.from("late"), { address: pair.addrA, port: 9002 })));
    expect((await drive(pair, os.wait(t))).data!.toString()).toBe("late");
  });

  it("a failed operation completes with its errno (ECONNREFUSED from ICMP on a connected queue)", async () => {
    pair = manualPair();
    const os = new LibOS(pair.b);
    const q = os.socket(C.AF_INET, C.SOCK_DGRAM);
    os.socketOf(q).connect({ address: pair.addrA, port: 9999 });
    await drive(pair, os.wait(os.push(q, Buffer.from("x"))));
    const r = await drive(pair, os.wait(os.push(q, Buffer.from("y"))));
    expect(r.error?.code).toBe("ECONNREFUSED");
    expect(r.error?.errno).toBe(111);
  });
});

describe("queue tokens over TCP", () => {
  it("accept/connect/push/pop with waitAny, in order per queue, and EOF as an empty pop", async () => {
    pair = manualPair();
    const srv = new LibOS(pair.a);
    const cli = new LibOS(pair.b);
    const lq = srv.socket(C.AF_INET, C.SOCK_STREAM);
    srv.bind(lq, { address: "0.0.0.0", port: 7070 });
    srv.listen(lq, 16);
    const at = srv.accept(lq);
    const cq = cli.socket(C.AF_INET, C.SOCK_STREAM);
    const ct = cli.connect(cq, { address: pair.addrA, port: 7070 });
    const first = await drive(pair, srv.waitAny([at], 5000));
    expect(first.index).toBe(0);
    const aq = first.result.accepted!.qd;
    expect(first.result.accepted!.addr.address).toBe(pair.addrB);
    expect((await drive(pair, cli.wait(ct))).error).toBeUndefined();

    // Two pushes complete in order; the server's pops see the bytes in order.
    const p1 = cli.push(cq, [Buffer.from("one,"), Buffer.from("two,")]);
    const p2 = cli.push(cq, Buffer.from("three"));
    const r2 = await drive(pair, cli.wait(p2));
    expect(r2.bytes).toBe(5);
    expect(cli.isDone(p1)).toBe(true);
    let text = "";
    while (text.length < 13) {
      const r = await drive(pair, srv.wait(srv.pop(aq, 4)));
      text += r.data!.toString();
    }
    expect(text).toBe("one,two,three");

    // waitAny picks whichever completes: the pop on the client after the server pushes.
    const idle = srv.pop(aq);
    const reply = cli.pop(cq);
    await drive(pair, srv.wait(srv.push(aq, Buffer.from("pong"))));
    const any = await drive(pair, cli.waitAny([reply], 1000));
    expect(any.result.data!.toString()).toBe("pong");
    cli.close(cq);
    const eof = await drive(pair, srv.wait(idle));
    expect(eof.data!.length).toBe(0);
  });

  it("connect to a closed port completes with ECONNREFUSED", async () => {
    pair = manualPair();
    const os = new LibOS(pair.b);
    const q = os.socket(C.AF_INET, C.SOCK_STREAM);
    const r = await drive(pair, os.wait(os.connect(q, { address: pair.addrA, port: 7999 })));
    expect(r.error?.code).toBe("ECONNREFUSED");
  });
});
