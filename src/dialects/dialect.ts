import { isoString } from "../util/iso-date";
import type { DataSource, DataSourceOptions, QueryRunner } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { JsonTest } from "../columns/json-query";
import type { JsonEncoding } from "../columns/smart-json";
import type { BindParameter } from "./json-sql";

/** What a driver's foreign-key violation says (see {@link Dialect.foreignKeyViolation}). */
export interface ForeignKeyViolation {
  /** The constraint's name, where the database gives it. */
  readonly constraint?: string;
  /** Whether the referred row is missing or the written row is still referred to, where the error says. */
  readonly reason?: "missing" | "referenced";
}
/** The databases this library supports. `mysql` and `mariadb` differ in JSON storage and a few DDL details. */
export type DialectName = "sqlite" | "postgres" | "mysql" | "mariadb";

/** What a URL or options object says about the connection, before the dialect fills in its settings. */
export interface ConnectionSettings {
  /** Pool size; ignored by SQLite (one connection). */
  readonly poolSize?: number;
  /** TypeORM logging option. */
  readonly logging?: DataSourceOptions["logging"];
}

/**
 * Whose session settings a MySQL/MariaDB connection runs with: `"library"` (UTC, a strict `sql_mode`, utf8mb4) or
 * `"app"` (the DataSource's own time zone and the server's `sql_mode`; the library then writes and reads its instants
 * in the connection's zone). PostgreSQL and SQLite connections are the same either way.
 */
export type SessionSettings = "library" | "app";

/** Connection counts of a pool, as far as the driver tells them. */
export interface PoolStats {
  /** Connections the pool holds (busy and idle). */
  readonly total: number;
  /** Connections waiting in the pool for work. */
  readonly idle: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
}

/** A connection of its own for health checks, outside the pool, so a busy pool cannot delay a check. @internal */
export interface HealthProbe {
  /** Runs one query and answers its rows. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Drops the connection at once (no goodbye to a server that may not answer). */
  destroy(): void;
}

/** Node's socket errors: the other end is not there (any more). */
const NETWORK_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTCONN"]);

/** What a replica says about its replication, read by {@link Dialect.replicaStatus}. @internal */
export interface ReplicaStatus {
  /** Whether the server is a replica at all (in recovery, or has a replication source configured). */
  readonly replica: boolean;
  /** Whether it has received changes it has not applied yet. */
  readonly behind: boolean;
  /** How far behind the server says it is, in milliseconds, when it says so. */
  readonly lagMs?: number;
}

/** A pooled connection taken for a replica read: what TypeORM's driver hands its query runner, and the connection. */
export interface ReplicaConnection {
  readonly handle: unknown;
  readonly connection: object;
}

/** The column shape a dialect gives to a kind of column. `undefined` keeps what TypeORM would choose. @internal */
export interface ColumnShape {
  readonly type?: string;
  readonly precision?: number;
}

/**
 * Everything that differs between databases, asked as questions. Code outside `src/dialects/` never branches on
 * the driver type; it asks the dialect.
 *
 * @internal
 */
