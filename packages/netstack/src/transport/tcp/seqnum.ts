/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4: "all arithmetic dealing with sequence
 * numbers must be performed modulo 2**32"). Comparisons look at the signed 32-bit distance, so
 * they are correct as long as the two numbers are less than 2^31 apart, which the window
 * guarantees. Sequence numbers are kept as unsigned 32-bit JavaScript numbers.
 */

/** a + n mod 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance a - b (negative when a is before b). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLT(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLEQ(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

export function seqGT(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGEQ(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}

export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}

/** True when `seq` lies in [start, start + size). An empty window contains nothing. */
export function seqInWindow(seq: number, start: number, size: number): boolean {
  return size > 0 && ((seq - start) >>> 0) < size;
}
