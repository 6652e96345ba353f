import { Column, Entity } from "typeorm";
import {
  AuditContext,
  ConfigurationError,
  DatabaseManager,
  FullAuditModel,
  History,
  InvalidValueError,
  type HistoryRecord,
} from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

@Entity("history_ledgers")
@History()
class Ledger extends FullAuditModel {
  @Column({ name: "amount_cents", type: "integer" })
  amountCents!: number;

  @Column({ type: "varchar", length: 40, default: "" })
  note!: string;
}

@Entity("history_untracked")
class Untracked extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  note!: string;
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

async function entryCount(db: DatabaseManager): Promise<number> {
  const rows = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM inference_history");
  return Number(rows[0]!.n);
}

async function refused(work: () => Promise<unknown>): Promise<ConfigurationError> {
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigurationError);
  return error as ConfigurationError;
}

describe.each(DIALECTS)("%s: @History()", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Ledger, Untracked]);
  });
  beforeEach(async () => {
    await raw(db, "DELETE FROM inference_history");
    await raw(db, "DELETE FROM history_ledgers");
  });
  afterAll(() => destroyTest(db));

  it("records insert, update, soft delete, restore and delete with the actor, the instant and [before, after]", async () => {
    const repo = db.getRepository(Ledger);
    const ledger = await AuditContext.run("alice", () =>
      repo.save(Object.assign(new Ledger(), { amountCents: 100, note: "n" })),
    );
    await pause();
    ledger.amountCents = 250;
    await AuditContext.run("bob", () => repo.save(ledger));
    await pause();
    await repo.save(ledger); // nothing changed: no entry
    await AuditContext.run("carol", () => repo.softRemove(ledger));
    await pause();
    await repo.recover(ledger);
    await pause();
    const id = ledger.id;
    await repo.remove(ledger);
    const history = await db.history(Ledger, id.toUpperCase());
    expect(history.map((h) => [h.op, h.actor])).toEqual([
      ["insert", "alice"],
      ["update", "bob"],
      ["soft_delete", "carol"],
      ["restore", null],
      ["delete", null],
    ]);
    const [insert, update, softDelete, restore, remove] = history as [
      HistoryRecord,
      HistoryRecord,
      HistoryRecord,
      HistoryRecord,
      HistoryRecord,
    ];
    expect(insert.changes).toMatchObject({
      id: [null, id],
      amountCents: [null, 100],
      note: [null, "n"],
      isDeleted: [null, false],
      "audit.createdBy": [null, "alice"],
    });
    // an update holds what changed, the library's own stamps included, and nothing else
    expect(Object.keys(update.changes).sort()).toEqual(["amountCents", "audit.updatedBy", "updatedAt"]);
    expect(update.changes["amountCents"]).toEqual([100, 250]);
    expect(update.changes["audit.updatedBy"]).toEqual(["alice", "bob"]);
    expect(softDelete.changes["isDeleted"]).toEqual([false, true]);
    expect(softDelete.changes["deletedAt"]![0]).toBeNull();
    expect(restore.changes["isDeleted"]).toEqual([true, false]);
    expect(remove.changes["amountCents"]).toEqual([250, null]);
    for (const h of history) expect(h.at).toBeInstanceOf(Date);
    expect(update.at.toISOString()).toBe(update.changes["updatedAt"]![1]);
  });

  it("an entry is written in the change's transaction: a rolled-back session leaves neither", async () => {
    const repo = db.getRepository(Ledger);
    await db
      .withSession(async (manager) => {
        await manager.save(Object.assign(new Ledger(), { amountCents: 1 }));
        throw new Error("rolled back");
      })
      .catch(() => undefined);
    expect(await entryCount(db)).toBe(0);
    expect(await repo.count()).toBe(0);
    const saved = await db.withSession((manager) => manager.save(Object.assign(new Ledger(), { amountCents: 2 })));
    expect((await db.history(Ledger, saved.id)).map((h) => h.op)).toEqual(["insert"]);
  });

  it("asOf rebuilds the row at an instant from the history alone, also after it was deleted", async () => {
    const repo = db.getRepository(Ledger);
    const ledger = await repo.save(Object.assign(new Ledger(), { amountCents: 100, note: "first" }));
    await pause();
    ledger.amountCents = 250;
    await repo.save(ledger);
    await pause();
    await repo.softRemove(ledger);
    await pause();
    const id = ledger.id;
    await repo.remove(await repo.findOneOrFail({ where: { id }, withDeleted: true }));
    const [inserted, updated, deleted, removed] = (await db.history(Ledger, id)).map((h) => h.at) as [
      Date,
      Date,
      Date,
      Date,
    ];
    expect(await db.asOf(Ledger, id, new Date(inserted.getTime() - 1))).toBeNull();
    const first = await db.asOf(Ledger, id, inserted);
    expect(first).toBeInstanceOf(Ledger);
    expect(first).toMatchObject({ id, amountCents: 100, note: "first", isDeleted: false, deletedAt: null });
    expect(first!.createdAt).toBeInstanceOf(Date);
    expect((await db.asOf(Ledger, id, updated))?.amountCents).toBe(250);
    const softDeleted = await db.asOf(Ledger, id, deleted);
    expect(softDeleted).toMatchObject({ amountCents: 250, isDeleted: true });
    expect(softDeleted!.deletedAt).toBeInstanceOf(Date);
    expect(await db.asOf(Ledger, id, removed)).toBeNull();
    expect(await repo.findOne({ where: { id }, withDeleted: true })).toBeNull();
  });

  it("paths that cannot record refuse a @History() entity before writing anything", async () => {
    const repo = db.getRepository(Ledger);
    const ledger = await repo.save(Object.assign(new Ledger(), { amountCents: 5 }));
    const entries = await entryCount(db);
    const message = /^Ledger has @History\(\), and .* does not record history yet: nothing was written/;
    for (const work of [
      () => repo.update({ id: ledger.id }, { amountCents: 6 }),
      () => repo.createQueryBuilder().update().set({ amountCents: 6 }).execute(),
      () => repo.delete({ id: ledger.id }),
      () => repo.softDelete({ id: ledger.id }),
      () => repo.restore({ id: ledger.id }),
      () => repo.upsert({ id: ledger.id, amountCents: 7 }, ["id"]),
      () => db.insertOne(Ledger, { amountCents: 8 }),
      () => db.insertMany(Ledger, [{ amountCents: 9 }]),
      () => db.updateById(Ledger, ledger.id, { amountCents: 10 }),
    ])
      expect((await refused(work)).message).toMatch(message);
    expect(await entryCount(db)).toBe(entries);
    const rows = await raw<{ a: unknown; d: unknown }>(
      db,
      "SELECT amount_cents AS a, deleted_at AS d FROM history_ledgers",
    );
    expect(rows.map((r) => [Number(r.a), r.d])).toEqual([[5, null]]);
    // repository.insert() records like save()
    const inserted = await repo.insert({ amountCents: 11 });
    const insertedId = String(inserted.identifiers[0]!["id"]);
    expect((await db.history(Ledger, insertedId)).map((h) => h.changes["amountCents"])).toEqual([[null, 11]]);
  });

  it("wrong use is a typed error; pruneHistory trims by instant; the history table is in the schema", async () => {
    await refused(() => db.history(Untracked, "0190b0f2-7a51-7cc2-8f4a-8c7e0b5d2a10"));
    const invalid = await db.asOf(Ledger, "x", new Date("nope")).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidValueError);
    const repo = db.getRepository(Ledger);
    const ledger = await repo.save(Object.assign(new Ledger(), { amountCents: 1 }));
    await pause();
    const cut = new Date();
    await pause();
    ledger.amountCents = 2;
    await repo.save(ledger);
    expect(await db.pruneHistory(Ledger, { before: cut })).toBe(1);
    expect((await db.history(Ledger, ledger.id)).map((h) => h.op)).toEqual(["update"]);
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query).filter((q) => /inference_history/.test(q))).toEqual([]);
  });
});
