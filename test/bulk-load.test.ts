import { type DatabaseManager, DatabaseOperationError, InvalidValueError, UniqueConstraintError } from "../src";
import { Product, User } from "../src/models";
import { registeredDialect } from "../src/typeorm/registry";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

/** Text that every loader must carry byte for byte: its escapes, NULL marker, quotes, unicode and emoji. */
const TRICKY = [
  "tab\there",
  "line\nbreak",
  "carriage\rreturn",
  "back\\slash",
  "\\N",
  "\\",
  "ends with backslash\\",
  "'single' \"double\" `back`",
  "ünïcödé ñ 中文 العربية",
  "emoji 🚀👍🏽 family 👨‍👩‍👧",
  "",
  "  spaces  ",
  "comma, semicolon; pipe |",
];

async function count(db: DatabaseManager): Promise<number> {
  return Number((await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM products"))[0]!.n);
}

/** Enough rows to take the dialect's bulk path, each with a unique sku. */
function rowsFor(db: DatabaseManager, extra: (i: number) => object = () => ({})): object[] {
  const threshold = registeredDialect(db.dataSource)!.bulkLoadThreshold;
  const size = Math.max(Number.isFinite(threshold) ? threshold + 200 : 0, 1_200);
  return Array.from({ length: size }, (_, i) => ({ name: `p${i}`, sku: `S-${i}`, priceCents: i, ...extra(i) }));
}

describe.each(DIALECTS)("%s: insertMany through the database's bulk loader", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [User, Product]);
  });
  beforeEach(async () => {
    await db.dataSource.query("DELETE FROM products");
  });
  afterAll(() => destroyTest(db));

  it("stores tabs, newlines, backslashes, \\N, quotes, unicode and emoji byte for byte, in text and in JSON", async () => {
    const rows = rowsFor(db, (i) => ({
      name: TRICKY[i % TRICKY.length],
      brand: i % 7 === 0 ? null : TRICKY[(i + 3) % TRICKY.length],
      attributes: { text: TRICKY[i % TRICKY.length], nested: [TRICKY[(i + 5) % TRICKY.length], i, true, null] },
    }));
    const ids = await db.insertMany(Product, rows as Partial<Product>[]);
    const stored = await raw<{ id: string; name: string; brand: string | null; price_cents: unknown }>(
      db,
      "SELECT id, name, brand, price_cents FROM products",
    );
    const byId = new Map(stored.map((r) => [r.id, r]));
    expect(stored).toHaveLength(rows.length);
    for (const [i, id] of ids.entries()) {
      const row = byId.get(id)!;
      expect([i, row.name, row.brand, Number(row.price_cents)]).toEqual([
        i,
        TRICKY[i % TRICKY.length],
        i % 7 === 0 ? null : TRICKY[(i + 3) % TRICKY.length],
        i,
      ]);
    }
    for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, rows.length - 1]) {
      const loaded = await db.findById(Product, ids[i]!);
      expect([i, loaded?.attributes]).toEqual([
        i,
        { text: TRICKY[i % TRICKY.length], nested: [TRICKY[(i + 5) % TRICKY.length], i, true, null] },
      ]);
      expect(loaded?.createdAt).toBeInstanceOf(Date);
      expect(loaded?.isListed).toBe(true); // the column default, filled by the database
    }
  });

  it("takes the bulk path from the dialect's threshold on", async () => {
    const loader = registeredDialect(db.dataSource)!;
    const spy = jest.spyOn(loader, "bulkLoad");
    try {
      await db.insertMany(Product, rowsFor(db) as Partial<Product>[]);
      const expected = Number.isFinite(loader.bulkLoadThreshold) ? 1 : 0;
      expect(spy).toHaveBeenCalledTimes(expected);
      if (expected === 1) await expect(spy.mock.results[0]!.value).resolves.toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it("reports progress up to the total", async () => {
    const rows = rowsFor(db);
    const seen: { done: number; total: number }[] = [];
    await db.insertMany(Product, rows as Partial<Product>[], { onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual({ done: rows.length, total: rows.length });
    expect(seen.every((p, i) => i === 0 || p.done >= seen[i - 1]!.done)).toBe(true);
  });

  it("a NUL character is refused before anything is sent", async () => {
    const rows = rowsFor(db, (i) => (i === 1_100 ? { name: "nul\u0000here" } : {}));
    await expect(db.insertMany(Product, rows as Partial<Product>[])).rejects.toBeInstanceOf(InvalidValueError);
    expect(await count(db)).toBe(0);
  });

  it("a live sku clash in the middle rolls everything back as UniqueConstraintError, naming the row where told", async () => {
    await db.insertOne(Product, { name: "existing", sku: "S-900", priceCents: 1 });
    const attempt = db.insertMany(Product, rowsFor(db) as Partial<Product>[]);
    await expect(attempt).rejects.toBeInstanceOf(UniqueConstraintError);
    const error = (await attempt.catch((e: unknown) => e)) as UniqueConstraintError;
    expect(error.properties).toEqual(["sku"]);
    // PostgreSQL names the COPY line; LOAD DATA and SQLite's INSERTs only say which key
    if (dialect !== "postgres") expect(error.rowIndex).toBeUndefined();
    else {
      expect(error.rowIndex).toBe(900);
      expect(error.message).toContain("(row 900 of the input)");
    }
    expect(await count(db)).toBe(1);
  });

  it("a duplicate primary key in the middle rolls everything back as a DatabaseOperationError", async () => {
    const existing = await db.insertOne(Product, { name: "existing", sku: "X", priceCents: 1 });
    const rows = rowsFor(db, (i) => (i === 700 ? { id: existing.id } : {}));
    const attempt = db.insertMany(Product, rows as Partial<Product>[]);
    await expect(attempt).rejects.toBeInstanceOf(DatabaseOperationError);
    const error = (await attempt.catch((e: unknown) => e)) as DatabaseOperationError;
    expect(error.cause).toBeDefined();
    if (dialect === "postgres") expect(error.message).toContain("at row 700 of the input");
    expect(await count(db)).toBe(1);
  });

  it("inside a session, a bulk load joins the session's transaction", async () => {
    await expect(
      db.withSession(async () => {
        await db.insertMany(Product, rowsFor(db) as Partial<Product>[]);
        throw new Error("undo");
      }),
    ).rejects.toThrow("undo");
    expect(await count(db)).toBe(0);
  });
});
