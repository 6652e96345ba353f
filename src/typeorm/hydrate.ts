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
 * transformer read by `parseInstant` where it reads the stored text), written by property name, into embedded
 * objects where the entity already holds them and through TypeORM's `setEntityValue` otherwise. `byIndex`: rows
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
    const parents = column.embeddedMetadata?.parentPropertyNames ?? [];
    const property = JSON.stringify(column.propertyName);
    if (column.relationMetadata || column.embeddedMetadata?.isArray) {
      lines.push(`c[${i}].setEntityValue(e, v);`);
    } else if (parents.length === 0) {
      lines.push(`e[${property}] = v;`);
    } else {
      // the embedded object exists (an initialised property): write into it; otherwise TypeORM creates it
      const path = parents.map((name) => `[${JSON.stringify(name)}]`);
      const reads = path.map((_, depth) => `t = ${depth === 0 ? "e" : "t"}${path[depth]};`);
      const guard = `t !== null && typeof t === "object"`;
      lines.push(
        `${reads.map((read, depth) => (depth === 0 ? read : `if (${guard}) ${read}`)).join(" ")}`,
        `if (${guard}) t[${property}] = v; else c[${i}].setEntityValue(e, v);`,
      );
    }
  });
  const compiled = new Function("c", "h", "p", `return function hydrate(r, e) { ${lines.join("\n")} };`) as (
    c: readonly ColumnMetadata[],
    h: typeof hydrate,
    p: typeof parseInstant,
  ) => Hydrator;
  return compiled(columns, hydrate, parseInstant);
}
