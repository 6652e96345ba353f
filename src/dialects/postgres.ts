import type { DataSource, QueryRunner } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { JsonTest } from "../columns/json-query";
import { isoString } from "../util/iso-date";
import { writeInstantsAsText } from "../typeorm/instant-writes";
import { bulkField, bulkStream } from "./bulk-text";
import { combineJson, pgPathArray, type BindParameter } from "./json-sql";
import {
  BaseDialect,
  BulkLoadFailure,
  type ForeignKeyViolation,
  type HealthProbe,
  type PoolStats,
  type ReplicaConnection,
  type ReplicaStatus,
} from "./dialect";

/** The column types that read an instant's offset (what `timestamptz` is called in TypeORM's metadata). */
const TIMESTAMPTZ: ReadonlySet<unknown> = new Set<unknown>(["timestamp with time zone", "timestamptz"]);
/** 0001-01-01T00:00:00.000Z and 10000-01-01T00:00:00.000Z: the years ISO text writes as PostgreSQL reads them. */
const ISO_FROM_MS = -62_135_596_800_000;
const ISO_TO_MS = 253_402_300_800_000;

/** An instant in UTC as PostgreSQL reads it, for any year (`0001-01-01T00:00:00.000+00:00 BC` is year 0). */
function utcText(date: Date): string {
  const year = date.getUTCFullYear();
  const bc = year < 1;
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${String(bc ? 1 - year : year).padStart(4, "0")}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}` +
    `T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}` +
    `.${String(date.getUTCMilliseconds()).padStart(3, "0")}+00:00${bc ? " BC" : ""}`
  );
}

/** SQLSTATEs of a server going away: admin_shutdown, crash_shutdown, cannot_connect_now, and class 08. */
const SERVER_GONE = /^(57P0[123]|08...)$/;

/** node-postgres's own conversion of a parameter to text, loaded when first needed (pg is an optional peer). */
let prepareValue: ((value: unknown) => unknown) | undefined;

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
  on(event: "error", listener: (error: Error) => void): void;
  connection?: { stream?: { destroy(): void } };
  end(): Promise<void>;
}
interface PgPool {
  options: Record<string, unknown>;
  connect(callback: (error: Error | undefined, client: object, release: (error?: Error) => void) => void): void;
  query(
    sql: string,
    params: readonly unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount?: number | null }>;
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}
interface PgDriver {
  master?: PgPool;
  slaves?: PgPool[];
  postgres: { Client: new (options: Record<string, unknown>) => PgClient };
}

type PgResult = Awaited<ReturnType<PgPool["query"]>>;
const rowsOf = (result: PgResult) => result.rows;
const rowCountOf = (result: PgResult) => result.rowCount ?? 0;

/** One value in COPY's text format, as node-postgres would send it as a parameter. */
function copyField(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (Buffer.isBuffer(value)) return bulkField(`\\x${value.toString("hex")}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  prepareValue ??= (require("pg/lib/utils") as { prepareValue(value: unknown): unknown }).prepareValue;
  const text = prepareValue(value) as string | Buffer | null;
  if (text === null) return "\\N";
  return bulkField(Buffer.isBuffer(text) ? `\\x${text.toString("hex")}` : String(text));
}

/**
 * PostgreSQL: `jsonb`, `timestamptz(3)`, native `uuid`. Nothing depends on the session: no startup parameters, no
 * `SET`, no named prepared statements, so the same code runs through PgBouncer in transaction mode. Instants never
 * depend on the session's `TimeZone` (node-postgres sends Dates with their offset, timestamptz comes back with one,
 * and the literals the library writes carry `Z`), so a server, pooler or proxy in another zone cannot shift them.
 *
 * @internal
 */
export class PostgresDialect extends BaseDialect {
  readonly name = "postgres" as const;
  readonly jsonColumnType = "jsonb";
  override readonly uuidTextLength = undefined;
  override readonly instantColumn = { type: "timestamp with time zone", precision: 3 };
  override readonly versionQuery = "SELECT current_setting('server_version') AS version";
  /**
   * From here `COPY FROM STDIN` beats multi-row INSERTs: 1.15x their time at 50 rows, 0.45x at 100, 0.32x at 250
   * (the benchmark's crossover rows).
   */
  override readonly bulkLoadThreshold = 100;

