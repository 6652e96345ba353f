import { Column, Entity, VersionColumn } from "typeorm";
import {
  AuditContext,
  DatabaseManager,
  FullAuditModel,
  InvalidJsonValueError,
  InvalidValueError,
  SmartJsonColumn,
  StaleEntityError,
  UniqueConstraintError,
  UniqueWhileActive,
  ValueTooLongError,
  type JsonValue,
} from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

@Entity("update_by_id_items")
@UniqueWhileActive(["code"])
class Item extends FullAuditModel {
  @VersionColumn()
  version!: number;

  @Column({ type: "varchar", length: 10 })
  code!: string;

  @Column({ type: "integer", default: 0 })
  quantity!: number;

  @SmartJsonColumn({ name: "details" })
  details!: JsonValue | null;
}

/** Thirty-two text columns: more than updateById keys its statements by a bit mask of (28). */
@Entity("update_by_id_wide")
class Wide extends FullAuditModel {}
const WIDE_COLUMNS = Array.from({ length: 32 }, (_, c) => `c${c}`);
for (const name of WIDE_COLUMNS) Column({ type: "varchar", length: 40, default: "-" })(Wide.prototype, name);

interface Stored {
  code: string;
  quantity: number;
  version: number;
  details: unknown;
  updatedAt: number;
  createdAt: number;
  updatedBy: unknown;
  createdBy: unknown;
  tags: unknown;
  deleted: boolean;
}

const instant = (value: unknown) => (value instanceof Date ? value.getTime() : Date.parse(`${String(value)}Z`));