export interface Dialect {
  readonly name: DialectName;
  /** Native column type of SmartJSON columns. */
  readonly jsonColumnType: string;
  /** Whether TypeORM's driver encodes and decodes that type (true) or the SmartJSON transformer does (false). */
  readonly jsonEncoding: JsonEncoding;
  /** Column shape of `createdAt`, `updatedAt`, `deletedAt`. */
  readonly instantColumn: ColumnShape;
  /**
   * Whether a default of the database's clock must name the column's fractional-second precision
   * (`CURRENT_TIMESTAMP(6)` for a `datetime(6)` on MySQL/MariaDB, which store the bare one as another default).
   */
  readonly clockNamesPrecision: boolean;
  /** Length of the text column a UUID key is stored in, or undefined where the database has a UUID type. */
  readonly uuidTextLength: number | undefined;
  /** True when the database has a single connection, so transactions must queue (SQLite). */
  readonly singleConnection: boolean;
  /** Most bind parameters one statement may carry. */
  readonly maxBindParameters: number;
  /**
   * SQL that answers the server version as one row, in a column named `version`; where the server can be a node of a
   * cluster (MariaDB Galera), the same row answers its `size` and `state` (NULL when it is not one), in the same round
   * trip.
   */
  readonly versionQuery: string;
  /** Quotes an identifier (table or column name). */
  quoteIdentifier(name: string): string;
  /** Quotes a table path (`schema.table` or `table`), each part by {@link quoteIdentifier}. */
  quoteTable(path: string): string;
  /** An SQL literal for an instant, in the form the instant columns store. */
  instantLiteral(date: Date): string;
  /**
   * An instant as a bind parameter, in the form the instant columns store (the text {@link instantLiteral} quotes):
   * statements that bind it keep one SQL text, so the drivers' prepared-statement caches keep working.
   */
  instantValue(date: Date): string;
  /**
   * An instant bound for an instant column in a statement the library writes itself: {@link instantValue}'s text,
   * or the `Date` where the driver formats it in the connection's zone (mysql2), as it formats TypeORM's own.
   */
  instantParameter(date: Date): unknown;
  /**
   * When a driver error is a unique-key violation: the index it names (PostgreSQL, MySQL/MariaDB) or the columns
   * (SQLite names `table.column` pairs). Undefined for any other error.
   */
  uniqueViolation(error: unknown): { readonly index?: string; readonly columns?: readonly string[] } | undefined;
  /**
   * When a driver error is a foreign-key violation: the constraint it names (PostgreSQL, MySQL/MariaDB) and whether
   * the referred row is missing or the written row is still referred to, where the error says. Undefined for any
   * other error.
   */
  foreignKeyViolation(error: unknown): ForeignKeyViolation | undefined;
  /**
   * Whether a driver error (already unwrapped from TypeORM's `QueryFailedError`) says the transaction lost a
   * conflict and would succeed if run again: a serialization failure or deadlock, a cluster's certification failure,
   * SQLite's busy error after its timeout.
   */
  transactionConflict(error: unknown): boolean;
  /** Whether transactions take an isolation level (SQLite's are always serializable). */
  readonly isolationLevels: boolean;
  /**
   * The collation that makes text compare exactly (byte for byte: no case or accent folding, no trailing-space
   * padding), for the library's text columns and `@UniqueWhileActive` twins; undefined where the default already
   * does (PostgreSQL's deterministic collations, SQLite's BINARY). `serverVersion` as the server reports it.
   */
  exactCollation(serverVersion: string | undefined): string | undefined;
  /** `expression` with the ASCII letters A-Z lower-cased and every other character kept: one meaning everywhere. */
  foldAsciiCase(expression: string): string;
  /** An SQL string literal (quotes doubled; backslashes too where the server treats them as escapes). */
  stringLiteral(value: string): string;
  /**
   * Fills the settings every connection of this dialect needs into TypeORM options (returns a new object); with
   * `settings` `"app"`, only those the library cannot read and write its own columns without.
   */
  prepareOptions(options: DataSourceOptions, settings?: SessionSettings): DataSourceOptions;
  /** Prepares a DataSource that is about to connect: per-connection session setup, a directory for a database file. */
  beforeConnect(dataSource: DataSource): void;
  /**
   * Why an already connected DataSource cannot be adopted as it is (its connections lack a setting the library
   * relies on), or undefined when it can.
   */
  adoptionProblem(options: DataSourceOptions, settings?: SessionSettings): string | undefined;
  /**
   * What adopting a DataSource with these options changes for every connection (settings that cannot be per
   * entity), each with what the app will notice; empty when nothing.
   */
  adoptionChanges(options: DataSourceOptions, settings?: SessionSettings): string[];
  /** Adjusts TypeORM's driver once connected, before entity metadata is built. */
  afterConnect(dataSource: DataSource): void;
  /**
   * Takes the database's schema lock for `createTables()` on the schema builder's connection, before it reads the
   * catalog, so that instances starting together create each table once; released when the builder's transaction
   * ends or its connection is released.
   */
  lockSchema(queryRunner: QueryRunner): Promise<void>;
  /**
   * What else in the database depends on the given tables: views on them and foreign keys into them from tables not
   * in the list, each said as `view name` or `foreign key name of table t`. `reset()` refuses when there are any.
   */
  dependentsOf(queryRunner: QueryRunner, tables: readonly string[]): Promise<string[]>;
  /** Drops the given tables (if they exist), whatever foreign keys point between them. */
  dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void>;
  /** Gives up a query runner whose connection may be broken: the connection is closed, not returned to the pool. */
  discardConnection(queryRunner: QueryRunner): Promise<void>;
  /** Opens a connection for health checks, with the settings of the primary's pool, or of replica `replica`'s. */
  openHealthProbe(dataSource: DataSource, timeoutMs: number, replica?: number): Promise<HealthProbe>;
  /** A connection from the pool of replica `index` (TypeORM's `replication.slaves[index]`). */
  connectReplica(dataSource: DataSource, index: number): Promise<ReplicaConnection>;
  /**
   * Read-your-writes: SQL answering, in a column `position`, how far the primary's log has gone (at least to every
   * commit made before it runs), and SQL answering on a replica how far it has applied that log; empty where there
   * are no replicas. {@link positionReached} compares two positions.
   */
  readonly primaryPositionQuery: string;
  readonly replicaPositionQuery: string;
  /** Whether a replica that has applied the log to `applied` has everything up to `needed` (both as the queries say). */
  positionReached(applied: string, needed: string): boolean;
  /** SQL answering a server's replication state (rows for {@link replicaStatus}); empty where there are no replicas. */
  readonly replicaStatusQuery: string;
  /** Reads the rows of {@link replicaStatusQuery}. */
  replicaStatus(rows: readonly Record<string, unknown>[]): ReplicaStatus;
  /**
   * Whether a driver error says the connection or the server is gone (refused, reset, shut down, timed out), as
   * opposed to an error of the statement.
   */
  connectionLost(error: unknown): boolean;
  /**
   * Whether a statement's failure (the driver's error, unwrapped) ended the session's transaction on the server: the
   * connection is gone, or the server rolled the whole transaction back (MySQL's deadlock) or will take no further
   * statement in it (PostgreSQL after any error outside a savepoint). A session then runs nothing more.
   */
  transactionEnded(error: unknown, inSavepoint: boolean): boolean;
  /** The pool's connection counts. */
  poolStats(dataSource: DataSource): PoolStats | undefined;
  /** The bind placeholder for the parameter at `index` (0-based): `?` or `$1`. */
  placeholder(index: number): string;
  /** A bound parameter holding JSON text, as a value of the dialect's JSON column type (PostgreSQL casts it). */
  jsonParameter(placeholder: string): string;
  /** Whether `DEFAULT` may stand for a value in a multi-row INSERT. */
  readonly defaultInValues: boolean;
  /** Upper bound for the text of one statement with its parameters (MySQL's `max_allowed_packet`). */
  readonly maxStatementBytes: number;
  /** Runs one statement on the pool (outside any session) straight through the driver, answering its rows. */
  execute(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** Runs one UPDATE or DELETE on the pool (outside any session), answering the rows it matched. */
  executeWrite(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<number>;
  /** {@link Dialect.executeWrite} answering at once, where the driver runs statements synchronously. */
  readonly executeSyncWrite: ((dataSource: DataSource, sql: string, params: readonly unknown[]) => number) | undefined;
  /**
   * Milliseconds since the epoch of an instant as the driver hands a stored one over as text, for the forms the
   * dialect can read faster than TypeORM's hydration and to the same instant; undefined for any other text (TypeORM
   * then reads it). Undefined where drivers hand over Dates.
   */
  readonly parseStoredInstant: ((text: string) => number | undefined) | undefined;
  /**
   * The text the driver's conversion writes for an instant into a column of the dialect's instant type, for the
   * instants the dialect writes faster (undefined for the others, which the driver converts). Used only for columns
   * where it answers what the driver does (asked with sample instants when a statement is planned). Undefined where
   * drivers take Dates.
   */
  readonly formatStoredInstant: ((date: Date) => string | undefined) | undefined;
  /**
   * For a column of the dialect's instant type that the driver hands each Date to its client library to format: the
   * text the column takes as exactly that instant (undefined for an instant the driver should convert). Every write
   * of a Date into such a column goes as this text, TypeORM's too. Undefined for other columns and where the driver's
   * own conversion is already text ({@link formatStoredInstant}).
   */
  columnInstantText(column: ColumnMetadata): ((date: Date) => string | undefined) | undefined;
  /**
   * {@link Dialect.execute} answering at once, each row an array of its values in SELECT order, for a driver that
   * runs statements synchronously (better-sqlite3): the direct statements then spend no promise turns on the
   * statement itself, and no object per row. Undefined otherwise.
   */
  readonly executeSync: ((dataSource: DataSource, sql: string, params: readonly unknown[]) => unknown[][]) | undefined;
  /**
   * {@link Dialect.executeSync} for a SELECT of one row at most: its first row, or undefined without one; the driver
   * stops at the first row (a lookup by key does not step on to find the end).
   */
  readonly executeSyncFirst:
    ((dataSource: DataSource, sql: string, params: readonly unknown[]) => unknown[] | undefined) | undefined;
  /**
   * SQL for a condition on the JSON document in `column` (a quoted column reference of the query), every key and
   * value bound through `bind`. Types are kept: a number compares as a number, `"1"` never equals `1`.
   */
  jsonCondition(column: string, test: JsonTest, bind: BindParameter): string;
  /**
   * The stored generated column of a `@JsonIndex`: its SQL type and the expression giving the value at `path` of
   * the JSON in `column` (a bare quoted column name) when it has `type`, NULL otherwise. Keys go in as escaped literals.
   */
  jsonIndexColumn(
    column: string,
    path: readonly (string | number)[],
    type: "string" | "number",
  ): { readonly type: string; readonly length?: string; readonly expression: string };
  /**
   * Rows from which `insertMany` streams through the database's own loader (`COPY`, `LOAD DATA`)
   * instead of multi-row INSERTs; `Infinity` where there is none. Measured in the benchmark (the crossover).
   */
  readonly bulkLoadThreshold: number;
  /**
   * Streams rows of driver-prepared values into a table on the connection of `queryRunner`, inside the transaction
   * the caller opened; `progress` gets the rows sent so far. Answers false, having written nothing, when this
   * server cannot take rows that way (the caller then uses INSERTs). A failure is a {@link BulkLoadFailure}.
   */
  bulkLoad(
    queryRunner: QueryRunner,
    table: string,
    columns: readonly string[],
    rows: readonly (readonly unknown[])[],
    progress: (done: number) => void,
  ): Promise<boolean>;
}

/**
 * A bulk load the database refused: the row of the input it named (0-based, when it said), and its error.
 *
 * @internal
 */
export class BulkLoadFailure {
  constructor(
    readonly row: number | undefined,
    readonly error: unknown,
  ) {}
}

/** Defaults shared by the dialects; each dialect overrides what differs. @internal */
export abstract class BaseDialect implements Dialect {
  abstract readonly name: DialectName;
  abstract readonly jsonColumnType: string;
  readonly jsonEncoding: JsonEncoding = "driver";
  readonly instantColumn: ColumnShape = {};
  readonly clockNamesPrecision: boolean = false;
  readonly singleConnection: boolean = false;
  readonly uuidTextLength: number | undefined = 36;
  readonly maxBindParameters: number = 65_535;
  readonly versionQuery: string = "SELECT VERSION() AS version";
  readonly defaultInValues: boolean = true;
  readonly maxStatementBytes: number = Number.POSITIVE_INFINITY;
  readonly bulkLoadThreshold: number = Number.POSITIVE_INFINITY;

  exactCollation(_serverVersion: string | undefined): string | undefined {
    return undefined;
  }

  jsonParameter(placeholder: string): string {
    return placeholder;
  }

  /**
   * Nested REPLACE calls, which compare code points on every database. `lower()` is no portable answer: SQLite's
   * folds ASCII only, PostgreSQL's follows the database's locale, MySQL's the whole of Unicode.
   */
  foldAsciiCase(expression: string): string {
    let folded = expression;
    for (let code = 65; code <= 90; code++) {
      const letter = String.fromCharCode(code);
      folded = `REPLACE(${folded}, '${letter}', '${letter.toLowerCase()}')`;
    }
    return folded;
  }

  bulkLoad(
    _queryRunner: QueryRunner,
    _table: string,
    _columns: readonly string[],
    _rows: readonly (readonly unknown[])[],
    _progress: (done: number) => void,
  ): Promise<boolean> {
    return Promise.resolve(false);
  }

  placeholder(_index: number): string {
    return "?";
  }

  abstract execute(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;

  /**
   * Through a query runner of TypeORM's, whose result says the affected rows on every driver (a dialect whose
   * connection is gated, SQLite, runs on its connection instead: the caller holds the turn).
   */
  async executeWrite(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<number> {
    const runner = dataSource.createQueryRunner("master");
    try {
      const result = (await runner.query(sql, params as unknown[], true)) as { affected?: number | null };
      return Number(result.affected ?? 0);
    } finally {
      await runner.release();
    }
  }

  readonly executeSyncWrite: ((dataSource: DataSource, sql: string, params: readonly unknown[]) => number) | undefined =
    undefined;

  readonly executeSync: ((dataSource: DataSource, sql: string, params: readonly unknown[]) => unknown[][]) | undefined =
    undefined;

  readonly executeSyncFirst:
    ((dataSource: DataSource, sql: string, params: readonly unknown[]) => unknown[] | undefined) | undefined =
    undefined;

  readonly parseStoredInstant: ((text: string) => number | undefined) | undefined = undefined;

  readonly formatStoredInstant: ((date: Date) => string | undefined) | undefined = undefined;

  columnInstantText(_column: ColumnMetadata): ((date: Date) => string | undefined) | undefined {
    return undefined;
  }

  quoteIdentifier(name: string): string {
    return `"${name.replaceAll('"', '""')}"`;
  }

  quoteTable(path: string): string {
    return path
      .split(".")
      .map((part) => this.quoteIdentifier(part))
      .join(".");
  }

  /** `YYYY-MM-DD HH:MM:SS.mmm` in UTC, quoted. */
  instantLiteral(date: Date): string {
    return `'${this.instantValue(date)}'`;
  }

  /** `YYYY-MM-DD HH:MM:SS.mmm` in UTC. */
  instantValue(date: Date): string {
    const iso = isoString(date) ?? date.toISOString(); // an invalid Date throws here, as before
    // years past 9999 have a sign and six digits: the general form
    return iso.length === 24 ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : iso.replace("T", " ").replace("Z", "");
  }

  instantParameter(date: Date): unknown {
    return this.instantValue(date);
  }

  stringLiteral(value: string): string {
    return `'${value.replaceAll("'", "''")}'`;
  }

  prepareOptions(options: DataSourceOptions, _settings?: SessionSettings): DataSourceOptions {
    return { ...options };
  }

  beforeConnect(_dataSource: DataSource): void {}

  adoptionProblem(_options: DataSourceOptions, _settings?: SessionSettings): string | undefined {
    return undefined;
  }

  adoptionChanges(_options: DataSourceOptions, _settings?: SessionSettings): string[] {
    return [];
  }

  afterConnect(_dataSource: DataSource): void {}

  /** SQLite: the builder's transaction starts with BEGIN IMMEDIATE, which takes the write lock of the file. */
  async lockSchema(_queryRunner: QueryRunner): Promise<void> {}

  async dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void> {
    for (const table of tables) await queryRunner.query(`DROP TABLE IF EXISTS ${this.quoteTable(table)}`);
  }

  async discardConnection(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.isReleased) return;
    try {
      await queryRunner.release();
    } catch {
      // the connection is being thrown away; a failure to say goodbye changes nothing
    }
  }

  readonly isolationLevels: boolean = true;

  readonly replicaStatusQuery: string = "";

  readonly primaryPositionQuery: string = "";

  readonly replicaPositionQuery: string = "";

  positionReached(_applied: string, _needed: string): boolean {
    return false;
  }

  replicaStatus(_rows: readonly Record<string, unknown>[]): ReplicaStatus {
    return { replica: false, behind: false };
  }

  connectReplica(_dataSource: DataSource, _index: number): Promise<ReplicaConnection> {
    return Promise.reject(new Error(`${this.name} has no replicas`));
  }

  connectionLost(error: unknown): boolean {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && NETWORK_ERRORS.has(code);
  }

  transactionEnded(error: unknown, _inSavepoint: boolean): boolean {
    return this.connectionLost(error);
  }

  abstract transactionConflict(error: unknown): boolean;

  abstract dependentsOf(queryRunner: QueryRunner, tables: readonly string[]): Promise<string[]>;

  abstract uniqueViolation(
    error: unknown,
  ): { readonly index?: string; readonly columns?: readonly string[] } | undefined;

  abstract foreignKeyViolation(error: unknown): ForeignKeyViolation | undefined;

  abstract openHealthProbe(dataSource: DataSource, timeoutMs: number, replica?: number): Promise<HealthProbe>;

  abstract poolStats(dataSource: DataSource): PoolStats | undefined;

  abstract jsonCondition(column: string, test: JsonTest, bind: BindParameter): string;

  abstract jsonIndexColumn(
    column: string,
    path: readonly (string | number)[],
    type: "string" | "number",
  ): { readonly type: string; readonly length?: string; readonly expression: string };
}
