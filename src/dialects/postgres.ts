import type { DataSourceOptions, QueryRunner } from "typeorm";
import { BaseDialect } from "./dialect";

/**
 * PostgreSQL: `jsonb`, `timestamptz(3)`, native `uuid`; every connection starts with `TimeZone=UTC` (sent in the
 * startup packet, so it holds for every connection the pool opens).
 *
 * @internal
 */
export class PostgresDialect extends BaseDialect {
  readonly name = "postgres" as const;
  readonly jsonColumnType = "jsonb";
  override readonly instantColumn = { type: "timestamp with time zone", precision: 3 };
  override readonly versionQuery = "SELECT current_setting('server_version') AS version";

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

  override async dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void> {
    if (tables.length === 0) return;
    await queryRunner.query(`DROP TABLE IF EXISTS ${tables.map((t) => this.quoteIdentifier(t)).join(", ")} CASCADE`);
  }
}
