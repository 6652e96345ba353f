import type { DataSource, DataSourceOptions } from "typeorm";
import type { HealthProbe } from "./dialect";
import { SQLITE_BUSY_TIMEOUT_MS, SqliteDialect, StatementCache } from "./sqlite";

type Callback<T> = (error: Error | null, result: T) => void;

interface Sqlite3Statement {
  all(params: readonly unknown[], callback: Callback<Record<string, unknown>[]>): void;
  run(params: readonly unknown[], callback: (this: { changes: number }, error: Error | null) => void): void;
  finalize(callback?: () => void): void;
}
interface Sqlite3Database {
  prepare(sql: string, callback: (error: Error | null) => void): Sqlite3Statement;
  all(sql: string, callback: Callback<Record<string, unknown>[]>): void;
  run(sql: string, callback: (error: Error | null) => void): void;
}
interface Sqlite3Driver {
  databaseConnection: Sqlite3Database;
  createDatabaseConnection(): Promise<Sqlite3Database>;
  disconnect(): Promise<void>;
  __inferenceSqlite3?: true;
}

/** TypeORM 0.3's options for its `sqlite` driver type (not in 1.x's types). */
interface Sqlite3Options {
  readonly type: "sqlite";
  readonly database: string;
  readonly enableWAL?: boolean;
  readonly busyTimeout?: number;
}

/**
 * SQLite through node-sqlite3 (TypeORM 0.3's `sqlite` driver type). node-sqlite3 has no `prepareDatabase`: TypeORM's
 * own options give WAL, the busy timeout and foreign keys, and `synchronous = NORMAL` runs on the new connection
 * before TypeORM uses it. It is callback-based, with no `stmt.reader` and no `pragma()`: direct statements run through
 * prepared statements kept per SQL text, finalized before the connection closes.
 *
 * @internal
 */
export class Sqlite3Dialect extends SqliteDialect {
  readonly #statements = new StatementCache<Sqlite3Statement>((statement) => void finalize(statement));

  override prepareOptions(options: DataSourceOptions): DataSourceOptions {
    const sqlite = options as unknown as Sqlite3Options;
    if (sqlite.type !== "sqlite") return { ...options };
    const inMemory = sqlite.database === ":memory:" || sqlite.database === "";
    return {
      ...options,
      enableWAL: sqlite.enableWAL ?? !inMemory,
      busyTimeout: sqlite.busyTimeout ?? SQLITE_BUSY_TIMEOUT_MS,
    } as unknown as DataSourceOptions;
  }

  override beforeConnect(dataSource: DataSource): void {
    super.beforeConnect(dataSource);
    const driver = dataSource.driver as unknown as Sqlite3Driver;
    if (driver.__inferenceSqlite3) return;
    driver.__inferenceSqlite3 = true;
    const connect = driver.createDatabaseConnection.bind(driver);
    driver.createDatabaseConnection = async () => {
      const db = await connect();
      await new Promise<void>((resolve, reject) =>
        db.run("PRAGMA synchronous = NORMAL", (error) => (error ? reject(error) : resolve())),
      );
      return db;
    };
    const disconnect = driver.disconnect.bind(driver);
    driver.disconnect = async () => {
      const db = driver.databaseConnection;
      if (db) await Promise.all(this.#statements.take(db).map(finalize));
      return disconnect();
    };
  }

  /** Runs on the one connection, with prepared statements kept per SQL text. */
  override async execute(
    dataSource: DataSource,
    sql: string,
    params: readonly unknown[],
  ): Promise<Record<string, unknown>[]> {
    const db = (dataSource.driver as unknown as Sqlite3Driver).databaseConnection;
    const statement = this.#statements.get(db, sql) ?? this.#statements.put(db, sql, await prepare(db, sql));
    // `all` runs any statement; for one that answers no rows it answers []
    return new Promise((resolve, reject) =>
      statement.all(params, (error, rows) => (error ? reject(error) : resolve(rows))),
    );
  }

  /** On the one connection (the caller holds its turn), answering the rows changed. */
  override async executeWrite(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<number> {
    const db = (dataSource.driver as unknown as Sqlite3Driver).databaseConnection;
    const statement = this.#statements.get(db, sql) ?? this.#statements.put(db, sql, await prepare(db, sql));
    return new Promise((resolve, reject) =>
      statement.run(params, function (error) {
        if (error) reject(error);
        else resolve(this.changes);
      }),
    );
  }

  /** SQLite is in the process: the check asks the one connection directly. */
  override async openHealthProbe(dataSource: DataSource): Promise<HealthProbe> {
    const db = (dataSource.driver as unknown as Sqlite3Driver).databaseConnection;
    return {
      query: (sql) =>
        new Promise((resolve, reject) => db.all(sql, (error, rows) => (error ? reject(error) : resolve(rows)))),
      destroy: () => undefined,
    };
  }
}

function prepare(db: Sqlite3Database, sql: string): Promise<Sqlite3Statement> {
  return new Promise((resolve, reject) => {
    const statement = db.prepare(sql, (error) => (error ? reject(error) : resolve(statement)));
  });
}

function finalize(statement: Sqlite3Statement): Promise<void> {
  return new Promise((resolve) => statement.finalize(() => resolve()));
}
