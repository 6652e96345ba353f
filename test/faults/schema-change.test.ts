import { spawn } from "node:child_process";
import { join } from "node:path";
import { Column, Entity, Index } from "typeorm";
import { DatabaseManager, FullAuditModel, History, ModelSerializer, SchemaDriftError } from "../../src";
import { DIALECTS, raw, urlFor, type TestDialect } from "../support/dialects";
import { outcomeOf } from "../support/faults";
import { StartupChild, StartupParent } from "../fixtures/startup-entities";

// A schema change over existing rows: createTables() only ever adds. A column widened, renamed or removed in the
// entity is a SchemaDriftError naming the table and the column, with every row as it was; a migration makes the
// change (TypeORM's schema builder still produces the full change for migration:generate).

@Entity("drift_items")
class ItemV1 extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  code!: string;

  @Column({ type: "varchar", length: 20, nullable: true })
  legacy!: string | null;
}

/** `code` widened to 40 characters. */
@Entity("drift_items")
class ItemWidened extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  code!: string;

  @Column({ type: "varchar", length: 20, nullable: true })
  legacy!: string | null;
}

/** `legacy` renamed to `heritage`. */
@Entity("drift_items")
class ItemRenamed extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  code!: string;

  @Column({ type: "varchar", length: 20, nullable: true })
  heritage!: string | null;
}

/** A new nullable column and a new index: what createTables() applies. */
@Entity("drift_items")
@Index("drift_items_note_idx", ["note"])
class ItemAdded extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  code!: string;

  @Column({ type: "varchar", length: 20, nullable: true })
  legacy!: string | null;

  @Column({ type: "varchar", length: 30, nullable: true })
  note!: string | null;
}

@Entity("drift_ledgers")
@History()
class LedgerV1 extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  code!: string;
}

/** {@link LedgerV1} with a new nullable column. */
@Entity("drift_ledgers")
@History()
class LedgerAdded extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  code!: string;

  @Column({ type: "varchar", length: 30, nullable: true })
  note!: string | null;
}

/** {@link LedgerV1} with `code` widened. */
@Entity("drift_ledgers")
@History()
class LedgerWidened extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  code!: string;
}

/** A manager of one entity on the database at `url`, connected. */
function open(url: string, entity: new () => object): Promise<DatabaseManager> {
  return new DatabaseManager({ url, entities: [entity] }).initialize();
}

