/**
 * Boolean fields kept as bits of integer fields (heap per endpoint, #8): an object's boolean field
 * is a tagged slot of 8 bytes, and a connection's endpoint, sender, receiver and ECN state have
 * some sixty of them; packed, they cost two small integers per object.
 *
 * A class declares each flag (`declare name: boolean`), initialises `flagBits` (and `flagBits2`
 * when it has more than 31 flags) to 0 — every flag starts false — and calls `defineFlags` on its
 * prototype once, after the class. Each flag then reads and writes like a field.
 */

/** What a class with flags holds: the words. */
interface FlagWords {
  flagBits: number;
  flagBits2: number;
}

const BITS_PER_WORD = 31;

/** Puts one getter/setter per name on `proto`: `first[i]` is bit i of flagBits, `second[i]` of flagBits2. */
export function defineFlags(proto: object, first: readonly string[], second: readonly string[] = []): void {
  if (first.length > BITS_PER_WORD || second.length > BITS_PER_WORD) throw new RangeError("at most 31 flags per word");
  // One loop per word, so each accessor reads a named field (a plain property load), not a computed key.
  for (let i = 0; i < first.length; i++) {
    const bit = 1 << i;
    Object.defineProperty(proto, first[i]!, {
      configurable: true,
      get(this: FlagWords): boolean {
        return (this.flagBits & bit) !== 0;
      },
      set(this: FlagWords, v: boolean) {
        this.flagBits = v ? this.flagBits | bit : this.flagBits & ~bit;
      },
    });
  }
  for (let i = 0; i < second.length; i++) {
    const bit = 1 << i;
    Object.defineProperty(proto, second[i]!, {
      configurable: true,
      get(this: FlagWords): boolean {
        return (this.flagBits2 & bit) !== 0;
      },
      set(this: FlagWords, v: boolean) {
        this.flagBits2 = v ? this.flagBits2 | bit : this.flagBits2 & ~bit;
      },
    });
  }
}
