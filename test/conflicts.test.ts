import { QueryFailedError, type EntityManager } from "typeorm";
import { ConfigurationError, DatabaseError, DatabaseManager, TransactionConflictError } from "../src";
import { Counter, stored } from "./support/counters";
import { DIALECTS, destroyTest, initTest, raw, urlFor, type TestDialect } from "./support/dialects";

/** A promise each of `parties` callers waits on until all of them have arrived. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    arrived += 1;
    if (arrived === parties) open();
    return opened;
  };
}

/**
 * Reads the counter and writes it back plus one, after every other worker of the round has read it too: under
 * SERIALIZABLE two such transactions cannot both commit (PostgreSQL: serialization failure 40001; MariaDB: the
 * shared locks of SERIALIZABLE reads turn the two updates into a deadlock, 1213).
 */
function increment(wait: () => Promise<void>, runs: { count: number }) {
  return async (manager: EntityManager): Promise<void> => {
    runs.count += 1;
    const counter = await manager.findOneByOrFail(Counter, { name: "c" });
    await wait();
    await manager.update(Counter, { name: "c" }, { value: counter.value + 1 });
  };
}

const SERVERS = DIALECTS.filter((d) => d !== "sqlite");

// skipped only when no server runs: the global setup says so loudly, and DB_REQUIRE=all fails instead
(SERVERS.length > 0 ? describe.each(SERVERS) : describe.skip.each(["(no server answered)" as TestDialect]))(
  "%s: transaction conflicts and retry",
  (dialect: TestDialect) => {
    let db: DatabaseManager;
    /** Another application instance on the same database. */
    let other: DatabaseManager;

    beforeAll(async () => {
      db = await initTest(dialect, [Counter], { poolSize: 4 });
      other = new DatabaseManager({ url: urlFor(dialect), entities: [Counter] });
      await other.initialize();
    });
    beforeEach(async () => {
      await raw(db, "DELETE FROM conflict_counters");
      await raw(db, "INSERT INTO conflict_counters (name, value) VALUES ('c', 0)");
    });
    afterAll(async () => {
      await destroyTest(other);
      await destroyTest(db);
    });

    it("without retry, the loser of two conflicting increments gets the driver's error and one update is lost", async () => {
      const wait = barrier(2);
      const runs = { count: 0 };
      const results = await Promise.allSettled([
        db.withSession(increment(wait, runs), { isolation: "SERIALIZABLE" }),
        db.withSession(increment(wait, runs), { isolation: "SERIALIZABLE" }),
      ]);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(failed).toHaveLength(1);
      expect(failed[0]!.reason).toBeInstanceOf(QueryFailedError);
      expect(failed[0]!.reason).not.toBeInstanceOf(DatabaseError);
      const driverError = (failed[0]!.reason as QueryFailedError).driverError as { code?: string; errno?: number };
      if (dialect === "postgres") expect(["40001", "40P01"]).toContain(driverError.code);
      else expect(driverError.errno).toBe(1213);
      expect(runs.count).toBe(2);
      expect(await stored(db)).toBe(1);
    });

    it("with retry, conflicting increments all land: the loser runs its whole work again", async () => {
      const workers = 4;
      const wait = barrier(workers);
      const runs = { count: 0 };
      await Promise.all(
        Array.from({ length: workers }, () =>
          db.withSession(increment(wait, runs), { isolation: "SERIALIZABLE", retry: { attempts: 10, baseDelayMs: 5 } }),
        ),
      );
      expect(await stored(db)).toBe(workers);
      expect(runs.count).toBeGreaterThan(workers);
    });

    it("when the attempts run out: TransactionConflictError with the attempts and the last driver error as cause", async () => {
      // every attempt reads the counter, then another client changes it: PostgreSQL refuses this attempt's update
      // (40001); on MariaDB the other client's update waits for this attempt's shared lock and this update for the
      // other's, a deadlock (1213) whose victim is this attempt (it has written less: the other wrote a row first)
      let runs = 0;
      const others: Promise<unknown>[] = [];
      const error = await db
        .withSession(
          async (manager) => {
            runs += 1;
            const counter = await manager.findOneByOrFail(Counter, { name: "c" });
            const theirs = other.withSession(async (m) => {
              await m.insert(
                Counter,
                Array.from({ length: 20 }, (_, i) => ({ name: `other-${runs}-${i}`, value: 0 })),
              );
              await m.update(Counter, { name: "c" }, { value: () => "value + 1" });
            });
            others.push(theirs.catch((e: unknown) => e));
            if (dialect === "postgres") await theirs;
            else await new Promise((resolve) => setTimeout(resolve, 200));
            await manager.update(Counter, { name: "c" }, { value: counter.value + 10 });
          },
          { isolation: "SERIALIZABLE", retry: { attempts: 3, baseDelayMs: 1 } },
        )
        .catch((e: unknown) => e);
      expect(await Promise.all(others)).toEqual([undefined, undefined, undefined]);
      expect(error).toBeInstanceOf(TransactionConflictError);
      expect(error).toBeInstanceOf(DatabaseError);
      expect((error as TransactionConflictError).attempts).toBe(3);
      expect(runs).toBe(3);
      expect((error as Error).message).toMatch(/^The transaction failed on a conflict 3 time\(s\), giving up: /);
      expect(conflictCode((error as Error).cause)).toEqual(dialect === "postgres" ? "40001" : "ER_LOCK_DEADLOCK");
      // none of the attempts' own writes landed; the other client's three did
      expect(await stored(db)).toBe(3);
    });

    it("never retries any other error, and rolls every attempt back", async () => {
      let runs = 0;
      const failure = new Error("not a conflict");
      await expect(
        db.withSession(
          async (manager) => {
            runs += 1;
            await manager.update(Counter, { name: "c" }, { value: 99 });
            throw failure;
          },
          { retry: 5 },
        ),
      ).rejects.toBe(failure);
      expect(runs).toBe(1);
      expect(await stored(db)).toBe(0);
    });

    it("a savepoint does not retry by itself: the conflict goes to the outer session, which runs again", async () => {
      let outerRuns = 0;
      let innerRuns = 0;
      await db.withSession(
        async () => {
          outerRuns += 1;
          await db.withSession(
            async (manager) => {
              innerRuns += 1;
              await manager.update(Counter, { name: "c" }, { value: outerRuns });
              if (outerRuns === 1) throw Object.assign(new Error("conflict in a savepoint"), conflictShape(dialect));
            },
            { retry: 5 },
          );
        },
        { retry: 3 },
      );
      expect([outerRuns, innerRuns]).toEqual([2, 2]);
      expect(await stored(db)).toBe(2);
    });

    it("takes each isolation level and refuses unknown ones and bad retry counts before starting", async () => {
      const level = async (isolation: "READ COMMITTED" | "REPEATABLE READ" | "SERIALIZABLE") =>
        db.withSession(
          async (manager) => {
            // MariaDB: the transaction's own level (the session variable keeps the default), read from InnoDB's
            // transaction list, which the server refreshes at most every 100 ms
            await manager.count(Counter);
            if (dialect !== "postgres") await new Promise((resolve) => setTimeout(resolve, 150));
            const sql =
              dialect === "postgres"
                ? "SELECT current_setting('transaction_isolation') AS level"
                : "SELECT trx_isolation_level AS level FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = CONNECTION_ID()";
            const rows = (await manager.query(sql)) as { level: string }[];
            return rows[0]!.level.replace("-", " ").toUpperCase();
          },
          { isolation },
        );
      expect(await level("READ COMMITTED")).toBe("READ COMMITTED");
      expect(await level("REPEATABLE READ")).toBe("REPEATABLE READ");
      expect(await level("SERIALIZABLE")).toBe("SERIALIZABLE");
      await expect(db.withSession(async () => 1, { isolation: "SNAPSHOT" as never })).rejects.toThrow(
        new ConfigurationError(
          'withSession isolation "SNAPSHOT" is not one of READ COMMITTED, REPEATABLE READ, SERIALIZABLE',
        ),
      );
      await expect(db.withSession(async () => 1, { retry: 0 })).rejects.toThrow(
        new ConfigurationError("withSession retry attempts 0 is not a positive integer"),
      );
    });
  },
);

/** What the driver's conflict error carries, to raise one on purpose. */
function conflictShape(dialect: TestDialect): { code?: string; errno?: number } {
  if (dialect === "postgres") return { code: "40001" };
  if (dialect === "sqlite") return { code: "SQLITE_BUSY" };
  return { errno: 1213 };
}

function conflictCode(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}
