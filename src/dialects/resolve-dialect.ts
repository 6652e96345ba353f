import type { DataSource } from "typeorm";
import { LINE_DIFFERENCES, TYPEORM_LINE } from "../typeorm/typeorm-line";
import { ConfigurationError } from "../errors";
import type { Dialect } from "./dialect";
import { MariadbDialect } from "./mariadb";
import { MysqlDialect } from "./mysql";
import { PostgresDialect } from "./postgres";
import { BetterSqlite3Dialect } from "./sqlite";
import { Sqlite3Dialect } from "./sqlite3";

const DIALECTS = {
  betterSqlite3: new BetterSqlite3Dialect(),
  sqlite3: new Sqlite3Dialect(),
  postgres: new PostgresDialect(),
  mysql: new MysqlDialect(),
  mariadb: new MariadbDialect(),
} as const;

/** The SQLite driver packages, with the TypeORM driver type each runs under. */
const SQLITE_DRIVERS = { "better-sqlite3": "better-sqlite3", sqlite3: "sqlite" } as const;

/** A SQLite driver package the library can run on. */
export type SqliteDriverPackage = keyof typeof SQLITE_DRIVERS;

const INSTALL_SQLITE =
  "install better-sqlite3 (npm install better-sqlite3; TypeORM 1.x and 0.3) or, on TypeORM 0.3, sqlite3 (npm install sqlite3)";

/**
 * The TypeORM driver type for a `sqlite:` URL: better-sqlite3 when that package resolves, otherwise sqlite3 (TypeORM
 * 0.3 only); `forced` (the URL's `?driver=`) picks one.
 *
 * @internal
 */
export function sqliteDriverType(forced?: string): "better-sqlite3" | "sqlite" {
  if (forced !== undefined && !(forced in SQLITE_DRIVERS)) {
    throw new ConfigurationError(
      `SQLite URL parameter driver=${forced} is not a SQLite driver; use driver=better-sqlite3 or driver=sqlite3`,
    );
  }
  const wanted = (forced as SqliteDriverPackage | undefined) ?? installedSqliteDriver();
  if (wanted === undefined)
    throw new ConfigurationError(`A sqlite: URL needs a SQLite driver package: ${INSTALL_SQLITE}`);
  if (!resolves(wanted)) {
    throw new ConfigurationError(
      `The sqlite: URL asks for driver=${wanted}, which is not installed: npm install ${wanted}`,
    );
  }
  if (wanted === "sqlite3" && !LINE_DIFFERENCES.hasSqlite3Driver) throw sqlite3OnTypeorm1();
  return SQLITE_DRIVERS[wanted];
}

function installedSqliteDriver(): SqliteDriverPackage | undefined {
  if (resolves("better-sqlite3")) return "better-sqlite3";
  if (resolves("sqlite3")) return "sqlite3";
  return undefined;
}

function resolves(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

function sqlite3OnTypeorm1(): ConfigurationError {
  return new ConfigurationError(
    `TypeORM ${TYPEORM_LINE} has no "sqlite" driver type (node-sqlite3; TypeORM 1.x dropped it): ` +
      `install better-sqlite3 (npm install better-sqlite3) and use type: "better-sqlite3" or a sqlite: URL`,
  );
}

/**
 * What TypeORM says when the DataSource is built for a driver whose package is missing, as a ConfigurationError
 * that says what to install; any other error is answered as it is.
 *
 * @internal
 */
export function explainDriverError(type: string, error: unknown): unknown {
  if ((error as { name?: unknown }).name !== "DriverPackageNotInstalledError") return error;
  const install =
    type === "better-sqlite3" || type === "sqlite"
      ? INSTALL_SQLITE
      : `install ${type === "postgres" ? "pg" : "mysql2"} (npm install ${type === "postgres" ? "pg" : "mysql2"})`;
  return new ConfigurationError(`TypeORM's ${type} driver cannot load its package: ${install}`, { cause: error });
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
      return DIALECTS.betterSqlite3;
    case "sqlite":
      if (!LINE_DIFFERENCES.hasSqlite3Driver) throw sqlite3OnTypeorm1();
      return DIALECTS.sqlite3;
    case "postgres":
      return DIALECTS.postgres;
    case "mysql":
      return serverVersion !== undefined && isMariaDbVersion(serverVersion) ? DIALECTS.mariadb : DIALECTS.mysql;
    case "mariadb":
      return DIALECTS.mariadb;
    default:
      throw new ConfigurationError(
        `TypeORM driver type "${type}" is not supported; use better-sqlite3, sqlite (TypeORM 0.3), postgres, mysql or mariadb`,
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
