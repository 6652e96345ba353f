import type { DataSource } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";

/** Writes one stored row's values onto a new entity, as TypeORM's hydration would. @internal */
export type Hydrator = (row: unknown, entity: object) => void;

/**
 * Column types every TypeORM driver (both lines) hands back unchanged when the driver answered a string and the
 * column has no transformer: `prepareHydratedValue` converts booleans, instants, dates, times, numbers, enums,
 * arrays and JSON types, never these.
 */
const TEXT_TYPES = new Set<unknown>([String, "varchar", "character varying", "nvarchar", "char", "character", "text"]);

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
  const lines: string[] = ["let v, t;"];
  columns.forEach((column, i) => {
    lines.push(`v = r[${byIndex ? i : JSON.stringify(aliases[i])}];`);
    const plain = column.transformer === undefined;
    if (plain && TEXT_TYPES.has(column.type)) {
      lines.push(`if (typeof v !== "string") v = h(v, c[${i}]);`);
    } else if (plain && parseInstant && (column.type === "datetime" || column.type === Date)) {
      lines.push(`v = typeof v === "string" && (t = p(v)) !== undefined ? new Date(t) : h(v, c[${i}]);`);
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
