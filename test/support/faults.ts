import type { EntityManager } from "typeorm";
import type { DatabaseManager } from "../../src";
import { killSessions } from "./admin";
import { raw, type TestDialect } from "./dialects";

// The fault layer every write path meets: the server ending a session's connection, a deadlock inside a savepoint,
// a second writer while a session is open. Each helper does what a real server or a real second request does;
// nothing is mocked.

/** A promise with its resolve function outside, for making two pieces of work meet. */
export function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What `work` ended with: the error it threw or rejected with, or "resolved". A synchronous throw counts too. */
export function outcomeOf(work: () => unknown): Promise<unknown> {
  return Promise.resolve()
    .then(work)
    .then(
      () => "resolved",
      (error: unknown) => error,
    );
}

/** The references of the stored orders starting with `prefix`, sorted, read with raw SQL. */
export async function storedReferences(db: DatabaseManager, prefix = ""): Promise<string[]> {
  const rows = await raw<{ r: string }>(db, "SELECT reference AS r FROM orders WHERE reference LIKE ? ORDER BY r", [
    `${prefix}%`,
  ]);
  return rows.map((row) => row.r);
}

/** The server-side id of the connection a session's manager runs on. */
export async function backendOf(dialect: Exclude<TestDialect, "sqlite">, manager: EntityManager): Promise<unknown> {
  const sql = dialect === "postgres" ? "SELECT pg_backend_pid() AS id" : "SELECT CONNECTION_ID() AS id";
  const [row] = (await manager.query(sql)) as { id: unknown }[];
  return row!.id;
}

/**
 * Ends, from the server's side, the connection a session runs on (pg_terminate_backend / KILL), as a restart, a
 * failover or `idle_in_transaction_session_timeout` would, and gives the driver a moment to notice.
 */
export async function endSessionConnection(
  dialect: Exclude<TestDialect, "sqlite">,
  manager: EntityManager,
): Promise<void> {
  await killSessions(dialect, [await backendOf(dialect, manager)]);
  await sleep(150);
}

/** Runs SQL written with `?` placeholders on a manager (turned into `$1..` on PostgreSQL). */
export function run(
  db: DatabaseManager,
  manager: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<unknown> {
  let index = 0;
  const text = db.dialect === "postgres" ? sql.replace(/\?/g, () => `$${++index}`) : sql;
  return manager.query(text, params);
}

/**
 * Makes the statement `victim` runs inside its transaction lose a deadlock: `other` (a second manager's session,
 * heavier by the rows it changed first, so InnoDB picks the victim; on PostgreSQL the victim waits first and its
 * deadlock check fires first) locks row `b`, the victim has locked row `a` and asks for `b`, `other` asks for `a`.
 * Answers when `other` has committed.
 *
 * Call it with the victim's work: `lockA` must lock row `a` and then resolve `aLocked`; `takeB` asks for row `b`.
 */
export async function deadlock(
  db: DatabaseManager,
  other: DatabaseManager,
  table: string,
  rows: { a: string; b: string; heavy: readonly string[] },
  victim: (aLocked: () => void, bLocked: Promise<void>) => Promise<unknown>,
): Promise<{ victim: unknown }> {
  const aLocked = signal();
  const bLocked = signal();
  const update = `UPDATE ${table} SET reference = ? WHERE id = ?`;
  const otherWork = other.withSession(async (m) => {
    for (const id of rows.heavy) await run(other, m, update, [`heavy-by-other`, id]);
    await run(other, m, update, ["b-by-other", rows.b]);
    bLocked.resolve();
    await aLocked.promise;
    await sleep(200); // the victim is waiting for b by now
    await run(other, m, update, ["a-by-other", rows.a]);
  });
  const outcome = await victim(aLocked.resolve, bLocked.promise).then(
    () => undefined,
    (error: unknown) => error,
  );
  await otherWork;
  return { victim: outcome };
}
