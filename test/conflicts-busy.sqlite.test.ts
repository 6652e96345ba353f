import type { DataSourceOptions, EntityManager } from "typeorm";
import { DatabaseManager, DatabaseOperationError, TransactionConflictError } from "../src";
import { Counter, chainCode, stored } from "./support/counters";
import { destroyTest, raw, urlFor, type TestDialect } from "./support/dialects";

describe.each(["sqlite" as TestDialect])("%s: a busy database and retry", (dialect: TestDialect) => {
  let url: string;
  let holder: DatabaseManager;
  let db: DatabaseManager;

  beforeAll(async () => {
    url = urlFor(dialect);
    holder = new DatabaseManager({ url, entities: [Counter] });
    await holder.initialize();
    await holder.reset({ confirm: true });
    // a second connection to the same file that gives up waiting for the lock after 50 ms
    const template = new DatabaseManager({ url, entities: [Counter] }).dataSource.options;
    db = new DatabaseManager({
      options: { ...template, timeout: 50, busyTimeout: 50, entities: [Counter] } as unknown as DataSourceOptions,
    });
    await db.initialize();
  });
  beforeEach(async () => {
    await raw(holder, "DELETE FROM conflict_counters");
    await raw(holder, "INSERT INTO conflict_counters (name, value) VALUES ('c', 0)");
  });
  afterAll(async () => {
    await destroyTest(db);
    await destroyTest(holder);
  });

  /** Holds the write lock from another connection for `ms` milliseconds. */
  async function holdLock(ms: number): Promise<{ released: Promise<void> }> {
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const released = holder.withSession(async (manager) => {
      await manager.update(Counter, { name: "c" }, { value: 100 });
      locked();
      await new Promise((resolve) => setTimeout(resolve, ms));
    });
    await isLocked;
    return { released };
  }

  const bump = (manager: EntityManager) => manager.increment(Counter, { name: "c" }, "value", 1);

  it("without retry, the busy error reaches the caller", async () => {
    const lock = await holdLock(400);
    const error = await db.withSession(bump).catch((e: unknown) => e);
    await lock.released;
    // as without the option: the start of the transaction timed out waiting for the lock
    expect(error).toBeInstanceOf(DatabaseOperationError);
    expect(error).not.toBeInstanceOf(TransactionConflictError);
    expect(chainCode(error)).toMatch(/^SQLITE_BUSY/);
    expect(await stored(holder)).toBe(100);
  });

  it("with retry, the session runs again once the lock is gone", async () => {
    const lock = await holdLock(300);
    let runs = 0;
    await db.withSession(
      async (manager) => {
        runs += 1;
        await bump(manager);
      },
      { retry: { attempts: 20, baseDelayMs: 40 } },
    );
    await lock.released;
    // the failed attempts never reached the work: the lock is taken at BEGIN IMMEDIATE
    expect(runs).toBe(1);
    expect(await stored(holder)).toBe(101);
  });

  it("when the lock outlasts the attempts: TransactionConflictError", async () => {
    const lock = await holdLock(1500);
    const error = await db.withSession(bump, { retry: { attempts: 2, baseDelayMs: 10 } }).catch((e: unknown) => e);
    await lock.released;
    expect(error).toBeInstanceOf(TransactionConflictError);
    expect((error as TransactionConflictError).attempts).toBe(2);
    expect(chainCode((error as Error).cause)).toMatch(/^SQLITE_BUSY/);
    expect(await stored(holder)).toBe(100);
  });
});