/** An app instance starting in a process of its own: connects and runs createTables(). */
function startInstance(url: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", join(__dirname, "..", "fixtures", "start-instance.ts"), url],
      { cwd: join(__dirname, "..", ".."), stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe.each(DIALECTS)("%s: createTables() over existing rows", (dialect: TestDialect) => {
  const url = urlFor(dialect);
  const rows = async (db: DatabaseManager) =>
    raw<{ code: string; legacy: string | null }>(db, "SELECT code, legacy FROM drift_items ORDER BY code");
  const seeded = [
    { code: "A-0001", legacy: "old-1" },
    { code: "B-0002", legacy: "old-2" },
  ];

  beforeEach(async () => {
    const db = await open(url, ItemV1);
    await db.reset({ confirm: true });
    for (const row of seeded) await db.getRepository(ItemV1).save(Object.assign(new ItemV1(), row));
    await db.close();
  });

  it("a widened column is refused with a SchemaDriftError naming it; every value stays", async () => {
    const db = await open(url, ItemWidened);
    try {
      const error = await outcomeOf(() => db.createTables());
      expect(error).toBeInstanceOf(SchemaDriftError);
      const drift = error as SchemaDriftError;
      expect(drift.differences).toEqual(
        expect.arrayContaining([
          {
            table: expect.stringMatching(/drift_items$/),
            column: "code",
            change: expect.stringMatching(/length "20" -> "40"/),
          },
        ]),
      );
      expect(drift.message).toMatch(/drift_items.*code/);
      expect(drift.message).toMatch(/migration:generate/);
      expect(await rows(db)).toEqual(seeded);
      // the full change is still what a migration would make
      const planned = await db.dataSource.driver.createSchemaBuilder().log();
      expect(planned.upQueries.map((q) => q.query).join("\n")).toMatch(/code/);
    } finally {
      await db.close();
    }
  });

  it("a renamed column is refused (the old one holds data); nothing is dropped or added", async () => {
    const db = await open(url, ItemRenamed);
    try {
      const error = await outcomeOf(() => db.createTables());
      expect(error).toBeInstanceOf(SchemaDriftError);
      expect((error as SchemaDriftError).differences).toEqual(
        expect.arrayContaining([
          {
            table: expect.stringMatching(/drift_items$/),
            column: "legacy",
            change: expect.stringMatching(/dropped with its data/),
          },
        ]),
      );
      expect(await rows(db)).toEqual(seeded);
      const columns = await db.dataSource.createQueryRunner().getTable("drift_items");
      expect(columns!.columns.map((c) => c.name)).not.toContain("heritage");
    } finally {
      await db.close();
    }
  });

  it("a new column and a new index are added; existing rows keep their values; a second run changes nothing", async () => {
    const db = await open(url, ItemAdded);
    try {
      await db.createTables();
      await db.createTables();
      expect(await rows(db)).toEqual(seeded);
      const table = await db.dataSource.createQueryRunner().getTable("drift_items");
      expect(table!.columns.map((c) => c.name)).toContain("note");
      expect(table!.indices.map((i) => i.name)).toContain("drift_items_note_idx");
      const planned = await db.dataSource.driver.createSchemaBuilder().log();
      expect(planned.upQueries).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("instances starting together on a database without the tables all start, and create each table once", async () => {
    const first = await new DatabaseManager({ url, entities: [StartupParent, StartupChild] }).initialize();
    try {
      await first.reset({ confirm: true });
      await raw(first, "DROP TABLE startup_children");
      await raw(first, "DROP TABLE startup_parents");
      const started = await Promise.all(Array.from({ length: 4 }, () => startInstance(url)));
      expect(started).toEqual(started.map(() => ({ code: 0, stderr: "" })));
      await first.getRepository(StartupChild).save(Object.assign(new StartupChild(), { label: "x" }));
      const planned = await first.dataSource.driver.createSchemaBuilder().log();
      expect(planned.upQueries).toEqual([]);
    } finally {
      await first.close();
    }
  }, 120_000);
});

describe.each(DIALECTS)("%s: createTables() over rows with history", (dialect: TestDialect) => {
  const url = urlFor(dialect);
  const entries = (db: DatabaseManager) =>
    raw<Record<string, unknown>>(
      db,
      "SELECT seq, entity_id, op, changes FROM inference_history WHERE entity = 'drift_ledgers' ORDER BY seq",
    );
  let id: string;
  let stored: Record<string, unknown>[];

  beforeEach(async () => {
    const db = await open(url, LedgerV1);
    try {
      await db.reset({ confirm: true });
      const repo = db.getRepository(LedgerV1);
      const ledger = await repo.save(Object.assign(new LedgerV1(), { code: "L-1" }));
      ledger.code = "L-2";
      await repo.save(ledger);
      id = ledger.id;
      stored = await entries(db);
      expect(stored.map((e) => e["op"])).toEqual(["insert", "update"]);
    } finally {
      await db.close();
    }
  });

  it("a new column keeps every entry; history and asOf read them; the new column's changes are recorded", async () => {
    const db = await open(url, LedgerAdded);
    try {
      await db.createTables();
      await db.createTables();
      expect(await entries(db)).toEqual(stored);
      expect((await db.history(LedgerAdded, id)).map((h) => [h.op, h.changes["code"]])).toEqual([
        ["insert", [null, "L-1"]],
        ["update", ["L-1", "L-2"]],
      ]);
      const then = await db.asOf(LedgerAdded, id, new Date());
      expect([then?.code, then?.note ?? null]).toEqual(["L-2", null]);
      const ledger = await db.getRepository(LedgerAdded).findOneByOrFail({ id });
      ledger.note = "added later";
      await db.getRepository(LedgerAdded).save(ledger);
      const last = (await db.history(LedgerAdded, id)).at(-1)!;
      expect(last.changes["note"]).toEqual([null, "added later"]);
      const now = await db.asOf(LedgerAdded, id, new Date());
      expect(ModelSerializer.toDict(now!)).toEqual(ModelSerializer.toDict((await db.findById(LedgerAdded, id))!));
      const planned = await db.dataSource.driver.createSchemaBuilder().log();
      expect(planned.upQueries).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("a widened column is refused; the row and every entry stay as they were", async () => {
    const db = await open(url, LedgerWidened);
    try {
      expect(await outcomeOf(() => db.createTables())).toBeInstanceOf(SchemaDriftError);
      expect(await entries(db)).toEqual(stored);
      expect(await raw(db, "SELECT code FROM drift_ledgers")).toEqual([{ code: "L-2" }]);
    } finally {
      await db.close();
    }
  });
});
