/** The values an integer column holds. */
export interface IntegerRange {
  /** The column type as it was declared (lower case), for messages. */
  readonly type: string;
  readonly min: number;
  readonly max: number;
}

/** Signed bit widths of the integer types, by every name TypeORM's drivers give them. */
const INTEGER_BITS: ReadonlyMap<string, number> = new Map([
  ["tinyint", 8],
  ["smallint", 16],
  ["int2", 16],
  ["mediumint", 24],
  ["int", 32],
  ["integer", 32],
  ["int4", 32],
  ["bigint", 64],
  ["int8", 64],
]);

/**
 * The range of an integer column type, the same on every dialect (the SQL standard's widths, MySQL's for `tinyint`
 * and `mediumint`; `unsigned` as MySQL has it): `integer` is 32 bits everywhere, although SQLite would store 64.
 * A 64-bit type holds what a JavaScript number holds exactly (a safe integer). Undefined for other types.
 */
export function integerRange(type: unknown, unsigned: boolean): IntegerRange | undefined {
  if (typeof type !== "string") return undefined;
  const name = type.toLowerCase();
  const bits = INTEGER_BITS.get(name);
  if (bits === undefined) return undefined;
  if (bits === 64) return { type: name, min: unsigned ? 0 : Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
  return unsigned
    ? { type: `${name} unsigned`, min: 0, max: 2 ** bits - 1 }
    : { type: name, min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 };
}

/** Column types of fixed-point numbers. */
export const DECIMAL_TYPES: ReadonlySet<unknown> = new Set(["decimal", "numeric", "dec", "fixed"]);

/**
 * Why a number (or a numeric string) does not fit `decimal(precision, scale)`: not a decimal number, more digits
 * before the point than `precision - scale`, or more after it than `scale` (which the databases would round away
 * silently). Without a precision only the form is checked. Undefined when it fits.
 */
export function decimalMisfit(
  value: number | string,
  precision: number | undefined,
  scale: number,
): string | undefined {
  const text = typeof value === "number" ? plainDigits(value) : value.trim();
  const match = /^[+-]?(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) return NOT_DECIMAL;
  if (precision === undefined) return undefined;
  const whole = match[1]!.replace(/^0+/, "").length;
  const fraction = (match[2] ?? "").replace(/0+$/, "").length;
  if (whole > precision - scale) return `has ${whole} digits before the point, at most ${precision - scale} allowed`;
  if (fraction > scale) return `has ${fraction} digits after the point, at most ${scale} allowed (it would be rounded)`;
  return undefined;
}

/** What {@link decimalMisfit} answers for a value that is not a decimal number at all. */
export const NOT_DECIMAL = "is not a decimal number";

/** A finite number's digits without an exponent (`1e21` as `1000000000000000000000`, `1e-7` as `0.0000001`). */
function plainDigits(value: number): string {
  const text = String(value);
  if (!/e/i.test(text)) return text;
  const [mantissa, exponentText] = text.split(/e/i) as [string, string];
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith("-");
  const [whole, fraction = ""] = mantissa.replace(/^-/, "").split(".") as [string, string?];
  const digits = whole + fraction;
  const point = whole.length + exponent;
  const body =
    point <= 0
      ? `0.${"0".repeat(-point)}${digits}`
      : point >= digits.length
        ? digits + "0".repeat(point - digits.length)
        : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${body}` : body;
}
