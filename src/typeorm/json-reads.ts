import type { DataSource } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import { SmartJSON } from "../columns/smart-json";

interface HydratingDriver {
  prepareHydratedValue(value: unknown, column: ColumnMetadata): unknown;
}

const parsedDrivers = new WeakSet<object>();

/**
 * For a driver that hands back JSON values already parsed (mysql2 without `jsonStrings`, kept by
 * `sessionSettings: "app"`): SmartJSON columns take the driver's value as it is. TypeORM's MySQL driver would parse
 * a string once more, so the document `"123"` (a string) would read back as the number 123. The app's own JSON
 * columns keep TypeORM's handling.
 *
 * @internal
 */
export function takeJsonAsParsed(dataSource: DataSource): void {
  const driver = dataSource.driver as unknown as HydratingDriver;
  if (parsedDrivers.has(driver)) return;
  parsedDrivers.add(driver);
  const hydrate = driver.prepareHydratedValue.bind(driver);
  driver.prepareHydratedValue = (value, column) =>
    column.transformer instanceof SmartJSON ? column.transformer.from(value) : hydrate(value, column);
}
