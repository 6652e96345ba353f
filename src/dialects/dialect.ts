import type { DataSource, DataSourceOptions, QueryRunner } from "typeorm";
import type { JsonEncoding } from "../columns/smart-json";

/** The databases this library supports. `mysql` and `mariadb` differ in JSON storage and a few DDL details. */
export type DialectName = "sqlite" | "postgres" | "mysql" | "mariadb";

/** What a URL or options object says about the connection, before the dialect fills in its settings. */
export interface ConnectionSettings {
  /** Pool size; ignored by SQLite (one connection). */
  readonly poolSize?: number;
  /** TypeORM logging option. */
  readonly logging?: DataSourceOptions["logging"];
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
  /** True when the database has a single connection, so transactions must queue (SQLite). */
  readonly singleConnection: boolean;
  /** Most bind parameters one statement may carry. */
  readonly maxBindParameters: number;
  /** SQL that answers the server version as one row, one column named `version`. */
  readonly versionQuery: string;
  /** Quotes an identifier (table or column name). */
  quoteIdentifier(name: string): string;
  /** An SQL literal for an instant, in the form the instant columns store. */
  instantLiteral(date: Date): string;
  /** Fills the settings every connection of this dialect needs into TypeORM options (returns a new object). */
  prepareOptions(options: DataSourceOptions): DataSourceOptions;
  /** Prepares a DataSource that is about to connect: per-connection session setup, a directory for a database file. */
  beforeConnect(dataSource: DataSource): void;
  /**
   * Why an already connected DataSource cannot be adopted as it is (its connections lack a setting the library
   * relies on), or undefined when it can.
   */
  adoptionProblem(options: DataSourceOptions): string | undefined;
  /** Adjusts TypeORM's driver once connected, before entity metadata is built. */
  afterConnect(dataSource: DataSource): void;
  /** Drops the given tables (if they exist), whatever foreign keys point between them. */
  dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void>;
}

/** Defaults shared by the dialects; each dialect overrides what differs. @internal */
export abstract class BaseDialect implements Dialect {
  abstract readonly name: DialectName;
  abstract readonly jsonColumnType: string;
  readonly jsonEncoding: JsonEncoding = "driver";
  readonly instantColumn: ColumnShape = {};
  readonly singleConnection: boolean = false;
  readonly maxBindParameters: number = 65_535;
  readonly versionQuery: string = "SELECT VERSION() AS version";

  quoteIdentifier(name: string): string {
    return `"${name.replaceAll('"', '""')}"`;
  }

  /** `YYYY-MM-DD HH:MM:SS.mmm` in UTC, quoted. */
  instantLiteral(date: Date): string {
    return `'${date.toISOString().replace("T", " ").replace("Z", "")}'`;
  }

  prepareOptions(options: DataSourceOptions): DataSourceOptions {
    return { ...options };
  }

  beforeConnect(_dataSource: DataSource): void {}

  adoptionProblem(_options: DataSourceOptions): string | undefined {
    return undefined;
  }

  afterConnect(_dataSource: DataSource): void {}

  async dropTables(queryRunner: QueryRunner, tables: readonly string[]): Promise<void> {
    for (const table of tables) await queryRunner.query(`DROP TABLE IF EXISTS ${this.quoteIdentifier(table)}`);
  }
}
