import {
  AuditContext,
  type DatabaseManager,
  FullAuditModel,
  DatabaseOperationError,
  InvalidStoredJsonError,
  InvalidValueError,
  ModelSerializer,
  ValueTooLongError,
  isUuid,
} from "../src";
import { Column, Entity } from "typeorm";
import { Product, User } from "../src/models";
import { Order } from "./support/entities";
import { DIALECTS, destroyTest, initTest, raw, storedInstants, type TestDialect } from "./support/dialects";

class Dimensions {
  @Column({ type: "int", nullable: true })
  width!: number | null;

  @Column({ type: "varchar", length: 20, nullable: true })
  unit!: string | null;
}

class Packaging {
  @Column({ type: "boolean", default: false })
  fragile!: boolean;

  @Column(() => Dimensions)
  dimensions!: Dimensions;
}

/** Columns of many kinds, for hydration by findById against TypeORM's own. */
@Entity("specimens")
class Specimen extends FullAuditModel {
  @Column({ type: "varchar", length: 50 })
  label!: string;

  @Column({ type: "text", nullable: true })
  notes!: string | null;

  @Column({ type: "int" })
  count!: number;

  @Column({ type: "bigint", nullable: true })
  big!: string | null;

  @Column({ type: "decimal", precision: 10, scale: 2, nullable: true })
  price!: string | null;

  @Column({ type: "date", nullable: true })
  day!: string | null;

  @Column({ type: "simple-array", nullable: true })
  colours!: string[] | null;

  @Column({ type: "simple-json", nullable: true })
  extra!: unknown;

  @Column({ type: "simple-enum", enum: ["small", "large"], default: "small" })
  size!: "small" | "large";

  @Column({
    type: "varchar",
    length: 50,
    nullable: true,
    transformer: { to: (v: unknown) => v, from: (v: unknown) => (typeof v === "string" ? v.toUpperCase() : v) },
  })
  shouted!: string | null;

  @Column(() => Packaging)
  packaging!: Packaging;
}

async function count(db: DatabaseManager, table = "products"): Promise<number> {
  return Number((await raw<{ n: unknown }>(db, `SELECT COUNT(*) AS n FROM ${table}`))[0]!.n);
}

