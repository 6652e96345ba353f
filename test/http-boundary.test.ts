import { Column, Entity } from "typeorm";
import {
  type DatabaseManager,
  ForeignKeyViolationError,
  InvalidValueError,
  ModelSerializer,
  ValidationError,
  type ValidationIssue,
} from "../src";
import { outcomeOf } from "./support/faults";
import { MAX_INPUT_DEPTH } from "../src/serialization/from-plain";
import { Basket, BasketLine, BasketTag, BOUNDARY_ENTITIES, BoundaryProduct } from "./support/boundary-entities";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

// What a hostile client can send through fromDict / updateFromDict: protected and hidden keys at any depth, ids of
// other parents' rows, integers past a column's range, very deep nesting. Every refusal is checked as the issues a
// client gets, and, where a save follows, as the rows the database holds.

function issuesOf(run: () => unknown): [string, string][] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((i: ValidationIssue) => [i.path, i.code]);
  }
  throw new Error("expected a ValidationError");
}

const OTHER_ID = "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e0f";

/** A MySQL-only width (PostgreSQL has no tinyint): read by fromDict only, never given to a DataSource. */
@Entity("boundary_rating")
class Rating {
  @Column({ type: "tinyint", unsigned: true, primary: true })
  stars!: number;

  @Column({ type: "mediumint" })
  span!: number;

  @Column()
  undeclared!: number;
}

