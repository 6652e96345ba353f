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
