/**
 * The TUN addon's safety against the real kernel, inside a throwaway namespace: opening and
 * closing a device 1,000 times leaks no file descriptor (/proc/self/fd), error paths leak none
 * either, and every failing syscall surfaces as a LinkTunError with a clear message.
 * (Receive-path bounds, oversize frames: packages/link-tun/test/safety.test.ts.)
 */
import { join } from "node:path";
import { describe, expect } from "vitest";
import { PEERS, itInterop, parseJsonLine, withNetns } from "./netns.js";

describe("link-tun addon safety (in a test namespace)", () => {
  itInterop("1,000 open/close cycles of a TUN device (and 100 of a TAP device) leak no file descriptor; errors are clear", async () => {
    await withNetns(async (ns) => {
      const r = await ns.run(process.execPath, ["--import", "tsx", join(PEERS, "addon-safety.ts"), "1000"], 60_000, "addon-safety");
      const out = parseJsonLine(r, "addon-safety") as {
        fdsBefore: number; maxDuring: number; afterCycles: number; fdsAfter: number;
        errors: { label: string; code: string; errno: string | null; message: string }[];
      };
      expect(out.afterCycles).toBe(out.fdsBefore);
      expect(out.fdsAfter).toBe(out.fdsBefore);
      expect(out.maxDuring).toBeLessThanOrEqual(out.fdsBefore + 2);
      const byLabel = Object.fromEntries(out.errors.map((e) => [e.label, e]));
      expect(byLabel["name too long"]!.code).toBe("invalid-name");
      expect(byLabel["busy (second open of a single-queue device)"]!.code).toBe("device-busy");
      expect(byLabel["TAP on a TUN name"]!.code).toBe("device-mismatch");
      expect(byLabel["MTU beyond the maximum"]!.code).toBe("config-failed");
      expect(byLabel["bad host address"]!.code).not.toBe("no-error");
      for (const e of out.errors) {
        // One readable line naming what failed; never a bare errno or an empty message.
        expect(e.code).not.toBe("not-a-LinkTunError");
        expect(e.message.length).toBeGreaterThan(15);
        expect(e.message).not.toMatch(/\n/);
      }
    });
  });
});
