/**
 * The raw drivers the benchmark measures against (better-sqlite3 or node-sqlite3, pg, mysql2), on the same tables
 * the library and the other subjects write.
 */
import type { DataSource } from "typeorm";
import { Pool } from "pg";
import type { DatabaseManager } from "../src";
import { createPool, type Pool as MysqlPool } from "mysql2/promise";
import { databaseUrl } from "../test/support/servers";
import { RAW_COLUMNS, rawParams, rawParamsOf, type BenchRow } from "./subjects";

/** The raw driver on the same database: one statement runner and how it takes instants and booleans. */
export interface RawDriver {
  run(sql: string, params: unknown[]): Promise<unknown>;
  all(sql: string, params: unknown[]): Promise<unknown[]>;
  /**
   * The first row of a SELECT, or undefined: better-sqlite3's `get()`, its one-row read, which stops at that row (a
   * lookup by key reads 5% to 8% faster than with `all()`, measured); the first of `all()`'s rows on the others.
   */
  first(sql: string, params: unknown[]): Promise<unknown>;
  placeholder(i: number): string;
  time(d: Date): unknown;
  bool(b: boolean): unknown;
  /** Runs `work` in one transaction on one connection; `work` gets that connection's statement runner. */
  transaction(work: (run: (sql: string, params: unknown[]) => Promise<unknown>) => Promise<void>): Promise<void>;
  close(): Promise<void>;
  /** PostgreSQL: the pool's idle connections closed and a new one opened. */
  freshConnections?(): Promise<void>;
}

/**
 * Before each round of a one-row scenario and of the JSON lookups on PostgreSQL, untimed: every subject's pool closes
 * its idle connections and opens a new one, so each round runs on new server backends. Measured, on connections kept
 * for the whole scenario: a one-row SELECT ran at two speeds (0.17 or 0.26 ms) for many rounds in a row, one
 * subject's backend fast while the other's was not, whichever it was (`findById` 1.25x the raw SELECT in one quick
 * run, 0.89x in the next).
 */
export type FreshConnections = (() => Promise<void>) | undefined;

/** {@link FreshConnections} for the library's, plain TypeORM's and the raw driver's pools (PostgreSQL only). */
export function freshConnectionsOf(db: DatabaseManager, plain: DataSource, raw: RawDriver): FreshConnections {
  const rawFresh = raw.freshConnections;
  if (!rawFresh) return undefined;
  const pools = [db.dataSource, plain].map((source) => (source.driver as unknown as { master: Pool }).master);
  return async () => {
    await Promise.all([...pools.map(closeIdle), rawFresh()]);
  };
}

export async function closeIdle(pool: Pool): Promise<void> {
  const clients = [];
  for (let i = pool.idleCount; i > 0; i--) clients.push(await pool.connect());
  for (const client of clients) client.release(true);
  await pool.query("SELECT 1"); // the new connection opened here, not in the round
}

/** The raw driver of the SQLite package the library runs on: better-sqlite3, or node-sqlite3 (TypeORM 0.3). */
export function rawSqlite(file: string, type: string): RawDriver {
  return type === "sqlite" ? rawSqlite3(file) : rawBetterSqlite3(file);
}