describe.each(DIALECTS)("%s: insertOne, insertMany and findById", (dialect: TestDialect) => {
  let db: DatabaseManager;
  let owner: User;

  beforeAll(async () => {
    db = await initTest(dialect, [User, Product, Specimen, Order]);
    owner = await db.getRepository(User).save(db.getRepository(User).create({ email: "o@x.y", displayName: "Owner" }));
  });
  beforeEach(async () => {
    await raw(db, "DELETE FROM products");
    await raw(db, "DELETE FROM orders");
  });
  afterAll(() => destroyTest(db));

  it("insertOne stores the row as save() would and answers the entity", async () => {
    const before = Date.now();
    const product = await db.insertOne(Product, {
      name: "Teapot",
      sku: "TP-1",
      priceCents: 1999,
      attributes: { colour: "blue", n: "1" },
      owner,
    });
    const after = Date.now();
    expect(isUuid(product.id) && product.id[14] === "7").toBe(true);
    expect(product).toBeInstanceOf(Product);
    expect(product.createdAt.getTime()).toBe(product.updatedAt.getTime());
    expect(product.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(product.createdAt.getTime()).toBeLessThanOrEqual(after);
    expect([product.deletedAt, product.isDeleted]).toEqual([null, false]);
    const stored = await storedInstants(db, "products", product.id);
    expect([stored.created, stored.updated, stored.deleted, stored.isDeleted]).toEqual([
      product.createdAt.getTime(),
      product.updatedAt.getTime(),
      null,
      false,
    ]);
    const loaded = await db
      .getRepository(Product)
      .findOneOrFail({ where: { id: product.id }, relations: { owner: true } });
    expect([loaded.isListed, loaded.attributes, loaded.owner?.id, loaded.priceCents]).toStrictEqual([
      true,
      { colour: "blue", n: "1" },
      owner.id,
      1999,
    ]);
  });

  it("insertOne stores awkward JSON documents and missing values exactly as save() stores them", async () => {
    const documents: unknown[] = [
      { "1": "01", "a.b": [1, "2", null, 1.5e-7], "[0]": { " k ": "tab\tnl\n\u0001 " }, "ünï €": "😀", "": false },
      ["$1", ":name", "?", "'\\\"", "\\N"],
      "just text",
      -42,
      true,
      [],
      {},
      null,
    ];
    const repo = db.getRepository(Product);
    const text = db.dialect === "postgres" ? "CAST(attributes AS text)" : "attributes";
    for (const [i, attributes] of documents.entries()) {
      const values = { name: `J${i}`, sku: `J-${i}`, priceCents: i, attributes } as Partial<Product>;
      const fast = await db.insertOne(Product, values);
      const saved = await repo.save(repo.create({ ...values, sku: `S-${i}` }));
      const rows = await raw<{ id: string; doc: unknown; brand: unknown }>(
        db,
        `SELECT id, ${text} AS doc, brand FROM products WHERE id IN (?, ?)`,
        [fast.id, saved.id],
      );
      const byId = new Map(rows.map((row) => [row.id, row]));
      const [a, b] = [byId.get(fast.id)!, byId.get(saved.id)!];
      expect([a.doc, a.brand]).toStrictEqual([b.doc, b.brand]);
      expect(a.brand).toBeNull();
      expect(a.doc === null ? null : JSON.parse(a.doc as string)).toStrictEqual(attributes);
    }
  });

  it("the instants insertOne, insertMany and updateById write are stored as TypeORM writes them", async () => {
    const before = Date.now();
    const one = await db.insertOne(Product, { name: "One", sku: "I-1", priceCents: 1 });
    const [manyId] = await db.insertMany(Product, [{ name: "Many", sku: "I-2", priceCents: 2 }]);
    expect(await db.updateById(Product, one.id, { name: "Renamed" })).toBe(true);
    const after = Date.now();
    const metadata = db.dataSource.getMetadata(Product);
    const rows = (await raw(db, "SELECT id, created_at, updated_at FROM products")) as Record<string, unknown>[];
    expect(rows.map((row) => row["id"]).sort()).toEqual([one.id, manyId].sort());
    for (const row of rows)
      for (const [name, column] of [
        ["created_at", metadata.createDateColumn!],
        ["updated_at", metadata.updateDateColumn!],
      ] as const) {
        const stored = await storedInstants(db, "products", row["id"] as string);
        const time = name === "created_at" ? stored.created : stored.updated;
        expect(time).toBeGreaterThanOrEqual(before);
        expect(time).toBeLessThanOrEqual(after);
        // SQLite keeps text: exactly the text TypeORM's driver writes for that instant (save()'s)
        if (typeof row[name] === "string")
          expect([name, row[name]]).toEqual([
            name,
            db.dataSource.driver.preparePersistentValue(new Date(time!), column),
          ]);
      }
    if (dialect === "sqlite") expect(rows.every((row) => typeof row["created_at"] === "string")).toBe(true);
  });

  it("insertOne of a row with every column given: the key as given in lower case, the actor, typed errors", async () => {
    const id = "01936F8E-7B1A-7C3D-8E4F-5A6B7C8D9E0F";
    const before = Date.now();
    const order = await AuditContext.run("ann", () => db.insertOne(Order, { id, reference: "R-1", payload: [1] }));
    expect([order.id, order.audit.createdBy, order.audit.updatedBy, order.deletedAt, order.isDeleted]).toEqual([
      id.toLowerCase(),
      "ann",
      "ann",
      null,
      false,
    ]);
    expect(order.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    const stored = await storedInstants(db, "orders", id.toLowerCase());
    expect([stored.created, stored.updated]).toEqual([order.createdAt.getTime(), order.updatedAt.getTime()]);
    const rows = await raw<{ reference: string; actor: string }>(
      db,
      "SELECT reference, created_by AS actor FROM orders WHERE id = ?",
      [id.toLowerCase()],
    );
    expect(rows).toEqual([{ reference: "R-1", actor: "ann" }]);
    // the same key again: the database refuses it, wrapped, and the first row is untouched
    const again = await db.insertOne(Order, { id, reference: "R-2" }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(DatabaseOperationError);
    expect((again as Error).message).toMatch(/^Inserting a row/);
    // a bad value: refused before any SQL
    await expect(db.insertOne(Order, { reference: "x".repeat(101) })).rejects.toBeInstanceOf(ValueTooLongError);
    await expect(db.insertOne(Order, { id: "nope", reference: "x" })).rejects.toBeInstanceOf(InvalidValueError);
    expect(await count(db, "orders")).toBe(1);
  });

  it("findById answers what findOneBy answers, and hides soft-deleted rows unless asked", async () => {
    const product = await db.insertOne(Product, {
      name: "Cup",
      sku: "C-1",
      priceCents: 450,
      attributes: ["a", 1, null, { b: true }],
    });
    product.metadata.tags = "x";
    await db.getRepository(Product).save(product);
    const typeorm = await db.getRepository(Product).findOneByOrFail({ id: product.id });
    const direct = await db.findById(Product, product.id);
    expect(direct).toBeInstanceOf(Product);
    expect(ModelSerializer.toDict(direct!)).toStrictEqual(ModelSerializer.toDict(typeorm));
    await db.getRepository(Product).softDelete({ id: product.id });
    expect(await db.findById(Product, product.id)).toBeNull();
    expect((await db.findById(Product, product.id, { withDeleted: true }))?.isDeleted).toBe(true);
    expect(await db.findById(Product, "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e0f")).toBeNull();
  });

  it("findById hydrates every kind of column exactly as findOneBy does, nested embedded objects included", async () => {
    const full = await db.insertOne(Specimen, {
      label: "12",
      notes: "line one\nline two",
      count: 7,
      big: "9007199254740993",
      price: "12.50",
      day: "2024-02-29",
      colours: ["red", "green"],
      extra: { a: [1, "2", null] },
      size: "large",
      shouted: "quiet",
      packaging: Object.assign(new Packaging(), {
        fragile: true,
        dimensions: Object.assign(new Dimensions(), { width: 30, unit: "cm" }),
      }),
    });
    const empty = await db.insertOne(Specimen, { label: "", count: 0 });
    for (const id of [full.id, empty.id]) {
      const typeorm = await db.getRepository(Specimen).findOneByOrFail({ id });
      const direct = await db.findById(Specimen, id);
      expect(direct).toStrictEqual(typeorm);
    }
    const loaded = (await db.findById(Specimen, full.id))!;
    // created and updated hold one instant: read once, yet two Date objects (changing one leaves the other)
    expect(loaded.updatedAt.getTime()).toBe(loaded.createdAt.getTime());
    loaded.createdAt.setTime(0);
    expect(loaded.updatedAt.getTime()).toBe(full.updatedAt.getTime());
    expect([loaded.label, loaded.count, loaded.shouted, loaded.packaging.dimensions.unit, loaded.colours]).toEqual([
      "12",
      7,
      "QUIET",
      "cm",
      ["red", "green"],
    ]);
  });

  it("insertOne and insertMany store every kind of column exactly as save() stores it", async () => {
    const full = (): Partial<Specimen> => ({
      label: " it's :name $1 ? \\ ünï ",
      notes: "line one\nline two\ttab ",
      count: -7,
      big: "9007199254740993",
      price: "12.50",
      day: "2024-02-29",
      colours: ["red", "green"],
      extra: { "a.b": [1, "2", null], "": false },
      size: "large",
      shouted: "quiet",
      packaging: Object.assign(new Packaging(), {
        fragile: true,
        dimensions: Object.assign(new Dimensions(), { width: 30, unit: "cm" }),
      }),
    });
    const empty = (): Partial<Specimen> => ({ label: "", count: 0 });
    const saved = await Promise.all(
      [full(), empty()].map((values) => db.getRepository(Specimen).save(db.getRepository(Specimen).create(values))),
    );
    const one = [await db.insertOne(Specimen, full()), await db.insertOne(Specimen, empty())];
    const many = await db.insertMany(Specimen, [full(), empty()]);
    // every stored column but the key and the two instants, read back with raw SQL
    const columns = db.dataSource
      .getMetadata(Specimen)
      .columns.map((c) => c.databaseName)
      .filter((name) => !["id", "created_at", "updated_at"].includes(name))
      .map((name) => db.dataSource.driver.escape(name));
    const stored = async (id: string) =>
      (await raw(db, `SELECT ${columns.join(", ")} FROM specimens WHERE id = ?`, [id]))[0];
    for (const [i, reference] of saved.entries()) {
      const expected = await stored(reference.id);
      expect(await stored(one[i]!.id)).toStrictEqual(expected);
      expect(await stored(many[i]!)).toStrictEqual(expected);
    }
  });

  it("instants given to insertOne, insertMany and updateById are stored as save() stores them, across each dialect's range", async () => {
    // the ends of each dialect's range and of the library's fast formatting (years 1 to 9999 as ISO text on
    // PostgreSQL, others in UTC with BC), and instants of the process zone's local-mean-time years (Asia/Kolkata's
    // +05:53:28 and +05:21:10 offsets: node-postgres cut them to whole minutes, and save() stored them 28 and 10
    // seconds late)
    const instants = [
      "1000-01-01T00:00:00.000Z",
      "1900-01-01T00:00:00.000Z",
      "1850-06-15T12:34:56.789Z",
      "1969-12-31T23:59:59.999Z",
      "1970-01-01T00:00:00.000Z",
      "2024-02-29T12:34:56.789Z",
      "9999-12-31T23:59:59.999Z",
      ...(dialect === "mariadb" ? [] : ["0001-01-01T00:00:00.000Z", "0999-06-15T01:02:03.004Z"]),
      ...(dialect === "postgres" ? ["0000-12-31T23:59:59.999Z", "+010000-01-01T00:00:00.000Z"] : []),
    ].map((text) => new Date(text));
    const stored = async (id: string) =>
      (await raw(db, "SELECT created_at, updated_at FROM specimens WHERE id = ?", [id]))[0];
    for (const at of instants) {
      const values = (): Partial<Specimen> => ({ label: "instant", count: 1, createdAt: at, updatedAt: at });
      const saved = await db.getRepository(Specimen).save(db.getRepository(Specimen).create(values()));
      const expected = await stored(saved.id);
      const reloaded = await db.getRepository(Specimen).findOneByOrFail({ id: saved.id });
      expect([at.toISOString(), reloaded.createdAt.toISOString()]).toEqual([at.toISOString(), at.toISOString()]);
      const one = await db.insertOne(Specimen, values());
      const [many] = await db.insertMany(Specimen, [values(), { label: "second", count: 2 }]);
      expect([at.toISOString(), await stored(one.id)]).toEqual([at.toISOString(), expected]);
      expect([at.toISOString(), await stored(many!)]).toEqual([at.toISOString(), expected]);
      const found = await db.findById(Specimen, one.id);
      expect([found!.createdAt.toISOString(), found!.updatedAt.toISOString()]).toEqual([
        at.toISOString(),
        at.toISOString(),
      ]);
    }
    // updateById stamps the clock's instant: the row reads it back as written
    const { id } = await db.insertOne(Specimen, { label: "clock", count: 3 });
    const before = Date.now();
    await db.updateById(Specimen, id, { count: 4 });
    const updatedAt = (await db.findById(Specimen, id))!.updatedAt.getTime();
    expect(updatedAt).toBeGreaterThanOrEqual(before);
    expect(updatedAt).toBeLessThanOrEqual(Date.now());
  });

  it("findById refuses an invalid id with the same typed error as findOneBy", async () => {
    await expect(db.findById(Product, "nope")).rejects.toThrow(InvalidValueError);
    await expect(db.findById(Product, `${"0".repeat(35)}g`)).rejects.toThrow(/Product\.id/);
  });

  it("findById takes an id in upper case, as findOneBy does", async () => {
    const product = await db.insertOne(Product, { name: "upper", sku: "UP", priceCents: 3 });
    const upper = product.id.toUpperCase();
    const viaTypeorm = await db.getRepository(Product).findOneByOrFail({ id: upper });
    const direct = await db.findById(Product, upper);
    expect(direct?.id).toBe(product.id);
    expect(direct).toStrictEqual(viaTypeorm);
  });

  it("insertMany puts 100,000 rows in without a limit error and answers their ids in order", async () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => ({
      name: `p${i}`,
      sku: `S-${i}`,
      priceCents: i,
      attributes: i % 1000 === 0 ? { i } : null,
    }));
    const ids = await db.insertMany(Product, rows);
    expect(ids).toHaveLength(100_000);
    expect(new Set(ids).size).toBe(100_000);
    expect(await count(db)).toBe(100_000);
    const sample = await raw<{ id: string; name: string; price_cents: unknown; attributes: unknown }>(
      db,
      "SELECT id, name, price_cents, attributes FROM products WHERE id IN (?, ?)",
      [ids[0], ids[99_000]],
    );
    const byId = new Map(sample.map((r) => [r.id, r]));
    expect([byId.get(ids[0]!)?.name, Number(byId.get(ids[99_000]!)?.price_cents)]).toEqual(["p0", 99_000]);
    expect(rows[0]).not.toHaveProperty("id"); // the caller's objects are left as they were
  }, 120_000);

  it("insertMany of rows that leave a column to its default beside rows that give it, across chunks: each row as given", async () => {
    await raw(db, "DELETE FROM specimens");
    // every third row leaves size (and packaging.fragile every fifth) to the column's default, with and without ids
    const rows = Array.from({ length: 700 }, (_, i) => ({
      ...(i % 7 === 0 ? { id: `0190B0F2-7A51-7CC2-8F4A-${String(i).padStart(12, "0")}` } : {}),
      label: `s-${i}`,
      count: i,
      ...(i % 3 === 0 ? {} : { size: i % 2 === 0 ? ("large" as const) : ("small" as const) }),
      ...(i % 5 === 0 ? {} : { packaging: { fragile: i % 2 === 1, dimensions: { width: i, unit: null } } }),
    }));
    const ids = await db.insertMany(Specimen, rows as never[], { chunkSize: 64 });
    const stored = await raw<{ id: string; label: string; count: unknown; size: string; fragile: unknown }>(
      db,
      `SELECT id, label, count, size, ${dialect === "mariadb" ? "`packagingFragile`" : '"packagingFragile"'} AS fragile FROM specimens`,
    );
    const byId = new Map(stored.map((row) => [row.id, row]));
    expect(stored).toHaveLength(700);
    rows.forEach((row, i) => {
      const got = byId.get(ids[i]!);
      if (row.id !== undefined) expect(ids[i]).toBe(row.id.toLowerCase());
      expect([got?.label, Number(got?.count), got?.size, Boolean(Number(got?.fragile))]).toEqual([
        `s-${i}`,
        i,
        row.size ?? "small",
        row.packaging?.fragile ?? false,
      ]);
    });
  });

  it("a bad row anywhere means nothing is written", async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({
      name: i === 4321 ? "x".repeat(201) : `p${i}`,
      sku: `S-${i}`,
      priceCents: i,
    }));
    const attempt = db.insertMany(Product, rows, { chunkSize: 1000 });
    await expect(attempt).rejects.toBeInstanceOf(ValueTooLongError);
    await expect(attempt.catch((e: { property?: string }) => e.property)).resolves.toBe("name");
    expect(await count(db)).toBe(0);
  });

  it("a database error in a later chunk rolls back the earlier chunks, wrapped with the driver's error as cause", async () => {
    const existing = await db.insertOne(Product, { name: "dup", sku: "D", priceCents: 1 });
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      ...(i === 2500 ? { id: existing.id } : {}),
      name: `p${i}`,
      sku: `S-${i}`,
      priceCents: i,
    }));
    const attempt = db.insertMany(Product, rows, { chunkSize: 1000 });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseOperationError);
    const error = (await attempt.catch((e: unknown) => e)) as DatabaseOperationError;
    expect(error.cause).toBeDefined();
    expect(await count(db)).toBe(1);
  });

  it("inside a session, insertMany joins the session's transaction", async () => {
    await expect(
      db.withSession(async () => {
        await db.insertMany(Product, [{ name: "a", sku: "A", priceCents: 1 }]);
        expect(await db.getRepository(Product).count()).toBe(1);
        throw new Error("undo");
      }),
    ).rejects.toThrow("undo");
    expect(await count(db)).toBe(0);
  });
});

describe("sqlite: findById reports stored text that is not JSON", () => {
  // SQLite only: the other databases refuse such text in a JSON column.
  it("names the table, column and row", async () => {
    // (an entity without a @JsonIndex on the column: SQLite computes that index's value and refuses the text itself)
    const db = await initTest("sqlite", [Order]);
    try {
      const order = await db.insertOne(Order, { reference: "x" });
      await raw(db, "UPDATE orders SET payload = '{oops' WHERE id = ?", [order.id]);
      await expect(db.findById(Order, order.id)).rejects.toThrow(InvalidStoredJsonError);
    } finally {
      await db.close();
    }
  });
});
