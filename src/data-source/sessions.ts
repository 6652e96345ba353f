import { AsyncLocalStorage } from "node:async_hooks";
import type { DataSource, EntityManager, QueryRunner } from "typeorm";
import type { Dialect } from "../dialects/dialect";
import { DatabaseOperationError, errorMessage } from "../errors";

/** A function run inside one transaction. */
export type SessionWork<T> = (manager: EntityManager) => Promise<T> | T;

interface SessionContext {
  readonly queryRunner: QueryRunner;
}

/**
 * Runs units of work in transactions.
 *
 * - Commit on return; on throw, roll back and rethrow the original error (a failed rollback is attached as its
 *   `cause` when it has none, and logged); the connection is released in every case.
 * - A session started inside a session is a savepoint on the same connection: its failure, caught by the outer
 *   work, undoes only its own writes.
 * - The current session travels with the async context (AsyncLocalStorage), so `current()` finds it anywhere below
 *   the work function without passing managers around.
 * - A connection found dead when the transaction starts (killed by the server while idle) is discarded and the
 *   start is tried once more on a fresh one; it is never handed to the work.
 * - On a single-connection database (SQLite) sessions queue, so two never interleave on the one connection.
 *
 * @internal
 */
export class SessionRunner {
  readonly #dataSource: DataSource;
  readonly #dialect: () => Dialect;
  readonly #context = new AsyncLocalStorage<SessionContext>();
  #tail: Promise<void> = Promise.resolve();

  constructor(dataSource: DataSource, dialect: () => Dialect) {
    this.#dataSource = dataSource;
    this.#dialect = dialect;
  }

  /** The query runner of the session the caller runs in, if any. */
  current(): QueryRunner | undefined {
    const context = this.#context.getStore();
    return context && !context.queryRunner.isReleased ? context.queryRunner : undefined;
  }

  run<T>(work: SessionWork<T>): Promise<T> {
    const outer = this.current();
    if (outer) return this.#savepoint(outer, work);
    if (!this.#dialect().singleConnection) return this.#transaction(work);
    const result = this.#tail.then(() => this.#transaction(work));
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #transaction<T>(work: SessionWork<T>): Promise<T> {
    const queryRunner = await this.#begin();
    return this.#context.run({ queryRunner }, async () => {
      try {
        const result = await work(queryRunner.manager);
        try {
          await queryRunner.commitTransaction();
        } catch (cause) {
          const error = DatabaseOperationError.wrap("Committing the transaction", cause);
          await this.#rollback(queryRunner, error);
          throw error;
        }
        return result;
      } catch (error) {
        await this.#rollback(queryRunner, error);
        throw error;
      } finally {
        await this.#release(queryRunner);
      }
    });
  }

  async #savepoint<T>(queryRunner: QueryRunner, work: SessionWork<T>): Promise<T> {
    await queryRunner.startTransaction();
    try {
      const result = await work(queryRunner.manager);
      await queryRunner.commitTransaction();
      return result;
    } catch (error) {
      await this.#rollback(queryRunner, error);
      throw error;
    }
  }

  /** Starts a transaction on a pooled connection; a connection that turns out dead is discarded and replaced once. */
  async #begin(): Promise<QueryRunner> {
    let firstError: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      const queryRunner = this.#dataSource.createQueryRunner();
      try {
        await queryRunner.connect();
        await queryRunner.startTransaction();
        if (!this.#dialect().singleConnection) serializeQueries(queryRunner);
        return queryRunner;
      } catch (error) {
        firstError ??= error;
        await this.#dialect().discardConnection(queryRunner);
        this.#dataSource.logger.log(
          "warn",
          `Starting a transaction failed (${errorMessage(error)}); ${attempt === 0 ? "retrying on a new connection" : "giving up"}`,
        );
      }
    }
    throw DatabaseOperationError.wrap("Starting a transaction", firstError);
  }

  async #rollback(queryRunner: QueryRunner, original: unknown): Promise<void> {
    if (queryRunner.isReleased) {
      // the driver already dropped the connection (it died); the server rolls the transaction back
      this.#dataSource.logger.log("warn", `A session failed after its connection was lost: ${errorMessage(original)}`);
      return;
    }
    if (!queryRunner.isTransactionActive) return;
    try {
      await queryRunner.rollbackTransaction();
    } catch (rollbackError) {
      this.#dataSource.logger.log(
        "warn",
        `Rollback failed after an error in a session: ${errorMessage(rollbackError)}`,
      );
      if (typeof original === "object" && original !== null && (original as { cause?: unknown }).cause === undefined) {
        Object.defineProperty(original, "cause", { value: rollbackError, configurable: true, writable: true });
      }
      await this.#dialect().discardConnection(queryRunner);
    }
  }

  async #release(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.isReleased) return;
    try {
      await queryRunner.release();
    } catch (error) {
      this.#dataSource.logger.log("warn", `Releasing a connection failed: ${errorMessage(error)}`);
    }
  }
}

/**
 * Queues the queries of a session's connection one behind the other, so that `Promise.all` of queries inside a
 * session hands the driver one at a time (node-postgres deprecates overlapping `client.query()` calls and pg 9
 * will refuse them).
 */
const serialized = new WeakSet<QueryRunner>();

function serializeQueries(queryRunner: QueryRunner): void {
  if (serialized.has(queryRunner)) return;
  serialized.add(queryRunner);
  const query = queryRunner.query.bind(queryRunner) as (...args: unknown[]) => Promise<unknown>;
  let tail: Promise<unknown> = Promise.resolve();
  (queryRunner as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => {
    const run = tail.then(() => query(...args));
    tail = run.catch(() => undefined);
    return run;
  };
}
