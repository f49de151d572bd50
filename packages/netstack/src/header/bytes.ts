/**
 * Big-endian field access shared by the header views (internal to header/). Callers guarantee
 * the bytes are in bounds: the views validate their ranges once in `check`.
 */

export function get16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}

export function get32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

export function put16(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 8;
  b[i + 1] = v;
}

export function put32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

/**
 * True when [off, off + len) is a valid integer range inside `b`. Guards every `check` so that
 * nonsense offsets (negative, fractional, NaN, past the end) are a parse error, not a bad read.
 */
export function rangeOk(b: Uint8Array, off: number, len: number): boolean {
  return off >>> 0 === off && len >>> 0 === len && off + len <= b.length;
}
