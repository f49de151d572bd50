import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Address, SCOPE_GLOBAL, SCOPE_INTERFACE_LOCAL, SCOPE_LINK_LOCAL, SCOPE_SITE_LOCAL } from "../src/tcpip/address.js";
import { assertProperty } from "./header-property.js";

const A = (s: string) => Address.from(s);

describe("IPv6 address helpers (RFC 4291, RFC 4007, RFC 6724)", () => {
  it("classifies scopes: multicast by its scop field, unicast as RFC 6724 §3.1-3.2 does", () => {
    expect(A("ff01::1").scope).toBe(SCOPE_INTERFACE_LOCAL);
    expect(A("ff02::1").scope).toBe(SCOPE_LINK_LOCAL);
    expect(A("ff05::2").scope).toBe(SCOPE_SITE_LOCAL);
    expect(A("ff0e::1").scope).toBe(SCOPE_GLOBAL);
    expect(A("fe80::1").scope).toBe(SCOPE_LINK_LOCAL);
    expect(A("::1").scope).toBe(SCOPE_LINK_LOCAL);
    expect(A("fec0::1").scope).toBe(SCOPE_SITE_LOCAL);
    expect(A("fd00::1").scope).toBe(SCOPE_GLOBAL);
    expect(A("2001:db8::1").scope).toBe(SCOPE_GLOBAL);
    expect(A("169.254.1.1").scope).toBe(SCOPE_LINK_LOCAL);
    expect(A("127.0.0.1").scope).toBe(SCOPE_LINK_LOCAL);
    expect(A("::ffff:127.0.0.1").scope).toBe(SCOPE_LINK_LOCAL);
    expect(A("10.0.0.1").scope).toBe(SCOPE_GLOBAL);
    expect([A("fe80::1").needsZone, A("ff02::1").needsZone, A("ff05::1").needsZone, A("fd00::1").needsZone])
      .toEqual([true, true, false, false]);
  });

  it("derives solicited-node groups from the low 24 bits (RFC 4291 §2.7.1)", () => {
    expect(A("2001:db8::1:2345:6789").solicitedNode().toString()).toBe("ff02::1:ff45:6789");
    expect(A("ff02::1:ff45:6789").isSolicitedNodeMulticast).toBe(true);
    expect(A("ff02::1:fe45:6789").isSolicitedNodeMulticast).toBe(false);
    expect(A("ff02::1").isSolicitedNodeMulticast).toBe(false);
  });

  it("maps and unmaps IPv4 addresses (RFC 4291 §2.5.5.2)", () => {
    const m = A("10.1.2.3").mapV6();
    expect(m.toString()).toBe("::ffff:10.1.2.3");
    expect(m.isV4Mapped).toBe(true);
    expect(m.unmapped().toString()).toBe("10.1.2.3");
    expect(A("fd00::1").unmapped().toString()).toBe("fd00::1");
    expect(A("::ffff:10.1.2.3").equals(m)).toBe(true);
  });

  it("parses zones (RFC 4007 §11) and refuses them on IPv4 or when empty", () => {
    expect(Address.parseScoped("fe80::1%eth0")).toEqual({ addr: A("fe80::1"), zone: "eth0" });
    expect(Address.parseScoped("fe80::1")).toEqual({ addr: A("fe80::1"), zone: null });
    expect(Address.parseScoped("fe80::1%")).toBeNull();
    expect(Address.parseScoped("10.0.0.1%2")).toBeNull();
    expect(Address.parseScoped("fe80::g%2")).toBeNull();
  });

  it("counts common prefix bits (RFC 6724 §2.2) like a bitwise reference (seed 6724)", () => {
    const arb = fc.uint8Array({ minLength: 16, maxLength: 16 });
    assertProperty(fc.property(arb, arb, fc.nat({ max: 128 }), (x, y, keep) => {
      // Make y share `keep` leading bits with x.
      const z = y.slice();
      for (let i = 0; i < keep; i++) {
        const byte = i >> 3;
        const bit = 0x80 >> (i & 7);
        z[byte] = (z[byte]! & ~bit) | (x[byte]! & bit);
      }
      let ref = 0;
      while (ref < 128 && ((x[ref >> 3]! ^ z[ref >> 3]!) & (0x80 >> (ref & 7))) === 0) ref++;
      expect(Address.fromBytes(x).commonPrefixLength(Address.fromBytes(z))).toBe(ref);
      expect(ref).toBeGreaterThanOrEqual(keep);
    }), 6724, 500);
  });
});
