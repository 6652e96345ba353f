import { AsyncLocalStorage } from "node:async_hooks";
import type { DataSource, QueryRunner, ReplicationMode } from "typeorm";

/** A library session open in the current async context, on one DataSource. */
interface Scope {
  readonly dataSource: DataSource;
  /**
   * The session's query runner while it can take statements; undefined once it committed (later code of its scope
   * works on the pool, as outside a session); throws `SessionAbortedError` once the server ended it.
   */
  readonly runner: () => QueryRunner | undefined;
  /** A session of another DataSource this one runs inside. */
  readonly outer: Scope | undefined;
}

const scopes = new AsyncLocalStorage<Scope>();

/**
 * Runs a session's work in its scope: every query runner its DataSource makes there (for a repository from
 * `dataSource.getRepository()` or `@InjectRepository`, `dataSource.manager`, a QueryBuilder, a custom repository, a
 * read routed to a replica) is a view of the session's, so that all of it is in the session's transaction.
 *
 * @internal
 */
export function runInSessionScope<T>(dataSource: DataSource, runner: () => QueryRunner | undefined, work: () => T): T {
  return scopes.run({ dataSource, runner, outer: scopes.getStore() }, work);
}

/** The query runner of the session of `dataSource` open in the current async context, if any. @internal */
export function sessionRunnerOf(dataSource: DataSource): QueryRunner | undefined {
  for (let scope = scopes.getStore(); scope; scope = scope.outer) {
    if (scope.dataSource === dataSource) return scope.runner();
  }
  return undefined;
}

const reaching = new WeakSet<DataSource>();

/**
 * Makes a DataSource's `createQueryRunner()` answer, inside a session's scope, a view of the session's query runner
 * instead of a pooled connection of its own: the view's statements are the session's (its guard, its connection,
 * its transaction), a transaction started on it is a savepoint, and releasing it leaves the session's connection to
 * the session. Outside a session nothing changes.
 *
 * @internal
 */
export function installSessionReach(dataSource: DataSource): void {
  if (reaching.has(dataSource)) return;
  reaching.add(dataSource);
  const create = dataSource.createQueryRunner.bind(dataSource);
  dataSource.createQueryRunner = (mode?: ReplicationMode) => {
    const session = sessionRunnerOf(dataSource);
    if (session === undefined || session.isReleased) return create(mode);
    const view = Object.create(session) as QueryRunner;
    Object.assign(view, { release: () => Promise.resolve(), manager: dataSource.createEntityManager(view) });
    return view;
  };
}
