/**
 * Parse errors of the wire-format layer.
 *
 * A checked parser (`XView.check`) returns either a view or one of these shared singletons; it
 * never throws on any input bytes. Compare by identity (`r === ParseError.TooShort`) or test with
 * `r instanceof ParseError`. The network layer maps each one to a drop counter.
 */
export class ParseError {
  constructor(readonly reason: string) {}

  toString(): string {
    return `ParseError: ${this.reason}`;
  }

  /** Fewer bytes than the fixed part of the header. */
  static readonly TooShort = new ParseError("too short");
  /** A length field is inconsistent with the bytes available or with another field. */
  static readonly BadLength = new ParseError("bad length");
  /** The version field is not the one the format requires. */
  static readonly BadVersion = new ParseError("bad version");
  /** A checksum did not verify (only raised where a format verifies its own checksum). */
  static readonly BadChecksum = new ParseError("bad checksum");
  /** An option is malformed (length < 2, runs past the end, or a fixed-size option of the wrong size). */
  static readonly BadOption = new ParseError("bad option");
  /** A field holds a value the format does not support (e.g. an ARP hardware type other than Ethernet). */
  static readonly Unsupported = new ParseError("unsupported");
}

/** True when `v` is a parse error rather than a view. */
export function isParseError(v: unknown): v is ParseError {
  return v instanceof ParseError;
}
