import type { DataSource } from "typeorm";

/** A query function of a TypeORM query runner. */
export type QueryFunction = (sql: unknown, ...rest: unknown[]) => Promise<unknown>;

/**
 * Wraps the `query` of every query runner a DataSource's driver makes from now on, once per `name` (a second call
 * with the same name does nothing). The library uses it to start SQLite write transactions with BEGIN IMMEDIATE and
 * to turn unique-key violations into typed errors, whatever TypeORM path runs the statement.
 *
 * @internal
 */
export function wrapQueries(dataSource: DataSource, name: string, wrap: (query: QueryFunction) => QueryFunction): void {
  const driver = dataSource.driver as unknown as {
    createQueryRunner(mode: string): { query: QueryFunction };
    __inferenceHooks?: Set<string>;
  };
  const hooks = (driver.__inferenceHooks ??= new Set());
  if (hooks.has(name)) return;
  hooks.add(name);
  const create = driver.createQueryRunner.bind(driver);
  // SQLite's driver hands out one shared query runner: it must be wrapped once, not once per call
  const wrapped = new WeakSet<object>();
  driver.createQueryRunner = (mode: string) => {
    const queryRunner = create(mode);
    if (!wrapped.has(queryRunner)) {
      wrapped.add(queryRunner);
      queryRunner.query = wrap(queryRunner.query.bind(queryRunner));
    }
    return queryRunner;
  };
}
