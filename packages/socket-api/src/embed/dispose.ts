/**
 * Explicit resource management (`using` / `await using`, TC39 proposal) support. Node 20 defines
 * `Symbol.dispose` and `Symbol.asyncDispose`; on a runtime that lacks them this module installs
 * the registry symbols Node itself uses (`Symbol.for("nodejs.dispose")`, ...), so the classes in
 * this directory always carry both methods and a transpiler's `using` helper finds them.
 *
 * Imported first by every file here that defines a disposable class.
 */
// The guard that installs Symbol.dispose / Symbol.asyncDispose lives in the netstack package.
export { disposeSymbol, asyncDisposeSymbol } from "@netstack-ts/netstack";

/** An AbortError as Node's own APIs reject with (name "AbortError", code "ABORT_ERR"). */
export function abortError(signal?: AbortSignal): Error {
  const err = new Error("The operation was aborted", signal?.reason !== undefined ? { cause: signal.reason } : undefined);
  err.name = "AbortError";
  (err as NodeJS.ErrnoException).code = "ABORT_ERR";
  return err;
}

/**
 * Races `p` against `signal`: rejects with an AbortError when the signal fires first (the
 * listener is removed either way). `p` keeps running; the caller decides what to do with it.
 */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
