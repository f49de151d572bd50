/**
 * The fixed set of error values returned by endpoint and stack operations (never thrown).
 * Each is a shared singleton so returning one allocates nothing; compare by identity or with
 * `isError`. socket-api maps them to errno values through `errno`.
 */
export class TcpipError {
  constructor(
    /** Stable identifier, e.g. "would-block". */
    readonly name: string,
    /** Human-readable text, Linux's strerror where one applies. */
    readonly message: string,
    /** The Linux errno this maps to. */
    readonly errno: number,
    /** Linux's errno name, e.g. "EAGAIN". */
    readonly code: string,
  ) {}
  toString(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isError(v: unknown): v is TcpipError {
  return v instanceof TcpipError;
}

const e = (name: string, message: string, errno: number, code: string) => new TcpipError(name, message, errno, code);

export const Err = {
  WouldBlock: e("would-block", "Resource temporarily unavailable", 11, "EAGAIN"),
  ConnectStarted: e("connect-started", "Operation now in progress", 115, "EINPROGRESS"),
  AlreadyConnecting: e("already-connecting", "Operation already in progress", 114, "EALREADY"),
  AlreadyConnected: e("already-connected", "Transport endpoint is already connected", 106, "EISCONN"),
  AlreadyBound: e("already-bound", "Invalid argument", 22, "EINVAL"),
  ConnectionRefused: e("connection-refused", "Connection refused", 111, "ECONNREFUSED"),
  ConnectionReset: e("connection-reset", "Connection reset by peer", 104, "ECONNRESET"),
  ConnectionAborted: e("connection-aborted", "Software caused connection abort", 103, "ECONNABORTED"),
  ClosedForSend: e("closed-for-send", "Broken pipe", 32, "EPIPE"),
  ClosedForReceive: e("closed-for-receive", "End of stream", 0, "EOF"),
  NotConnected: e("not-connected", "Transport endpoint is not connected", 107, "ENOTCONN"),
  PortInUse: e("port-in-use", "Address already in use", 98, "EADDRINUSE"),
  BadLocalAddress: e("bad-local-address", "Cannot assign requested address", 99, "EADDRNOTAVAIL"),
  InvalidEndpointState: e("invalid-endpoint-state", "Invalid argument", 22, "EINVAL"),
  InvalidOptionValue: e("invalid-option-value", "Invalid argument", 22, "EINVAL"),
  UnknownProtocolOption: e("unknown-protocol-option", "Protocol not available", 92, "ENOPROTOOPT"),
  NotSupported: e("not-supported", "Operation not supported", 95, "EOPNOTSUPP"),
  Timeout: e("timeout", "Connection timed out", 110, "ETIMEDOUT"),
  MessageTooLong: e("message-too-long", "Message too long", 90, "EMSGSIZE"),
  NoRoute: e("no-route", "Network is unreachable", 101, "ENETUNREACH"),
  HostUnreachable: e("host-unreachable", "No route to host", 113, "EHOSTUNREACH"),
  NetworkUnreachable: e("network-unreachable", "Network is unreachable", 101, "ENETUNREACH"),
  AddressFamilyNotSupported: e("address-family-not-supported", "Address family not supported by protocol", 97, "EAFNOSUPPORT"),
  DestinationRequired: e("destination-required", "Destination address required", 89, "EDESTADDRREQ"),
  NoBufferSpace: e("no-buffer-space", "No buffer space available", 105, "ENOBUFS"),
  BroadcastDisabled: e("broadcast-disabled", "Permission denied", 13, "EACCES"),
  InvalidArgument: e("invalid-argument", "Invalid argument", 22, "EINVAL"),
  UnknownProtocol: e("unknown-protocol", "Protocol not supported", 93, "EPROTONOSUPPORT"),
  UnknownNic: e("unknown-nic", "No such device", 19, "ENODEV"),
  DuplicateNic: e("duplicate-nic", "File exists", 17, "EEXIST"),
  DuplicateAddress: e("duplicate-address", "File exists", 17, "EEXIST"),
  BadAddress: e("bad-address", "Bad address", 14, "EFAULT"),
  Aborted: e("aborted", "Operation canceled", 125, "ECANCELED"),
  ProtocolError: e("protocol-error", "Protocol error", 71, "EPROTO"),
  Closed: e("closed", "Bad file descriptor", 9, "EBADF"),
} as const;
