import { Column, DeleteResult, Entity, JoinColumn, ManyToOne, OneToMany, UpdateResult } from "typeorm";
import {
  AuditContext,
  ConfigurationError,
  DatabaseManager,
  FullAuditModel,
  History,
  InvalidValueError,
  ModelSerializer,
  SoftDeleteCascade,
  type HistoryRecord,
} from "../src";
import { DIALECTS, destroyTest, initTest, raw, statementsOf, urlFor, type TestDialect } from "./support/dialects";
import { sleep } from "./support/faults";
import { hasHistory } from "../src/history/history";

@Entity("history_ledgers")
@History()
class Ledger extends FullAuditModel {
  @Column({ name: "amount_cents", type: "integer" })
  amountCents!: number;

  @Column({ type: "varchar", length: 40, default: "" })
  note!: string;
}

@Entity("history_folders")
@History()
class HistoryFolder extends FullAuditModel {
  @Column({ name: "display_name", type: "varchar", length: 40 })
  displayName!: string;

  @OneToMany(() => HistoryDoc, (doc) => doc.folder)
  @SoftDeleteCascade()
  docs?: HistoryDoc[];
}

@Entity("history_docs")
@History()
class HistoryDoc extends FullAuditModel {
  @Column({ name: "doc_title", type: "varchar", length: 40 })
  docTitle!: string;

  @ManyToOne(() => HistoryFolder, (folder) => folder.docs)
  @JoinColumn({ name: "folder_id" })
  folder?: HistoryFolder;
}

@Entity("history_untracked")
class Untracked extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  note!: string;
}

const HOSTILE_ACTOR = 'it\'s :name $1 ? \\\\ "x"; DROP TABLE history_ledgers; --';

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

describe("hasHistory", () => {
  it("answers for a class and the classes extending it, also once History() marks a class after a first answer", () => {
    class Parent {}
    class Child extends Parent {}
    expect([hasHistory(Parent), hasHistory(Child)]).toStrictEqual([false, false]);
    History()(Parent);
    expect([hasHistory(Parent), hasHistory(Child), hasHistory(class Other {})]).toStrictEqual([true, true, false]);
  });
});

