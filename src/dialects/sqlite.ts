import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { DataSource, DataSourceOptions, QueryRunner } from "typeorm";
import { installConnectionGate } from "../typeorm/connection-gate";
import { wrapQueries } from "../typeorm/query-hooks";
import { LINE_DIFFERENCES } from "../typeorm/typeorm-line";
import type { JsonScalar, JsonTest } from "../columns/json-query";
import type { JsonValue } from "../columns/smart-json";
import { parseStoredUtcDatetime, storedUtcDatetime } from "../util/iso-date";
import { BaseDialect, type ForeignKeyViolation, type HealthProbe, type PoolStats } from "./dialect";
import { combineJson, jsonPathText, likeToGlob, scalarKind, type BindParameter } from "./json-sql";

interface BetterSqlite3Statement {
  readonly reader: boolean;
  all(...params: unknown[]): Record<string, unknown>[];
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): unknown;
  raw(arrays: boolean): BetterSqlite3Statement;
}
interface BetterSqlite3Database {
  prepare(sql: string): BetterSqlite3Statement;
}

/**
 * Prepared statements kept per connection and SQL text, the oldest given up past {@link StatementCache.LIMIT}.
 *
 * @internal
 */
export class StatementCache<S> {
  /** How many statements one connection keeps. */
  static readonly LIMIT = 200;
  readonly #byConnection = new WeakMap<object, Map<string, S>>();

  /** @param giveUp frees a statement that leaves the cache (node-sqlite3 finalizes; better-sqlite3 needs nothing). */
  constructor(private readonly giveUp: (statement: S) => void = () => undefined) {}

  /** The statement kept for `sql` on `connection`, if any. */
  get(connection: object, sql: string): S | undefined {
    return this.#byConnection.get(connection)?.get(sql);
  }

  /** Keeps a statement just prepared for `sql` on `connection`, and answers it. */
  put(connection: object, sql: string, statement: S): S {
    let cache = this.#byConnection.get(connection);
    if (!cache) {
      cache = new Map();
      this.#byConnection.set(connection, cache);
    }
    // two callers prepared the same SQL at once (node-sqlite3 prepares asynchronously): the first one kept wins
    const kept = cache.get(sql);
    if (kept !== undefined) {
      this.giveUp(statement);
      return kept;
    }
    if (cache.size >= StatementCache.LIMIT) {
      const [oldest, old] = cache.entries().next().value as [string, S];
      cache.delete(oldest);
      this.giveUp(old);
    }
    cache.set(sql, statement);
    return statement;
  }

  /** Takes every statement of a connection out of the cache (before it closes). */
  take(connection: object): S[] {
    const cache = this.#byConnection.get(connection);
    this.#byConnection.delete(connection);
    return cache ? [...cache.values()] : [];
  }
}

/** Busy timeout for SQLite writers, in milliseconds. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * SQLite, whichever driver runs it: JSON is TEXT encoded by the library; instants are TypeORM's `datetime` text in
 * UTC with milliseconds. One connection, so transactions queue. Each SQLite driver is a back-end below: its
 * connection options, its direct statements and its health probe.
 *
 * @internal
 */
export abstract class SqliteDialect extends BaseDialect {
  /** TypeORM stores a `datetime` as UTC text without an offset (`2024-03-04 05:06:07.089`). */
  override readonly parseStoredInstant = parseStoredUtcDatetime;
  override readonly formatStoredInstant = storedUtcDatetime;

  readonly name = "sqlite" as const;
  readonly jsonColumnType = "text";
  override readonly jsonEncoding = "text" as const;
  override readonly singleConnection = true;
  override readonly maxBindParameters = 32_766;
  override readonly versionQuery = "SELECT sqlite_version() AS version";
  override readonly defaultInValues = false;

  /** Creates the directory of a database file, so that `sqlite:./data/app.db` works on a fresh checkout. */
  override beforeConnect(dataSource: DataSource): void {
    const database = dataSource.options.database;
    if (typeof database === "string" && database !== ":memory:" && database !== "") {
      mkdirSync(dirname(database), { recursive: true });
    }
  }

