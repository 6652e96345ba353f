import type { DataSource } from "typeorm";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import type { ForeignKeyMetadata } from "typeorm/metadata/ForeignKeyMetadata";
import { isLibraryEntity } from "../columns/column-kinds";
import { activeUniqueKeys } from "../columns/unique-while-active";
import type { Dialect } from "../dialects/dialect";
import { ForeignKeyViolationError, UniqueConstraintError } from "../errors";
import { wrapQueries } from "./query-hooks";
import { keepsTypeormRules } from "./registry";

/**
 * Turns a driver's constraint violation into the library's typed error, the driver's error its cause: a unique-key
 * violation of a `@UniqueWhileActive` index into a {@link UniqueConstraintError} naming the entity and the key's
 * properties; a foreign-key violation into a {@link ForeignKeyViolationError} naming the entity, the relation and
 * the entity it refers to (from the constraint the database names; SQLite names none, so from the table `sql`
 * writes and its keys). Any other error is answered as it is.
 *
 * @internal
 */
export function translateConstraintViolation(
  dataSource: DataSource,
  dialect: Dialect,
  error: unknown,
  sql?: string,
): unknown {
  const unique = dialect.uniqueViolation(error);
  if (unique) {
    for (const metadata of dataSource.entityMetadatas) {
      for (const key of activeUniqueKeys(metadata.target)) {
        const matches =
          unique.index !== undefined
            ? unique.index === key.name
            : unique.columns !== undefined &&
              unique.columns.length === key.twinColumns.length &&
              key.twinColumns.every((c) => unique.columns!.includes(c));
        if (matches) return UniqueConstraintError.forKey(metadata.name, key.properties, key.name, error);
      }
    }
    return error;
  }
  const foreign = dialect.foreignKeyViolation(error);
  if (!foreign) return error;
  const statement = sql === undefined ? undefined : writtenTable(sql);
  const reason = foreign.reason ?? (statement?.verb === "DELETE" ? "referenced" : "missing");
  let key: ForeignKeyMetadata | undefined;
  if (foreign.constraint !== undefined) {
    key = dataSource.entityMetadatas.flatMap((m) => m.foreignKeys).find((k) => k.name === foreign.constraint);
  }
  let written: EntityMetadata | undefined =
    key && (reason === "missing" ? key.entityMetadata : key.referencedEntityMetadata);
  if (!key && statement) {
    written = dataSource.entityMetadatas.find(
      (m) => m.tableName.toLowerCase() === statement.table || m.tablePath.toLowerCase() === statement.table,
    );
    if (written) {
      const candidates =
        reason === "missing"
          ? written.foreignKeys
          : dataSource.entityMetadatas
              .flatMap((m) => m.foreignKeys)
              .filter((k) => k.referencedEntityMetadata === written);
      if (candidates.length === 1) key = candidates[0];
    }
  }
  if (!written) return error;
  // between the application's own entities on a DataSource that keeps TypeORM's rules for them: TypeORM's error
  const library = (m: EntityMetadata) => isLibraryEntity(m.target, m.columns);
  if (
    keepsTypeormRules(dataSource) &&
    !library(written) &&
    !(key && (library(key.entityMetadata) || library(key.referencedEntityMetadata)))
  )
    return error;
  const property = key && relationOf(key);
  const other = key && (reason === "missing" ? key.referencedEntityMetadata.name : key.entityMetadata.name);
  return ForeignKeyViolationError.of(written.name, property, other, reason, error);
}

/** The relation (else the column) a foreign key belongs to, as the application named it. */
function relationOf(key: ForeignKeyMetadata): string | undefined {
  const relation = key.entityMetadata.relations.find((r) => r.foreignKeys.includes(key));
  return relation?.propertyPath ?? key.columns[0]?.propertyPath;
}

/**
 * The table an INSERT, UPDATE or DELETE writes, read from the statement's first words (TypeORM's and the library's
 * statements quote it), lower case without quotes or schema.
 */
function writtenTable(sql: string): { verb: "INSERT" | "UPDATE" | "DELETE"; table: string } | undefined {
  const match =
    /^\s*(INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+((?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|[\w$]+)(?:\.(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|[\w$]+))*)/i.exec(
      sql,
    );
  if (!match) return undefined;
  const verb = match[1]!.slice(0, 6).toUpperCase() as "INSERT" | "UPDATE" | "DELETE";
  const parts = match[2]!.split(".");
  const table = parts[parts.length - 1]!.replace(/^["`]|["`]$/g, "").toLowerCase();
  return { verb, table };
}

/**
 * Wraps every query runner the DataSource's driver makes so that its queries answer constraint violations (the
 * library's unique indexes, foreign keys) as typed errors, whatever path (save, insert, update, delete, raw query)
 * ran them.
 *
 * @internal
 */
export function translateConstraintViolations(dataSource: DataSource, dialect: () => Dialect): void {
  wrapQueries(
    dataSource,
    "constraint-violations",
    (query) =>
      (sql, ...rest) =>
        query(sql, ...rest).catch((error: unknown) => {
          throw translateConstraintViolation(dataSource, dialect(), error, typeof sql === "string" ? sql : undefined);
        }),
  );
}
