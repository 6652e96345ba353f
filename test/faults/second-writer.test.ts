import { Column, Entity } from "typeorm";
import { type DatabaseManager, FullAuditModel, History, UniqueConstraintError, UniqueWhileActive } from "../../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "../support/dialects";
import { signal, sleep, storedReferences } from "../support/faults";
import { Order, newOrder } from "../support/entities";

// A second writer while a session is open: what it was told was written is committed, whatever the session does,
// on every database. On SQLite (one connection) the outside caller waits for the session to end; on the servers it
// runs on a connection of its own. Either way a write that resolved is durable, and a failed one left nothing.

@Entity("writer_members")
@UniqueWhileActive(["email"])
class Member extends FullAuditModel {
  @Column({ type: "varchar", length: 120 })
  email!: string;
}

@Entity("writer_ledgers")
@History()
class WriterLedger extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  reference!: string;
}

describe.each(DIALECTS)("%s: a second writer while a session is open", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order, Member, WriterLedger]);
  });
  afterAll(() => destroyTest(db));
  beforeEach(async () => {
    await raw(db, "DELETE FROM orders");
    await raw(db, "DELETE FROM writer_members");
    await raw(db, "DELETE FROM writer_ledgers");
    await raw(db, "DELETE FROM inference_history");
  });

  it("writes outside the session that resolved are kept when the session rolls back", async () => {
    const opened = signal();
    const finish = signal();
    const session = db.withSession(async (manager) => {
      await manager.save(newOrder("in-session"));
      opened.resolve();
      await finish.promise;
      throw new Error("the session's own failure");
    });
    await opened.promise;
    const outside = [
      db.getRepository(Order).save(newOrder("out-repository-save")),
      db.getRepository(Order).insert({ reference: "out-repository-insert" }),
      db.manager.save(newOrder("out-manager-save")),
      db.dataSource.getRepository(Order).save(newOrder("out-datasource-repository")),
      db.insertOne(Order, newOrder("out-insert-one")),
      db.insertMany(Order, [newOrder("out-insert-many-1"), newOrder("out-insert-many-2")]),
      db.dataSource.createQueryBuilder().insert().into(Order).values({ reference: "out-query-builder" }).execute(),
    ];
    await sleep(50);
    finish.resolve();
    await expect(session).rejects.toThrow("the session's own failure");
    const settled = await Promise.allSettled(outside);
    expect(settled.map((s) => s.status)).toEqual(outside.map(() => "fulfilled"));
    expect(await storedReferences(db, "")).toEqual([
      "out-datasource-repository",
      "out-insert-many-1",
      "out-insert-many-2",
      "out-insert-one",
      "out-manager-save",
      "out-query-builder",
      "out-repository-insert",
      "out-repository-save",
    ]);
  });

  it("@History() writes outside a session that rolls back are kept with their entries; the session's leave none", async () => {
    const [outsideRow, sessionRow] = await db.insertMany(WriterLedger, [
      { reference: "outside" },
      { reference: "session" },
    ]);
    await raw(db, "DELETE FROM inference_history");
    const opened = signal();
    const finish = signal();
    const session = db.withSession(async (manager) => {
      await manager.getRepository(WriterLedger).update({ id: sessionRow! }, { reference: "session-changed" });
      await db.updateById(WriterLedger, sessionRow!, { reference: "session-by-id" });
      opened.resolve();
      await finish.promise;
      throw new Error("the session's own failure");
    });
    await opened.promise;
    const repo = db.getRepository(WriterLedger);
    const outside = [
      // one after the other on the same row: their order is the history's
      repo
        .update({ id: outsideRow! }, { reference: "outside-criteria" })
        .then(() => db.updateById(WriterLedger, outsideRow!, { reference: "outside-by-id" })),
      db.insertOne(WriterLedger, { reference: "outside-one" }),
      repo.upsert({ id: "0190b0f2-7a51-7cc2-8f4a-8c7e0b5d2a99", reference: "outside-upsert" }, ["id"]),
    ];
    await sleep(50);
    finish.resolve();
    await expect(session).rejects.toThrow("the session's own failure");
    expect((await Promise.allSettled(outside)).map((s) => s.status)).toEqual(outside.map(() => "fulfilled"));
    const rows = await raw<{ r: string }>(db, "SELECT reference AS r FROM writer_ledgers ORDER BY r");
    expect(rows.map((r) => r.r)).toEqual(["outside-by-id", "outside-one", "outside-upsert", "session"]);
    expect(await db.history(WriterLedger, sessionRow!)).toEqual([]);
    expect((await db.history(WriterLedger, outsideRow!)).map((h) => h.changes["reference"])).toEqual([
      ["outside", "outside-criteria"],
      ["outside-criteria", "outside-by-id"],
    ]);
    // the four outside writes ran side by side: their entries, in any order
    const ops = await raw<{ o: string }>(db, "SELECT op AS o FROM inference_history");
    expect(ops.map((o) => o.o).sort()).toEqual(["insert", "insert", "update", "update"]);
  });

  it("a read outside the session never sees its uncommitted rows", async () => {
    const opened = signal();
    const finish = signal();
    const session = db
      .withSession(async (manager) => {
        const order = await manager.save(newOrder("uncommitted"));
        opened.resolve();
        await finish.promise;
        return order;
      })
      .catch(() => undefined);
    await opened.promise;
    const reads = [
      db.getRepository(Order).findOneBy({ reference: "uncommitted" }),
      db.getRepository(Order).count(),
      db.dataSource.query("SELECT COUNT(*) AS n FROM orders"),
    ];
    await sleep(50);
    // roll the session back by failing it
    finish.resolve();
    const order = await session;
    // on SQLite the reads waited for the commit; on the servers they ran at once; either way, only committed rows
    const [found, count, rawCount] = await Promise.all(reads);
    if (found !== null) expect((found as Order).id).toBe(order?.id);
    expect([0, 1]).toContain(count);
    expect(Number((rawCount as { n: unknown }[])[0]!.n)).toBe(count);
    expect(found === null ? 0 : 1).toBe(count);
  });

  it("a read outside a session that rolls back sees nothing of it", async () => {
    const opened = signal();
    const finish = signal();
    const session = db.withSession(async (manager) => {
      await manager.save(newOrder("rolled-back"));
      opened.resolve();
      await finish.promise;
      throw new Error("roll back");
    });
    await opened.promise;
    const read = db.getRepository(Order).findOneBy({ reference: "rolled-back" });
    const direct = db.getRepository(Order).count();
    await sleep(50);
    finish.resolve();
    await expect(session).rejects.toThrow("roll back");
    expect(await read).toBeNull();
    expect(await direct).toBe(0);
  });

  it("50 concurrent saves, some clashing: every save that resolved is stored, every one refused left nothing", async () => {
    const members = db.getRepository(Member);
    const calls = Array.from({ length: 50 }, (_, i) =>
      (async () => {
        await sleep(i % 7);
        const email = i % 5 === 0 ? "clash@example.com" : `m${i}@example.com`;
        return members.save(Object.assign(new Member(), { email }));
      })(),
    );
    const settled = await Promise.allSettled(calls);
    const resolved = settled
      .filter((s) => s.status === "fulfilled")
      .map((s) => (s as PromiseFulfilledResult<Member>).value);
    const refused = settled.filter((s) => s.status === "rejected").map((s) => (s as PromiseRejectedResult).reason);
    for (const reason of refused) expect(reason).toBeInstanceOf(UniqueConstraintError);
    const stored = await raw<{ id: string; email: string }>(db, "SELECT id, email FROM writer_members ORDER BY email");
    expect(stored.map((r) => String(r.id).toLowerCase()).sort()).toEqual(resolved.map((m) => m.id).sort());
    expect(stored.filter((r) => r.email === "clash@example.com")).toHaveLength(1);
    expect(resolved).toHaveLength(41);
    expect(refused).toHaveLength(9);
  });

  it("concurrent save, insert, update, soft delete and direct writes: each resolved one is committed", async () => {
    const seeded = await db.insertMany(
      Order,
      Array.from({ length: 10 }, (_, i) => newOrder(`seed-${i}`)),
    );
    const repo = db.getRepository(Order);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      work.push(repo.save(newOrder(`c-save-${i}`)));
      work.push(repo.insert({ reference: `c-insert-${i}` }));
      work.push(repo.update({ id: seeded[i]! }, { reference: `c-updated-${i}` }));
      if (i % 2 === 0) work.push(repo.softDelete({ id: seeded[i]! }));
      work.push(db.insertOne(Order, newOrder(`c-one-${i}`)));
      work.push(db.withSession((m) => m.save(newOrder(`c-session-${i}`))));
    }
    const settled = await Promise.allSettled(work);
    expect(settled.filter((s) => s.status === "rejected")).toEqual([]);
    for (const prefix of ["c-save-", "c-insert-", "c-updated-", "c-one-", "c-session-"])
      expect(await storedReferences(db, prefix)).toHaveLength(10);
    const deleted = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders WHERE deleted_at IS NOT NULL");
    expect(Number(deleted[0]!.n)).toBe(5);
  });
});