  /**
   * Write transactions start with `BEGIN IMMEDIATE`: the write lock is taken at the start and waited for under the
   * busy timeout, instead of a deferred transaction failing with SQLITE_BUSY when it first writes while another
   * process holds the lock.
   */
  override afterConnect(dataSource: DataSource): void {
    this.adaptQueries(dataSource);
    // one connection: each caller's transaction and statements take their turn on it (see ConnectionGate)
    installConnectionGate(dataSource, busyTimeoutOf(dataSource));
    wrapQueries(
      dataSource,
      "sqlite-begin-immediate",
      (query) =>
        (sql, ...rest) =>
          query(sql === "BEGIN TRANSACTION" ? "BEGIN IMMEDIATE TRANSACTION" : sql, ...rest),
    );
  }

  /**
   * JSON1 functions: `json_type` tells the value's type (and a missing key, NULL, from a JSON null, 'null'),
   * `json_extract` its value. Strings compare as BINARY and LIKE runs as GLOB, both case-sensitive as on the servers.
   * SQLite has no containment operator: `JsonContains` is decomposed into the same tests over the document,
   * arrays through `json_each`.
   */
  override jsonCondition(column: string, test: JsonTest, bind: BindParameter): string {
    let aliases = 0;
    const typed = (type: string, value: string, v: JsonScalar): string => {
      switch (scalarKind(v)) {
        case "null":
          return `(${type} = 'null')`;
        case "boolean":
          return `(${type} = '${String(v)}')`;
        case "number":
          return `(${type} IN ('integer', 'real') AND ${value} = ${bind(v)})`;
        case "string":
          return `(${type} = 'text' AND ${value} = ${bind(v)})`;
      }
    };
    // the document `doc` (JSON text) contains `candidate` at `path`
    const contains = (doc: string, path: readonly (string | number)[], candidate: JsonValue): string => {
      const at = bind(jsonPathText(path));
      const type = `json_type(${doc}, ${at})`;
      if (candidate === null || typeof candidate !== "object") {
        return typed(type, `json_extract(${doc}, ${at})`, candidate as JsonScalar);
      }
      if (Array.isArray(candidate)) {
        const each = candidate.map((element: unknown) => {
          const je = `je${++aliases}`;
          const match =
            element !== null && typeof element === "object"
              ? `(${je}.type IN ('object', 'array') AND ${contains(`${je}.value`, [], element as JsonValue)})`
              : typed(`${je}.type`, `${je}.value`, element as JsonScalar);
          return `EXISTS (SELECT 1 FROM json_each(${doc}, ${at}) AS ${je} WHERE ${match})`;
        });
        return `(${[`${type} = 'array'`, ...each].join(" AND ")})`;
      }
      const keys = Object.keys(candidate).map((key) =>
        contains(doc, [...path, key], (candidate as Record<string, JsonValue>)[key]!),
      );
      return `(${[`${type} = 'object'`, ...keys].join(" AND ")})`;
    };
    return combineJson(test, (leaf) => {
      if (leaf.kind === "contains") {
        const whole = contains(column, [], leaf.value);
        if (leaf.value !== null && typeof leaf.value === "object") return whole;
        // as PostgreSQL's @>, a top-level array contains a scalar element
        const je = `je${++aliases}`;
        const element = typed(`${je}.type`, `${je}.value`, leaf.value as JsonScalar);
        return `(${whole} OR (json_type(${column}) = 'array' AND EXISTS (SELECT 1 FROM json_each(${column}) AS ${je} WHERE ${element})))`;
      }
      const path = bind(jsonPathText(leaf.path));
      const type = `json_type(${column}, ${path})`;
      const value = `json_extract(${column}, ${path})`;
      switch (leaf.kind) {
        case "hasKey":
          return `(${type} IS NOT NULL)`;
        case "equals":
          return typed(type, value, leaf.value);
        case "compare":
          return `(${type} IN ('integer', 'real') AND ${value} ${leaf.operator} ${bind(leaf.value)})`;
        case "like":
          return `(${type} = 'text' AND ${value} GLOB ${bind(likeToGlob(leaf.pattern))})`;
      }
    });
  }

  override jsonIndexColumn(
    column: string,
    path: readonly (string | number)[],
    type: "string" | "number",
  ): { type: string; expression: string } {
    const at = this.stringLiteral(jsonPathText(path));
    return type === "number"
      ? {
          type: "real",
          expression: `CASE WHEN json_type(${column}, ${at}) IN ('integer', 'real') THEN json_extract(${column}, ${at}) END`,
        }
      : {
          type: "text",
          expression: `CASE WHEN json_type(${column}, ${at}) = 'text' THEN json_extract(${column}, ${at}) END`,
        };
  }

