import type { DataSource } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";

interface PersistingDriver {
  preparePersistentValue(value: unknown, column: ColumnMetadata): unknown;
}

/** The text a column takes for an instant, or undefined where the driver's own conversion stays. */
type InstantText = ((date: Date) => string | undefined) | undefined;

const textDrivers = new WeakSet<object>();

/**
 * TypeORM's writes of a Date (`save()`, `insert()`, `update()`, `upsert()` and their QueryBuilders) into a column
 * the dialect has text for (the dialect's `columnInstantText`, no transformer) send that text instead of the Date.
 * node-postgres formats a Date in the process's local time with the offset cut to whole minutes, so an instant of a
 * zone's local-mean-time years moved by the offset's seconds: 1900-01-01T00:00:00Z, written from Asia/Kolkata as
 * `05:21:10+05:21`, read back ten seconds late. Conditions keep their Dates (they store nothing).
 *
 * @internal
 */
export function writeInstantsAsText(dataSource: DataSource, textFor: (column: ColumnMetadata) => InstantText): void {
  const driver = dataSource.driver as unknown as PersistingDriver;
  if (textDrivers.has(driver)) return;
  textDrivers.add(driver);
  const prepare = driver.preparePersistentValue.bind(driver);
  const byColumn = new WeakMap<ColumnMetadata, InstantText | null>();
  driver.preparePersistentValue = (value, column) => {
    if (value instanceof Date && column.transformer === undefined) {
      let text = byColumn.get(column);
      if (text === undefined) byColumn.set(column, (text = textFor(column) ?? null));
      const written = text?.(value);
      if (written !== undefined) return written;
    }
    return prepare(value, column);
  };
}
