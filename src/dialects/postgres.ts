import type { DataSource, DataSourceOptions, QueryRunner } from "typeorm";
import { BaseDialect, type HealthProbe, type PoolStats } from "./dialect";

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
  on(event: "error", listener: (error: Error) => void): void;
  connection?: { stream?: { destroy(): void } };
  end(): Promise<void>;
}
interface PgPool {
  options: Record<string, unknown>;
  query(sql: string, params: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}
interface PgDriver {
  master?: PgPool;
  postgres: { Client: new (options: Record<string, unknown>) => PgClient };
}

/**
 * PostgreSQL: `jsonb`, `timestamptz(3)`, native `uuid`; every connection starts with `TimeZone=UTC` (sent in the
 * startup packet, so it holds for every connection the pool opens).
 *
 * @internal
 */
export class PostgresDialect extends BaseDialect {
  readonly name = "postgres" as const;
  readonly jsonColumnType = "jsonb";
  override readonly uuidTextLength = undefined;
  override readonly instantColumn = { type: "timestamp with time zone", precision: 3 };
  override readonly versionQuery = "SELECT current_setting('server_version') AS version";

  override uniqueViolation(error: unknown): { index: string } | undefined {
    const { code, constraint } = error as { code?: unknown; constraint?: unknown };
    return code === "23505" && typeof constraint === "string" ? { index: constraint } : undefined;
  }

  override placeholder(index: number): string {
    return `$${index + 1}`;
  }

  override async execute(
    dataSource: DataSource,
    sql: string,
    params: readonly unknown[],
  ): Promise<Record<string, unknown>[]> {
    const pool = (dataSource.driver as unknown as PgDriver).master;
    if (!pool) throw new Error("the PostgreSQL pool is not open");
    return (await pool.query(sql, params)).rows;
  }

  override instantLiteral(date: Date): string {
    return `'${date.toISOString()}'`;
  }

  override prepareOptions(options: DataSourceOptions): DataSourceOptions {
    if (options.type !== "postgres") return { ...options };
    const extra = { ...(options.extra as Record<string, unknown> | undefined) };
    const startup = typeof extra["options"] === "string" ? `${extra["options"]} ` : "";
    extra["options"] = `${startup}-c TimeZone=UTC`;
    return { ...options, extra };
  }

  override async discardConnection(queryRunner: QueryRunner): Promise<void> {
    const runner = queryRunner as QueryRunner & { releasePostgresConnection?(error: Error): Promise<void> };
    if (runner.isReleased) return;
    // releasing with an error makes pg-pool destroy the client instead of keeping it
    if (runner.releasePostgresConnection)
      await runner.releasePostgresConnection(new Error("discarded by @inference-core/database"));
    else await super.discardConnection(queryRunner);
  }

  override async openHealthProbe(dataSource: DataSource, timeoutMs: number): Promise<HealthProbe> {
    const driver = dataSource.driver as unknown as PgDriver;
    const client = new driver.postgres.Client({ ...driver.master?.options, connectionTimeoutMillis: timeoutMs });
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

  override poolStats(dataSource: DataSource): PoolStats | undefined {
    const pool = (dataSource.driver as unknown as PgDriver).master;
    return pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : undefined;
  }

  override async dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void> {
    if (tables.length === 0) return;
    await queryRunner.query(`DROP TABLE IF EXISTS ${tables.map((t) => this.quoteTable(t)).join(", ")} CASCADE`);
  }
}