  /** A back-end's own changes to the queries TypeORM runs. */
  protected adaptQueries(_dataSource: DataSource): void {}

  override readonly isolationLevels = false;

  /** SQLITE_BUSY (and its extended codes): another connection held the lock past the busy timeout. */
  override transactionConflict(error: unknown): boolean {
    const { code, errno } = error as { code?: unknown; errno?: unknown };
    return (typeof code === "string" && code.startsWith("SQLITE_BUSY")) || errno === 5;
  }

  override uniqueViolation(error: unknown): { columns: string[] } | undefined {
    const { code, message } = error as { code?: unknown; message?: unknown };
    // better-sqlite3 says SQLITE_CONSTRAINT_UNIQUE; node-sqlite3 only SQLITE_CONSTRAINT (errno 19), with the message
    if ((code !== "SQLITE_CONSTRAINT_UNIQUE" && code !== "SQLITE_CONSTRAINT") || typeof message !== "string")
      return undefined;
    const list = /UNIQUE constraint failed: (.*)$/.exec(message)?.[1];
    if (list === undefined) return undefined;
    return { columns: list.split(",").map((c) => c.trim().split(".").pop() ?? "") };
  }

  /** SQLite names neither the constraint nor the direction: the statement's table tells (see constraint-errors). */
  override foreignKeyViolation(error: unknown): ForeignKeyViolation | undefined {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (code === "SQLITE_CONSTRAINT_FOREIGNKEY") return {};
    return code === "SQLITE_CONSTRAINT" &&
      typeof message === "string" &&
      message.includes("FOREIGN KEY constraint failed")
      ? {}
      : undefined;
  }

  override poolStats(): PoolStats {
    return { total: 1, idle: 1, waiting: 0 };
  }