export function rawBetterSqlite3(file: string): RawDriver {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Database = require("better-sqlite3") as typeof import("better-sqlite3");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  const cache = new Map<string, import("better-sqlite3").Statement>();
  const prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (!statement) cache.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  return {
    run: async (sql, params) => prepare(sql).run(...params),
    all: async (sql, params) => prepare(sql).all(...params),
    first: async (sql, params) => prepare(sql).get(...params),
    placeholder: () => "?",
    time: (d) => d.toISOString().replace("T", " ").replace("Z", ""),
    bool: (b) => (b ? 1 : 0),
    transaction: async (work) => {
      db.exec("BEGIN IMMEDIATE");
      try {
        await work(async (sql, params) => prepare(sql).run(...params));
        db.exec("COMMIT");
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
    close: async () => void db.close(),
  };
}

interface Sqlite3Statement {
  run(params: unknown[], callback: (error: Error | null) => void): void;
  get(params: unknown[], callback: (error: Error | null, row: unknown) => void): void;
  all(params: unknown[], callback: (error: Error | null, rows: unknown[]) => void): void;
}

export function rawSqlite3(file: string): RawDriver {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sqlite3 = require("sqlite3") as {
    Database: new (file: string) => {
      prepare(sql: string): Sqlite3Statement;
      exec(sql: string, callback: (error: Error | null) => void): void;
      close(callback: () => void): void;
    };
  };
  const db = new sqlite3.Database(file);
  const exec = (sql: string) => new Promise<void>((ok, fail) => db.exec(sql, (e) => (e ? fail(e) : ok())));
  const cache = new Map<string, Sqlite3Statement>();
  const prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (!statement) cache.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  const run = (sql: string, params: unknown[]) =>
    new Promise<void>((ok, fail) => prepare(sql).run(params, (e) => (e ? fail(e) : ok())));
  const ready = exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  return {
    run: async (sql, params) => (await ready, run(sql, params)),
    all: async (sql, params) => {
      await ready;
      return new Promise((ok, fail) => prepare(sql).all(params, (e, rows) => (e ? fail(e) : ok(rows))));
    },
    first: async (sql, params) => {
      await ready;
      return new Promise((ok, fail) => prepare(sql).get(params, (e, row) => (e ? fail(e) : ok(row))));
    },
    placeholder: () => "?",
    time: (d) => d.toISOString().replace("T", " ").replace("Z", ""),
    bool: (b) => (b ? 1 : 0),
    transaction: async (work) => {
      await ready;
      await exec("BEGIN IMMEDIATE");
      try {
        await work(run);
        await exec("COMMIT");
      } catch (error) {
        await exec("ROLLBACK");
        throw error;
      }
    },
    close: () => new Promise((ok) => db.close(() => ok())),
  };
}

export function rawPostgres(): RawDriver {
  const pool = new Pool({ connectionString: databaseUrl("postgres"), max: 3, options: "-c TimeZone=UTC" });
  return {
    run: (sql, params) => pool.query(sql, params),
    all: async (sql, params) => (await pool.query(sql, params)).rows,
    first: async (sql, params) => (await pool.query(sql, params)).rows[0],
    placeholder: (i) => `$${i + 1}`,
    time: (d) => d,
    bool: (b) => b,
    transaction: async (work) => {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await work((sql, params) => client.query(sql, params));
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
    freshConnections: () => closeIdle(pool),
  };
}

/** mysql2 pool options for the test MariaDB: three connections, instants in UTC (every bench subject's). */
export function mariadbPoolOptions() {
  const url = new URL(databaseUrl("mariadb"));
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: url.username,
    database: url.pathname.slice(1),
    connectionLimit: 3,
    timezone: "Z",
  };
}

export function rawMariadb(): RawDriver {
  const pool: MysqlPool = createPool(mariadbPoolOptions());
  return {
    run: (sql, params) => pool.query(sql, params),
    all: async (sql, params) => (await pool.query(sql, params))[0] as unknown[],
    first: async (sql, params) => ((await pool.query(sql, params))[0] as unknown[])[0],
    placeholder: () => "?",
    time: (d) => d,
    bool: (b) => (b ? 1 : 0),
    transaction: async (work) => {
      const connection = await pool.getConnection();
      try {
        await connection.beginTransaction();
        await work((sql, params) => connection.query(sql, params));
        await connection.commit();
      } catch (error) {
        await connection.rollback();
        throw error;
      } finally {
        connection.release();
      }
    },
    close: () => pool.end(),
  };
}

export function rawInsertSql(raw: RawDriver, rows: number, table = "bench_raw"): string {
  const tuples: string[] = [];
  let p = 0;
  for (let r = 0; r < rows; r++) tuples.push(`(${RAW_COLUMNS.map(() => raw.placeholder(p++)).join(", ")})`);
  return `INSERT INTO ${table} (${RAW_COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}`;
}

/**
 * Raw multi-row INSERTs of `count` rows, chunked to the same bind-parameter limit the library uses: the rows of
 * `values` (the library's input objects) where given, made up row by row otherwise.
 */
export async function rawBulk(
  raw: RawDriver,
  count: number,
  maxParams: number,
  table = "bench_raw",
  id?: () => string,
  values?: readonly Partial<BenchRow>[],
): Promise<void> {
  const perChunk = Math.floor(maxParams / RAW_COLUMNS.length);
  const full = rawInsertSql(raw, perChunk, table);
  await raw.transaction(async (run) => {
    for (let start = 0; start < count; start += perChunk) {
      const n = Math.min(perChunk, count - start);
      const params: unknown[] = [];
      for (let i = 0; i < n; i++)
        params.push(
          ...(values
            ? rawParamsOf(values[start + i]!, raw.time, raw.bool)
            : rawParams(start + i, raw.time, raw.bool, id)),
        );
      await run(n === perChunk ? full : rawInsertSql(raw, n, table), params);
    }
  });
}
