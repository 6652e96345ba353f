import type { DataSource, DataSourceOptions, QueryRunner } from "typeorm";
import { ConfigurationError, DatabaseOperationError } from "../errors";
import { LINE_DIFFERENCES } from "../typeorm/typeorm-line";
import { bulkField, bulkStream } from "./bulk-text";
import { combineJson, mysqlPathText, scalarKind, type BindParameter } from "./json-sql";
import type { JsonScalar, JsonTest } from "../columns/json-query";
import type { JsonValue } from "../columns/smart-json";
import { keepsAppSessions } from "../typeorm/registry";
import { takeJsonAsParsed } from "../typeorm/json-reads";
import {
  BaseDialect,
  BulkLoadFailure,
  type SessionSettings,
  type ForeignKeyViolation,
  type HealthProbe,
  type PoolStats,
  type ReplicaConnection,
  type ReplicaStatus,
} from "./dialect";

/** The strict SQL mode every MySQL/MariaDB connection gets: no silent truncation, no zero dates. */
export const MYSQL_SQL_MODE =
  "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

/** Statement run on every new pooled connection. */
const SESSION_SETUP = `SET time_zone = '+00:00', sql_mode = '${MYSQL_SQL_MODE}', NAMES utf8mb4 COLLATE utf8mb4_unicode_ci`;

/**
 * With `causalReads`, a Galera node waits until it has applied everything the cluster committed before it answers
 * a read (`wsrep_sync_wait = 1`), so a read right after a write through another node sees it.
 */
const CAUSAL_READS = ", wsrep_sync_wait = 1";

/** A JSON array holding an integer past 2^53: how it arrives tells how mysql2 hands back JSON values. */
const JSON_ARRIVAL_PROBE = "SELECT JSON_ARRAY(9007199254740993) AS probe";

/**
 * How mysql2 handed back {@link JSON_ARRIVAL_PROBE}'s value: `"text"` (`jsonStrings`, or a mysql2 that does not see
 * MariaDB's JSON marking), `"parsed"` (as `JSON.parse` gives it), `"big-number-text"` (parsed, with unsafe integers
 * as their digits: `supportBigNumbers` where Node's `JSON.parse` shows the source), or `"other"` (an app's
 * `typeCast` made something else of it).
 *
 * @internal
 */
