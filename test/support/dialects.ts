import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DataSourceOptions } from "typeorm";
import { DatabaseManager } from "../../src";
import { databaseUrl, type TestDialect } from "./servers";

export type { TestDialect } from "./servers";

/** The dialects this run tests: sqlite always, the servers that answered in the global setup. */
export const DIALECTS: TestDialect[] = (process.env["INFERENCE_DIALECTS"] ?? "sqlite")
  .split(",")
  .filter(Boolean) as TestDialect[];

let sqliteDir: string | undefined;
let sqliteCounter = 0;

/** A fresh database URL for a dialect: a new SQLite file, or the shared test database on a server. */
export function urlFor(dialect: TestDialect): string {
  if (dialect === "sqlite") {
    sqliteDir ??= mkdtempSync(join(tmpdir(), "inference-db-"));
    sqliteCounter += 1;
    return `sqlite:${join(sqliteDir, `test-${process.pid}-${sqliteCounter}.db`)}`;
  }
  return databaseUrl(dialect);
}

/** Opens a manager on a dialect with the given entities and a clean set of their tables. */
export async function initTest(
  dialect: TestDialect,
  entities: NonNullable<DataSourceOptions["entities"]>,
  extra: { poolSize?: number; logging?: DataSourceOptions["logging"] } = {},
): Promise<DatabaseManager> {
  const db = new DatabaseManager({ url: urlFor(dialect), entities, ...extra });
  await db.initialize();
  await db.reset({ confirm: true });
  return db;
}

/** Closes a manager opened by initTest. */
export async function destroyTest(db: DatabaseManager | undefined): Promise<void> {
  await db?.close();
}

/** The statements `work` runs on `db`, as its DataSource's logger sees them, trimmed. */
export async function statementsOf(db: DatabaseManager, work: () => Promise<unknown>): Promise<string[]> {
  const statements: string[] = [];
  const logger = db.dataSource.logger as { logQuery(query: string): void };
  const logQuery = logger.logQuery.bind(logger);
  logger.logQuery = (query: string) => statements.push(query.trim());
  try {
    await work();
  } finally {
    logger.logQuery = logQuery;
  }
  return statements;
}

/** Runs raw SQL written with `?` placeholders (turned into `$1..` on PostgreSQL). */
export async function raw<T = Record<string, unknown>>(
  db: DatabaseManager,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  let index = 0;
  const text = db.dialect === "postgres" ? sql.replace(/\?/g, () => `$${++index}`) : sql;
  return (await db.dataSource.query(text, params)) as T[];
}

/** SQL giving an instant column as Unix epoch milliseconds, computed by the database from the stored value. */
export function epochMsSql(db: DatabaseManager, column: string): string {
  switch (db.dialect) {
    case "postgres":
      return `CAST(ROUND(EXTRACT(EPOCH FROM ${column}) * 1000) AS BIGINT)`;
    case "sqlite":
      return `(CAST(strftime('%s', ${column}) AS INTEGER) * 1000 + CAST(substr(${column}, 21, 3) AS INTEGER))`;
    default:
      return `CAST(ROUND(UNIX_TIMESTAMP(${column}) * 1000) AS SIGNED)`;
  }
}

/** Reads a row's instant columns as epoch milliseconds, straight from the table. */
export async function storedInstants(
  db: DatabaseManager,
  table: string,
  id: string,
): Promise<{ created: number; updated: number; deleted: number | null; isDeleted: boolean }> {
  const rows = await raw<Record<string, unknown>>(
    db,
    `SELECT ${epochMsSql(db, "created_at")} AS c, ${epochMsSql(db, "updated_at")} AS u, ` +
      `${epochMsSql(db, "deleted_at")} AS d, is_deleted AS x FROM ${table} WHERE id = ?`,
    [id],
  );
  const row = rows[0];
  if (!row) throw new Error(`no row ${id} in ${table}`);
  return {
    created: Number(row["c"]),
    updated: Number(row["u"]),
    deleted: row["d"] === null ? null : Number(row["d"]),
    isDeleted: row["x"] === true || row["x"] === 1 || row["x"] === "1",
  };
}