describe("fromDict: the same rules at every depth, without a database", () => {
  it("refuses protected keys inside related objects, naming the full path", () => {
    const body = {
      label: "mine",
      lines: [
        {
          label: "l",
          createdAt: "2000-01-01T00:00:00.000Z",
          deletedAt: "2000-01-01T00:00:00.000Z",
          audit: { createdBy: "admin" },
          isDeleted: true,
        },
      ],
    };
    expect(issuesOf(() => ModelSerializer.fromDict(Basket, body))).toEqual([
      ["lines[0].createdAt", "read_only"],
      ["lines[0].deletedAt", "read_only"],
      ["lines[0].audit", "read_only"],
      ["lines[0].isDeleted", "read_only"],
    ]);
    const ignored = ModelSerializer.fromDict(Basket, body, { protectedKeys: "ignore" });
    expect(ignored.lines![0]!.createdAt).toBeUndefined();
    expect(ignored.lines![0]!.audit.createdBy).toBeUndefined();
    const trusted = ModelSerializer.fromDict(Basket, body, { protectedKeys: "accept" });
    expect(trusted.lines![0]!.audit.createdBy).toBe("admin");
  });

  it("takes a reference { id } where the relation refers to rows, and nothing else of the referenced row", () => {
    const line = ModelSerializer.fromDict(BasketLine, { label: "x", product: { id: OTHER_ID.toUpperCase() } });
    expect(line.product).toBeInstanceOf(BoundaryProduct);
    expect([line.product!.id, line.product!.sku, line.product!.audit.createdBy]).toEqual([
      OTHER_ID,
      undefined,
      undefined,
    ]);
    expect(
      issuesOf(() => ModelSerializer.fromDict(BasketLine, { label: "x", product: { id: OTHER_ID, priceCents: 0 } })),
    ).toEqual([["product.priceCents", "read_only"]]);
    // a new related row (no id) is written by the cascade as given
    const fresh = ModelSerializer.fromDict(BasketLine, { label: "x", product: { sku: "S", priceCents: 5 } });
    expect(fresh.product).toMatchObject({ sku: "S", priceCents: 5 });
  });

  it("refuses an id inside a collection on create: a new entity holds no rows", () => {
    expect(
      issuesOf(() => ModelSerializer.fromDict(Basket, { label: "b", lines: [{ id: OTHER_ID, label: "taken" }] })),
    ).toEqual([["lines[0].id", "unknown_reference"]]);
    expect(issuesOf(() => ModelSerializer.fromDict(Basket, { label: "b", lines: [{ id: OTHER_ID }] }))).toEqual([
      ["lines[0].id", "unknown_reference"],
    ]);
    // a many-to-many element given as its id alone links that row; with more keys it would change it
    const linked = ModelSerializer.fromDict(Basket, { label: "b", tags: [{ id: OTHER_ID }] });
    expect([linked.tags![0]!.id, linked.tags![0]!.name]).toEqual([OTHER_ID, undefined]);
    expect(
      issuesOf(() => ModelSerializer.fromDict(Basket, { label: "b", tags: [{ id: OTHER_ID, name: "renamed" }] })),
    ).toEqual([["tags[0].id", "unknown_reference"]]);
    const anyRow = ModelSerializer.fromDict(
      Basket,
      { label: "b", lines: [{ id: OTHER_ID, label: "x" }] },
      {
        references: "any",
      },
    );
    expect(anyRow.lines![0]).toMatchObject({ id: OTHER_ID, label: "x" });
  });

  it("treats hidden properties (@Exclude, select: false) as keys the entity does not have, unless named", () => {
    expect(issuesOf(() => ModelSerializer.fromDict(Basket, { label: "b", costCents: 1, secretNote: "s" }))).toEqual([
      ["costCents", "unknown_key"],
      ["secretNote", "unknown_key"],
    ]);
    expect(
      issuesOf(() =>
        ModelSerializer.fromDict(Basket, { label: "b", lines: [{ label: "l", basket: { costCents: 1 } }] }),
      ),
    ).toEqual([["lines[0].basket.costCents", "unknown_key"]]);
    const dropped = ModelSerializer.fromDict(Basket, { label: "b", costCents: 1 }, { unknownKeys: "drop" });
    expect(dropped.costCents).toBeUndefined();
    const named = ModelSerializer.fromDict(
      Basket,
      { label: "b", costCents: 7, secretNote: "s" },
      {
        hiddenKeys: ["costCents", "secretNote"],
      },
    );
    expect([named.costCents, named.secretNote]).toEqual([7, "s"]);
  });

  it.each([
    ["priceCents", 2 ** 31, "out_of_range"],
    ["priceCents", -(2 ** 31) - 1, "out_of_range"],
    ["priceCents", 2 ** 31 - 1, null],
    ["priceCents", -(2 ** 31), null],
    ["stock", 32768, "out_of_range"],
    ["stock", -32768, null],
    ["views", 2 ** 53, "not_integer"],
    ["views", 2 ** 53 - 1, null],
    ["weight", 1e6, "out_of_range"],
    ["weight", 999999.99, null],
    ["weight", "0.001", "out_of_range"],
    ["weight", "-123456.78", null],
    ["weight", "1e3", "invalid_type"],
    ["weight", true, "invalid_type"],
  ])("checks %s = %p against the column's range", (key, value, code) => {
    const read = () => ModelSerializer.fromDict(BoundaryProduct, { sku: "s", [key]: value });
    if (code === null) expect(read()[key as keyof BoundaryProduct]).toBe(value);
    else expect(issuesOf(read)).toEqual([[key, code]]);
  });

  it("knows unsigned, tinyint, mediumint and an undeclared number column (an integer column in TypeORM)", () => {
    const read = (body: object) => issuesOf(() => ModelSerializer.fromDict(Rating, body, { protectedKeys: "accept" }));
    expect(read({ stars: 256, span: 2 ** 23, undeclared: 1.5 })).toEqual([
      ["stars", "out_of_range"],
      ["span", "out_of_range"],
      ["undeclared", "not_integer"],
    ]);
    expect(read({ stars: -1, span: -(2 ** 23) - 1, undeclared: 2 ** 31 })).toEqual([
      ["stars", "out_of_range"],
      ["span", "out_of_range"],
      ["undeclared", "out_of_range"],
    ]);
    const ok = ModelSerializer.fromDict(
      Rating,
      { stars: 255, span: -(2 ** 23), undeclared: -7 },
      {
        protectedKeys: "accept",
      },
    );
    expect([ok.stars, ok.span, ok.undeclared]).toEqual([255, -(2 ** 23), -7]);
  });

  it(`stops at ${MAX_INPUT_DEPTH} levels of related objects with one issue, however deep the input`, () => {
    let body: Record<string, unknown> = { label: "leaf" };
    for (let i = 0; i < 9000; i++) body = { label: `l${i}`, basket: { label: "b", lines: [body] } };
    const issues = issuesOf(() => ModelSerializer.fromDict(BasketLine, body));
    expect(issues).toHaveLength(1);
    expect(issues[0]![1]).toBe("too_deep");
    expect(issues[0]![0].split(".").length).toBe(MAX_INPUT_DEPTH + 1);
    // a body exactly at the limit is read
    let ok: Record<string, unknown> = { label: "leaf" };
    for (let i = 0; i < MAX_INPUT_DEPTH / 2 - 1; i++) ok = { label: `l${i}`, basket: { label: "b", lines: [ok] } };
    expect(ModelSerializer.fromDict(BasketLine, ok)).toBeInstanceOf(BasketLine);
  });
});

