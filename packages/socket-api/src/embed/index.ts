/**
 * @netstack-ts/socket-api/embed: one-call embedding (`createStack`, `createStackPair`), Web
 * Streams and async-iterator faces (`Connection`, `Listener`, `DatagramSocket`), AbortSignal and
 * `using` support, and observability (NODE_DEBUG=netstack, diagnostics_channel, stats printer,
 * pcap on a running stack). Also re-exported from the package root.
 */
export {
  createStack, createStackPair, NetStack, type CreateStackOptions, type StackPairOptions, type DialOptions, type BoundNet,
} from "./create-stack.js";
export {
  Connection, Listener, DatagramSocket, observeSocket, type Datagram, type ListenOptions, type UdpBindOptions,
  type WaitOptions,
} from "./connection.js";
export {
  channels, debug, debugEnabled, publishConnection, describePacket, formatStackStats, CounterWatch, ObservedClock,
  ObservedLink, type ConnectionEvent, type DropEvent, type RtoEvent, type CaptureOptions, type CaptureSummary,
  type StatsSnapshot,
} from "./observe.js";
export { tcpForwarder, udpForwarder, type FlowAddress, type TcpForwardRequest, type UdpForwardRequest } from "./forwarder.js";
export { abortError, raceAbort, disposeSymbol, asyncDisposeSymbol } from "./dispose.js";