describe.each(DIALECTS)("%s: @History()", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Ledger, Untracked, HistoryFolder, HistoryDoc]);
  });
  beforeEach(async () => {
    await raw(db, "DELETE FROM inference_history");
    await raw(db, "DELETE FROM history_ledgers");
    await raw(db, "DELETE FROM history_docs");
    await raw(db, "DELETE FROM history_folders");
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

  it("a save of several entities writes their entries one at a time on the session's connection", async () => {
    let inFlight = 0;
    let most = 0;
    const saved = await db.withSession(async (manager) => {
      // TypeORM runs the subscribers of the saved entities at once; their entries share this one connection
      const runner = manager.queryRunner!;
      const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
      (runner as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args) => {
        // the entries' statements (TypeORM's own reloads after an insert may overlap on MySQL and SQLite)
        if (!String(args[0]).includes("inference_history")) return query(...args);
        most = Math.max(most, ++inFlight);
        try {
          return await query(...args);
        } finally {
          inFlight--;
        }
      };
      const ledgers = [1, 2, 3, 4].map((n) => Object.assign(new Ledger(), { amountCents: n }));
      await manager.save(ledgers);
      for (const ledger of ledgers) ledger.amountCents += 10;
      return manager.save(ledgers);
    });
    expect(most).toBe(1);
    expect(await entryCount(db)).toBe(8);
    for (const ledger of saved)
      expect((await db.history(Ledger, ledger.id)).map((h) => [h.op, h.changes["amountCents"]?.[1]])).toEqual([
        ["insert", ledger.amountCents - 10],
        ["update", ledger.amountCents],
      ]);
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

  /** Every entry but the inserts, per row key, as [op, actor, changes]. */
  async function entriesByRow(): Promise<Map<string, [string, string | null, Record<string, unknown>][]>> {
    const rows = await raw<{ k: string }>(db, "SELECT DISTINCT entity_id AS k FROM inference_history");
    const byRow = new Map<string, [string, string | null, Record<string, unknown>][]>();
    for (const { k } of rows) {
      const entries = (await db.history(Ledger, k)).filter((h) => h.op !== "insert");
      if (entries.length > 0)
        byRow.set(
          k,
          entries.map((h) => [h.op, h.actor, h.changes]),
        );
    }
    return byRow;
  }

  /** Each row's history, folded, equals the row as it is stored now; a deleted row's folds to nothing. */
  async function expectHistoryMatchesRows(): Promise<void> {
    const stored = await db.getRepository(Ledger).find({ withDeleted: true });
    const keys = await raw<{ k: string }>(db, "SELECT DISTINCT entity_id AS k FROM inference_history");
    const live = new Set(stored.map((row) => row.id));
    const far = new Date(Date.now() + 60_000);
    for (const row of stored) {
      const folded = await db.asOf(Ledger, row.id, far);
      expect([row.id, folded && ModelSerializer.toDict(folded)]).toEqual([row.id, ModelSerializer.toDict(row)]);
    }
    for (const { k } of keys) if (!live.has(k)) expect([k, await db.asOf(Ledger, k, far)]).toEqual([k, null]);
  }

  it("criteria writes record one entry per row they changed, with only what changed; rows they missed get none", async () => {
    const repo = db.getRepository(Ledger);
    const [a, b, c] = await repo.save(
      [1, 2, 3].map((n) => Object.assign(new Ledger(), { amountCents: n, note: n === 3 ? "other" : "batch" })),
    );
    await pause();
    await AuditContext.run(HOSTILE_ACTOR, () => repo.update({ note: "batch" }, { amountCents: 10 }));
    const entries = await entriesByRow();
    expect([...entries.keys()].sort()).toEqual([a!.id, b!.id].sort());
    for (const list of entries.values()) {
      expect(list.length).toBe(1);
      const [op, actor, changes] = list[0]!;
      expect([op, actor]).toEqual(["update", HOSTILE_ACTOR]);
      expect(Object.keys(changes).sort()).toEqual(["amountCents", "audit.updatedBy", "updatedAt"]);
    }
    expect(entries.get(a!.id)![0]![2]["amountCents"]).toEqual([1, 10]);
    // a QueryBuilder update whose value is SQL: the after value is read from the row
    await repo
      .createQueryBuilder()
      .update()
      .set({ amountCents: () => "amount_cents + 5" })
      .where("amountCents >= :min AND note = :note", { min: 3, note: "other" })
      .orWhere("id = :id", { id: a!.id })
      .execute();
    await repo.increment({ id: b!.id }, "amountCents", 7);
    expect((await db.history(Ledger, c!.id)).slice(1).map((h) => h.changes["amountCents"])).toEqual([[3, 8]]);
    expect((await db.history(Ledger, a!.id)).slice(1).map((h) => h.changes["amountCents"])).toEqual([
      [1, 10],
      [10, 15],
    ]);
    expect((await db.history(Ledger, b!.id)).slice(1).map((h) => h.changes["amountCents"])).toEqual([
      [2, 10],
      [10, 17],
    ]);
    // soft delete, restore and delete by criteria
    await repo.softDelete({ note: "batch" });
    await repo.restore({ id: a!.id });
    await repo.delete({ amountCents: 17 });
    await repo.createQueryBuilder().delete().where("note = :note", { note: "nothing matches" }).execute();
    expect((await db.history(Ledger, a!.id)).map((h) => h.op)).toEqual([
      "insert",
      "update",
      "update",
      "soft_delete",
      "restore",
    ]);
    expect((await db.history(Ledger, b!.id)).map((h) => h.op)).toEqual([
      "insert",
      "update",
      "update",
      "soft_delete",
      "delete",
    ]);
    const deleted = (await db.history(Ledger, b!.id))[4]!;
    expect(deleted.changes["amountCents"]).toEqual([17, null]);
    expect(deleted.changes["isDeleted"]).toEqual([true, null]);
    await expectHistoryMatchesRows();
  });

  it("a criteria write over more rows than one statement takes answers as TypeORM does, every row recorded", async () => {
    const repo = db.getRepository(Ledger);
    await db.insertMany(
      Ledger,
      Array.from({ length: 1_100 }, (_, i) => ({ amountCents: i, note: "many" })),
    );
    const updated = await repo.update({ note: "many" }, { amountCents: -1 });
    expect(updated).toBeInstanceOf(UpdateResult);
    expect(updated.affected).toBe(1_100);
    if (dialect === "postgres") {
      const returned = await repo
        .createQueryBuilder()
        .update()
        .set({ amountCents: -2 })
        .where("note = :note", { note: "many" })
        .returning(["id"])
        .execute();
      expect((returned.raw as unknown[]).length).toBe(1_100);
    }
    const deleted = await repo.delete({ note: "many" });
    expect(deleted).toBeInstanceOf(DeleteResult);
    expect(deleted.affected).toBe(1_100);
    const ops = await raw<{ o: string; n: unknown }>(
      db,
      "SELECT op AS o, COUNT(*) AS n FROM inference_history GROUP BY op ORDER BY op",
    );
    expect(ops.map((r) => [r.o, Number(r.n)])).toEqual([
      ["delete", 1_100],
      ["insert", 1_100],
      ["update", dialect === "postgres" ? 2_200 : 1_100],
    ]);
  });

  it("upsert records an insert for a new row and an update for a met one; the fast paths record too", async () => {
    const repo = db.getRepository(Ledger);
    const existing = await repo.save(Object.assign(new Ledger(), { amountCents: 1, note: "kept" }));
    const fresh = "0190b0f2-7a51-7cc2-8f4a-8c7e0b5d2a77";
    await AuditContext.run("upserter", () =>
      repo.upsert(
        [
          { id: existing.id, amountCents: 2 },
          { id: fresh, amountCents: 3 },
        ],
        ["id"],
      ),
    );
    expect((await db.history(Ledger, existing.id)).map((h) => [h.op, h.actor])).toEqual([
      ["insert", null],
      ["update", "upserter"],
    ]);
    const upserted = (await db.history(Ledger, existing.id))[1]!;
    expect(upserted.changes["amountCents"]).toEqual([1, 2]);
    expect(upserted.changes["note"]).toBeUndefined();
    const inserted = await db.history(Ledger, fresh);
    expect(inserted.map((h) => [h.op, h.changes["amountCents"], h.changes["note"]])).toEqual([
      ["insert", [null, 3], [null, ""]],
    ]);
    // insertOne, insertMany and updateById
    const one = await AuditContext.run("fast", () => db.insertOne(Ledger, { amountCents: 4 }));
    const many = await db.insertMany(Ledger, [{ amountCents: 5 }, { amountCents: 6, note: "m" }]);
    expect(
      await AuditContext.run("faster", () => db.updateById(Ledger, one.id.toUpperCase(), { amountCents: 40 })),
    ).toBe(true);
    expect(await db.updateById(Ledger, "0190b0f2-7a51-7cc2-8f4a-8c7e0b5d2a78", { amountCents: 1 })).toBe(false);
    expect((await db.history(Ledger, one.id)).map((h) => [h.op, h.actor, h.changes["amountCents"]])).toEqual([
      ["insert", "fast", [null, 4]],
      ["update", "faster", [4, 40]],
    ]);
    expect(Object.keys((await db.history(Ledger, one.id))[1]!.changes).sort()).toEqual([
      "amountCents",
      "audit.updatedBy",
      "updatedAt",
    ]);
    for (const [id, amount, note] of [
      [many[0], 5, ""],
      [many[1], 6, "m"],
    ] as const)
      expect((await db.history(Ledger, id!)).map((h) => [h.op, h.changes["amountCents"], h.changes["note"]])).toEqual([
        ["insert", [null, amount], [null, note]],
      ]);
    await expectHistoryMatchesRows();
  });

  it("insertMany through the bulk loader (COPY, LOAD DATA) records every row, awkward values byte for byte", async () => {
    const notes = ["tab\there", "line\nbreak", "back\\slash \\N", "quote ' \" `", "ünïcödé 🚀", "trailing  "];
    const rows = Array.from({ length: 1_200 }, (_, i) => ({ amountCents: i, note: notes[i % notes.length]! }));
    const ids = await AuditContext.run(HOSTILE_ACTOR, () => db.insertMany(Ledger, rows));
    expect(await entryCount(db)).toBe(1_200);
    for (const i of [0, 1, 2, 3, 4, 5, 1_199]) {
      const [entry, ...more] = await db.history(Ledger, ids[i]!);
      expect(more).toEqual([]);
      expect([entry!.op, entry!.actor]).toEqual(["insert", HOSTILE_ACTOR]);
      expect(entry!.changes["amountCents"]).toEqual([null, i]);
      expect(entry!.changes["note"]).toEqual([null, notes[i % notes.length]]);
    }
    await expectHistoryMatchesRows();
  });

  it("awkward JSON keys and values go into the history and come back from asOf exactly", async () => {
    const repo = db.getRepository(Ledger);
    const first = {
      "a.b": { "[0]": "x", "": "empty key", " trailing ": 1 },
      "1": "numbers as keys",
      "10": ["10", 10, "1e3", -0.5],
      "ctrl\u0001\t\n": "bell\u0007 and nul-free",
      "ünï 🚀": { '$.path"quote\\': null, __proto__x: true },
    };
    const second = { ...first, "a.b": { "[0]": "y" }, "new key.with.dots": [[], {}, ""] };
    const ledger = await repo.save(Object.assign(new Ledger(), { amountCents: 1, metadata: { json: first } }));
    await pause();
    await repo.update({ id: ledger.id }, { metadata: { json: second } } as never);
    const [insert, update] = await db.history(Ledger, ledger.id);
    expect(insert!.changes["metadata.json"]).toEqual([null, first]);
    expect(update!.changes["metadata.json"]).toEqual([first, second]);
    expect((await db.asOf(Ledger, ledger.id, insert!.at))!.metadata.json).toEqual(first);
    expect((await db.asOf(Ledger, ledger.id, update!.at))!.metadata.json).toEqual(second);
    await expectHistoryMatchesRows();
  });

  it("a failed criteria write, upsert or fast-path write leaves neither the change nor an entry", async () => {
    const repo = db.getRepository(Ledger);
    const ledger = await repo.save(Object.assign(new Ledger(), { amountCents: 5 }));
    const entries = await entryCount(db);
    for (const work of [
      () =>
        db.withSession(async (m) => {
          await m.getRepository(Ledger).update({ id: ledger.id }, { amountCents: 6 });
          throw new Error("rolled back");
        }),
      () =>
        db.withSession(async () => {
          await db.updateById(Ledger, ledger.id, { amountCents: 7 });
          await db.insertOne(Ledger, { amountCents: 8 });
          await db.insertMany(Ledger, [{ amountCents: 9 }]);
          await repo.upsert({ id: ledger.id, amountCents: 10 }, ["id"]);
          await repo.softDelete({ id: ledger.id });
          throw new Error("rolled back");
        }),
      // a value the column refuses: nothing of the statement, nothing of its history
      () => repo.update({ id: ledger.id }, { note: "x".repeat(41) }),
      () => db.updateById(Ledger, ledger.id, { note: "x".repeat(41) }),
    ])
      await expect(work()).rejects.toThrow();
    expect(await entryCount(db)).toBe(entries);
    const rows = await raw<{ a: unknown; d: unknown }>(
      db,
      "SELECT amount_cents AS a, deleted_at AS d FROM history_ledgers",
    );
    expect(rows.map((r) => [Number(r.a), r.d])).toEqual([[5, null]]);
  });

  it("two writers on every path at once: each row's history folds to the row as stored", async () => {
    const repo = db.getRepository(Ledger);
    const seed = await db.insertMany(
      Ledger,
      Array.from({ length: 8 }, (_, i) => ({ amountCents: i, note: i % 2 ? "odd" : "even" })),
    );
    const worker = async (w: number) => {
      for (let i = 0; i < 6; i++) {
        const id = seed[(w * 3 + i) % seed.length]!;
        const step = (w + i) % 6;
        if (step === 0) await repo.update({ note: w % 2 ? "odd" : "even" }, { amountCents: w * 100 + i });
        else if (step === 1) await db.updateById(Ledger, id, { note: `w${w}-${i}` });
        else if (step === 2) await repo.increment({ id }, "amountCents", 1);
        else if (step === 3) await repo.softDelete({ id });
        else if (step === 4) await repo.restore({ id });
        else await db.insertOne(Ledger, { amountCents: 1000 + w * 10 + i, note: "even" });
      }
    };
    const outcomes = await Promise.allSettled([worker(0), worker(1)]);
    // a deadlock between the two is the database's to resolve; what committed must be recorded, whatever failed
    for (const outcome of outcomes)
      if (outcome.status === "rejected") expect(String(outcome.reason)).toMatch(/deadlock|conflict|busy|locked/i);
    await expectHistoryMatchesRows();
  });

  it("a cascading soft delete and restore by criteria record the children they reach", async () => {
    const folders = db.getRepository(HistoryFolder);
    const folder = await folders.save(Object.assign(new HistoryFolder(), { displayName: "Q3 Reports" }));
    const docs = await db
      .getRepository(HistoryDoc)
      .save(["a", "b"].map((docTitle) => Object.assign(new HistoryDoc(), { docTitle, folder })));
    await pause();
    await AuditContext.run("archivist", () => folders.softDelete({ displayName: "Q3 Reports" }));
    await pause();
    await folders.restore({ displayName: "Q3 Reports" });
    for (const doc of docs) {
      const history = await db.history(HistoryDoc, doc.id);
      expect(history.map((h) => [h.op, h.actor])).toEqual([
        ["insert", null],
        ["soft_delete", "archivist"],
        ["restore", null],
      ]);
      expect(history[1]!.changes["isDeleted"]).toEqual([false, true]);
      expect(history[2]!.changes["deletedAt"]![1]).toBeNull();
    }
    const folderHistory = await db.history(HistoryFolder, folder.id);
    expect(folderHistory.map((h) => h.op)).toEqual(["insert", "soft_delete", "restore"]);
    // the children went down and came back at the parent's instant
    expect(folderHistory[1]!.changes["deletedAt"]![1]).toBe(
      (await db.history(HistoryDoc, docs[0]!.id))[1]!.changes["deletedAt"]![1],
    );
  });

  it("rows TypeORM changes without loading them (a child left out of its parent's relation) are recorded", async () => {
    const folders = db.getRepository(HistoryFolder);
    const folder = await folders.save(Object.assign(new HistoryFolder(), { displayName: "Orphans" }));
    const [kept, left] = await db
      .getRepository(HistoryDoc)
      .save(["kept", "left"].map((docTitle) => Object.assign(new HistoryDoc(), { docTitle, folder })));
    await pause();
    const loaded = await folders.findOneOrFail({ where: { id: folder.id }, relations: { docs: true } });
    loaded.docs = loaded.docs!.filter((doc) => doc.id === kept!.id);
    await AuditContext.run("editor", () => folders.save(loaded));
    const rows = await raw<{ t: string; f: unknown }>(
      db,
      "SELECT doc_title AS t, folder_id AS f FROM history_docs ORDER BY t",
    );
    expect(rows.map((r) => [r.t, r.f === null])).toEqual([
      ["kept", false],
      ["left", true],
    ]);
    // the left-out child's row changed (its folder key and its update stamps): its entry is there
    const history = await db.history(HistoryDoc, left!.id);
    expect(history.map((h) => [h.op, h.actor])).toEqual([
      ["insert", null],
      ["update", "editor"],
    ]);
    expect(Object.keys(history[1]!.changes).sort()).toEqual(["audit.updatedBy", "updatedAt"]);
    expect(history[1]!.changes["audit.updatedBy"]).toEqual([null, "editor"]);
    expect((await db.history(HistoryDoc, kept!.id)).map((h) => h.op)).toEqual(["insert"]);
  });

  (dialect === "sqlite" ? it.skip : it)(
    "a row another transaction adds while a criteria write runs is neither changed unrecorded nor lost",
    async () => {
      const repo = db.getRepository(Ledger);
      await repo.save([1, 2].map((n) => Object.assign(new Ledger(), { amountCents: n, note: "phantom" })));
      const other = new DatabaseManager({
        url: urlFor(dialect),
        entities: [Ledger, Untracked, HistoryFolder, HistoryDoc],
      });
      await other.initialize();
      let added: Promise<unknown> | undefined;
      const subscriber = {
        listenTo: () => Ledger,
        beforeUpdate: async () => {
          if (added) return;
          // between the write's read of its rows and its UPDATE, a matching row commits on another connection
          // (MariaDB's gap lock holds it back until the write commits; PostgreSQL lets it through)
          added = other.getRepository(Ledger).save(Object.assign(new Ledger(), { amountCents: 3, note: "phantom" }));
          await Promise.race([added, sleep(300)]);
        },
      };
      db.dataSource.subscribers.push(subscriber as never);
      try {
        await repo.update({ note: "phantom" }, { amountCents: 50 });
        await added;
      } finally {
        db.dataSource.subscribers.splice(db.dataSource.subscribers.indexOf(subscriber as never), 1);
        await other.close();
      }
      const rows = await raw<{ a: unknown }>(db, "SELECT amount_cents AS a FROM history_ledgers ORDER BY a");
      const amounts = rows.map((r) => Number(r.a));
      // PostgreSQL: the new row kept its value (the write changed the rows it read); MariaDB: it came after the write
      expect(amounts).toEqual(dialect === "postgres" ? [3, 50, 50] : [3, 50, 50]);
      await expectHistoryMatchesRows();
    },
  );

  it("pruneHistory folds each row's old entries into a baseline: asOf answers as before from then on", async () => {
    const repo = db.getRepository(Ledger);
    const changed = await repo.save(Object.assign(new Ledger(), { amountCents: 1, note: "first" }));
    const deleted = await repo.save(Object.assign(new Ledger(), { amountCents: 10 }));
    const still = await repo.save(Object.assign(new Ledger(), { amountCents: 100, note: "never changed" }));
    await pause();
    changed.amountCents = 2;
    await repo.save(changed);
    await repo.softRemove(deleted);
    await pause();
    // text that looks like SQL and placeholders: the baselines' contents are bound, never written into the SQL
    const second = `2'); DELETE FROM x; -- $1 ? :n \\`;
    await repo.update({ id: changed.id }, { note: second });
    await repo.remove(await repo.findOneOrFail({ where: { id: deleted.id }, withDeleted: true }));
    await pause();
    const cut = new Date();
    await pause();
    await db.updateById(Ledger, changed.id, { amountCents: 3 });
    const late = await db.insertOne(Ledger, { amountCents: 1000 });
    await pause();
    await repo.softDelete({ id: still.id });
    await pause();
    // the reference: what asOf answers at instants from the cut on, before anything is pruned
    const changes = (await db.history(Ledger, changed.id)).map((h) => h.at).filter((at) => at >= cut);
    const instants = [cut, ...changes, new Date()];
    const rows = [changed.id, deleted.id, still.id, late.id];
    const asOfAll = () =>
      Promise.all(
        rows.flatMap((id) =>
          instants.map(async (at) => {
            const entity = await db.asOf(Ledger, id, at);
            return entity && ModelSerializer.toDict(entity);
          }),
        ),
      );
    const expected = await asOfAll();
    const ops = async (id: string) => (await db.history(Ledger, id)).map((h) => h.op);
    expect(await ops(changed.id)).toEqual(["insert", "update", "update", "update"]);
    const total = await entryCount(db);
    // changed: its insert and first update went into the second; deleted: its insert, soft delete and delete went
    expect(await ops(deleted.id)).toEqual(["insert", "soft_delete", "delete"]);
    const pruning = await statementsOf(db, async () => expect(await db.pruneHistory(Ledger, { before: cut })).toBe(5));
    // the two rows' baselines are written by one UPDATE (one a row before)
    expect(pruning.filter((sql) => /^UPDATE\b/i.test(sql))).toHaveLength(1);
    expect(await entryCount(db)).toBe(total - 5);
    expect(await ops(changed.id)).toEqual(["baseline", "update"]);
    expect(await ops(deleted.id)).toEqual([]);
    expect(await ops(still.id)).toEqual(["baseline", "soft_delete"]);
    expect(await ops(late.id)).toEqual(["insert"]);
    const baseline = (await db.history(Ledger, changed.id))[0]!;
    expect(baseline.changes["amountCents"]).toEqual([null, 2]);
    expect(baseline.changes["note"]).toEqual([null, second]);
    expect(await asOfAll()).toEqual(expected);
    // before a baseline, that part of the row's history is gone: refused, not answered as "did not exist"
    const early = await db.asOf(Ledger, changed.id, new Date(baseline.at.getTime() - 1)).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(InvalidValueError);
    expect((early as Error).message).toMatch(/Ledger .* was pruned/);
    // pruning again at the same instant changes nothing, and writes nothing (each row's baseline stays as it is)
    const again = await statementsOf(db, async () => expect(await db.pruneHistory(Ledger, { before: cut })).toBe(0));
    expect(again.filter((sql) => /^(UPDATE|DELETE|INSERT)\b/i.test(sql))).toEqual([]);
    expect(await asOfAll()).toEqual(expected);
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
    // the insert before the cut is the row's state there: kept, as the baseline asOf starts from
    expect(await db.pruneHistory(Ledger, { before: cut })).toBe(0);
    expect((await db.history(Ledger, ledger.id)).map((h) => h.op)).toEqual(["baseline", "update"]);
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query).filter((q) => /inference_history/.test(q))).toEqual([]);
  });

  it("a prune step's baselines too large for one MySQL packet go in several UPDATEs, each intact", async () => {
    // two rows whose state holds a 1.5 MB document: 12 MB counted against MySQL's 8 MB budget, one statement elsewhere
    const document = (n: number) => ({ text: `${n}`.padEnd(1_500_000, "é") });
    const repo = db.getRepository(Ledger);
    const rows: Ledger[] = [];
    for (let n = 0; n < 2; n++) {
      const row = Object.assign(new Ledger(), { amountCents: n });
      row.metadata.json = document(n);
      rows.push(await repo.save(row));
    }
    await pause();
    for (const row of rows) await db.updateById(Ledger, row.id, { amountCents: 100 + row.amountCents });
    await pause();
    const cut = new Date();
    const pruning = await statementsOf(db, () => db.pruneHistory(Ledger, { before: cut }));
    expect(pruning.filter((sql) => /^UPDATE\b/i.test(sql))).toHaveLength(dialect === "mariadb" ? 2 : 1);
    for (const [n, row] of rows.entries()) {
      const [baseline] = await db.history(Ledger, row.id);
      expect(baseline!.op).toBe("baseline");
      expect(baseline!.changes["metadata.json"]).toEqual([null, document(n)]);
      expect(baseline!.changes["amountCents"]).toEqual([null, 100 + n]);
    }
  });

  it("a prune step whose baselines fail to write leaves every entry as it was; pruning again then completes", async () => {
    const repo = db.getRepository(Ledger);
    const ledger = await repo.save(Object.assign(new Ledger(), { amountCents: 1 }));
    await pause();
    ledger.amountCents = 2;
    await repo.save(ledger);
    await pause();
    const cut = new Date();
    const entries = () => raw(db, "SELECT seq, op, changes FROM inference_history ORDER BY seq");
    const stored = await entries();
    // the database refuses the baselines' UPDATE (a trigger), after the step has read and locked the entries
    const triggers: Record<TestDialect, [string[], string[]]> = {
      sqlite: [
        [
          "CREATE TRIGGER refuse_baseline BEFORE UPDATE ON inference_history WHEN NEW.op = 'baseline' " +
            "BEGIN SELECT RAISE(ABORT, 'baseline refused'); END",
        ],
        ["DROP TRIGGER refuse_baseline"],
      ],
      postgres: [
        [
          "CREATE FUNCTION refuse_baseline() RETURNS trigger LANGUAGE plpgsql AS " +
            "$$ BEGIN RAISE EXCEPTION 'baseline refused'; END $$",
          "CREATE TRIGGER refuse_baseline BEFORE UPDATE ON inference_history FOR EACH ROW " +
            "WHEN (NEW.op = 'baseline') EXECUTE FUNCTION refuse_baseline()",
        ],
        ["DROP TRIGGER refuse_baseline ON inference_history", "DROP FUNCTION refuse_baseline()"],
      ],
      mariadb: [
        [
          "CREATE TRIGGER refuse_baseline BEFORE UPDATE ON inference_history FOR EACH ROW BEGIN " +
            "IF NEW.op = 'baseline' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'baseline refused'; END IF; END",
        ],
        ["DROP TRIGGER refuse_baseline"],
      ],
    };
    const [create, drop] = triggers[dialect];
    for (const sql of create) await db.dataSource.query(sql);
    try {
      const failed = await db.pruneHistory(Ledger, { before: cut }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(Error);
      expect((failed as Error).message).toContain("baseline refused");
      expect(await entries()).toEqual(stored);
    } finally {
      for (const sql of drop) await db.dataSource.query(sql);
    }
    expect(await db.pruneHistory(Ledger, { before: cut })).toBeGreaterThan(0);
    const history = await db.history(Ledger, ledger.id);
    expect(history.map((h) => h.op)).toEqual(["baseline"]);
    expect(history[0]!.changes["amountCents"]).toEqual([null, 2]);
  });
});
