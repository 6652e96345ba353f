import type { DataSource } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import { SmartJSON, UnparseableJson } from "../columns/smart-json";
import { UuidTransformer } from "../columns/uuid-column";
import { canonicalUuid } from "../util/uuid";

/** A UUID in canonical form, to ask a driver at compile time how it reads one back. */
const SAMPLE_UUID = "0190a6f5-8d8e-7c3a-9b1e-4f2d6c8a1b3e";

/**
 * Writes one stored row's values onto a new entity, as TypeORM's hydration would; answers whether a column with a
 * transformer read as {@link UnparseableJson} (stored text that is not JSON, for the caller to report). @internal
 */
export type Hydrator = (row: unknown, entity: object) => boolean;

/**
 * Column types every TypeORM driver (both lines) hands back unchanged when the driver answered a string and the
 * column has no transformer (and take them as they are to write): `prepareHydratedValue` converts booleans, instants, dates, times, numbers, enums,
 * arrays and JSON types, never these.
 */
export const TEXT_TYPES: ReadonlySet<unknown> = new Set<unknown>([
  String,
  "varchar",
  "character varying",
  "nvarchar",
  "char",
  "character",
  "text",
]);

/**
 * A function compiled once per entity and SELECT that hydrates one row into an entity: each value as
 * `driver.prepareHydratedValue` gives it (text columns without a transformer and NULLs taken as they are, instants
 * without a transformer read by `parseInstant` where it reads the stored text, once for a text the row repeats, a
 * SmartJSON column by its transformer where the driver adds nothing to it), written by property name, or through the
 * column's `setEntityValue` inside embedded objects and for relations. `byIndex`: rows
 * are arrays of values in `columns` order; otherwise objects keyed by `aliases`.
 *
 * @internal
 */
export function compileHydrator(
  dataSource: DataSource,
  columns: readonly ColumnMetadata[],
  aliases: readonly string[],
  byIndex: boolean,
  parseInstant: ((text: string) => number | undefined) | undefined,
): Hydrator {
  const driver = dataSource.driver;
  const hydrate = (value: unknown, column: ColumnMetadata): unknown => driver.prepareHydratedValue(value, column);
  // booleans stored as 0 and 1 (SQLite, MySQL), where the driver reads them as false and true
  const numericBooleans = (column: ColumnMetadata) => hydrate(1, column) === true && hydrate(0, column) === false;
  // the last instant text parsed and its time: rows commonly hold one instant twice (created and updated together)
  const lines: string[] = ["let v, t, pt, pv, u = false;"];
  columns.forEach((column, i) => {
    lines.push(`v = r[${byIndex ? i : JSON.stringify(aliases[i])}];`);
    const plain = column.transformer === undefined;
    // a UUID key's transformer reads the stored text as it is: where the driver hands it back unchanged too, the
    // column reads as text
    const uuidText = column.transformer instanceof UuidTransformer && hydrate(SAMPLE_UUID, column) === SAMPLE_UUID;
    if ((plain && TEXT_TYPES.has(column.type)) || uuidText) {
      // (without a transformer every driver answers NULL as it is)
      lines.push(`if (typeof v !== "string"${plain ? " && v !== null" : ""}) v = h(v, c[${i}]);`);
    } else if (plain && parseInstant && (column.type === "datetime" || column.type === Date)) {
      lines.push(
        `if (typeof v === "string") { t = v === pt ? pv : p(v); pt = v; pv = t; v = t !== undefined ? new Date(t) : h(v, c[${i}]); }`,
        `else if (v !== null) v = h(v, c[${i}]);`,
      );
    } else if (plain && (column.type === "boolean" || column.type === Boolean) && numericBooleans(column)) {
      // SQLite and MySQL store booleans as 0 and 1, which every such driver reads as false and true
      lines.push(`v = v === 1 ? true : v === 0 ? false : h(v, c[${i}]);`);
    } else if (plain) {
      lines.push(`if (v !== null) v = h(v, c[${i}]);`);
    } else {
      // a SmartJSON column the driver leaves to its transformer: the transformer's own reading, without the driver's
      lines.push(readsAsTransformer(column, hydrate) ? `v = c[${i}].transformer.from(v);` : `v = h(v, c[${i}]);`);
      lines.push("if (v instanceof U) u = true;");
    }
    // inside embedded objects or a relation: the column's own setter (compiled for its path on the library's
    // DataSources, by compileEmbeddedColumns)
    if (column.relationMetadata || column.embeddedMetadata) lines.push(`c[${i}].setEntityValue(e, v);`);
    else lines.push(`e[${JSON.stringify(column.propertyName)}] = v;`);
  });
  lines.push("return u;");
  const compiled = new Function("c", "h", "p", "U", `return function hydrate(r, e) { ${lines.join("\n")} };`) as (
    c: readonly ColumnMetadata[],
    h: typeof hydrate,
    p: typeof parseInstant,
    U: typeof UnparseableJson,
  ) => Hydrator;
  return compiled(columns, hydrate, parseInstant, UnparseableJson);
}

/** Stored JSON as drivers hand it back (text, or a parsed value), text that is not JSON, and NULL. */
const SAMPLE_STORED_JSON: readonly unknown[] = [
  '{"a":[1,"it\'s",null,true],"b.c":{"":-1.5e-7}}',
  '"$1"',
  "0",
  "{oops",
  { a: [1, "2", null] },
  ["ünï", 2],
  7,
  null,
];

/**
 * Whether the driver's reading of a SmartJSON `column` is its transformer's alone (the driver converts none of the
 * samples before handing them on), so hydration may call the transformer directly.
 */
function readsAsTransformer(
  column: ColumnMetadata,
  hydrate: (value: unknown, column: ColumnMetadata) => unknown,
): boolean {
  const transformer = column.transformer;
  if (!(transformer instanceof SmartJSON)) return false;
  const reading = (read: () => unknown): string => {
    try {
      const value = read();
      return value instanceof UnparseableJson ? `unparseable ${value.raw}` : `value ${JSON.stringify(value)}`;
    } catch (error) {
      return `thrown ${String(error)}`;
    }
  };
  return SAMPLE_STORED_JSON.every(
    (sample) => reading(() => hydrate(sample, column)) === reading(() => transformer.from(sample)),
  );
}

/**
 * How a lookup writes a key of `column`, as `driver.preparePersistentValue` would: where the column is a UUID key
 * whose transformer and driver write a canonical (lower-case) UUID as it is, such a string goes straight through
 * (TypeORM's conversion chain took about 0.2 µs of a 4 µs SQLite `findById`); anything else, including a value the
 * transformer refuses with its typed error, takes the driver's path.
 *
 * @internal
 */
export function compileKeyWriter(dataSource: DataSource, column: ColumnMetadata): (value: unknown) => unknown {
  const driver = dataSource.driver;
  const general = (value: unknown): unknown => driver.preparePersistentValue(value, column);
  if (!(column.transformer instanceof UuidTransformer) || general(SAMPLE_UUID) !== SAMPLE_UUID) return general;
  return (value) => {
    const canonical = typeof value === "string" ? canonicalUuid(value) : undefined;
    return canonical === value ? value : general(value);
  };
}