describe.each(DIALECTS)("%s: updateFromDict and save keep to the entity's own rows", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, BOUNDARY_ENTITIES);
  });
  afterAll(() => destroyTest(db));

  async function twoBaskets(): Promise<[Basket, Basket]> {
    const baskets = db.getRepository(Basket);
    const mine = await baskets.save(
      ModelSerializer.fromDict(Basket, { label: "mine", lines: [{ label: "m1" }, { label: "m2", quantity: 2 }] }),
    );
    const theirs = await baskets.save(ModelSerializer.fromDict(Basket, { label: "theirs", lines: [{ label: "t1" }] }));
    return [mine, theirs];
  }

  const load = (id: string) =>
    db.getRepository(Basket).findOneOrFail({ where: { id }, relations: { lines: true, tags: true } });

  it("refuses another parent's line: nothing moves, is renamed or deleted", async () => {
    const [mine, theirs] = await twoBaskets();
    const loaded = await load(mine.id);
    const theirLine = theirs.lines![0]!.id;
    const body = { lines: [...loaded.lines!.map((l) => ({ id: l.id })), { id: theirLine, label: "hijacked" }] };
    expect(issuesOf(() => loaded.updateFromDict(body))).toEqual([["lines[2].id", "unknown_reference"]]);
    expect(
      issuesOf(() => loaded.updateFromDict({ lines: [{ id: theirLine, deletedAt: "2024-01-01T00:00:00.000Z" }] })),
    ).toEqual([["lines[0].id", "unknown_reference"]]);
    await db.getRepository(Basket).save(loaded);
    const [row] = await raw<{ label: string; deleted_at: unknown; basket_id: string }>(
      db,
      "SELECT label, deleted_at, basket_id FROM basket_line WHERE id = " + (dialect === "postgres" ? "$1" : "?"),
      [theirLine],
    );
    expect(row).toEqual({ label: "t1", deleted_at: null, basket_id: theirs.id });
  });

  it("updates a line the basket holds, adds new ones, and accepts the GET body back unchanged", async () => {
    const [mine] = await twoBaskets();
    const loaded = await load(mine.id);
    const got = loaded.toDict();
    // a PUT of what a GET answered: protected values equal to the entity's are not changes
    expect(() => loaded.updateFromDict(got)).not.toThrow();
    const first = loaded.lines!.find((l) => l.label === "m1")!;
    const second = loaded.lines!.find((l) => l.label === "m2")!;
    loaded.updateFromDict({
      label: "renamed",
      lines: [{ ...first.toDict(), label: "m1 changed" }, { id: second.id }, { label: "m3" }],
    });
    await db.getRepository(Basket).save(loaded);
    const again = await load(mine.id);
    expect(again.label).toBe("renamed");
    expect(again.lines!.map((l) => [l.label, l.quantity]).sort()).toEqual([
      ["m1 changed", 1],
      ["m2", 2],
      ["m3", 1],
    ]);
    // the held line kept its protected values; a changed one is still refused
    expect(again.lines!.find((l) => l.id === first.id)!.createdAt.getTime()).toBe(first.createdAt.getTime());
    expect(
      issuesOf(() => again.updateFromDict({ lines: [{ id: first.id, createdAt: "2000-01-01T00:00:00.000Z" }] })),
    ).toEqual([["lines[0].createdAt", "read_only"]]);
    expect(issuesOf(() => again.updateFromDict({ createdAt: "2000-01-01T00:00:00.000Z", id: OTHER_ID }))).toEqual([
      ["createdAt", "read_only"],
      ["id", "read_only"],
    ]);
  });

  it("links shared tags by id, and refuses renaming a tag the basket does not hold", async () => {
    const tag = await db.getRepository(BasketTag).save(ModelSerializer.fromDict(BasketTag, { name: "red" }));
    const [mine] = await twoBaskets();
    const loaded = await load(mine.id);
    expect(issuesOf(() => loaded.updateFromDict({ tags: [{ id: tag.id, name: "blue" }] }))).toEqual([
      ["tags[0].id", "unknown_reference"],
    ]);
    loaded.updateFromDict({ tags: [{ id: tag.id }] });
    await db.getRepository(Basket).save(loaded);
    expect((await load(mine.id)).tags!.map((t) => t.name)).toEqual(["red"]);
    expect(await raw(db, "SELECT name FROM basket_tag")).toEqual([{ name: "red" }]);
  });

  it("a hidden column keeps the value the application set, whatever the body says", async () => {
    const basket = ModelSerializer.fromDict(Basket, { label: "b" });
    basket.costCents = 120;
    const saved = await db.getRepository(Basket).save(basket);
    const loaded = await load(saved.id);
    expect(issuesOf(() => loaded.updateFromDict({ costCents: 0 }))).toEqual([["costCents", "unknown_key"]]);
    loaded.updateFromDict({ costCents: 0, label: "c" }, { unknownKeys: "drop" });
    await db.getRepository(Basket).save(loaded);
    expect(await raw(db, `SELECT cost_cents FROM basket WHERE label = 'c'`)).toEqual([{ cost_cents: 120 }]);
  });
});

