/**
 * The length of a string in characters as PostgreSQL and MySQL count them for VARCHAR(n): code points, so an emoji
 * (two UTF-16 units) is one character.
 */
export function characterCount(value: string): number {
  let count = value.length;
  for (let i = 0; i < value.length - 1; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        i++;
      }
    }
  }
  return count;
}

/** Column types that hold text with a declared length: the ones whose values the library checks as strings. */
export const STRING_COLUMN_TYPES: ReadonlySet<unknown> = new Set([
  "varchar",
  "character varying",
  "char",
  "character",
  "nvarchar",
  "nchar",
  "text",
  "tinytext",
  "mediumtext",
  "longtext",
  "string",
  String,
]);

/**
 * Variable-length text types whose length TypeORM leaves to the database when none is declared: unbounded on
 * PostgreSQL and SQLite, 255 on MySQL. The library gives them MySQL's 255 everywhere.
 */
const VARCHAR_TYPES: ReadonlySet<unknown> = new Set(["varchar", "character varying", "nvarchar", "string", String]);

/** The length a column without a declared one gets on every dialect. */
export const DEFAULT_VARCHAR_LENGTH = 255;

/**
 * The maximum length of a text column: the declared one, 255 for a variable-length type without one, none for
 * `text` and the other unbounded types.
 *
 * @internal
 */
export function declaredLength(type: unknown, length: string | number | undefined): number | undefined {
  if (length !== undefined && length !== "") return Number(length);
  return VARCHAR_TYPES.has(type) ? DEFAULT_VARCHAR_LENGTH : undefined;
}
