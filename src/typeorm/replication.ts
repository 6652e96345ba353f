import type { DataSource, QueryRunner, ReplicationMode } from "typeorm";
import type { Dialect } from "../dialects/dialect";
import type { ReadYourWrites } from "../data-source/consistency";
import type { ReplicaSet } from "../data-source/replicas";

interface ReplicatedDriver {
  obtainSlaveConnection(): Promise<unknown>;
  obtainMasterConnection(): Promise<unknown>;
  __inferenceReplicas?: true;
}

/** A query runner's own connection fields, the same on both TypeORM lines for PostgreSQL and MySQL. */
interface RunnerInternals {
  databaseConnection?: object;
  databaseConnectionPromise?: Promise<unknown>;
  isReleased: boolean;
  isTransactionActive: boolean;
}

/**
 * Routes TypeORM's replica reads (query runners in "slave" mode, which its SelectQueryBuilder takes outside a
 * transaction) through the replica set instead of its own random pick:
 *
 * - a connection comes from a replica in rotation; one that cannot be reached is taken out and the next one tried,
 *   then the primary;
 * - a read whose replica dies under it (connection refused, reset, server shut down) takes the replica out and runs
 *   once more, on another replica or the primary, so that no read outside a session fails because one replica died.
 *
 * @internal
 */
export function routeReplicaReads(
  dataSource: DataSource,
  dialect: () => Dialect,
  replicas: ReplicaSet,
  readYourWrites?: ReadYourWrites,
): void {
  const driver = dataSource.driver as unknown as ReplicatedDriver;
  if (driver.__inferenceReplicas) return;
  driver.__inferenceReplicas = true;
  /** Which replica a pooled connection belongs to. */
  const origin = new WeakMap<object, number>();

  driver.obtainSlaveConnection = async () => {
    const tried = new Set<number>();
    // read-your-writes: a replica that has not applied this context's last write is passed over
    const needed = await readYourWrites?.needed();
    for (let index = replicas.pick(); index !== undefined; index = replicas.pick(tried)) {
      tried.add(index);
      if (needed !== undefined && !(await replicas.hasApplied(index, needed))) continue;
      try {
        const { handle, connection } = await dialect().connectReplica(dataSource, index);
        origin.set(connection, index);
        return handle;
      } catch (error) {
        replicas.markDown(index, error);
      }
    }
    return driver.obtainMasterConnection();
  };

  const create = dataSource.createQueryRunner.bind(dataSource);
  dataSource.createQueryRunner = (mode: ReplicationMode = "master"): QueryRunner => {
    const runner = create(mode);
    if (mode === "slave") retryOnLostReplica(runner, dialect, replicas, origin);
    else if (readYourWrites) noteWrites(runner, readYourWrites);
    return runner;
  };
}

/** A statement on the primary that is not a plain read marks the context as having written. */
function noteWrites(runner: QueryRunner, readYourWrites: ReadYourWrites): void {
  const query = runner.query.bind(runner) as (sql: unknown, ...rest: unknown[]) => Promise<unknown>;
  (runner as unknown as { query: (sql: unknown, ...rest: unknown[]) => Promise<unknown> }).query = (sql, ...rest) => {
    if (typeof sql !== "string" || !/^\s*(SELECT|SHOW)\b/i.test(sql)) readYourWrites.wrote();
    return query(sql, ...rest);
  };
}

function retryOnLostReplica(
  runner: QueryRunner,
  dialect: () => Dialect,
  replicas: ReplicaSet,
  origin: WeakMap<object, number>,
): void {
  const internals = runner as unknown as RunnerInternals;
  const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
  (runner as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
    try {
      return await query(...args);
    } catch (error) {
      const connection = internals.databaseConnection;
      const index = connection === undefined ? undefined : origin.get(connection);
      const cause = (error as { driverError?: unknown }).driverError ?? error;
      if (index === undefined || internals.isTransactionActive || !dialect().connectionLost(cause)) throw error;
      replicas.markDown(index, cause);
      await dialect().discardConnection(runner);
      // a fresh connection for the same runner: the next connect() asks the replica set again
      internals.databaseConnection = undefined;
      internals.databaseConnectionPromise = undefined;
      internals.isReleased = false;
      return query(...args);
    }
  };
}
