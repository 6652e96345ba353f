import type { DataSource } from "typeorm";
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

  override afterConnect(dataSource: DataSource): void {
    (dataSource.driver as unknown as { uuidColumnTypeSuported?: boolean }).uuidColumnTypeSuported = false;
  }
}