export function jsonArrival(value: unknown): "text" | "parsed" | "big-number-text" | "other" {
  if (typeof value === "string") return "text";
  if (!Array.isArray(value) || value.length !== 1) return "other";
  if (value[0] === 9007199254740992) return "parsed";
  return value[0] === "9007199254740993" ? "big-number-text" : "other";
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Buffer.isBuffer(value)) return "a Buffer";
  if (typeof value === "bigint") return `the bigint ${value}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** mysql2's errors of a connection or server going away (besides the socket's own codes). */
const CONNECTION_GONE = new Set([
  "PROTOCOL_CONNECTION_LOST",
  "ER_SERVER_SHUTDOWN",
  "ER_CON_COUNT_ERROR",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
]);

interface Mysql2Connection {
  query(sql: string, callback: (error: Error | null, rows?: unknown) => void): void;
  /** Where every statement is queued (mysql2's base connection); replaced once the connection closes. */
  addCommand?(command: unknown): unknown;
  readonly config?: { typeCast?: unknown };
  on(event: "error" | "connect", listener: (error?: Error) => void): void;
  once(event: "error" | "connect", listener: (error?: Error) => void): void;
  destroy(): void;
  release?(): void;
}
interface Mysql2Pool {
  on(event: "connection", listener: (connection: Mysql2Connection) => void): void;
  query(sql: string, params: readonly unknown[], callback: (error: Error | null, rows: unknown) => void): void;
  config: { connectionConfig: Record<string, unknown> };
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  _connectionQueue?: { length: number };
}
interface Mysql2Cluster {
  add(id: string, config: unknown): void;
  getConnection(pattern: string, callback: (error: Error | null, connection: Mysql2Connection) => void): void;
  of(pattern: string): { query: Mysql2Pool["query"] };
  _nodes: Record<string, { pool: Mysql2Pool } | undefined>;
}
interface Mysql2Module {
  createPool(options: unknown): Mysql2Pool;
  createPoolCluster(options: unknown): Mysql2Cluster;
  createConnection(options: unknown): Mysql2Connection;
}
interface MysqlDriver {
  pool?: Mysql2Pool;
  poolCluster?: Mysql2Cluster;
  mysql: Mysql2Module;
  prepareDbConnection?(connection: Mysql2Connection): Mysql2Connection;
}

/** The pool of the primary: the only pool, or the cluster's MASTER node with replicas (TypeORM's naming). */
function primaryPool(driver: MysqlDriver): Mysql2Pool | undefined {
  return driver.pool ?? driver.poolCluster?._nodes["MASTER"]?.pool;
}

/** Reads a replica status column under MySQL 8.4's name or the older one MariaDB keeps. */
function statusField(row: Record<string, unknown>, source: string, master: string): unknown {
  return row[source] ?? row[master];
}

/**
 * An instant as the wall time mysql2 writes for a `Date` parameter on a connection with this `timezone` option
 * (`"Z"`, `"local"`, `"+HH:MM"` / `"-HH:MM"`; mysql2's own reading of it), milliseconds kept: what LOAD DATA must
 * send so that its rows read back as the same instants as the rows mysql2's INSERTs wrote.
 */
export function zonedInstantText(date: Date, timezone: unknown): string {
  let shifted = date.getTime();
  if (timezone === "local" || timezone === undefined) shifted -= date.getTimezoneOffset() * 60_000;
  else if (typeof timezone === "string" && timezone !== "Z") {
    const offset = /^([+-])(\d{2}):?(\d{2})$/.exec(timezone);
    if (offset) shifted += (offset[1] === "-" ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60_000;
  }
  return new Date(shifted).toISOString().replace("T", " ").replace("Z", "");
}

/** One value in LOAD DATA's default text format: instants in the connection's zone, booleans as 1/0. */
function loadField(value: unknown, timezone: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (value instanceof Date) return zonedInstantText(value, timezone);
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "object") return bulkField(JSON.stringify(value));
  return bulkField(String(value));
}

/** What mysql2 hands a `typeCast` function for one field of a row. */
interface CastField {
  readonly type: string;
  string(): string | null;
}
type TypeCast = (field: CastField, next: () => unknown) => unknown;

/**
 * mysql2's row conversion with a `DATE` read as the local midnight of that day, as mysql2 gives it on a connection in
 * the process's zone: the library's connections speak UTC (`timezone: "Z"`, for its instants), which made a DATE the
 * UTC midnight, and TypeORM's `date` hydration (local calendar fields) the day before west of UTC. An app's own
 * `typeCast` runs for every other field.
 */
function localDates(own: unknown): TypeCast {
  const rest = typeof own === "function" ? (own as TypeCast) : undefined;
  return (field, next) => {
    if (field.type !== "DATE" && field.type !== "NEWDATE") return rest ? rest(field, next) : next();
    const text = field.string();
    if (text === null) return null;
    const [year, month, day] = text.split("-").map(Number) as [number, number, number];
    // a zero date is no day (mysql2 answers an invalid Date for it too)
    if (!year || !month || !day) return new Date(Number.NaN);
    return new Date(year, month - 1, day);
  };
}

const LOCAL_DATES = localDates(undefined);
/** mysql2's column type codes of `DATE` (and the internal NEWDATE). */
const DATE_TYPES = new Set([0x0a, 0x0e]);

/** A mysql2 statement that reads rows (`Query`, `Execute`), as far as the date hook needs it. */
interface RowCommand {
  readonly options: { typeCast?: unknown };
  on(
    event: "fields",
    listener: (this: RowCommand, fields: readonly { columnType: number }[] | undefined) => void,
  ): void;
}

/**
 * Gives one result set {@link localDates} when it has a `DATE` column. mysql2 announces a result set's columns
 * (`fields`) before it builds the row parser from the statement's options, and calls a `typeCast` function for every
 * field of every row: a connection-wide one cost 4-5% of a 100-row SELECT, though most results hold no DATE.
 */
function castDatesOf(this: RowCommand, fields: readonly { columnType: number }[] | undefined): void {
  const own = this.options.typeCast;
  if (typeof own === "function" || own === false || !fields) return;
  for (const field of fields)
    if (DATE_TYPES.has(field.columnType)) {
      this.options.typeCast = LOCAL_DATES;
      return;
    }
}

/**
 * Reads `DATE` as local midnights on one of the library's UTC connections, through every statement it runs: queries
 * and prepared statements, callbacks and streams, TypeORM's and the library's own (each goes through `addCommand`).
 * A connection given an app's `typeCast` function has {@link localDates} around it already.
 */
function readDatesLocally(connection: Mysql2Connection): void {
  if (connection.config?.typeCast !== true) return;
  const add = connection.addCommand;
  if (!add) return;
  connection.addCommand = function (this: Mysql2Connection, command: unknown) {
    if (command !== null && typeof command === "object" && "_rowParser" in command)
      (command as unknown as RowCommand).on("fields", castDatesOf);
    return add.call(this, command);
  };
}

/**
 * MySQL 5.7+ through mysql2: native `json` (mysql2 is asked for JSON as text so that TypeORM parses every value the
 * same way, top-level strings included), `datetime(6)` (TypeORM's own precision, which keeps the milliseconds) in UTC (`timezone: "Z"` on the client and
 * `time_zone = '+00:00'` on every session), strict `sql_mode`, utf8mb4.
 *
 * @internal
 */
export class MysqlDialect extends BaseDialect {
  readonly name: "mysql" | "mariadb" = "mysql";
  readonly jsonColumnType: string = "json";
  /** TypeORM's own precision for its date columns; a plain DATETIME would drop the milliseconds. */
  override readonly instantColumn = { precision: 6 };

  /** The `Date` itself: mysql2 writes it in the connection's zone (`timezone`), as it writes TypeORM's own. */
  override instantParameter(date: Date): unknown {
    return date;
  }
  override readonly clockNamesPrecision = true;

  /**
   * Each path step guarded by the type of the value it steps into (a number only into an array, a string only into
   * an object: MySQL's lax paths would read a scalar as a one-element array), keys escaped as JSON text escapes them;
   * strings compare as bytes (exact: no case or accent folding, no trailing-space padding), numbers as DOUBLE;
   * containment is PostgreSQL's `@>`, built from the candidate (objects key by key, an array's elements through
   * JSON_TABLE), since JSON_CONTAINS reads a scalar as contained in an array below the top level.
   */
  override jsonCondition(column: string, test: JsonTest, bind: BindParameter): string {
    let aliases = 0;
    const number = (node: string) => `JSON_TYPE(${node}) IN ('INTEGER', 'DOUBLE', 'DECIMAL', 'UNSIGNED INTEGER')`;
    const typed = (node: string, value: JsonScalar): string => {
      switch (scalarKind(value)) {
        case "null":
          return `(JSON_TYPE(${node}) = 'NULL')`;
        case "boolean":
          return `(JSON_TYPE(${node}) = 'BOOLEAN' AND JSON_UNQUOTE(${node}) = '${String(value)}')`;
        case "number":
          return `(${number(node)} AND CAST(JSON_UNQUOTE(${node}) AS DOUBLE) = ${bind(value)})`;
        case "string":
          return `(JSON_TYPE(${node}) = 'STRING' AND CAST(JSON_UNQUOTE(${node}) AS BINARY) = CAST(${bind(value)} AS BINARY))`;
      }
    };
    /** The value at one step below `node` (SQL NULL when it is not there), and the guard the step needs. */
    const step = (node: string, part: string | number): { node: string; guard: string } => {
      if (typeof part === "number")
        return { node: `JSON_EXTRACT(${node}, ${bind(mysqlPathText([part]))})`, guard: `JSON_TYPE(${node}) = 'ARRAY'` };
      if (this.addressableKey(part))
        return {
          node: `JSON_EXTRACT(${node}, ${bind(mysqlPathText([part]))})`,
          guard: `JSON_TYPE(${node}) = 'OBJECT'`,
        };
      // a key the server's path syntax cannot name: found among the object's keys, its value by position
      const k = `jk${++aliases}`;
      return {
        node:
          `(SELECT JSON_EXTRACT(JSON_EXTRACT(${node}, '$.*'), CONCAT('$[', ${k}.i - 1, ']')) FROM ` +
          `JSON_TABLE(JSON_KEYS(${node}), '$[*]' COLUMNS (i FOR ORDINALITY, k LONGTEXT PATH '$')) AS ${k} ` +
          `WHERE CAST(${k}.k AS BINARY) = CAST(${bind(part)} AS BINARY) LIMIT 1)`,
        guard: `JSON_TYPE(${node}) = 'OBJECT'`,
      };
    };
    const walk = (node: string, path: readonly (string | number)[]): { node: string; guards: string[] } => {
      const guards: string[] = [];
      for (const part of path) {
        const next = step(node, part);
        guards.push(next.guard);
        node = next.node;
      }
      return { node, guards };
    };
    const all = (parts: readonly string[]) => (parts.length === 1 ? parts[0]! : `(${parts.join(" AND ")})`);
    // `node` contains `candidate` (below the top level: a scalar contains only itself)
    const contains = (node: string, candidate: JsonValue): string => {
      if (candidate === null || typeof candidate !== "object") return typed(node, candidate);
      if (Array.isArray(candidate)) {
        const each = (candidate as readonly JsonValue[]).map((element) => {
          const je = `je${++aliases}`;
          const item = `JSON_EXTRACT(${node}, CONCAT('$[', ${je}.i - 1, ']'))`;
          return (
            `EXISTS (SELECT 1 FROM JSON_TABLE(${node}, '$[*]' COLUMNS (i FOR ORDINALITY)) AS ${je} ` +
            `WHERE ${contains(item, element)})`
          );
        });
        return all([`JSON_TYPE(${node}) = 'ARRAY'`, ...each]);
      }
      const keys = Object.keys(candidate).map((key) => {
        const next = step(node, key);
        return contains(next.node, (candidate as Record<string, JsonValue>)[key]!);
      });
      return all([`JSON_TYPE(${node}) = 'OBJECT'`, ...keys]);
    };
    return combineJson(test, (leaf) => {
      if (leaf.kind === "contains") {
        const whole = contains(column, leaf.value);
        if (leaf.value !== null && typeof leaf.value === "object") return whole;
        // as PostgreSQL's @>, a top-level array contains a scalar element
        const je = `je${++aliases}`;
        const item = `JSON_EXTRACT(${column}, CONCAT('$[', ${je}.i - 1, ']'))`;
        return (
          `(${whole} OR (JSON_TYPE(${column}) = 'ARRAY' AND EXISTS (SELECT 1 FROM ` +
          `JSON_TABLE(${column}, '$[*]' COLUMNS (i FOR ORDINALITY)) AS ${je} WHERE ${typed(item, leaf.value)})))`
        );
      }
      const { node, guards } = walk(column, leaf.path);
      switch (leaf.kind) {
        case "hasKey":
          return all([...guards, `${node} IS NOT NULL`]);
        case "compare":
          return all([
            ...guards,
            number(node),
            `CAST(JSON_UNQUOTE(${node}) AS DOUBLE) ${leaf.operator} ${bind(leaf.value)}`,
          ]);
        case "like":
          return all([
            ...guards,
            `JSON_TYPE(${node}) = 'STRING'`,
            `JSON_UNQUOTE(${node}) COLLATE utf8mb4_bin LIKE ${bind(leaf.pattern)}`,
          ]);
        case "equals":
          return all([...guards, typed(node, leaf.value)]);
      }
    });
  }

  /** MySQL 8's `utf8mb4_0900_bin` is NO PAD; 5.7 has only `utf8mb4_bin`, which pads (trailing spaces ignored). */
  override exactCollation(serverVersion: string | undefined): string | undefined {
    return Number(/^(\d+)/.exec(serverVersion ?? "")?.[1] ?? 8) >= 8 ? "utf8mb4_0900_bin" : "utf8mb4_bin";
  }

  /** Whether the server's JSON path syntax names `key` when quoted (MySQL: every key). */
  protected addressableKey(_key: string): boolean {
    return true;
  }

  /** Strings are kept to their first 255 characters (an index key's limit); queries recheck the whole value. */
  override jsonIndexColumn(
    column: string,
    path: readonly (string | number)[],
    type: "string" | "number",
  ): { type: string; length?: string; expression: string } {
    const unnamed = path.find((part) => typeof part === "string" && !this.addressableKey(part));
    if (unnamed !== undefined)
      throw new ConfigurationError(
        `@JsonIndex on the path ${JSON.stringify(path)}: ${this.name} cannot name the key ${JSON.stringify(unnamed)} ` +
          `in a generated column's JSON path; index another path, or query this one without an index`,
      );
    const at = `JSON_EXTRACT(${column}, ${this.stringLiteral(mysqlPathText(path))})`;
    return type === "number"
      ? {
          type: "double",
          expression: `CASE WHEN JSON_TYPE(${at}) IN ('INTEGER', 'DOUBLE', 'DECIMAL', 'UNSIGNED INTEGER') THEN CAST(JSON_UNQUOTE(${at}) AS DOUBLE) END`,
        }
      : {
          type: "varchar",
          length: "255",
          expression: `CASE WHEN JSON_TYPE(${at}) = 'STRING' THEN SUBSTRING(JSON_UNQUOTE(${at}), 1, 255) END`,
        };
  }

  /** `Duplicate entry '...' for key 'index'` (MySQL 8 says `'table.index'`). */
  /** 1213 ER_LOCK_DEADLOCK: a deadlock, and how Galera reports a certification failure (at COMMIT or the next statement). */
  override transactionConflict(error: unknown): boolean {
    return (error as { errno?: unknown }).errno === 1213;
  }

  override uniqueViolation(error: unknown): { index: string } | undefined {
    const { errno, message } = error as { errno?: unknown; message?: unknown };
    if (errno !== 1062 || typeof message !== "string") return undefined;
    const key = /for key '([^']+)'\s*$/.exec(message)?.[1];
    return key === undefined ? undefined : { index: key.split(".").pop() ?? key };
  }

  /** 1452 / 1216: the referred row is missing; 1451 / 1217: the row is still referred to (1216/1217 name nothing). */
  override foreignKeyViolation(error: unknown): ForeignKeyViolation | undefined {
    const { errno, message } = error as { errno?: unknown; message?: unknown };
    const reason =
      errno === 1452 || errno === 1216 ? "missing" : errno === 1451 || errno === 1217 ? "referenced" : undefined;
    if (reason === undefined) return undefined;
    const constraint = typeof message === "string" ? /CONSTRAINT `((?:[^`]|``)+)`/.exec(message)?.[1] : undefined;
    return constraint === undefined ? { reason } : { reason, constraint: constraint.replaceAll("``", "`") };
  }

  /** MySQL and MariaDB read a backslash in a string literal as an escape (unless NO_BACKSLASH_ESCAPES). */
  override stringLiteral(value: string): string {
    return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
  }

  override quoteIdentifier(name: string): string {
    return `\`${name.replaceAll("`", "``")}\``;
  }

  override prepareOptions(options: DataSourceOptions, settings: SessionSettings = "library"): DataSourceOptions {
    if (options.type !== "mysql" && options.type !== "mariadb") return { ...options };
    // replicas: the library routes reads itself and takes a failing node out of rotation for a while, so mysql2's
    // cluster must neither drop a node for good after a few errors (its default, with restoreNodeTimeout 0) nor
    // retry a node the library asked for by name (it would retry a dead one forever)
    const replication = options.replication
      ? {
          ...options.replication,
          removeNodeErrorCount: Number.MAX_SAFE_INTEGER,
          restoreNodeTimeout: 0,
          canRetry: false,
        }
      : undefined;
    const extra = options.extra as Record<string, unknown> | undefined;
    return {
      ...options,
      ...(replication ? { replication } : {}),
      // with the app's settings, its zone, charset and jsonStrings stay (the library learns how JSON arrives)
      ...(settings === "app"
        ? {}
        : {
            timezone: "Z",
            charset: options.charset ?? "utf8mb4_unicode_ci",
            // DATE as local midnights: per result set (readDatesLocally), or around an app's own typeCast
            extra: {
              ...extra,
              jsonStrings: true,
              ...(typeof extra?.["typeCast"] === "function" ? { typeCast: localDates(extra["typeCast"]) } : {}),
            },
          }),
      // TypeORM 0.3 would load the `mysql` package first when it is installed; the library speaks to mysql2
      ...(LINE_DIFFERENCES.mysqlNeedsConnectorPackage && !("connectorPackage" in options && options.connectorPackage)
        ? { connectorPackage: "mysql2" }
        : {}),
    } as DataSourceOptions;
  }

  /**
   * From here `LOAD DATA LOCAL INFILE` clearly beats multi-row INSERTs: even at 250 rows, 0.8x at 1,000 (the
   * benchmark's crossover rows, on MariaDB; kept at 1,000 for MySQL, whose loader is not measured here).
   */
  override readonly bulkLoadThreshold: number = 1_000;
  readonly #localInfile = new WeakMap<object, boolean>();

  /**
   * `LOAD DATA LOCAL INFILE` streamed by mysql2 (`infileStreamFactory`) on the session's connection, when the server
   * allows it (`local_infile`). The server treats LOCAL loads as IGNORE (it cannot stop the client mid-file), so a
   * duplicate key or a refused value would only be a warning: any warning, or a row count that differs, fails the
   * load with the first warning as the error, and the caller's transaction rolls back.
   */
  override async bulkLoad(
    queryRunner: QueryRunner,
    table: string,
    columns: readonly string[],
    rows: readonly (readonly unknown[])[],
    progress: (done: number) => void,
  ): Promise<boolean> {
    if (rows.some((row) => row.some((value) => Buffer.isBuffer(value)))) return false;
    const connection = (await queryRunner.connect()) as Mysql2Connection;
    const run = (options: string | object) =>
      new Promise<unknown>((resolve, reject) =>
        connection.query(options as string, (error, result) => (error ? reject(error) : resolve(result))),
      );
    const pool = queryRunner.connection as object;
    let allowed = this.#localInfile.get(pool);
    if (allowed === undefined) {
      const [row] = (await run("SELECT @@local_infile AS allowed")) as { allowed: unknown }[];
      allowed = Number(row?.allowed) === 1;
      this.#localInfile.set(pool, allowed);
      if (!allowed)
        queryRunner.connection.logger.log(
          "warn",
          "insertMany: the server has local_infile=OFF, so large batches go in as multi-row INSERTs instead of LOAD DATA LOCAL INFILE",
        );
    }
    if (!allowed) return false;
    const sql =
      `LOAD DATA LOCAL INFILE 'insert-many' INTO TABLE ${table} CHARACTER SET utf8mb4 ` +
      `FIELDS TERMINATED BY '\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\n' (${columns.join(", ")})`;
    let result: { affectedRows?: number; warningStatus?: number };
    try {
      const timezone = (connection as { config?: { timezone?: unknown } }).config?.timezone;
      const field = (value: unknown) => loadField(value, timezone);
      result = (await run({ sql, infileStreamFactory: () => bulkStream(rows, field, progress) })) as typeof result;
    } catch (error) {
      const row = /at row (\d+)/.exec(String((error as { message?: unknown }).message ?? ""))?.[1];
      throw new BulkLoadFailure(row === undefined ? undefined : Number(row) - 1, error);
    }
    if ((result.warningStatus ?? 0) > 0 || result.affectedRows !== rows.length) {
      const [warning] = (await run("SHOW WARNINGS LIMIT 1")) as { Code?: number; Message?: string }[];
      const message = warning?.Message ?? `${result.affectedRows} of ${rows.length} rows were loaded`;
      const row = /at row (\d+)/.exec(message)?.[1];
      // shaped as the driver's error, so that unique violations are recognised as on every other path
      const error = Object.assign(new Error(message), { errno: warning?.Code, sqlMessage: message });
      throw new BulkLoadFailure(row === undefined ? undefined : Number(row) - 1, error);
    }
    return true;
  }

  /** Leaves room under MariaDB's and MySQL's default `max_allowed_packet` (16 MiB / 64 MiB). */
  override readonly maxStatementBytes = 8 * 1024 * 1024;

  override execute(
    dataSource: DataSource,
    sql: string,
    params: readonly unknown[],
  ): Promise<Record<string, unknown>[]> {
    const driver = dataSource.driver as unknown as MysqlDriver;
    const pool = driver.pool ?? driver.poolCluster?.of("MASTER");
    if (!pool) return Promise.reject(new Error("the MySQL pool is not open"));
    return new Promise((resolve, reject) =>
      pool.query(sql, params, (error, rows) =>
        error ? reject(error) : resolve(Array.isArray(rows) ? (rows as Record<string, unknown>[]) : []),
      ),
    );
  }

  /** mysql2 connects with FOUND_ROWS: `affectedRows` counts the rows matched, changed or not. */
  override executeWrite(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<number> {
    const driver = dataSource.driver as unknown as MysqlDriver;
    const pool = driver.pool ?? driver.poolCluster?.of("MASTER");
    if (!pool) return Promise.reject(new Error("the MySQL pool is not open"));
    return new Promise((resolve, reject) =>
      pool.query(sql, params, (error, result) =>
        error ? reject(error) : resolve(Number((result as { affectedRows?: number }).affectedRows ?? 0)),
      ),
    );
  }

  override adoptionChanges(options: DataSourceOptions, settings: SessionSettings = "library"): string[] {
    if (options.type !== "mysql" && options.type !== "mariadb") return [];
    const changes: string[] = [];
    const timezone = options.timezone;
    if (settings === "library" && timezone !== "Z" && timezone !== "+00:00")
      changes.push(
        `mysql2 timezone ${JSON.stringify(timezone ?? "local")} becomes "Z": DATETIME and TIMESTAMP values the app ` +
          `wrote in another zone read back shifted by that zone's offset from UTC (sessionSettings: "app" keeps it)`,
      );
    if (settings === "library")
      changes.push(
        `every session runs with time_zone '+00:00' and sql_mode '${MYSQL_SQL_MODE}' (a value too long or out of ` +
          `range is refused, not cut; sessionSettings: "app" keeps the server's)`,
      );
    if (
      LINE_DIFFERENCES.mysqlNeedsConnectorPackage &&
      !("connectorPackage" in options && options.connectorPackage) &&
      options.charset === undefined
    )
      changes.push(
        'connections use mysql2 with charset "utf8mb4_unicode_ci" (TypeORM 0.3 loads the mysql package when it is ' +
          "installed, whose utf8 refuses 4-byte characters such as emoji)",
      );
    if (settings === "library" && (options.extra as { jsonStrings?: unknown } | undefined)?.jsonStrings !== true)
      changes.push(
        'mysql2 jsonStrings: raw query() and getRawMany() results of JSON columns are strings (sessionSettings: "app" keeps them parsed)',
      );
    return changes;
  }

  override adoptionProblem(options: DataSourceOptions, settings: SessionSettings = "library"): string | undefined {
    if (settings === "app") {
      if ((options.extra as { jsonStrings?: unknown } | undefined)?.jsonStrings === true) return undefined;
      return (
        `The adopted ${options.type} DataSource is already connected without mysql2's jsonStrings, and the library ` +
        `learns how JSON values arrive when it connects (parsed by mysql2, or as text): hand it to DatabaseManager ` +
        `before initialize(), or create it with extra: { jsonStrings: true }`
      );
    }
    const timezone = "timezone" in options ? options.timezone : undefined;
    if (timezone === "Z" || timezone === "+00:00") return undefined;
    return (
      `The adopted ${options.type} DataSource is already connected with timezone ${JSON.stringify(timezone ?? "local")}, ` +
      `so mysql2 would write instants in the process time zone; hand it to DatabaseManager before initialize(), ` +
      `or create it with timezone: "Z"`
    );
  }

  readonly #learning = new WeakSet<object>();

  /**
   * With the app's session settings and no `jsonStrings`, mysql2 parses what the server marks as JSON (MySQL's JSON
   * type; MariaDB's, a LONGTEXT, through its extended metadata, from mysql2 3.15 on), unless an app's `typeCast`
   * decides otherwise. Right after connecting, one probe tells which: then SmartJSON columns take parsed values as
   * they are (see {@link takeJsonAsParsed}), or text through TypeORM's parse.
   */
  #learnJsonArrival(dataSource: DataSource): void {
    const driver = dataSource.driver as unknown as { afterConnect(): Promise<void> };
    const extra = dataSource.options.extra as { jsonStrings?: unknown } | undefined;
    if (!keepsAppSessions(dataSource) || extra?.jsonStrings === true || this.#learning.has(driver)) return;
    this.#learning.add(driver);
    const afterConnect = driver.afterConnect.bind(driver);
    driver.afterConnect = async () => {
      await afterConnect();
      const [row] = await this.execute(dataSource, JSON_ARRIVAL_PROBE, []);
      const arrival = jsonArrival(row?.["probe"]);
      if (arrival === "parsed") takeJsonAsParsed(dataSource);
      else if (arrival !== "text")
        throw new ConfigurationError(
          arrival === "big-number-text"
            ? "mysql2 hands back integers past 2^53 inside JSON values as strings (supportBigNumbers, TypeORM's " +
                "default, on a Node with JSON source access), so the library's JSON columns would read " +
                '9007199254740993 as the string "9007199254740993"; create the DataSource with ' +
                "extra: { jsonStrings: true } or supportBigNumbers: false"
            : `The connection's typeCast hands back a JSON value as ${describe(row?.["probe"])}, neither its text ` +
                "nor the parsed value, so the library cannot read its JSON columns; leave JSON fields to mysql2 " +
                "(return next() for them) or create the DataSource with extra: { jsonStrings: true }",
        );
    };
  }

  /**
   * mysql2 has no "run this on connect" option; the pool's `connection` event fires for every new connection
   * before it is handed out, so the session setup is queued ahead of the first query. TypeORM opens its first
   * connection inside `createPool`, so the hook goes on the driver's own copy of the mysql2 module.
   */
  override beforeConnect(dataSource: DataSource): void {
    const driver = dataSource.driver as unknown as {
      mysql?: Mysql2Module;
      options: { connectorPackage?: string; driver?: unknown };
      loadDependencies?(): void;
    };
    this.#learnJsonArrival(dataSource);
    if ((driver.mysql as { __inferenceCore?: boolean } | undefined)?.__inferenceCore) return;
    // TypeORM 0.3 loads its MySQL package when the DataSource is built: an adopted one built without
    // connectorPackage, with the `mysql` package installed, holds that one; the options now name mysql2
    if (
      LINE_DIFFERENCES.mysqlNeedsConnectorPackage &&
      driver.options.connectorPackage === "mysql2" &&
      driver.options.driver === undefined
    )
      driver.loadDependencies?.();
    const mysql = driver.mysql;
    if (!mysql) return;
    const causal = (dataSource.options as { causalReads?: unknown }).causalReads === true;
    // with the app's session settings only what the app asked for: Galera's causal reads
    const setup = keepsAppSessions(dataSource)
      ? causal
        ? `SET ${CAUSAL_READS.slice(2)}`
        : undefined
      : SESSION_SETUP + (causal ? CAUSAL_READS : "");
    const utcConnections = !keepsAppSessions(dataSource);
    const prepare = (pool: Mysql2Pool) =>
      pool.on("connection", (connection) => {
        // an idle connection the server kills emits "error"; without a listener that would crash the process
        connection.on("error", () => undefined);
        if (utcConnections) readDatesLocally(connection);
        if (setup === undefined) return;
        connection.query(setup, (error) => {
          if (error) connection.destroy();
        });
      });
    driver.mysql = Object.assign(Object.create(mysql) as Mysql2Module, {
      __inferenceCore: true,
      createPool(options: unknown): Mysql2Pool {
        const pool = mysql.createPool(options);
        prepare(pool);
        return pool;
      },
      // with replicas TypeORM builds a cluster, whose nodes' pools mysql2 makes itself
      createPoolCluster(options: unknown): Mysql2Cluster {
        const cluster = mysql.createPoolCluster(options);
        const add = cluster.add.bind(cluster);
        cluster.add = (id, config) => {
          add(id, config);
          const node = cluster._nodes[id];
          if (node) prepare(node.pool);
        };
        return cluster;
      },
    });
  }

  override async discardConnection(queryRunner: QueryRunner): Promise<void> {
    const connection = (queryRunner as unknown as { databaseConnection?: Mysql2Connection }).databaseConnection;
    try {
      connection?.destroy(); // mysql2 takes a destroyed connection out of its pool
    } finally {
      await super.discardConnection(queryRunner);
    }
  }

  override async openHealthProbe(dataSource: DataSource, timeoutMs: number, replica?: number): Promise<HealthProbe> {
    const driver = dataSource.driver as unknown as MysqlDriver;
    const pool = replica === undefined ? primaryPool(driver) : driver.poolCluster?._nodes[`SLAVE${replica}`]?.pool;
    const config = pool?.config.connectionConfig ?? {};
    const connection = driver.mysql.createConnection({
      host: config["host"],
      port: config["port"],
      user: config["user"],
      password: config["password"],
      database: config["database"],
      ssl: config["ssl"],
      connectTimeout: timeoutMs,
    });
    connection.on("error", () => undefined); // a probe that breaks is dropped by the next check
    await new Promise<void>((resolve, reject) => {
      connection.once("connect", () => resolve());
      connection.once("error", (error) => reject(error ?? new Error("connection failed")));
      // mysql2 connects on creation; the `mysql` package (an adopted TypeORM 0.3 DataSource may load it) on connect()
      (connection as { connect?(): void }).connect?.();
    }).catch((error: unknown) => {
      connection.destroy();
      throw error;
    });
    (connection as { stream?: { unref?(): void } }).stream?.unref?.(); // a probe never keeps the process alive
    return {
      query: (sql) =>
        new Promise((resolve, reject) =>
          connection.query(sql, (error, rows) => (error ? reject(error) : resolve(rows as Record<string, unknown>[]))),
        ),
      destroy: () => connection.destroy(),
    };
  }

  override connectReplica(dataSource: DataSource, index: number): Promise<ReplicaConnection> {
    const driver = dataSource.driver as unknown as MysqlDriver;
    const cluster = driver.poolCluster;
    if (!cluster) return Promise.reject(new Error(`there is no replica ${index}`));
    return new Promise((resolve, reject) =>
      cluster.getConnection(`SLAVE${index}`, (error, connection) => {
        if (error) return reject(error);
        const prepared = driver.prepareDbConnection ? driver.prepareDbConnection(connection) : connection;
        resolve({ handle: prepared, connection: prepared });
      }),
    );
  }

  /** MySQL: the GTIDs the primary has executed; a set of `uuid:interval` ranges. */
  override readonly primaryPositionQuery: string = "SELECT @@GLOBAL.gtid_executed AS position";

  override readonly replicaPositionQuery: string = "SELECT @@GLOBAL.gtid_executed AS position";

  /** MySQL GTID sets: every transaction `needed` names is in `applied`. */
  override positionReached(applied: string, needed: string): boolean {
    const have = gtidSet(applied);
    for (const [source, ranges] of gtidSet(needed)) {
      const held = have.get(source) ?? [];
      if (!ranges.every(([from, to]) => held.some(([a, b]) => a <= from && to <= b))) return false;
    }
    return true;
  }

  /** `SHOW REPLICA STATUS` (MySQL 8.0.22+, MariaDB 10.5.1+); its columns say Source (MySQL 8.4) or Master. */
  override readonly replicaStatusQuery: string = "SHOW REPLICA STATUS";

  /**
   * `Seconds_Behind_Master` when the server gives it; while the SQL thread is stopped it gives none, and the replica
   * is behind when it has read events it has not executed.
   */
  override replicaStatus(rows: readonly Record<string, unknown>[]): ReplicaStatus {
    const row = rows[0];
    if (!row) return { replica: false, behind: false };
    const seconds = statusField(row, "Seconds_Behind_Source", "Seconds_Behind_Master");
    const readFile = statusField(row, "Source_Log_File", "Master_Log_File");
    const readPos = statusField(row, "Read_Source_Log_Pos", "Read_Master_Log_Pos");
    const execFile = statusField(row, "Relay_Source_Log_File", "Relay_Master_Log_File");
    const execPos = statusField(row, "Exec_Source_Log_Pos", "Exec_Master_Log_Pos");
    const behind = String(readFile) !== String(execFile) || String(readPos) !== String(execPos);
    if (seconds === null || seconds === undefined) return { replica: true, behind };
    const lagMs = Number(seconds) * 1000;
    return { replica: true, behind: behind || lagMs > 0, lagMs };
  }

  override connectionLost(error: unknown): boolean {
    if (super.connectionLost(error)) return true;
    const { code, fatal } = error as { code?: unknown; fatal?: unknown };
    return fatal === true || (typeof code === "string" && CONNECTION_GONE.has(code));
  }

  /** 1213: InnoDB rolled the whole transaction back (a deadlock, Galera's certification failure), savepoints too. */
  override transactionEnded(error: unknown, inSavepoint: boolean): boolean {
    return super.transactionEnded(error, inSavepoint) || this.transactionConflict(error);
  }

  override poolStats(dataSource: DataSource): PoolStats | undefined {
    const pool = primaryPool(dataSource.driver as unknown as MysqlDriver);
    if (!pool) return undefined;
    return {
      total: pool._allConnections?.length ?? 0,
      idle: pool._freeConnections?.length ?? 0,
      waiting: pool._connectionQueue?.length ?? 0,
    };
  }

  /**
   * `GET_LOCK` on a name of this database (DDL commits on its own here, so no transaction holds anything), released
   * before the builder's connection goes back to the pool. Waits up to a minute.
   */
  override async lockSchema(queryRunner: QueryRunner): Promise<void> {
    const name = "CONCAT('inference-core:createTables:', LEFT(DATABASE(), 30))";
    const [row] = (await queryRunner.query(`SELECT GET_LOCK(${name}, 60) AS locked`)) as { locked: unknown }[];
    if (Number(row?.locked) !== 1)
      throw new DatabaseOperationError("Waited 60 s for another instance's createTables() to finish (GET_LOCK)");
    const release = queryRunner.release.bind(queryRunner);
    queryRunner.release = async () => {
      await queryRunner.query(`SELECT RELEASE_LOCK(${name})`).catch(() => undefined);
      return release();
    };
  }

  override async dependentsOf(queryRunner: QueryRunner, tables: readonly string[]): Promise<string[]> {
    if (tables.length === 0) return [];
    const names = tables.map((t) => t.split(".").pop()!);
    const marks = names.map(() => "?").join(", ");
    const keys = (await queryRunner.query(
      `SELECT CONSTRAINT_NAME AS name, TABLE_NAME AS t FROM information_schema.REFERENTIAL_CONSTRAINTS
        WHERE CONSTRAINT_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IN (${marks}) AND TABLE_NAME NOT IN (${marks})
        ORDER BY TABLE_NAME, CONSTRAINT_NAME`,
      [...names, ...names],
    )) as { name: string; t: string }[];
    // MariaDB has no VIEW_TABLE_USAGE: a view's stored definition names each table it reads as `table` (qualified)
    const views = (await queryRunner.query(
      "SELECT TABLE_NAME AS name, VIEW_DEFINITION AS definition FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
    )) as { name: string; definition: string | null }[];
    const quoted = names.map((n) => this.quoteIdentifier(n));
    return [
      ...views
        .filter((v) => !names.includes(v.name) && quoted.some((q) => (v.definition ?? "").includes(q)))
        .map((v) => `view ${v.name}`),
      ...keys.map((k) => `foreign key ${k.name} of table ${k.t}`),
    ];
  }

  override async dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void> {
    if (tables.length === 0) return;
    await queryRunner.query("SET FOREIGN_KEY_CHECKS = 0");
    try {
      await queryRunner.query(`DROP TABLE IF EXISTS ${tables.map((t) => this.quoteTable(t)).join(", ")}`);
    } finally {
      await queryRunner.query("SET FOREIGN_KEY_CHECKS = 1");
    }
  }
}