describe.each(DIALECTS)(
  "%s: what the database would refuse or round is a typed error first",
  (dialect: TestDialect) => {
    let db: DatabaseManager;

    beforeAll(async () => {
      db = await initTest(dialect, BOUNDARY_ENTITIES);
    });
    afterAll(() => destroyTest(db));

    it.each([
      ["priceCents", 2 ** 31, "is outside the range of integer"],
      ["stock", -32769, "is outside the range of smallint"],
      ["priceCents", 1.5, "is not an integer"],
      ["weight", 1234567.5, "digits before the point"],
      ["weight", "1.005", "digits after the point"],
    ])("%s = %p on every write path: InvalidValueError naming entity, property and value", async (key, value, says) => {
      const products = db.getRepository(BoundaryProduct);
      const kept = await products.save(products.create({ sku: `k-${String(value)}` }));
      const paths = [
        () => products.save(products.create({ sku: "a", [key]: value })),
        () => products.insert({ sku: "b", [key]: value }),
        () => db.insertOne(BoundaryProduct, { sku: "c", [key]: value }),
        () => db.insertMany(BoundaryProduct, [{ sku: "d" }, { sku: "e", [key]: value }]),
        () => products.update({ id: kept.id }, { [key]: value }),
        () => products.save(Object.assign(kept, { [key]: value })),
      ];
      for (const path of paths) {
        const error = await outcomeOf(path);
        expect(error).toBeInstanceOf(InvalidValueError);
        expect(error).toMatchObject({ entity: "BoundaryProduct", property: key, value });
        expect((error as Error).message).toContain(says);
      }
      expect(await raw(db, "SELECT sku FROM boundary_product WHERE sku IN ('a', 'b', 'c', 'd', 'e')")).toEqual([]);
      const column = { priceCents: "price_cents", stock: "stock", weight: "weight" }[key]!;
      const [row] = await raw<{ v: unknown }>(db, `SELECT ${column} AS v FROM boundary_product WHERE id = ?`, [
        kept.id,
      ]);
      expect(Number(row!.v)).toBe(0);
    });

    it("save() answers no hidden uniqueness twin, for an entity or a plain object", async () => {
      const products = db.getRepository(BoundaryProduct);
      const saved = await products.save(products.create({ sku: "twin-1" }));
      expect(Object.keys(saved).filter((k) => k.startsWith("__"))).toEqual([]);
      const plain = await products.save({ sku: "twin-2" });
      expect(Object.keys(plain).filter((k) => k.startsWith("__"))).toEqual([]);
      const inserted = products.create({ sku: "twin-4" });
      await products.insert(inserted as Parameters<typeof products.insert>[0]);
      expect(Object.keys(inserted).filter((k) => k.startsWith("__"))).toEqual([]);
      saved.sku = "twin-3";
      const updated = await products.save(saved);
      expect(Object.keys(updated).filter((k) => k.startsWith("__"))).toEqual([]);
      await products.softRemove(updated);
      await products.recover(updated);
      expect(Object.keys(updated).filter((k) => k.startsWith("__"))).toEqual([]);
      expect(JSON.stringify(updated)).not.toContain("active");
      // the twin still does its work
      expect(await outcomeOf(() => products.save(products.create({ sku: "twin-3" })))).toMatchObject({
        name: "UniqueConstraintError",
      });
    });
  },
);

