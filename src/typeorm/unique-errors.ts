import type { DataSource } from "typeorm";
import { activeUniqueKeys } from "../columns/unique-while-active";
import type { Dialect } from "../dialects/dialect";
import { UniqueConstraintError } from "../errors";
import { wrapQueries } from "./query-hooks";

/**
 * Turns a driver's unique-key violation of a `@UniqueWhileActive` index into a {@link UniqueConstraintError} naming
 * the entity and the key's properties (the driver's error is its cause). Any other error is answered as it is.
 *
 * @internal
 */
export function translateUniqueViolation(dataSource: DataSource, dialect: Dialect, error: unknown): unknown {
  const violation = dialect.uniqueViolation(error);
  if (!violation) return error;
  for (const metadata of dataSource.entityMetadatas) {
    for (const key of activeUniqueKeys(metadata.target)) {
      const matches =
        violation.index !== undefined
          ? violation.index === key.name
          : violation.columns !== undefined &&
            violation.columns.length === key.twinColumns.length &&
            key.twinColumns.every((c) => violation.columns!.includes(c));
      if (matches) return UniqueConstraintError.forKey(metadata.name, key.properties, key.name, error);
    }
  }
  return error;
}

/**
 * Wraps every query runner the DataSource's driver makes so that its queries answer unique-key violations of the
 * library's indexes as typed errors, whatever path (save, insert, update, restore, raw query) ran them.
 *
 * @internal
 */
export function translateUniqueViolations(dataSource: DataSource, dialect: () => Dialect): void {
  wrapQueries(
    dataSource,
    "unique-violations",
    (query) =>
      (sql, ...rest) =>
        query(sql, ...rest).catch((error: unknown) => {
          throw translateUniqueViolation(dataSource, dialect(), error);
        }),
  );
}
