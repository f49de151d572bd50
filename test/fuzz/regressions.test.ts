/**
 * Regression tests for the fuzzer's findings: each input that once escaped every counter (or
 * exhausted memory) replays here. The memory findings (fragment and neighbor floods) have their
 * own tests in test/robustness/exhaustion-net.test.ts.
 */
import { describe, expect, it } from "vitest";
import { replayFrame } from "./harness.js";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

describe("fuzz findings", () => {
  it("an IPv6 packet whose Next Header is 59 (RFC 8200 §4.7, No Next Header) is counted as delivered (seed 5, frame 54595)", () => {
    // fd00:198:18::2 -> fd00:198:18::1, next header 59, 12 bytes that must be ignored.
    const frame = hex(`60000000 000c3b40 fd000198 00180000 00000000 00000002 fd000198 00180000 00000000 00000001
      80005e7e 12060001 09090909`);
    const { counters, error } = replayFrame(frame);
    expect(error).toBeNull();
    expect(counters.ip.packetsReceived).toBe(1);
    expect(counters.ip.packetsDelivered).toBe(1);
  });

  it("an ARP packet with an opcode that is neither request nor reply is counted as malformed (RFC 826; seed 5 --ethernet, frame 71)", () => {
    // Broadcast ARP, opcode 0, sender 198.18.0.2, target 198.18.0.1.
    const frame = hex(`ffffffffffff 020000000002 0806 0001 0800 06 04 0000 020000000002 c6120002 000000000000 c6120001`);
    const { counters, error } = replayFrame(frame, true);
    expect(error).toBeNull();
    expect(counters.arp.packetsReceived).toBe(1);
    expect(counters.arp.malformedPacketsReceived).toBe(1);
  });
});
