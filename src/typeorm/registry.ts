import type { DataSource } from "typeorm";
import type { Dialect } from "../dialects/dialect";

const dialects = new WeakMap<DataSource, Dialect>();

/** @internal */
export function registerDialect(dataSource: DataSource, dialect: Dialect): void {
  dialects.set(dataSource, dialect);
}

/** The dialect of a DataSource the library has adapted, or undefined for any other DataSource. @internal */
export function registeredDialect(dataSource: DataSource): Dialect | undefined {
  return dialects.get(dataSource);
}
