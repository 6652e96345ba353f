import { randomFillSync } from "node:crypto";

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** True when `value` is a UUID string in the canonical 8-4-4-4-12 form (any version, any case). */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && canonicalUuid(value) !== undefined;
}

/**
 * The lower-case form of a UUID string, or undefined when it is not one. Reads the characters directly, and answers
 * the same string (no copy) when it is already lower case.
 */
export function canonicalUuid(value: string): string | undefined {
  if (value.length !== 36) return undefined;
  let upper = false;
  for (let i = 0; i < 36; i++) {
    const c = value.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return undefined;
    } else if (c >= 65 && c <= 70) upper = true;
    else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return undefined;
  }
  return upper ? value.toLowerCase() : value;
}

const pool = new Uint8Array(16 * 256);
let poolOffset = pool.length;
let lastMs = -1;
let sequence = 0;

/**
 * A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then a 12-bit counter that keeps ids
 * made in the same millisecond in order (seeded at random each millisecond), then 62 random bits.
 *
 * @example
 * const id = uuidv7(); // "019a...-7...-8...-..."
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const b = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  let ms = now;
  if (ms > lastMs) {
    lastMs = ms;
    sequence = ((b[6] as number) << 4) & 0x7ff; // start in the lower half so the counter rarely overflows
  } else {
    ms = lastMs;
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1; // borrow the next millisecond rather than go out of order
      ms = lastMs;
      sequence = 0;
    }
  }
  const hi = Math.floor(ms / 0x100000000);
  const lo = ms >>> 0;
  const h = HEX;
  return (
    h[(hi >>> 8) & 0xff]! +
    h[hi & 0xff]! +
    h[(lo >>> 24) & 0xff]! +
    h[(lo >>> 16) & 0xff]! +
    "-" +
    h[(lo >>> 8) & 0xff]! +
    h[lo & 0xff]! +
    "-" +
    h[0x70 | (sequence >>> 8)]! +
    h[sequence & 0xff]! +
    "-" +
    h[0x80 | (b[8]! & 0x3f)]! +
    h[b[9]!]! +
    "-" +
    h[b[10]!]! +
    h[b[11]!]! +
    h[b[12]!]! +
    h[b[13]!]! +
    h[b[14]!]! +
    h[b[15]!]!
  );
}
