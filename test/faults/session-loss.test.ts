import { Column, Entity } from "typeorm";
import { DatabaseManager, FullAuditModel, History, SessionAbortedError, TransactionConflictError } from "../../src";
import { DIALECTS, raw } from "../support/dialects";
import { deadlock, endSessionConnection, outcomeOf, run, sleep, storedReferences } from "../support/faults";
import { databaseUrl, type TestDialect } from "../support/servers";
import { Order, newOrder } from "../support/entities";

// A session whose transaction ends on the server (its connection ended, a deadlock the server resolved by rolling
// it back) must never go on outside a transaction: every later statement of its scope fails with
// SessionAbortedError, nothing of it is committed, and `retry` runs the whole unit of work again.

@Entity("loss_ledgers")
@History()
class LossLedger extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  reference!: string;
}

type ServerDialect = Exclude<TestDialect, "sqlite">;
const SERVERS = DIALECTS.filter((d): d is ServerDialect => d !== "sqlite");
const eachServer =
  SERVERS.length > 0 ? describe.each(SERVERS) : describe.skip.each(["(no server answered)" as ServerDialect]); // skipped only when no server runs: the global setup says so loudly, and DB_REQUIRE=all fails instead

eachServer("%s: a session whose transaction ended on the server", (dialect) => {
  let db: DatabaseManager;
  let other: DatabaseManager;

  beforeAll(async () => {
    db = new DatabaseManager({ url: databaseUrl(dialect), entities: [Order, LossLedger], poolSize: 3 });
    other = new DatabaseManager({ url: databaseUrl(dialect), entities: [Order, LossLedger], poolSize: 2 });
    await db.initialize();
    await other.initialize();
    await db.reset({ confirm: true });
  });
  afterAll(async () => {
    await db.close();
    await other.close();
  });

  it("after its connection is ended, every write path in its scope fails with SessionAbortedError and nothing is committed", async () => {
    const outcomes: Record<string, unknown> = {};
    const session = db.withSession(async (manager) => {
      await manager.save(newOrder("lost-before"));
      await endSessionConnection(dialect, manager);
      const attempts: Record<string, () => Promise<unknown>> = {
        repository: () => db.getRepository(Order).save(newOrder("lost-after-repository")),
        sessionManager: () => manager.save(newOrder("lost-after-session-manager")),
        dbManager: () => db.manager.save(newOrder("lost-after-db-manager")),
        insertOne: () => db.insertOne(Order, newOrder("lost-after-insert-one")),
        insertMany: () => db.insertMany(Order, [newOrder("lost-after-insert-many")]),
        findById: () => db.findById(Order, "0190a0b0-0000-7000-8000-000000000000"),
        nested: () => db.withSession((m) => m.save(newOrder("lost-after-nested"))),
        query: () => db.manager.query("SELECT 1"),
      };
      for (const [name, attempt] of Object.entries(attempts)) {
        outcomes[name] = await outcomeOf(attempt);
      }
      return "the work returned";
    });
    await expect(session).rejects.toBeInstanceOf(SessionAbortedError);
    for (const [name, outcome] of Object.entries(outcomes)) {
      expect([name, outcome]).toEqual([name, expect.any(SessionAbortedError)]);
    }
    expect((outcomes["repository"] as Error).message).toMatch(/nothing it wrote is committed/);
    expect(await storedReferences(db, "lost-")).toEqual([]);
    // the pool is fine afterwards
    await db.withSession((m) => m.save(newOrder("after-loss")));
    expect(await storedReferences(db, "after-loss")).toEqual(["after-loss"]);
  });

  it("@History() writes after the connection ended fail: neither their rows nor their entries are committed", async () => {
    const [kept] = await db.insertMany(LossLedger, [{ reference: "hist-kept" }]);
    const entries = async () =>
      Number((await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM inference_history"))[0]!.n);
    const before = await entries();
    const outcomes: Record<string, unknown> = {};
    const session = db.withSession(async (manager) => {
      await manager.getRepository(LossLedger).update({ reference: "hist-kept" }, { reference: "hist-lost-update" });
      await endSessionConnection(dialect, manager);
      const attempts: Record<string, () => Promise<unknown>> = {
        criteria: () => db.getRepository(LossLedger).update({ id: kept! }, { reference: "hist-lost-criteria" }),
        softDelete: () => db.getRepository(LossLedger).softDelete({ id: kept! }),
        upsert: () => db.getRepository(LossLedger).upsert({ id: kept!, reference: "hist-lost-upsert" }, ["id"]),
        updateById: () => db.updateById(LossLedger, kept!, { reference: "hist-lost-by-id" }),
        insertOne: () => db.insertOne(LossLedger, { reference: "hist-lost-one" }),
        insertMany: () => db.insertMany(LossLedger, [{ reference: "hist-lost-many" }]),
      };
      for (const [name, attempt] of Object.entries(attempts)) outcomes[name] = await outcomeOf(attempt);
    });
    await expect(session).rejects.toBeInstanceOf(SessionAbortedError);
    for (const [name, outcome] of Object.entries(outcomes))
      expect([name, outcome]).toEqual([name, expect.any(SessionAbortedError)]);
    const rows = await raw<{ r: string; d: unknown }>(db, "SELECT reference AS r, deleted_at AS d FROM loss_ledgers");
    expect(rows).toEqual([{ r: "hist-kept", d: null }]);
    expect(await entries()).toBe(before);
    expect((await db.history(LossLedger, kept!)).map((h) => h.op)).toEqual(["insert"]);
  });

  it("a connection ended while the work awaits something else: the next statement fails, the session fails", async () => {
    const session = db.withSession(async (manager) => {
      await manager.save(newOrder("idle-before"));
      await endSessionConnection(dialect, manager);
      await sleep(50);
      return db.getRepository(Order).save(newOrder("idle-after"));
    });
    await expect(session).rejects.toBeInstanceOf(SessionAbortedError);
    expect(await storedReferences(db, "idle-")).toEqual([]);
  });

  it("a deadlock inside a savepoint never lets the outer work commit on its own; retry runs the whole work again", async () => {
    await raw(db, "DELETE FROM orders");
    const [a, b, ...heavy] = await db.insertMany(
      Order,
      Array.from({ length: 22 }, (_, i) => newOrder(`row-${i}`)),
    );
    let attempts = 0;
    let savepointError: unknown;
    const update = "UPDATE orders SET reference = ? WHERE id = ?";
    await db.withSession(
      async (manager) => {
        attempts += 1;
        await manager.save(newOrder("dl-outer-before"));
        if (attempts === 1) {
          const { victim } = await deadlock(db, other, "orders", { a: a!, b: b!, heavy }, (aLocked, bLocked) =>
            db.withSession(async (savepoint) => {
              await run(db, savepoint, update, ["a-by-victim", a]);
              aLocked();
              await bLocked;
              await run(db, savepoint, update, ["b-by-victim", b]);
            }),
          );
          savepointError = victim;
        }
        // the outer work goes on after the failed savepoint, as code that catches it would
        await db.getRepository(Order).save(newOrder("dl-outer-after"));
      },
      { retry: 3 },
    );
    expect(savepointError).toBeDefined();
    expect(await storedReferences(db, "dl-")).toEqual(["dl-outer-after", "dl-outer-before"]);
    expect(await storedReferences(db, "a-by-")).toEqual(["a-by-other"]);
    expect(await storedReferences(db, "b-by-")).toEqual(["b-by-other"]);
    // MariaDB rolled the whole transaction back: the session failed as a whole and ran again; PostgreSQL rolled back
    // the savepoint only, and the outer work went on in its transaction
    expect(attempts).toBe(dialect === "mariadb" ? 2 : 1);
  });

  it("@History(): a deadlock inside a savepoint leaves none of the savepoint's entries; every committed change has its entry", async () => {
    await raw(db, "DELETE FROM loss_ledgers");
    await raw(db, "DELETE FROM inference_history");
    const [a, b, ...heavy] = await db.insertMany(
      LossLedger,
      Array.from({ length: 22 }, (_, i) => ({ reference: `row-${i}` })),
    );
    let attempts = 0;
    let savepointError: unknown;
    await db.withSession(
      async (manager) => {
        attempts += 1;
        await manager.save(Object.assign(new LossLedger(), { reference: "hd-outer-before" }));
        if (attempts === 1) {
          // the victim's writes are recorded ones: each reads and locks its row, writes it and its entry
          const { victim } = await deadlock(db, other, "loss_ledgers", { a: a!, b: b!, heavy }, (aLocked, bLocked) =>
            db.withSession(async (savepoint) => {
              await savepoint.getRepository(LossLedger).update({ id: a! }, { reference: "a-by-victim" });
              aLocked();
              await bLocked;
              await db.updateById(LossLedger, b!, { reference: "b-by-victim" });
            }),
          );
          savepointError = victim;
        }
        await db.getRepository(LossLedger).save(Object.assign(new LossLedger(), { reference: "hd-outer-after" }));
      },
      { retry: 3 },
    );
    expect(savepointError).toBeDefined();
    expect(attempts).toBe(dialect === "mariadb" ? 2 : 1);
    const stored = await raw<{ id: string; r: string }>(db, "SELECT id, reference AS r FROM loss_ledgers ORDER BY r");
    const byReference = new Map(stored.map((row) => [row.r, row.id]));
    expect([...byReference.keys()].filter((r) => !r.startsWith("row-") && !r.startsWith("heavy"))).toEqual([
      "a-by-other",
      "b-by-other",
      "hd-outer-after",
      "hd-outer-before",
    ]);
    // the savepoint's entries went with it; the other writer's raw UPDATEs are not recorded (raw SQL is not)
    const histories = await Promise.all(
      stored.map(async (row) => [row.r, await db.history(LossLedger, row.id)] as const),
    );
    for (const [reference, entries] of histories) {
      expect([reference, entries.map((e) => e.op)]).toEqual([reference, ["insert"]]);
      expect(JSON.stringify(entries)).not.toMatch(/by-victim/);
    }
    const entries = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM inference_history");
    expect(Number(entries[0]!.n)).toBe(24);
  });

  it("without retry, the deadlocked session fails as a whole with the conflict as the cause", async () => {
    if (dialect !== "mariadb") return; // PostgreSQL keeps the outer transaction (tested above)
    await raw(db, "DELETE FROM orders");
    const [a, b, ...heavy] = await db.insertMany(
      Order,
      Array.from({ length: 22 }, (_, i) => newOrder(`row-${i}`)),
    );
    const update = "UPDATE orders SET reference = ? WHERE id = ?";
    const session = db.withSession(async (manager) => {
      await manager.save(newOrder("nr-outer-before"));
      await deadlock(db, other, "orders", { a: a!, b: b!, heavy }, (aLocked, bLocked) =>
        db.withSession(async (savepoint) => {
          await run(db, savepoint, update, ["a-by-victim", a]);
          aLocked();
          await bLocked;
          await run(db, savepoint, update, ["b-by-victim", b]);
        }),
      );
      await db.insertOne(Order, newOrder("nr-outer-after"));
    });
    const error = await outcomeOf(() => session);
    expect(error).toBeInstanceOf(SessionAbortedError);
    expect(error).not.toBeInstanceOf(TransactionConflictError);
    expect(JSON.stringify((error as Error).message)).toMatch(/Deadlock/i);
    expect(await storedReferences(db, "nr-")).toEqual([]);
  });
});
