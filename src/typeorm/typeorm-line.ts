import type { DataSource } from "typeorm";
import { QueryBuilder } from "typeorm/query-builder/QueryBuilder";

/**
 * The one place that knows TypeORM 0.3 and 1.x differ. The line is decided once, by looking at TypeORM's own
 * classes: 1.x keeps the DataSource in a `dataSource` field and offers `connection` only as a deprecated getter on
 * the prototype; 0.3 has a `connection` field and no `dataSource`.
 *
 * @internal
 */
export type TypeormLine = "0.3" | "1.x";

/** @internal */
export const TYPEORM_LINE: TypeormLine =
  typeof Object.getOwnPropertyDescriptor(QueryBuilder.prototype, "connection")?.get === "function" ? "1.x" : "0.3";

const DATA_SOURCE_FIELD = TYPEORM_LINE === "1.x" ? "dataSource" : "connection";

/**
 * The known differences between the lines, each a fact the library acts on.
 *
 * @internal
 */
export const LINE_DIFFERENCES = Object.freeze({
  /**
   * 0.3's soft delete stamps rows that are already deleted again (a second `softDelete` moves `deleted_at`), and its
   * restore touches live rows (TypeORM issue 10389); 1.x adds `deleted_at IS NULL` / `IS NOT NULL` itself.
   */
  softDeleteTouchesEveryRow: TYPEORM_LINE === "0.3",
  /** 0.3's `upsert` overwrites every column given a value, generated and `update: false` ones included. */
  upsertOverwritesEveryGivenColumn: TYPEORM_LINE === "0.3",
  /** 0.3's MySQL driver loads the `mysql` package before `mysql2` unless told which one. */
  mysqlNeedsConnectorPackage: TYPEORM_LINE === "0.3",
  /** 0.3's better-sqlite3 query runner hands booleans to better-sqlite3, which refuses them; 1.x binds 1/0. */
  betterSqlite3RefusesBooleans: TYPEORM_LINE === "0.3",
  /** Only 0.3 has the `sqlite` driver type (node-sqlite3); 1.x dropped it. */
  hasSqlite3Driver: TYPEORM_LINE === "0.3",
});

/** Anything TypeORM hands its DataSource to: a query builder, an entity manager, a repository's manager. */
type HoldsDataSource = object;

/**
 * The DataSource a query builder or entity manager works on (`dataSource` on 1.x, `connection` on 0.3).
 *
 * @internal
 */
export function dataSourceOf(holder: HoldsDataSource): DataSource {
  return (holder as Record<string, DataSource>)[DATA_SOURCE_FIELD]!;
}
