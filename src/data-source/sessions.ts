import { AsyncLocalStorage } from "node:async_hooks";
import type { DataSource, EntityManager, QueryRunner } from "typeorm";
import type { Dialect } from "../dialects/dialect";
import { runInSessionScope } from "../typeorm/session-scope";
import {
  ConfigurationError,
  DatabaseOperationError,
  SessionAbortedError,
  StaleEntityError,
  TransactionConflictError,
  errorMessage,
} from "../errors";

/** A function run inside one transaction. */
export type SessionWork<T> = (manager: EntityManager) => Promise<T> | T;

/** The isolation levels a session can ask for (SQLite's transactions are always serializable). */
export type IsolationLevel = "READ COMMITTED" | "REPEATABLE READ" | "SERIALIZABLE";

/** Options of {@link DatabaseManager.withSession}. */
export interface SessionOptions {
  /**
   * The transaction's isolation level; the server's default when unset. Ignored on SQLite, whose transactions are
   * serializable, and by a session inside a session (a savepoint runs in its outer transaction).
   */
  readonly isolation?: IsolationLevel;
  /**
   * Run the whole work again when the transaction fails on a conflict (PostgreSQL 40001/40P01, MySQL/MariaDB 1213
   * including Galera's certification failure, SQLite's busy error after its timeout, a {@link StaleEntityError} of
   * a `@VersionColumn` entity the work loaded), never on any other error.
   * A number of attempts (the first run included), or the attempts and the first backoff delay (default 20 ms;
   * each next delay doubles, with jitter, up to 1 s). When they run out: {@link TransactionConflictError}.
   * Only the outermost session retries; inside a session this is ignored and the conflict goes to the outer one.
   */
  readonly retry?:
    | number
    | {
        /** Runs of the work at most, the first included. */
        readonly attempts: number;
        /** The first backoff delay in milliseconds; each next one doubles (with jitter), up to 1 s. Default: 20. */
        readonly baseDelayMs?: number;
      };
}

const ISOLATION_LEVELS: readonly IsolationLevel[] = ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"];
const DEFAULT_RETRY_DELAY_MS = 20;
const MAX_RETRY_DELAY_MS = 1_000;

/** One outermost session and the savepoints inside it: they share the connection and its fate. */
interface SessionState {
  readonly queryRunner: QueryRunner;
  /** Savepoints open inside the transaction. */
  savepoints: number;
  /** What ended the transaction on the server (a lost connection, a rollback the server made); set once. */
  ended?: unknown;
  /** The runner's own rollback and release are under way: its statements pass the guard. */
  closing: boolean;
  /** Committed: code of its scope still running afterwards works on the pool, as outside any session. */
  finished: boolean;
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
  readonly #context = new AsyncLocalStorage<SessionState>();
  #tail: Promise<void> = Promise.resolve();

  readonly #committed: (() => void) | undefined;

  /** `committed` is told after each outermost session commits (read-your-writes). */
  constructor(dataSource: DataSource, dialect: () => Dialect, committed?: () => void) {
    this.#dataSource = dataSource;
    this.#dialect = dialect;
    this.#committed = committed;
  }

  /**
   * The query runner of the session the caller runs in, if any.
   *
   * @throws SessionAbortedError when that session's transaction ended on the server: its code must not go on on
   * the pool, where each write would commit by itself.
   */
  current(): QueryRunner | undefined {
    const state = this.#context.getStore();
    if (state === undefined || state.finished) return undefined;
    return usable(state);
  }

