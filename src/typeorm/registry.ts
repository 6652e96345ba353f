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

const appRules = new WeakMap<DataSource, "typeorm" | "library">();

/** The rules the application's own entities follow on a DataSource (see `AppEntityRules`). @internal */
export function setAppEntityRules(dataSource: DataSource, rules: "typeorm" | "library"): void {
  appRules.set(dataSource, rules);
}

/** Whether the application's own entities on a DataSource keep TypeORM's rules. @internal */
export function keepsTypeormRules(dataSource: DataSource): boolean {
  return appRules.get(dataSource) === "typeorm";
}

const appSessions = new WeakSet<DataSource>();

/** Marks a DataSource whose MySQL/MariaDB sessions keep the app's settings (`sessionSettings: "app"`). @internal */
export function setSessionSettings(dataSource: DataSource, settings: "library" | "app"): void {
  if (settings === "app") appSessions.add(dataSource);
  else appSessions.delete(dataSource);
}

/** Whether a DataSource's MySQL/MariaDB sessions keep the app's settings. @internal */
export function keepsAppSessions(dataSource: DataSource): boolean {
  return appSessions.has(dataSource);
}