async function stored(db: DatabaseManager, id: string): Promise<Stored | undefined> {
  const rows = await raw<Record<string, unknown>>(
    db,
    "SELECT code, quantity, version, details, created_at, updated_at, created_by, updated_by, tags, deleted_at " +
      "FROM update_by_id_items WHERE id = ?",
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const text = (v: unknown) => (typeof v === "string" && v.includes("T") ? new Date(v).getTime() : instant(v));
  return {
    code: String(row["code"]),
    quantity: Number(row["quantity"]),
    version: Number(row["version"]),
    details: typeof row["details"] === "string" ? JSON.parse(row["details"]) : row["details"],
    createdAt: text(row["created_at"]),
    updatedAt: text(row["updated_at"]),
    createdBy: row["created_by"],
    updatedBy: row["updated_by"],
    tags: row["tags"],
    deleted: row["deleted_at"] !== null,
  };
}

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe.each(DIALECTS)("%s: db.updateById", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Item, Wide]);
  });
  beforeEach(async () => {
    await raw(db, "DELETE FROM update_by_id_items");
  });
  afterAll(() => destroyTest(db));

  async function item(code = "A"): Promise<Item> {
    return AuditContext.run("creator", () =>
      db.getRepository(Item).save(Object.assign(new Item(), { code, details: { a: 1 } })),
    );
  }

  it("writes the columns given, stamps updatedAt and the acting user, bumps the version, keeps the rest", async () => {
    const { id } = await item();
    const before = (await stored(db, id))!;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const updated = await AuditContext.run("editor", () =>
      db.updateById(Item, id, { quantity: 7, metadata: { tags: "x,y" } as Item["metadata"] }),
    );
    expect(updated).toBe(true);
    const after = (await stored(db, id))!;
    expect(after).toMatchObject({ code: "A", quantity: 7, version: 2, details: { a: 1 }, tags: "x,y" });
    expect([after.createdBy, after.updatedBy]).toEqual(["creator", "editor"]);
    expect(after.createdAt).toBe(before.createdAt);
    expect(after.updatedAt).toBeGreaterThan(before.updatedAt);
    // without an actor, updated_by is left as it was
    await db.updateById(Item, id, { details: { b: [1, "2"] } });
    expect(await stored(db, id)).toMatchObject({ details: { b: [1, "2"] }, updatedBy: "editor", version: 3 });
    // the loaded entity reads what was written
    expect(await db.findById(Item, id)).toMatchObject({ quantity: 7, version: 3, details: { b: [1, "2"] } });
  });

  it("any set of columns, on a narrow and on a wide entity, writes exactly those (checked against a model)", async () => {
    // a seeded walk of 40 updates of one to five columns (in any order, to positions past 28, with and without an
    // actor): after each the stored row is the model's
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648), seed % n);
    const { id } = await db.insertOne(Wide, {});
    const model: Record<string, string> = Object.fromEntries(WIDE_COLUMNS.map((name) => [name, "-"]));
    for (let step = 0; step < 40; step++) {
      const values: Record<string, string> = {};
      for (let k = 1 + next(5); k > 0; k--) {
        const name = WIDE_COLUMNS[next(WIDE_COLUMNS.length)]!;
        values[name] = `${step}:${name} '$1 ? :n\\`;
      }
      const write = () => db.updateById(Wide, id, values as Partial<Wide>);
      expect(await (step % 3 === 0 ? AuditContext.run(`actor ${step}`, write) : write())).toBe(true);
      Object.assign(model, values);
      const rows = await raw<Record<string, unknown>>(db, "SELECT * FROM update_by_id_wide WHERE id = ?", [id]);
      expect(Object.fromEntries(WIDE_COLUMNS.map((name) => [name, rows[0]![name]]))).toEqual(model);
    }
    // the narrow entity: every subset of its three plain columns
    const { id: narrow } = await item("N");
    const subsets: Partial<Item>[] = [
      { code: "B" },
      { quantity: 2 },
      { details: { s: 1 } },
      { code: "C", quantity: 3 },
      { quantity: 4, details: [4] },
      { details: { d: "x" }, code: "D" },
      { code: "E", quantity: 5, details: null },
    ];
    let expected = { code: "N", quantity: 0, details: { a: 1 } as unknown };
    for (const values of subsets) {
      expect(await db.updateById(Item, narrow, values)).toBe(true);
      expected = { ...expected, ...values };
      expect(await stored(db, narrow)).toMatchObject(expected);
    }
  });

  it("a missing or soft-deleted row answers false and nothing changes", async () => {
    const { id } = await item();
    expect(await db.updateById(Item, "0190b0f2-7a51-7cc2-8f4a-8c7e0b5d2a10", { quantity: 1 })).toBe(false);
    await db.getRepository(Item).softDelete({ id });
    const deleted = (await stored(db, id))!;
    expect(await db.updateById(Item, id, { quantity: 9 })).toBe(false);
    expect(await stored(db, id)).toEqual(deleted);
  });

  it("refuses what save() refuses, before any SQL: lengths, JSON, ranges, ids, unknown and managed keys", async () => {
    const { id } = await item();
    const kept = await stored(db, id);
    const cases: [() => Promise<unknown>, new (...args: never[]) => Error, RegExp][] = [
      [() => db.updateById(Item, id, { code: "12345678901" }), ValueTooLongError, /Item\.code/],
      [() => db.updateById(Item, id, { details: { n: 10n } as never }), InvalidJsonValueError, /Item\.details/],
      [() => db.updateById(Item, id, { quantity: 2 ** 31 }), InvalidValueError, /Item\.quantity/],
      [() => db.updateById(Item, id, { code: "a\u0000b" }), InvalidValueError, /Item\.code/],
      [() => db.updateById(Item, "not-a-uuid", { quantity: 1 }), InvalidValueError, /not-a-uuid/],
      [() => db.updateById(Item, id, { nope: 1 } as never), InvalidValueError, /Item\.nope: Item has no property/],
      [() => db.updateById(Item, id, {}), InvalidValueError, /no column to change/],
    ];
    for (const managed of [
      { id },
      { createdAt: new Date() },
      { updatedAt: new Date() },
      { deletedAt: new Date() },
      { isDeleted: true },
      { version: 9 },
      { audit: { createdBy: "x" } },
      { audit: { updatedBy: "x" } },
    ])
      cases.push([
        () => db.updateById(Item, id, { quantity: 1, ...managed } as never),
        InvalidValueError,
        /managed by the library or the database/,
      ]);
    for (const [work, type, message] of cases) {
      const error = await failure(work);
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    }
    expect(await stored(db, id)).toEqual(kept);
  });

  it("hostile strings are values, never SQL: stored exactly, the actor too", async () => {
    const { id } = await item();
    const code = `:name'"\\?$1`;
    const actor = `ops:orm_param_0 $1 ? ' " \\ ; DROP TABLE update_by_id_items; --`;
    await AuditContext.run(actor, () => db.updateById(Item, id, { code: code.slice(0, 10) }));
    expect(await stored(db, id)).toMatchObject({ code: code.slice(0, 10), updatedBy: actor });
  });

  it("expectedVersion is checked in the UPDATE: the right one writes, another or a gone row is StaleEntityError", async () => {
    const { id } = await item();
    expect(await db.updateById(Item, id, { quantity: 1 }, { expectedVersion: 1 })).toBe(true);
    const stale = await failure(() => db.updateById(Item, id, { quantity: 2 }, { expectedVersion: 1 }));
    expect(stale).toBeInstanceOf(StaleEntityError);
    expect([(stale as StaleEntityError).expectedVersion, (stale as StaleEntityError).actualVersion]).toEqual([1, 2]);
    expect(await stored(db, id)).toMatchObject({ quantity: 1, version: 2 });
    await raw(db, "DELETE FROM update_by_id_items WHERE id = ?", [id]);
    const gone = await failure(() => db.updateById(Item, id, { quantity: 3 }, { expectedVersion: 2 }));
    expect((gone as StaleEntityError).actualVersion).toBeNull();
    // two racing updates at the same version: exactly one wins
    const { id: raced } = await item("R");
    const results = await Promise.allSettled(
      [5, 6, 7].map((quantity) => db.updateById(Item, raced, { quantity }, { expectedVersion: 1 })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StaleEntityError);
    expect((await stored(db, raced))!.version).toBe(2);
  });

  it("a unique clash is a UniqueConstraintError; inside a session it rolls back with it", async () => {
    const first = await item("A");
    const second = await item("B");
    expect(await failure(() => db.updateById(Item, second.id, { code: "A" }))).toBeInstanceOf(UniqueConstraintError);
    await failure(() =>
      db.withSession(async () => {
        await db.updateById(Item, first.id, { quantity: 42 });
        throw new Error("rolled back");
      }),
    );
    expect(await stored(db, first.id)).toMatchObject({ quantity: 0, version: 1 });
    await db.withSession(() => db.updateById(Item, first.id, { quantity: 43 }));
    expect(await stored(db, first.id)).toMatchObject({ quantity: 43, version: 2 });
  });
});