  run<T>(work: SessionWork<T>, options?: SessionOptions): Promise<T> {
    const outer = this.#context.getStore();
    if (outer !== undefined && !outer.finished) {
      try {
        usable(outer);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#savepoint(outer, work);
    }
    let plan: ReturnType<typeof sessionPlan> | undefined;
    try {
      plan = options === undefined ? undefined : sessionPlan(options, this.#dialect());
    } catch (error) {
      return Promise.reject(error);
    }
    const transaction = () =>
      plan?.attempts
        ? this.#retried(work, plan.isolation, plan.attempts, plan.baseDelayMs)
        : this.#transaction(work, plan?.isolation);
    if (!this.#dialect().singleConnection) return transaction();
    const result = this.#tail.then(transaction);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Runs the work until it commits, a non-conflict error ends it, or the attempts run out. */
  async #retried<T>(
    work: SessionWork<T>,
    isolation: IsolationLevel | undefined,
    attempts: number,
    baseDelayMs: number,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transaction(work, isolation);
      } catch (error) {
        const conflict = this.#conflict(error);
        if (conflict === undefined) throw error;
        if (attempt >= attempts) throw new TransactionConflictError(attempt, conflict);
        const ceiling = Math.min(MAX_RETRY_DELAY_MS, baseDelayMs * 2 ** (attempt - 1));
        const delay = ceiling / 2 + Math.random() * (ceiling / 2);
        this.#dataSource.logger.log(
          "info",
          `Transaction conflict on attempt ${attempt} of ${attempts} (${errorMessage(conflict)}); running the session again in ${Math.round(delay)} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** The driver error of a conflict somewhere in an error's chain (TypeORM's driverError, the library's causes). */
  #conflict(error: unknown): unknown {
    const dialect = this.#dialect();
    const seen = new Set<unknown>();
    for (let current = error; typeof current === "object" && current !== null && !seen.has(current);) {
      seen.add(current);
      // optimistic concurrency: the work read a row that moved on; run again, it reads the new version
      if (current instanceof StaleEntityError || dialect.transactionConflict(current)) return current;
      const { driverError, cause } = current as { driverError?: unknown; cause?: unknown };
      current = driverError ?? cause;
    }
    return undefined;
  }

  async #transaction<T>(work: SessionWork<T>, isolation?: IsolationLevel): Promise<T> {
    const queryRunner = await this.#begin(isolation);
    const state: SessionState = { queryRunner, savepoints: 0, closing: false, finished: false };
    // on one connection (SQLite) the gate already runs the session's statements one at a time
    guardStatements(state, this.#dialect(), !this.#dialect().singleConnection);
    // every query runner the DataSource makes in the work's scope is a view of the session's (session-scope.ts)
    const runner = () => (state.finished ? undefined : usable(state));
    return runInSessionScope(this.#dataSource, runner, () =>
      this.#context.run(state, async () => {
        try {
          const result = await work(queryRunner.manager);
          // the work may have caught the failure that ended the transaction: committing now would commit nothing
          if (state.ended !== undefined) throw SessionAbortedError.after(state.ended);
          try {
            await queryRunner.commitTransaction();
          } catch (cause) {
            throw DatabaseOperationError.wrap("Committing the transaction", cause);
          }
          state.finished = true;
          this.#committed?.();
          return result;
        } catch (error) {
          state.closing = true;
          if (state.ended !== undefined) await this.#abandon(queryRunner, error);
          else await this.#rollback(queryRunner, error);
          throw error;
        } finally {
          state.closing = true;
          await this.#release(queryRunner);
        }
      }),
    );
  }

  async #savepoint<T>(state: SessionState, work: SessionWork<T>): Promise<T> {
    const { queryRunner } = state;
    await queryRunner.startTransaction();
    state.savepoints += 1;
    try {
      const result = await work(queryRunner.manager);
      if (state.ended !== undefined) throw SessionAbortedError.after(state.ended);
      await queryRunner.commitTransaction();
      return result;
    } catch (error) {
      // a savepoint of a transaction the server ended is gone with it: nothing to roll back to
      if (state.ended === undefined) await this.#rollbackSavepoint(state, error);
      throw error;
    } finally {
      state.savepoints -= 1;
    }
  }

  /** Rolls back to the savepoint; when that fails the transaction is in a state nobody knows, and the session ends. */
  async #rollbackSavepoint(state: SessionState, original: unknown): Promise<void> {
    const { queryRunner } = state;
    if (queryRunner.isReleased || !queryRunner.isTransactionActive) return;
    try {
      await queryRunner.rollbackTransaction();
    } catch (rollbackError) {
      state.ended ??= rollbackError;
      this.#dataSource.logger.log(
        "warn",
        `Rolling back to a savepoint failed, which ends the session: ${errorMessage(rollbackError)}`,
      );
      attachCause(original, rollbackError);
    }
  }

  /** A transaction the server ended: its connection is closed (the server rolls back whatever is left), not reused. */
  async #abandon(queryRunner: QueryRunner, original: unknown): Promise<void> {
    this.#dataSource.logger.log("warn", `A session ended on the server: ${errorMessage(original)}`);
    if (this.#dialect().singleConnection) {
      if (queryRunner.isTransactionActive) await queryRunner.rollbackTransaction().catch(() => undefined);
      return;
    }
    await this.#dialect().discardConnection(queryRunner);
  }

  /** Starts a transaction on a pooled connection; a connection that turns out dead is discarded and replaced once. */
  async #begin(isolation?: IsolationLevel): Promise<QueryRunner> {
    let firstError: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      const queryRunner = this.#dataSource.createQueryRunner();
      try {
        await queryRunner.connect();
        await queryRunner.startTransaction(isolation);
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
      attachCause(original, rollbackError);
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

/** Checks a session's options once: the isolation level the dialect takes, the retry plan. */
function sessionPlan(
  options: SessionOptions,
  dialect: Dialect,
): { isolation?: IsolationLevel; attempts?: number; baseDelayMs: number } {
  const { isolation, retry } = options;
  if (isolation !== undefined && !ISOLATION_LEVELS.includes(isolation)) {
    throw new ConfigurationError(
      `withSession isolation ${JSON.stringify(isolation)} is not one of ${ISOLATION_LEVELS.join(", ")}`,
    );
  }
  const attempts = typeof retry === "number" ? retry : retry?.attempts;
  const baseDelayMs = (typeof retry === "object" ? retry.baseDelayMs : undefined) ?? DEFAULT_RETRY_DELAY_MS;
  if (attempts !== undefined && (!Number.isInteger(attempts) || attempts < 1)) {
    throw new ConfigurationError(`withSession retry attempts ${String(attempts)} is not a positive integer`);
  }
  if (!Number.isFinite(baseDelayMs) || baseDelayMs < 0) {
    throw new ConfigurationError(`withSession retry baseDelayMs ${String(baseDelayMs)} is not a non-negative number`);
  }
  return { isolation: dialect.isolationLevels ? isolation : undefined, attempts, baseDelayMs };
}

/** The session's query runner, or SessionAbortedError when its transaction ended (its connection lost, say). */
function usable(state: SessionState): QueryRunner {
  if (state.ended === undefined && state.queryRunner.isReleased) state.ended = connectionLost();
  if (state.ended !== undefined) throw SessionAbortedError.after(state.ended);
  return state.queryRunner;
}

function connectionLost(): DatabaseOperationError {
  return new DatabaseOperationError("the session's connection was lost");
}

/** The original error keeps its place; a rollback's failure after it goes in its `cause` when it has none. */
function attachCause(original: unknown, cause: unknown): void {
  if (typeof original === "object" && original !== null && (original as { cause?: unknown }).cause === undefined) {
    Object.defineProperty(original, "cause", { value: cause, configurable: true, writable: true });
  }
}

/**
 * Guards a session's statements: once its transaction ended on the server (the dialect reads each failure), every
 * further statement fails with {@link SessionAbortedError} before it reaches the driver. Optionally queues them one
 * behind the other, so that `Promise.all` of queries inside a session hands the driver one at a time (node-postgres
 * deprecates overlapping `client.query()` calls and pg 9 will refuse them).
 */
function guardStatements(state: SessionState, dialect: Dialect, serialize: boolean): void {
  const { queryRunner } = state;
  const query = queryRunner.query.bind(queryRunner) as (...args: unknown[]) => Promise<unknown>;
  const run = (args: unknown[]): Promise<unknown> => {
    if (!state.closing) {
      try {
        usable(state);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return query(...args).catch((error: unknown) => {
      if (state.closing || state.ended !== undefined) throw error;
      const driverError = (error as { driverError?: unknown }).driverError ?? error;
      if (queryRunner.isReleased || dialect.connectionLost(driverError)) {
        // the statement that met the lost connection says so in the library's terms too
        state.ended = error;
        throw SessionAbortedError.after(error);
      }
      // the statement's own error (a deadlock, a unique violation) stays what it is; the next statement is refused
      if (dialect.transactionEnded(driverError, state.savepoints > 0)) state.ended = error;
      throw error;
    });
  };
  let tail: Promise<unknown> = Promise.resolve();
  (queryRunner as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = serialize
    ? (...args: unknown[]) => {
        const result = tail.then(() => run(args));
        tail = result.catch(() => undefined);
        return result;
      }
    : (...args: unknown[]) => run(args);
}