describe.each(DIALECTS)("%s: foreign keys and insertOne's answer", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, BOUNDARY_ENTITIES);
  });
  afterAll(() => destroyTest(db));

  /** The error's fields; SQLite names no constraint, so which foreign key failed (two here) is not known there. */
  function expectForeignKeyError(
    error: unknown,
    fields: { entity: string; property: string; referencedEntity: string; reason: "missing" | "referenced" },
  ): void {
    expect(error).toBeInstanceOf(ForeignKeyViolationError);
    expect(error).toMatchObject({
      ...fields,
      property: dialect === "sqlite" ? undefined : fields.property,
      referencedEntity: dialect === "sqlite" ? undefined : fields.referencedEntity,
    });
  }

  it("a reference to a missing row is a ForeignKeyViolationError on every write path, naming no value", async () => {
    const lines = db.getRepository(BasketLine);
    const missing = { id: OTHER_ID };
    const paths = [
      () => lines.save(lines.create({ label: "a", basket: missing })),
      () => lines.insert({ label: "b", basket: missing }),
      () => db.insertOne(BasketLine, { label: "c", basket: missing as Basket }),
      () => db.insertMany(BasketLine, [{ label: "d", basket: missing as Basket }]),
      () => db.withSession((manager) => manager.save(lines.create({ label: "e", basket: missing }))),
    ];
    for (const path of paths) {
      const error = await outcomeOf(path);
      expectForeignKeyError(error, {
        entity: "BasketLine",
        property: "basket",
        referencedEntity: "Basket",
        reason: "missing",
      });
      expect((error as Error).message).not.toContain(OTHER_ID);
      expect((error as Error).message).not.toMatch(/basket_line|basket_id|FK_/);
    }
    expect(await raw(db, "SELECT label FROM basket_line")).toEqual([]);
  });

  it("deleting a row others refer to is a ForeignKeyViolationError with reason 'referenced'", async () => {
    const basket = await db
      .getRepository(Basket)
      .save(ModelSerializer.fromDict(Basket, { label: "b", lines: [{ label: "l" }] }));
    const error = await outcomeOf(() => db.getRepository(Basket).delete({ id: basket.id }));
    // SQLite: two foreign keys refer to basket rows (basket_line's and the basket_tags join table's)
    expectForeignKeyError(error, {
      entity: "Basket",
      property: "basket",
      referencedEntity: "BasketLine",
      reason: "referenced",
    });
    expect(await raw(db, "SELECT label FROM basket WHERE id = ?", [basket.id])).toEqual([{ label: "b" }]);
  });

  it("insertOne answers the entity findById answers: defaults, nulls, no unknown keys", async () => {
    const fast = await db.insertOne(BoundaryProduct, {
      sku: "io-1",
      priceCents: 5,
      stock: 1,
      views: 0,
      weight: 0,
      audit: { createdBy: "x", updatedBy: null },
      metadata: { json: null, tags: null },
    } as Partial<BoundaryProduct>);
    const found = await db.findById(BoundaryProduct, fast.id);
    expect(ModelSerializer.toDict(fast)).toEqual({ ...ModelSerializer.toDict(found!), views: 0, weight: 0 });
    // left to the database's defaults and NULLs
    const sparse = await db.insertOne(BoundaryProduct, { sku: "io-2" });
    expect(ModelSerializer.toDict(sparse)).toStrictEqual(
      ModelSerializer.toDict((await db.findById(BoundaryProduct, sparse.id))!),
    );
    expect(sparse.audit).toEqual({ createdBy: null, updatedBy: null });
    expect(sparse.priceCents).toBe(0);
    const lean = await db.insertOne(Basket, { label: "lean" });
    expect(ModelSerializer.toDict(lean)).toStrictEqual(ModelSerializer.toDict((await db.findById(Basket, lean.id))!));
    const error = await outcomeOf(() => db.insertOne(Basket, { label: "x", bogus: 1 } as Partial<Basket>));
    expect(error).toBeInstanceOf(InvalidValueError);
    expect(error).toMatchObject({ entity: "Basket", property: "bogus", value: 1 });
    expect(await raw(db, "SELECT label FROM basket WHERE label = 'x'")).toEqual([]);
  });
});
