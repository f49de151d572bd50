/**
 * Frame generators and mutators for the stack fuzzer. Mutations work on copies; after a
 * mutation the IPv4 header checksum and the transport checksum are usually recomputed so the
 * frame gets past the cheap checks and reaches deeper code.
 */
import type { RandomSource } from "@netstack-ts/netstack";
import { header } from "@netstack-ts/netstack";

const { checksum, pseudoHeaderChecksum } = header;

export function randInt(r: RandomSource, n: number): number {
  return n <= 0 ? 0 : r.uint32() % n;
}

/**
 * Recomputes the IPv4 header checksum and the TCP/UDP/ICMP checksum when the lengths allow, for
 * an IPv4 or IPv6 packet at `b[0]`, or inside an Ethernet frame when `l2` is set. IPv6 packets
 * are fixed up when the upper layer follows the fixed header directly (TCP, UDP, ICMPv6).
 */
export function fixChecksums(b: Uint8Array, l2 = false): void {
  let o = 0;
  if (l2) {
    if (b.length < 14) return;
    const type = (b[12]! << 8) | b[13]!;
    if (type !== 0x0800 && type !== 0x86dd) return;
    o = 14;
  }
  if (b.length < o + 20) return;
  const version = b[o]! >> 4;
  if (version === 6) return fixIpv6(b, o);
  if (version !== 4) return;
  const ihl = (b[o]! & 0x0f) * 4;
  if (ihl < 20 || o + ihl > b.length) return;
  b[o + 10] = 0;
  b[o + 11] = 0;
  const hc = ~checksum(b, o, ihl) & 0xffff;
  b[o + 10] = hc >> 8;
  b[o + 11] = hc & 0xff;
  const total = Math.min(b.length - o, (b[o + 2]! << 8) | b[o + 3]!);
  const frag = ((b[o + 6]! & 0x1f) << 8) | b[o + 7]!;
  if (frag !== 0 || (b[o + 6]! & 0x20) !== 0) return; // fragments: transport checksum spans the whole datagram
  fixTransport(b, b[o + 9]!, o + ihl, total - ihl, false, (proto, len) => pseudoHeaderChecksum(proto, b, o + 12, b, o + 16, 4, len));
}

function fixIpv6(b: Uint8Array, o: number): void {
  if (b.length < o + 40) return;
  const plen = Math.min(b.length - o - 40, (b[o + 4]! << 8) | b[o + 5]!);
  const nh = b[o + 6]!;
  fixTransport(b, nh === 58 ? 1 : nh, o + 40, plen, true,
    (proto, len) => pseudoHeaderChecksum(proto === 1 ? 58 : proto, b, o + 8, b, o + 24, 16, len));
}

/** `proto` 1 is ICMP: ICMPv4 has no pseudo-header, ICMPv6 (`v6`) has one (RFC 4443 §2.3). */
function fixTransport(b: Uint8Array, proto: number, at: number, tlen: number, v6: boolean,
  pseudo: (proto: number, len: number) => number): void {
  if (tlen <= 0) return;
  let csumOff: number;
  let initial: number;
  if (proto === 6 && tlen >= 20) {
    csumOff = at + 16;
    initial = pseudo(6, tlen);
  } else if (proto === 17 && tlen >= 8) {
    csumOff = at + 6;
    initial = pseudo(17, tlen);
  } else if (proto === 1 && tlen >= 4) {
    csumOff = at + 2;
    initial = v6 ? pseudo(1, tlen) : 0;
  } else return;
  b[csumOff] = 0;
  b[csumOff + 1] = 0;
  let c = ~checksum(b, at, tlen, initial) & 0xffff;
  if (proto === 17 && c === 0) c = 0xffff;
  b[csumOff] = c >> 8;
  b[csumOff + 1] = c & 0xff;
}

export type MutationKind = "bitflip" | "byte" | "truncate" | "extend" | "swap" | "length" | "random";

/**
 * Applies one to four random mutations to a copy of `src`; fixes checksums with probability 0.75
 * (`l2`: `src` is an Ethernet frame).
 */
export function mutate(r: RandomSource, src: Uint8Array, l2 = false): Uint8Array {
  let b: Uint8Array = src.slice();
  const n = 1 + randInt(r, 4);
  for (let i = 0; i < n; i++) {
    switch (randInt(r, 6)) {
      case 0: {
        if (b.length === 0) break;
        const bit = randInt(r, b.length * 8);
        b[bit >> 3]! ^= 1 << (bit & 7);
        break;
      }
      case 1:
        if (b.length > 0) b[randInt(r, b.length)] = randInt(r, 256);
        break;
      case 2:
        b = b.slice(0, randInt(r, b.length + 1));
        break;
      case 3: {
        const extra = new Uint8Array(1 + randInt(r, 64));
        r.fill(extra);
        const nb = new Uint8Array(b.length + extra.length);
        nb.set(b);
        nb.set(extra, b.length);
        b = nb;
        break;
      }
      case 4: {
        // Swap two 16-bit fields within the first 60 bytes (headers).
        const lim = Math.min(b.length, 60) - 1;
        if (lim < 2) break;
        const x = randInt(r, lim) & ~1;
        const y = randInt(r, lim) & ~1;
        if (x + 1 >= b.length || y + 1 >= b.length) break;
        const t0 = b[x]!;
        const t1 = b[x + 1]!;
        b[x] = b[y]!;
        b[x + 1] = b[y + 1]!;
        b[y] = t0;
        b[y + 1] = t1;
        break;
      }
      case 5: {
        // Interesting values into a length-ish field.
        if (b.length < 4) break;
        const vals = [0, 1, 7, 8, 19, 20, 21, 0x7fff, 0x8000, 0xffff, b.length, b.length - 1, b.length + 1];
        const v = vals[randInt(r, vals.length)]!;
        const at = randInt(r, Math.min(b.length, 40) - 1);
        b[at] = (v >> 8) & 0xff;
        b[at + 1] = v & 0xff;
        break;
      }
    }
  }
  if (randInt(r, 4) !== 0) fixChecksums(b, l2);
  return b;
}

/**
 * A frame of random bytes, half the time with a plausible IPv4 or IPv6 first byte. With `mac`
 * (an Ethernet victim) the frame gets an Ethernet header, mostly addressed to `mac` or to
 * broadcast, with an IPv4, IPv6, ARP or random type.
 */
export function randomFrame(r: RandomSource, mac: Uint8Array | null = null): Uint8Array {
  const b = new Uint8Array(randInt(r, 200));
  r.fill(b);
  if (b.length > 0 && randInt(r, 2) === 0) b[0] = randInt(r, 2) === 0 ? 0x45 : 0x60 | (b[0]! & 0x0f);
  if (b.length >= 20 && b[0] === 0x45 && randInt(r, 2) === 0) {
    b[2] = b.length >> 8;
    b[3] = b.length & 0xff;
    b[6] &= 0x40; // mostly unfragmented
    b[7] = 0;
    fixChecksums(b);
  }
  if (!mac) return b;
  const f = new Uint8Array(14 + b.length);
  r.fill(f.subarray(0, 14));
  const dst = randInt(r, 4);
  if (dst < 2) f.set(mac, 0);
  else if (dst === 2) f.fill(0xff, 0, 6);
  const types = [0x0800, 0x86dd, 0x0806, f[12]! << 8 | f[13]!];
  const type = b.length > 0 && b[0] === 0x45 ? 0x0800 : b.length > 0 && b[0]! >> 4 === 6 ? 0x86dd : types[randInt(r, 4)]!;
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(b, 14);
  return f;
}
