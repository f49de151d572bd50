// Types for the pcap-parser package (CommonJS, no bundled types), as far as the tests use it.
declare module "pcap-parser" {
  import type { EventEmitter } from "node:events";
  import type { Readable } from "node:stream";

  namespace pcapParser {
    interface GlobalHeader {
      magicNumber: number;
      majorVersion: number;
      minorVersion: number;
      gmtOffset: number;
      timestampAccuracy: number;
      snapshotLength: number;
      linkLayerType: number;
    }
    interface PacketHeader {
      timestampSeconds: number;
      timestampMicroseconds: number;
      capturedLength: number;
      originalLength: number;
    }
    interface Packet {
      header: PacketHeader;
      data: Buffer;
    }
    /** Emits 'globalHeader', 'packetHeader', 'packetData', 'packet', 'end' and 'error'. */
    interface Parser extends EventEmitter {
      on(event: "globalHeader", fn: (h: GlobalHeader) => void): this;
      on(event: "packetHeader", fn: (h: PacketHeader) => void): this;
      on(event: "packetData", fn: (data: Buffer) => void): this;
      on(event: "packet", fn: (p: Packet) => void): this;
      on(event: "end", fn: () => void): this;
      on(event: "error", fn: (err: Error) => void): this;
    }
    /** Parses a capture file (path) or a readable stream of its bytes. */
    function parse(input: string | Readable): Parser;
  }
  export = pcapParser;
}
