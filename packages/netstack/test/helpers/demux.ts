/** Fixtures for tests that drive the transport demuxer directly. */
import type { TransportEndpointHandler } from "../../src/stack/registration.js";
import type { Address } from "../../src/tcpip/address.js";

/** Registration flags with neither SO_REUSEADDR nor SO_REUSEPORT. */
export const NO_FLAGS = { reuseAddr: false, reusePort: false };

/** A named endpoint handler that ignores what it is given (tests compare which one a lookup finds). */
export function handler(name: string): TransportEndpointHandler & { name: string } {
  return { name, handlePacket: () => {}, handleError: () => {} } as unknown as TransportEndpointHandler & { name: string };
}

/** Packet bytes holding `src` at 0 and `dst` at 4 (what lookup reads addresses from). */
export function addrBytes(src: Address, dst: Address): Uint8Array {
  const b = new Uint8Array(8);
  b.set(src.bytes, 0);
  b.set(dst.bytes, 4);
  return b;
}
