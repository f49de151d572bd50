/**
 * Explicit resource management (`using` / `await using`). Node 20 defines `Symbol.dispose` and
 * `Symbol.asyncDispose`; on a runtime that lacks them this module installs the registry symbols
 * Node itself uses (`Symbol.for("nodejs.dispose")`, ...), so disposable classes always carry the
 * methods a transpiler's `using` helper looks for. Imported by every module defining one.
 */
const sym = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
if (typeof sym.dispose !== "symbol") {
  Object.defineProperty(Symbol, "dispose", { value: Symbol.for("nodejs.dispose"), configurable: false, writable: false });
}
if (typeof sym.asyncDispose !== "symbol") {
  Object.defineProperty(Symbol, "asyncDispose", {
    value: Symbol.for("nodejs.asyncDispose"), configurable: false, writable: false,
  });
}

/** The symbol `using` calls (`Symbol.dispose`, or its registry fallback on older runtimes). */
export const disposeSymbol: typeof Symbol.dispose = Symbol.dispose;
/** The symbol `await using` calls (`Symbol.asyncDispose`, or its registry fallback). */
export const asyncDisposeSymbol: typeof Symbol.asyncDispose = Symbol.asyncDispose;
