/**
 * IPv6 source address selection (RFC 6724 §5) among the usable addresses of the outgoing NIC.
 * Implemented rules, in order: 1 prefer the destination itself; 2 prefer the appropriate scope;
 * 6 prefer a matching label (the default policy table of §2.1); 8 prefer the longest matching
 * prefix (capped at the candidate's prefix length). Rule 3 (avoid deprecated addresses) holds
 * by construction: tentative and duplicate addresses are never candidates, and addresses carry
 * no lifetimes here. Rules 4, 5 and 7 (home, outgoing interface, temporary addresses) do not
 * apply: candidates already belong to the outgoing NIC and there are no temporary addresses.
 */
import { Address, type Subnet } from "../tcpip/address.js";

/** RFC 6724 §2.1 default policy table, longest prefix first: [prefix bytes, prefix length, label]. */
const POLICY: readonly [Uint8Array, number, number][] = [
  [Address.LOOPBACK6.bytes, 128, 0], // ::1/128
  [Address.from("::ffff:0.0.0.0").bytes, 96, 4], // ::ffff:0:0/96
  [new Uint8Array(16), 96, 3], // ::/96
  [Address.from("2001::").bytes, 32, 5], // 2001::/32 (Teredo)
  [Address.from("2002::").bytes, 16, 2], // 2002::/16 (6to4)
  [Address.from("3ffe::").bytes, 16, 12], // 3ffe::/16 (6bone)
  [Address.from("fec0::").bytes, 10, 11], // fec0::/10 (site-local)
  [Address.from("fc00::").bytes, 7, 13], // fc00::/7 (ULA)
];

/** The RFC 6724 default-policy label of an IPv6 address (1 for ::/0). */
export function policyLabel(a: Address): number {
  for (const [p, len, label] of POLICY) if (prefixEquals(p, a.bytes, len)) return label;
  return 1;
}

function prefixEquals(p: Uint8Array, b: Uint8Array, bits: number): boolean {
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (p[i] !== b[i]) return false;
  const rem = bits & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (p[full]! & mask) === (b[full]! & mask);
}

/** True when candidate `a` is preferred over `b` as the source for `dst` (RFC 6724 §5). */
export function preferSource(a: Subnet, b: Subnet, dst: Address): boolean {
  const sa = a.address;
  const sb = b.address;
  // Rule 1: prefer the same address.
  if (sa.equals(dst)) return true;
  if (sb.equals(dst)) return false;
  // Rule 2: prefer the appropriate scope.
  const scA = sa.scope;
  const scB = sb.scope;
  const scD = dst.scope;
  if (scA < scB) return scA >= scD;
  if (scB < scA) return !(scB >= scD);
  // Rule 6: prefer a matching label.
  const lD = policyLabel(dst);
  const mA = policyLabel(sa) === lD;
  const mB = policyLabel(sb) === lD;
  if (mA !== mB) return mA;
  // Rule 8: prefer the longest matching prefix, up to the candidate's prefix length.
  const cA = Math.min(sa.commonPrefixLength(dst), a.prefixLen);
  const cB = Math.min(sb.commonPrefixLength(dst), b.prefixLen);
  return cA > cB;
}

/** The best source among `candidates` for `dst`, or null when there is none (ties keep the first). */
export function selectSourceAddress(candidates: readonly Subnet[], dst: Address): Address | null {
  let best: Subnet | null = null;
  for (const c of candidates) if (best === null || preferSource(c, best, dst)) best = c;
  return best ? best.address : null;
}
