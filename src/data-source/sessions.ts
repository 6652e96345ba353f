import type { DataSource, EntityManager, QueryRunner } from "typeorm";
import { DatabaseOperationError } from "../errors";

/** A function run inside one transaction. */
export type SessionWork<T> = (manager: EntityManager) => Promise<T> | T;

/**
 * Runs units of work in transactions: commit on return, roll back on throw (the original error is rethrown; a
 * failed rollback is attached as its `cause` when it has none, and logged), connection released in every case.
 * On a single-connection database (SQLite) sessions queue, so two never interleave on the one connection.
 *
 * @internal
 */
export class SessionRunner {
  readonly #dataSource: DataSource;
  readonly #serialize: boolean;
  #tail: Promise<void> = Promise.resolve();

  constructor(dataSource: DataSource, serialize: boolean) {
    this.#dataSource = dataSource;
    this.#serialize = serialize;
  }

  run<T>(work: SessionWork<T>): Promise<T> {
    if (!this.#serialize) return this.#transaction(work);
    const result = this.#tail.then(() => this.#transaction(work));
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #transaction<T>(work: SessionWork<T>): Promise<T> {
    const queryRunner = this.#dataSource.createQueryRunner();
    try {
      await queryRunner.connect();
      await queryRunner.startTransaction();
    } catch (cause) {
      await this.#release(queryRunner);
      throw DatabaseOperationError.wrap("Starting a transaction", cause);
    }
    let result: T;
    try {
      result = await work(queryRunner.manager);
    } catch (error) {
      await this.#rollback(queryRunner, error);
      await this.#release(queryRunner);
      throw error;
    }
    try {
      await queryRunner.commitTransaction();
    } catch (cause) {
      const error = DatabaseOperationError.wrap("Committing the transaction", cause);
      await this.#rollback(queryRunner, error);
      await this.#release(queryRunner);
      throw error;
    }
    await this.#release(queryRunner);
    return result;
  }

  async #rollback(queryRunner: QueryRunner, original: unknown): Promise<void> {
    if (!queryRunner.isTransactionActive) return;
    try {
      await queryRunner.rollbackTransaction();
    } catch (rollbackError) {
      this.#dataSource.logger.log("warn", `Rollback failed after an error in a session: ${String(rollbackError)}`);
      if (typeof original === "object" && original !== null && (original as { cause?: unknown }).cause === undefined) {
        Object.defineProperty(original, "cause", { value: rollbackError, configurable: true, writable: true });
      }
    }
  }

  async #release(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.isReleased) return;
    try {
      await queryRunner.release();
    } catch (error) {
      this.#dataSource.logger.log("warn", `Releasing a connection failed: ${String(error)}`);
    }
  }
}