  override async dependentsOf(queryRunner: QueryRunner, tables: readonly string[]): Promise<string[]> {
    if (tables.length === 0) return [];
    const lower = new Set(tables.map((t) => t.toLowerCase()));
    const objects = (await queryRunner.query(
      "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )) as { type: string; name: string; sql: string | null }[];
    const found: string[] = [];
    for (const object of objects) {
      if (lower.has(object.name.toLowerCase())) continue;
      if (object.type === "view") {
        // a view names the tables it reads in its SQL text, bare or quoted
        const sql = object.sql ?? "";
        if (tables.some((t) => new RegExp(`(^|[^\\w$])["\`\\[]?${escapeRegExp(t)}["\`\\]]?($|[^\\w$])`, "i").test(sql)))
          found.push(`view ${object.name}`);
        continue;
      }
      const keys = (await queryRunner.query(`PRAGMA foreign_key_list(${this.quoteIdentifier(object.name)})`)) as {
        table: string;
      }[];
      if (keys.some((k) => lower.has(k.table.toLowerCase()))) found.push(`foreign key of table ${object.name}`);
    }
    return found;
  }

  override async dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void> {
    // PRAGMA foreign_keys cannot change inside a transaction, so this runs outside one.
    await queryRunner.query("PRAGMA foreign_keys = OFF");
    try {
      await super.dropTables(queryRunner, tables);
    } finally {
      await queryRunner.query("PRAGMA foreign_keys = ON");
    }
  }
}

function connectionOf(dataSource: DataSource): BetterSqlite3Database {
  return (dataSource.driver as unknown as { databaseConnection: BetterSqlite3Database }).databaseConnection;
}

/**
 * SQLite through better-sqlite3 (TypeORM's `better-sqlite3` driver type, on both lines): synchronous, so direct
 * statements run on prepared statements kept per SQL text.
 *
 * @internal
 */
export class BetterSqlite3Dialect extends SqliteDialect {
  // No bulk loader: one prepared single-row INSERT per row in one transaction measured the same as the multi-row
  // INSERTs here (0.99x to 1.01x at 10,000 to 100,000 rows), so insertMany keeps the one path.
  readonly #statements = new StatementCache<BetterSqlite3Statement>();

  /** Statements that answer rows as arrays of values (better-sqlite3's raw mode), for {@link executeSync}. */
  readonly #arrayStatements = new StatementCache<BetterSqlite3Statement>();

  /** Runs on the one connection, with prepared statements kept per SQL text. */
  override execute(
    dataSource: DataSource,
    sql: string,
    params: readonly unknown[],
  ): Promise<Record<string, unknown>[]> {
    try {
      const db = connectionOf(dataSource);
      const statement = this.#statements.get(db, sql) ?? this.#statements.put(db, sql, db.prepare(sql));
      if (statement.reader) return Promise.resolve(statement.all(...params));
      statement.run(...params);
      return Promise.resolve([]);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * better-sqlite3 runs a statement synchronously: the rows are answered at once, as arrays (its raw mode builds no
   * object per row: about 1 µs of a 5 µs one-row SELECT here).
   */
  override readonly executeSync = (dataSource: DataSource, sql: string, params: readonly unknown[]): unknown[][] => {
    const statement = this.#arrayStatement(dataSource, sql);
    if (statement.reader) return statement.all(...params) as unknown as unknown[][];
    statement.run(...params);
    return [];
  };

  override readonly executeSyncFirst = (
    dataSource: DataSource,
    sql: string,
    params: readonly unknown[],
  ): unknown[] | undefined => this.#arrayStatement(dataSource, sql).get(...params) as unknown[] | undefined;

  /** The statement of `sql` on the DataSource's connection; a reader among them answers rows as arrays. */
  #arrayStatement(dataSource: DataSource, sql: string): BetterSqlite3Statement {
    const db = connectionOf(dataSource);
    let statement = this.#arrayStatements.get(db, sql);
    if (statement === undefined) {
      const prepared = db.prepare(sql);
      statement = this.#arrayStatements.put(db, sql, prepared.reader ? prepared.raw(true) : prepared);
    }
    return statement;
  }

  override readonly executeSyncWrite = (dataSource: DataSource, sql: string, params: readonly unknown[]): number => {
    const db = connectionOf(dataSource);
    const statement = this.#statements.get(db, sql) ?? this.#statements.put(db, sql, db.prepare(sql));
    return Number((statement.run(...params) as { changes?: number }).changes ?? 0);
  };

  override executeWrite(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<number> {
    try {
      return Promise.resolve(this.executeSyncWrite(dataSource, sql, params));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  override prepareOptions(options: DataSourceOptions): DataSourceOptions {
    if (options.type !== "better-sqlite3") return { ...options };
    const inMemory = options.database === ":memory:" || options.database === "";
    const userPrepare = options.prepareDatabase;
    return {
      ...options,
      enableWAL: options.enableWAL ?? !inMemory,
      timeout: options.timeout ?? SQLITE_BUSY_TIMEOUT_MS,
      prepareDatabase: async (db: { pragma(sql: string): unknown }) => {
        if (userPrepare) await userPrepare(db);
        db.pragma("foreign_keys = ON");
        db.pragma("synchronous = NORMAL");
        db.pragma(`busy_timeout = ${options.timeout ?? SQLITE_BUSY_TIMEOUT_MS}`);
      },
    };
  }

  /** TypeORM 0.3 hands booleans in raw `query()` parameters to better-sqlite3, which refuses them; 1.x binds 1/0. */
  protected override adaptQueries(dataSource: DataSource): void {
    if (!LINE_DIFFERENCES.betterSqlite3RefusesBooleans) return;
    wrapQueries(
      dataSource,
      "sqlite-boolean-parameters",
      (query) =>
        (sql, parameters, ...rest) =>
          query(
            sql,
            Array.isArray(parameters) ? parameters.map((p) => (typeof p === "boolean" ? Number(p) : p)) : parameters,
            ...rest,
          ),
    );
  }

  /** SQLite is in the process: the check asks the one connection directly. */
  override async openHealthProbe(dataSource: DataSource): Promise<HealthProbe> {
    const db = connectionOf(dataSource);
    return {
      query: async (sql) => db.prepare(sql).all(),
      destroy: () => undefined,
    };
  }
}

/** The busy timeout the connection was opened with: how long a caller waits for another's transaction. */
function busyTimeoutOf(dataSource: DataSource): number {
  const { timeout, busyTimeout } = dataSource.options as { timeout?: unknown; busyTimeout?: unknown };
  const value = typeof timeout === "number" ? timeout : busyTimeout;
  return typeof value === "number" && value > 0 ? value : SQLITE_BUSY_TIMEOUT_MS;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
