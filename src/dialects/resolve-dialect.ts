import type { DataSource, DataSourceOptions } from "typeorm";
import { ConfigurationError } from "../errors";
import type { Dialect, DialectName } from "./dialect";
import { MariadbDialect } from "./mariadb";
import { MysqlDialect } from "./mysql";
import { PostgresDialect } from "./postgres";
import { SqliteDialect } from "./sqlite";

const DIALECTS: Readonly<Record<DialectName, Dialect>> = {
  sqlite: new SqliteDialect(),
  postgres: new PostgresDialect(),
  mysql: new MysqlDialect(),
  mariadb: new MariadbDialect(),
};

/** The TypeORM driver type each dialect runs on. */
const TYPEORM_TYPE: Readonly<Record<DialectName, DataSourceOptions["type"]>> = {
  sqlite: "better-sqlite3",
  postgres: "postgres",
  mysql: "mysql",
  mariadb: "mariadb",
};

/** @internal */
export function dialectNamed(name: DialectName): Dialect {
  return DIALECTS[name];
}

/** @internal */
export function typeormTypeOf(name: DialectName): DataSourceOptions["type"] {
  return TYPEORM_TYPE[name];
}

/**
 * The one switch on TypeORM's driver type. `serverVersion` tells MariaDB from MySQL when a `mysql` driver talks to
 * a MariaDB server.
 *
 * @internal
 */
export function dialectForType(type: string, serverVersion?: string): Dialect {
  switch (type) {
    case "better-sqlite3":
      return DIALECTS.sqlite;
    case "postgres":
      return DIALECTS.postgres;
    case "mysql":
      return serverVersion !== undefined && isMariaDbVersion(serverVersion) ? DIALECTS.mariadb : DIALECTS.mysql;
    case "mariadb":
      return DIALECTS.mariadb;
    default:
      throw new ConfigurationError(
        `TypeORM driver type "${type}" is not supported; use better-sqlite3, postgres, mysql or mariadb`,
      );
  }
}

/** The dialect of a DataSource, once its driver has connected (the server version is known then). @internal */
export function dialectForDataSource(dataSource: DataSource): Dialect {
  const version = (dataSource.driver as unknown as { version?: string }).version;
  return dialectForType(dataSource.options.type, version);
}

/** @internal */
export function isMariaDbVersion(version: string): boolean {
  return /mariadb/i.test(version);
}
