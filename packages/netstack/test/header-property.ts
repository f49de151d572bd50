/**
 * Shared helpers for the header tests: fixed-seed property runs that print a replay command on
 * failure, and a probe proving a checked view's accessors stay inside the range it validated.
 */
import fc from "fast-check";
import type { IProperty } from "fast-check";
import { expect } from "vitest";
import * as path from "node:path";
import { Address } from "../src/tcpip/address.js";
import { ParseError } from "../src/header/parse.js";

/**
 * Runs `prop` with a fixed seed (overridable with FC_SEED, and FC_PATH to jump straight to a
 * shrunk counterexample). On failure throws with fast-check's report plus a one-line command
 * that replays exactly this property.
 */
export function assertProperty<Ts>(prop: IProperty<Ts>, seed: number, numRuns: number): void {
  const envSeed = process.env.FC_SEED;
  const envPath = process.env.FC_PATH;
  const s = envSeed !== undefined && envSeed !== "" ? Number(envSeed) : seed;
  const details = fc.check(prop, envPath ? { seed: s, numRuns, path: envPath } : { seed: s, numRuns });
  if (!details.failed) return;
  const state = expect.getState();
  const file = state.testPath ? path.relative(process.cwd(), state.testPath) : "<test file>";
  const name = (state.currentTestName ?? "").split(" > ").pop() ?? "";
  const pattern = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/'/g, "'\\''");
  const replay =
    `FC_SEED=${details.seed}` +
    (details.counterexamplePath ? ` FC_PATH=${details.counterexamplePath}` : "") +
    ` npx vitest run ${file} -t '${pattern}'`;
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `${fc.defaultReportMessage(details) ?? "property failed"}\ncause: ${cause}\nseed: ${details.seed}\nreplay: ${replay}`,
  );
}

/** Bytes plus an offset and length that may or may not make sense (negative, past the end...). */
export interface Probe {
  bytes: Uint8Array;
  off: number;
  len: number;
  /** When true, call check(bytes, off) and let `len` default. */
  defaultLen: boolean;
}

/**
 * Arbitrary probes, mixed half and half: fully random bytes with any offset and length, and
 * `valid` packets placed at an offset, with a few random byte edits and a length that is exact,
 * truncated or extended into trailing bytes.
 */
export function probeArb(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Probe> {
  const random = fc
    .tuple(
      fc.uint8Array({ maxLength: 200 }),
      fc.oneof(fc.nat({ max: 8 }), fc.integer({ min: -3, max: 210 })),
      fc.integer({ min: -3, max: 210 }),
      fc.boolean(),
    )
    .map(([bytes, off, len, defaultLen]) => ({ bytes, off, len, defaultLen }));
  const nearValid = fc
    .tuple(
      valid,
      fc.nat({ max: 8 }),
      fc.uint8Array({ maxLength: 8 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 3 }),
      fc.oneof(fc.constant(0), fc.integer({ min: -24, max: 8 })),
      fc.boolean(),
    )
    .map(([pkt, prefix, suffix, edits, lenDelta, defaultLen]) => {
      const bytes = new Uint8Array(prefix + pkt.length + suffix.length);
      bytes.set(pkt, prefix);
      bytes.set(suffix, prefix + pkt.length);
      for (const [i, v] of edits) if (bytes.length > 0) bytes[i % bytes.length] = v;
      return { bytes, off: prefix, len: Math.max(0, pkt.length + lenDelta), defaultLen };
    });
  return fc.oneof(random, nearValid);
}

interface ViewLike {
  buf: Uint8Array;
  off: number;
  len: number;
}

/**
 * Reads every getter and calls every zero-argument method of a view (plus `extra`), and returns
 * a snapshot with absolute offsets made relative to the view. Fails on undefined or NaN.
 */
export function snapshotView(v: ViewLike, extra?: (v: ViewLike) => unknown[]): unknown[] {
  const out: unknown[] = [];
  const proto = Object.getPrototypeOf(v) as object;
  const descs = Object.getOwnPropertyDescriptors(proto);
  for (const [name, d] of Object.entries(descs)) {
    if (name === "constructor" || /^(fill|set)/.test(name)) continue; // skip writers
    let value: unknown;
    if (d.get) value = (v as unknown as Record<string, unknown>)[name];
    else if (typeof d.value === "function" && (d.value as () => unknown).length === 0) value = (d.value as () => unknown).call(v);
    else continue;
    if (typeof value === "number" && /(Off|^optionsOffset|^payloadOffset)$/.test(name)) value = value - v.off;
    out.push([name, normalize(name, value)]);
  }
  if (extra) for (const x of extra(v)) out.push(normalize("extra", x));
  return out;
}

function normalize(name: string, value: unknown): unknown {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`accessor ${name} returned ${value}`);
    return value;
  }
  if (typeof value === "boolean") return value;
  if (value instanceof Address) return value.toString();
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map((x) => normalize(name, x));
  if (value === undefined) return "undefined";
  throw new Error(`accessor ${name} returned an unexpected ${typeof value}`);
}

/**
 * Copies the view's range into a new buffer whose every other byte (before, after, and past the
 * original end) differs from the original, and returns the new buffer and offset. A view over it
 * must read exactly the same values if its accessors stay inside [off, off + len).
 */
export function relocate(bytes: Uint8Array, off: number, len: number): { bytes: Uint8Array; off: number } {
  const pad = 64;
  const out = new Uint8Array(pad + bytes.length + pad);
  for (let i = 0; i < out.length; i++) {
    const j = i - pad;
    const orig = j >= 0 && j < bytes.length ? bytes[j]! : 0;
    out[i] = j >= off && j < off + len ? orig : orig ^ 0xa5;
  }
  return { bytes: out, off: off + pad };
}

/**
 * The body of every "check never throws" property: runs `check` on the probe; a ParseError is
 * fine; a view must read every accessor without undefined/NaN, and read the same values when
 * every byte outside its range is changed (so nothing outside the range is read).
 * Returns true when a view was produced.
 */
export function probeCheck<V extends ViewLike>(
  check: (b: Uint8Array, off?: number, len?: number) => V | ParseError,
  p: Probe,
  extra?: (v: V) => unknown[],
): boolean {
  const r = p.defaultLen ? check(p.bytes, p.off) : check(p.bytes, p.off, p.len);
  if (r instanceof ParseError) return false;
  const first = snapshotView(r, extra as ((v: ViewLike) => unknown[]) | undefined);
  const moved = relocate(r.buf, r.off, r.len);
  const r2 = check(moved.bytes, moved.off, r.len);
  if (r2 instanceof ParseError) throw new Error(`check accepted the range once but rejected it relocated: ${r2.reason}`);
  const second = snapshotView(r2, extra as ((v: ViewLike) => unknown[]) | undefined);
  expect(second).toEqual(first);
  return true;
}

/** Hex string ("4500 0073 ...", spaces ignored) to bytes. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const arbIPv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => Address.fromBytes(b));
export const arbMac = fc.uint8Array({ minLength: 6, maxLength: 6 });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
