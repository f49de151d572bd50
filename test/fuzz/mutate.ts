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

/** Recomputes the IPv4 header checksum and the TCP/UDP/ICMP checksum when the lengths allow. */
export function fixChecksums(b: Uint8Array): void {
  if (b.length < 20 || b[0]! >> 4 !== 4) return;
  const ihl = (b[0]! & 0x0f) * 4;
  if (ihl < 20 || ihl > b.length) return;
  b[10] = 0;
  b[11] = 0;
  const hc = ~checksum(b, 0, ihl) & 0xffff;
  b[10] = hc >> 8;
  b[11] = hc & 0xff;
  const total = Math.min(b.length, (b[2]! << 8) | b[3]!);
  const frag = ((b[6]! & 0x1f) << 8) | b[7]!;
  if (frag !== 0 || (b[6]! & 0x20) !== 0) return; // fragments: transport checksum spans the whole datagram
  const proto = b[9]!;
  const tlen = total - ihl;
  if (tlen <= 0) return;
  let csumOff: number;
  let initial: number;
  if (proto === 6 && tlen >= 20) {
    csumOff = ihl + 16;
    initial = pseudoHeaderChecksum(6, b, 12, b, 16, 4, tlen);
  } else if (proto === 17 && tlen >= 8) {
    csumOff = ihl + 6;
    initial = pseudoHeaderChecksum(17, b, 12, b, 16, 4, tlen);
  } else if (proto === 1 && tlen >= 4) {
    csumOff = ihl + 2;
    initial = 0;
  } else return;
  b[csumOff] = 0;
  b[csumOff + 1] = 0;
  let c = ~checksum(b, ihl, tlen, initial) & 0xffff;
  if (proto === 17 && c === 0) c = 0xffff;
  b[csumOff] = c >> 8;
  b[csumOff + 1] = c & 0xff;
}

export type MutationKind = "bitflip" | "byte" | "truncate" | "extend" | "swap" | "length" | "random";

/** Applies one to four random mutations to a copy of `src`; fixes checksums with probability 0.75. */
export function mutate(r: RandomSource, src: Uint8Array): Uint8Array {
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
  if (randInt(r, 4) !== 0) fixChecksums(b);
  return b;
}

/** A frame of random bytes, half the time with a plausible IPv4 or IPv6 first byte. */
export function randomFrame(r: RandomSource): Uint8Array {
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
  return b;
}
