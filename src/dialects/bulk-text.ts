import { Readable } from "node:stream";

/**
 * Tab-separated text for PostgreSQL's `COPY ... FROM STDIN` (text format) and MySQL's `LOAD DATA` with their default
 * escapes: NULL is `\N`; a backslash, tab, newline and carriage return in a value are escaped with a backslash, so
 * every value comes back byte for byte. (NUL never gets here: the library refuses it before anything is sent.)
 *
 * @internal
 */
const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Readonly<Record<string, string>> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** One value as a field: `text` is the value already turned into the database's text form, or null. @internal */
export function bulkField(text: string | null): string {
  if (text === null) return "\\N";
  return SPECIAL.test(text) ? text.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : text;
}

/** How many bytes of text go to the server at a time. @internal */
export const BULK_CHUNK_BYTES = 256 * 1024;

/**
 * The rows as a stream of UTF-8 chunks of tab-separated lines, each about {@link BULK_CHUNK_BYTES} long; `progress`
 * gets the rows sent so far as each chunk is taken. (mysql2 copies Buffers into its packets; pg-copy-streams takes
 * them too.)
 *
 * @internal
 */
export function bulkStream(
  rows: readonly (readonly unknown[])[],
  field: (value: unknown) => string,
  progress: (done: number) => void,
): Readable {
  function* chunks(): Generator<Buffer> {
    let text = "";
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      let line = "";
      for (let c = 0; c < row.length; c++) line += (c === 0 ? "" : "\t") + field(row[c]);
      text += `${line}\n`;
      if (text.length >= BULK_CHUNK_BYTES || r === rows.length - 1) {
        yield Buffer.from(text, "utf8");
        progress(r + 1);
        text = "";
      }
    }
  }
  return Readable.from(chunks());
}
