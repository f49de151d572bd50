/**
 * Shared pieces of the resource-exhaustion tests: a link wrapper through which a test injects
 * hostile frames next to a real peer's traffic, and heap measurement after a forced GC.
 */
import * as v8 from "node:v8";
import * as vm from "node:vm";
import {
  NestedLink, PacketBuffer, type PacketBuffer as Pkt,
} from "@netstack-ts/netstack";

/**
 * Sits between a stack's NIC (or its Ethernet framing) and the wire: passes everything through
 * and lets the test inject frames as if they came from the wire. `protocol` is what the link
 * below would report (0 for Ethernet frames, which carry their own type).
 */
export class InjectorLink extends NestedLink {
  /** Frames the stack wrote (counted, not kept). */
  written = 0;

  override writePackets(pkts: readonly Pkt[]): number {
    this.written += pkts.length;
    return this.inner.writePackets(pkts);
  }
  /** Delivers `frame` (copied) to the stack as one received frame. */
  inject(frame: Uint8Array, protocol: number): void {
    const d = this.dispatcher;
    if (!d) throw new Error("InjectorLink: not attached");
    d.deliverNetworkPacket(protocol, PacketBuffer.inbound(frame.slice()));
    d.deliverBatchEnd();
  }
}

let gcFn: (() => void) | null = null;

/** Heap in use after a full GC (bytes). */
export function heapAfterGc(): number {
  if (!gcFn) {
    v8.setFlagsFromString("--expose-gc");
    gcFn = vm.runInNewContext("gc") as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}

export const MiB = 1024 * 1024;
