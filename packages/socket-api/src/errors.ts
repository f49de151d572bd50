/**
 * Errors the socket layer throws: Linux's errno number and name on one object
 * (`err.errno === 11`, `err.code === "EAGAIN"`), plus the syscall that failed, shaped like
 * Node's system errors so code written for node:net recognises them.
 */
import type { TcpipError } from "@netstack-ts/netstack";
import { errno as E, errnoName, strerror, type ErrnoCode } from "./constants.js";

export class SocketError extends Error {
  /** Linux errno value (positive). */
  readonly errno: number;
  /** Linux errno name, e.g. "ECONNREFUSED". */
  readonly code: string;
  /** The operation that failed, e.g. "connect". */
  readonly syscall: string;

  constructor(code: ErrnoCode | string, syscall = "", message?: string) {
    const n = (E as Record<string, number>)[code] ?? 0;
    const text = message ?? strerror[code as ErrnoCode] ?? code;
    super(syscall ? `${syscall} ${code}: ${text}` : `${code}: ${text}`);
    this.name = "SocketError";
    this.errno = n;
    this.code = code;
    this.syscall = syscall;
  }

  /** Builds from an errno number. */
  static fromErrno(n: number, syscall = ""): SocketError {
    return new SocketError(errnoName(n), syscall);
  }

  /** Maps a stack error value to the errno Linux would report. */
  static fromTcpip(err: TcpipError, syscall = ""): SocketError {
    if (err.errno === 0) return new SocketError("EPIPE", syscall, err.message); // end-of-stream used as an error
    return new SocketError(err.code, syscall, err.message);
  }
}

/** True for a SocketError carrying `code`. */
export function isSocketError(e: unknown, code?: string): e is SocketError {
  return e instanceof SocketError && (code === undefined || e.code === code);
}