/**
 * Asks a MySQL-protocol server for its version before TypeORM connects, so that a `mysql://` URL that reaches a
 * MariaDB server gets TypeORM's `mariadb` driver (RETURNING, generated-column DDL, JSON as LONGTEXT).
 *
 * @internal
 */
export async function probeServerVersion(options: DataSourceOptions): Promise<string> {
  if (options.type !== "mysql" && options.type !== "mariadb") return "";
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mysql = require("mysql2/promise") as {
    createConnection(
      config: object,
    ): Promise<{ query(sql: string): Promise<[{ version: string }[]]>; end(): Promise<void> }>;
  };
  const primary = { ...options, ...options.replication?.master };
  const connection = await mysql.createConnection({
    host: primary.host,
    port: primary.port,
    user: primary.username,
    password: primary.password,
    database: primary.database,
    ssl: primary.ssl,
    connectTimeout: options.connectTimeout ?? 10_000,
  });
  try {
    const [rows] = await connection.query("SELECT VERSION() AS version");
    return rows[0]?.version ?? "";
  } finally {
    await connection.end();
  }
}

/** A MySQL GTID set (`uuid:1-5:7,uuid2:3`) as intervals per source. */
function gtidSet(text: string): Map<string, [bigint, bigint][]> {
  const set = new Map<string, [bigint, bigint][]>();
  for (const part of text.replace(/\s+/g, "").split(",")) {
    if (part === "") continue;
    const [source, ...ranges] = part.split(":");
    const list = set.get(source!.toLowerCase()) ?? [];
    for (const range of ranges) {
      const [from, to = from] = range.split("-");
      if (from && /^\d+$/.test(from) && /^\d+$/.test(to!)) list.push([BigInt(from), BigInt(to!)]);
    }
    set.set(source!.toLowerCase(), list);
  }
  return set;
}
