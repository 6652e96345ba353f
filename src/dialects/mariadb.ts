import type { DataSource } from "typeorm";
import { keepsTypeormRules } from "../typeorm/registry";
import { MysqlDialect } from "./mysql";

/**
 * MariaDB: MySQL plus its own JSON (an alias of LONGTEXT with a JSON_VALID check) and UUID keys kept as CHAR(36):
 * MariaDB before 11.7 stores its native UUID type with the groups swapped for UUIDv1, which scatters
 * time-ordered UUIDv7 keys across the index.
 *
 * @internal
 */
export class MariadbDialect extends MysqlDialect {
  override readonly name = "mariadb" as const;
  override readonly jsonColumnType = "json";

  /** The version and Galera's status in one row (size and state NULL where wsrep is off: an aggregate of no rows). */
  override readonly versionQuery =
    "SELECT VERSION() AS version, MAX(CASE WHEN VARIABLE_NAME = 'WSREP_CLUSTER_SIZE' THEN VARIABLE_VALUE END) AS size, " +
    "MAX(CASE WHEN VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT' THEN VARIABLE_VALUE END) AS state " +
    "FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('WSREP_CLUSTER_SIZE', 'WSREP_LOCAL_STATE_COMMENT')";

  /** MariaDB GTIDs: the last one written to the binary log per replication domain (`0-1-123,1-2-7`). */
  override readonly primaryPositionQuery: string = "SELECT @@GLOBAL.gtid_binlog_pos AS position";

  /** The last GTID per domain the replica's SQL thread applied. */
  override readonly replicaPositionQuery: string = "SELECT @@GLOBAL.gtid_slave_pos AS position";

  /** Per domain, the replica's sequence number is at least the needed one. */
  override positionReached(applied: string, needed: string): boolean {
    const have = mariadbGtids(applied);
    for (const [domain, sequence] of mariadbGtids(needed)) {
      const reached = have.get(domain);
      if (reached === undefined || reached < sequence) return false;
    }
    return true;
  }

  /** Binary and NO PAD (MariaDB 10.2+): `'a'` and `'a '` are two values. */
  override exactCollation(_serverVersion: string | undefined): string {
    return "utf8mb4_nopad_bin";
  }

  /** MariaDB's path parser finds no quoted key that starts with `-` (`$."-1"` answers NULL). */
  protected override addressableKey(key: string): boolean {
    return !key.startsWith("-");
  }

  /**
   * The library's own UUID columns are `varchar(36)` (named when the metadata is adapted). The application's `uuid`
   * columns keep MariaDB's UUID type where its entities keep TypeORM's rules (an adopted DataSource), and are text
   * like the library's otherwise.
   */
  override afterConnect(dataSource: DataSource): void {
    if (keepsTypeormRules(dataSource)) return;
    (dataSource.driver as unknown as { uuidColumnTypeSuported?: boolean }).uuidColumnTypeSuported = false;
  }
}

/** A MariaDB GTID position (`domain-server-sequence`, comma-separated) as the sequence number per domain. */
function mariadbGtids(text: string): Map<string, bigint> {
  const gtids = new Map<string, bigint>();
  for (const part of text.replace(/\s+/g, "").split(",")) {
    const match = /^(\d+)-\d+-(\d+)$/.exec(part);
    if (match) gtids.set(match[1]!, BigInt(match[2]!));
  }
  return gtids;
}