  /** `translate` maps code points one to one, whatever the database's locale (IMMUTABLE, so a generated column may use it). */
  override foldAsciiCase(expression: string): string {
    return `translate(${expression}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`;
  }

  /**
   * `COPY ... FROM STDIN` in text format through pg-copy-streams on the session's client. Values are turned into
   * text the way node-postgres turns bound parameters into text (arrays, Dates, JSON), so both paths store the same.
   */
  override async bulkLoad(
    queryRunner: QueryRunner,
    table: string,
    columns: readonly string[],
    rows: readonly (readonly unknown[])[],
    progress: (done: number) => void,
  ): Promise<boolean> {
    const client = (await queryRunner.connect()) as { query(stream: Writable): Writable };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { from } = require("pg-copy-streams") as { from(sql: string): Writable };
    const copy = client.query(from(`COPY ${table} (${columns.join(", ")}) FROM STDIN`));
    try {
      await pipeline(bulkStream(rows, copyField, progress), copy);
    } catch (error) {
      // "COPY orders, line 3": the third row sent, the third of the input
      const line = /\bline (\d+)/.exec(String((error as { where?: unknown }).where ?? ""))?.[1];
      throw new BulkLoadFailure(line === undefined ? undefined : Number(line) - 1, error);
    }
    return true;
  }

  /** jsonb operators: `#>` for the value at a path, jsonb equality and ordering (numbers compare as numbers), `@>`. */
  override jsonCondition(column: string, test: JsonTest, bind: BindParameter): string {
    return combineJson(test, (leaf) => {
      if (leaf.kind === "contains") return `(${column} @> CAST(${bind(JSON.stringify(leaf.value))} AS jsonb))`;
      const path = `CAST(${bind(pgPathArray(leaf.path))} AS text[])`;
      const at = `(${column} #> ${path})`;
      // #> reads "0" as an index in an array and 0 as a key in an object, and "-1" as the last element: each step
      // is guarded by the type of what it steps into, so a number is only an index and a string only a key
      const guards = leaf.path.map((part, i) => {
        const container =
          i === 0 ? column : `(${column} #> CAST(${bind(pgPathArray(leaf.path.slice(0, i)))} AS text[]))`;
        return `jsonb_typeof(${container}) = '${typeof part === "number" ? "array" : "object"}'`;
      });
      const guarded = (condition: string) => `(${[...guards, condition].join(" AND ")})`;
      switch (leaf.kind) {
        case "hasKey":
          return guarded(`${at} IS NOT NULL`);
        case "equals":
          return guarded(`${at} = CAST(${bind(JSON.stringify(leaf.value))} AS jsonb)`);
        case "compare":
          return guarded(
            `jsonb_typeof(${at}) = 'number' AND ${at} ${leaf.operator} CAST(${bind(JSON.stringify(leaf.value))} AS jsonb)`,
          );
        case "like":
          return guarded(`jsonb_typeof(${at}) = 'string' AND (${column} #>> ${path}) LIKE ${bind(leaf.pattern)}`);
      }
    });
  }

  override jsonIndexColumn(
    column: string,
    path: readonly (string | number)[],
    type: "string" | "number",
  ): { type: string; expression: string } {
    const at = this.stringLiteral(pgPathArray(path));
    return type === "number"
      ? {
          type: "double precision",
          expression: `CASE WHEN jsonb_typeof(${column} #> ${at}) = 'number' THEN CAST(${column} #>> ${at} AS double precision) END`,
        }
      : {
          type: "text",
          expression: `CASE WHEN jsonb_typeof(${column} #> ${at}) = 'string' THEN ${column} #>> ${at} END`,
        };
  }

  /** 40001 serialization_failure, 40P01 deadlock_detected. */
  override transactionConflict(error: unknown): boolean {
    const code = (error as { code?: unknown }).code;
    return code === "40001" || code === "40P01";
  }

  override uniqueViolation(error: unknown): { index: string } | undefined {
    const { code, constraint } = error as { code?: unknown; constraint?: unknown };
    return code === "23505" && typeof constraint === "string" ? { index: constraint } : undefined;
  }

  override foreignKeyViolation(error: unknown): ForeignKeyViolation | undefined {
    const { code, constraint, detail } = error as { code?: unknown; constraint?: unknown; detail?: unknown };
    if (code !== "23503") return undefined;
    return {
      ...(typeof constraint === "string" ? { constraint } : {}),
      ...(typeof detail === "string"
        ? { reason: /is still referenced from table/.test(detail) ? "referenced" : "missing" }
        : {}),
    } as ForeignKeyViolation;
  }

