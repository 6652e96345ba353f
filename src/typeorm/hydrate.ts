import type { DataSource } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import { UuidTransformer } from "../columns/uuid-column";
import { canonicalUuid } from "../util/uuid";

/** A UUID in canonical form, to ask a driver at compile time how it reads one back. */
const SAMPLE_UUID = "0190a6f5-8d8e-7c3a-9b1e-4f2d6c8a1b3e";

/** Writes one stored row's values onto a new entity, as TypeORM's hydration would. @internal */
export type Hydrator = (row: unknown, entity: object) => void;

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
 * `driver.prepareHydratedValue` gives it (text columns without a transformer taken as they are, instants without a
 * transformer read by `parseInstant` where it reads the stored text), written by property name, or through the
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
  const lines: string[] = ["let v, t;"];
  columns.forEach((column, i) => {
    lines.push(`v = r[${byIndex ? i : JSON.stringify(aliases[i])}];`);
    const plain = column.transformer === undefined;
    // a UUID key's transformer reads the stored text as it is: where the driver hands it back unchanged too, the
    // column reads as text
    const uuidText = column.transformer instanceof UuidTransformer && hydrate(SAMPLE_UUID, column) === SAMPLE_UUID;
    if ((plain && TEXT_TYPES.has(column.type)) || uuidText) {
      lines.push(`if (typeof v !== "string") v = h(v, c[${i}]);`);
    } else if (plain && parseInstant && (column.type === "datetime" || column.type === Date)) {
      lines.push(`v = typeof v === "string" && (t = p(v)) !== undefined ? new Date(t) : h(v, c[${i}]);`);
    } else if (plain && (column.type === "boolean" || column.type === Boolean) && numericBooleans(column)) {
      // SQLite and MySQL store booleans as 0 and 1, which every such driver reads as false and true
      lines.push(`v = v === 1 ? true : v === 0 ? false : h(v, c[${i}]);`);
    } else if (plain) {
      // without a transformer every driver answers NULL as it is
      lines.push(`if (v !== null) v = h(v, c[${i}]);`);
    } else {
      lines.push(`v = h(v, c[${i}]);`);
    }
    // inside embedded objects or a relation: the column's own setter (compiled for its path on the library's
    // DataSources, by compileEmbeddedColumns)
    if (column.relationMetadata || column.embeddedMetadata) lines.push(`c[${i}].setEntityValue(e, v);`);
    else lines.push(`e[${JSON.stringify(column.propertyName)}] = v;`);
  });
  const compiled = new Function("c", "h", "p", `return function hydrate(r, e) { ${lines.join("\n")} };`) as (
    c: readonly ColumnMetadata[],
    h: typeof hydrate,
    p: typeof parseInstant,
  ) => Hydrator;
  return compiled(columns, hydrate, parseInstant);
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
