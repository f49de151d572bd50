/**
 * The TUN benchmarks' byte stream: offset i carries PATTERN_BLOCK[i % 65536], where block byte k
 * is (k * 131 + (k >> 8) * 7) & 255. bench/tun/peer.py builds the same block, so either side can
 * verify a stream (sha256) without sending the expected data.
 */
export function patternBlock(): Uint8Array {
  const b = new Uint8Array(65536);
  for (let k = 0; k < b.length; k++) b[k] = (k * 131 + (k >> 8) * 7) & 255;
  return b;
}