  override placeholder(index: number): string {
    return `$${index + 1}`;
  }

  /** A parameter's type is not inferred from a CASE's target column: the JSON text is cast to jsonb. */
  override jsonParameter(placeholder: string): string {
    return `CAST(${placeholder} AS jsonb)`;
  }

  override execute(
    dataSource: DataSource,
    sql: string,
    params: readonly unknown[],
  ): Promise<Record<string, unknown>[]> {
    const pool = (dataSource.driver as unknown as PgDriver).master;
    if (!pool) return Promise.reject(new Error("the PostgreSQL pool is not open"));
    return pool.query(sql, params).then(rowsOf);
  }

  override executeWrite(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<number> {
    const pool = (dataSource.driver as unknown as PgDriver).master;
    if (!pool) return Promise.reject(new Error("the PostgreSQL pool is not open"));
    return pool.query(sql, params).then(rowCountOf);
  }

  /**
   * A `timestamptz` column reads ISO 8601 text with `Z` (or `+00:00`) as the instant it names, whatever the session's
   * time zone. node-postgres would format every Date in the process's local time with the offset cut to whole
   * minutes, which moves the instants of a zone's local-mean-time years by the offset's seconds (and costs about ten
   * string pieces a value). Years 1 to 9999 through the library's cached formatter, other years in UTC with `BC` as
   * PostgreSQL writes them; an invalid Date goes to the driver.
   */
  override columnInstantText(column: ColumnMetadata): ((date: Date) => string | undefined) | undefined {
    if (!TIMESTAMPTZ.has(column.type)) return undefined;
    return (date) => {
      const time = date.getTime();
      if (time >= ISO_FROM_MS && time < ISO_TO_MS) return isoString(date) ?? undefined;
      return Number.isNaN(time) ? undefined : utcText(date);
    };
  }

  /** TypeORM's own writes of instants into `timestamptz` columns go as that text too. */
  override afterConnect(dataSource: DataSource): void {
    writeInstantsAsText(dataSource, (column) => this.columnInstantText(column));
  }

  /** ISO 8601 with `Z`: timestamptz reads the offset. */
  override instantValue(date: Date): string {
    return date.toISOString();
  }

  override async discardConnection(queryRunner: QueryRunner): Promise<void> {
    const runner = queryRunner as QueryRunner & { releasePostgresConnection?(error: Error): Promise<void> };
    if (runner.isReleased) return;
    // releasing with an error makes pg-pool destroy the client instead of keeping it
    if (runner.releasePostgresConnection)
      await runner.releasePostgresConnection(new Error("discarded by @inference-core/database"));
    else await super.discardConnection(queryRunner);
  }

  override async openHealthProbe(dataSource: DataSource, timeoutMs: number, replica?: number): Promise<HealthProbe> {
    const driver = dataSource.driver as unknown as PgDriver;
    const pool = replica === undefined ? driver.master : driver.slaves?.[replica];
    const client = new driver.postgres.Client({ ...pool?.options, connectionTimeoutMillis: timeoutMs });
    client.on("error", () => undefined); // a probe that breaks is dropped by the next check
    const destroy = () => client.connection?.stream?.destroy();
    try {
      await client.connect();
    } catch (error) {
      destroy();
      throw error;
    }
    (client.connection?.stream as { unref?(): void } | undefined)?.unref?.(); // a probe never keeps the process alive
    return { query: async (sql) => (await client.query(sql)).rows, destroy };
  }

  override connectReplica(dataSource: DataSource, index: number): Promise<ReplicaConnection> {
    const pool = (dataSource.driver as unknown as PgDriver).slaves?.[index];
    if (!pool) return Promise.reject(new Error(`there is no replica ${index}`));
    return new Promise((resolve, reject) =>
      pool.connect((error, client, release) =>
        error ? reject(error) : resolve({ handle: [client, release], connection: client }),
      ),
    );
  }

  /** The WAL position after every commit made so far. */
  override readonly primaryPositionQuery = "SELECT pg_current_wal_lsn()::text AS position";

  /** How far the replica has replayed the WAL (NULL on a server that is not a replica). */
  override readonly replicaPositionQuery = "SELECT pg_last_wal_replay_lsn()::text AS position";

  override positionReached(applied: string, needed: string): boolean {
    const a = lsn(applied);
    const n = lsn(needed);
    return a !== undefined && n !== undefined && a >= n;
  }

  /**
   * On a replica: whether it has received WAL it has not replayed, and then how long ago the last transaction it
   * replayed committed on the primary (which grows while replay is paused or slow). Caught up: 0.
   */
  override readonly replicaStatusQuery =
    "SELECT pg_is_in_recovery() AS replica, " +
    "COALESCE(pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn(), false) AS behind, " +
    "CASE WHEN COALESCE(pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn(), false) " +
    "THEN GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000) ELSE 0 END AS lag_ms";

  override replicaStatus(rows: readonly Record<string, unknown>[]): ReplicaStatus {
    const row = rows[0] ?? {};
    const lag = row["lag_ms"];
    return {
      replica: row["replica"] === true,
      behind: row["behind"] === true,
      ...(lag === null || lag === undefined ? {} : { lagMs: Math.round(Number(lag)) }),
    };
  }

  override connectionLost(error: unknown): boolean {
    if (super.connectionLost(error)) return true;
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === "string" && SERVER_GONE.test(code)) return true;
    return (
      typeof message === "string" &&
      /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
        message,
      )
    );
  }

  /**
   * Any error the server answers (it has a SQLSTATE) outside a savepoint leaves the transaction aborted: the server
   * refuses every further statement and turns COMMIT into ROLLBACK without an error. Through PgBouncer a lost server
   * connection may not even reach the client, whose next statement would run on another backend outside the
   * transaction.
   */
  override transactionEnded(error: unknown, inSavepoint: boolean): boolean {
    if (this.connectionLost(error)) return true;
    const code = (error as { code?: unknown }).code;
    return !inSavepoint && typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
  }

  override poolStats(dataSource: DataSource): PoolStats | undefined {
    const pool = (dataSource.driver as unknown as PgDriver).master;
    return pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : undefined;
  }

  /**
   * A transaction-scoped advisory lock (it works through PgBouncer's transaction pooling, which a session-scoped one
   * does not), on a key of this database; outside a transaction (`migrationsTransactionMode: "none"`) a session
   * lock, released with the connection.
   */
  override async lockSchema(queryRunner: QueryRunner): Promise<void> {
    const key =
      "SELECT ('x' || substr(md5('inference-core:createTables:' || current_database()), 1, 15))::bit(60)::bigint";
    if (queryRunner.isTransactionActive) {
      await queryRunner.query(`SELECT pg_advisory_xact_lock((${key}))`);
      return;
    }
    await queryRunner.query(`SELECT pg_advisory_lock((${key}))`);
    const release = queryRunner.release.bind(queryRunner);
    queryRunner.release = async () => {
      await queryRunner.query(`SELECT pg_advisory_unlock((${key}))`).catch(() => undefined);
      return release();
    };
  }

  override async dependentsOf(queryRunner: QueryRunner, tables: readonly string[]): Promise<string[]> {
    if (tables.length === 0) return [];
    const quoted = tables.map((t) => this.quoteTable(t));
    const rows = (await queryRunner.query(
      `WITH owned AS (SELECT to_regclass(name) AS oid FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL)
       SELECT DISTINCT 'view ' || v.oid::regclass::text AS what
         FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.refobjid IN (SELECT oid FROM owned) AND v.oid NOT IN (SELECT oid FROM owned)
       UNION
       SELECT DISTINCT 'foreign key ' || c.conname || ' of table ' || c.conrelid::regclass::text
         FROM pg_constraint c
        WHERE c.contype = 'f' AND c.confrelid IN (SELECT oid FROM owned) AND c.conrelid NOT IN (SELECT oid FROM owned)
       ORDER BY 1`,
      [quoted],
    )) as { what: string }[];
    return rows.map((r) => r.what);
  }

  override async dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void> {
    if (tables.length === 0) return;
    // no CASCADE: it would drop other programs' views and foreign keys too (dependentsOf has found none)
    await queryRunner.query(`DROP TABLE IF EXISTS ${tables.map((t) => this.quoteTable(t)).join(", ")}`);
  }
}

/** A PostgreSQL LSN (`16/B374D848`) as one number, or undefined when it is not one. */
function lsn(text: string): bigint | undefined {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text.trim());
  return match ? (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`) : undefined;
}
