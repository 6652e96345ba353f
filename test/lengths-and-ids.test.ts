import { type DatabaseManager, InvalidValueError, ValueTooLongError, isUuid, uuidv7 } from "../src";
import { DIALECTS, destroyTest, initTest, raw, statementsOf, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";

async function countOrders(db: DatabaseManager): Promise<number> {
  return Number((await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders"))[0]!.n);
}

describe.each(DIALECTS)("%s: declared lengths hold", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));

  it.each([
    ["metadata.tags", "tags", 500, (o: Order, v: string) => (o.metadata.tags = v)],
    ["audit.createdBy", "created_by", 255, (o: Order, v: string) => (o.audit.createdBy = v)],
    ["audit.updatedBy", "updated_by", 255, (o: Order, v: string) => (o.audit.updatedBy = v)],
  ])("%s stores exactly its length", async (_property, column, length, set) => {
    const order = newOrder();
    set(order, "x".repeat(length));
    await db.getRepository(Order).save(order);
    const rows = await raw<{ v: string }>(db, `SELECT ${column} AS v FROM orders WHERE id = ?`, [order.id]);
    expect(rows[0]!.v).toBe("x".repeat(length));
  });

  it.each([
    ["metadata.tags", 500, (o: Order, v: string) => (o.metadata.tags = v)],
    ["audit.createdBy", 255, (o: Order, v: string) => (o.audit.createdBy = v)],
    ["audit.updatedBy", 255, (o: Order, v: string) => (o.audit.updatedBy = v)],
  ])("%s refuses one character more, with a typed error and nothing written", async (property, length, set) => {
    const before = await countOrders(db);
    const order = newOrder();
    const value = "y".repeat(length + 1);
    set(order, value);
    const attempt = db.getRepository(Order).save(order);
    await expect(attempt).rejects.toBeInstanceOf(ValueTooLongError);
    const error = (await attempt.catch((e: unknown) => e)) as ValueTooLongError;
    expect(error).toMatchObject({ entity: "Order", property, maxLength: length, actualLength: length + 1, value });
    expect(error.message).toContain(`Order.${property}: ${length + 1} characters given, at most ${length} allowed`);
    expect(await countOrders(db)).toBe(before);
  });

  it("counts characters as the databases do: 500 emoji fit in tags", async () => {
    const order = newOrder();
    order.metadata.tags = "🚀".repeat(500);
    await db.getRepository(Order).save(order);
    const loaded = await db.getRepository(Order).findOneByOrFail({ id: order.id });
    expect(loaded.metadata.tags).toBe("🚀".repeat(500));
    order.metadata.tags = "🚀".repeat(501);
    await expect(db.getRepository(Order).save(order)).rejects.toThrow(ValueTooLongError);
  });

  it("refuses an over-long value on every write path", async () => {
    const before = await countOrders(db);
    const long = "z".repeat(101);
    const repo = db.getRepository(Order);
    await expect(repo.insert({ reference: long })).rejects.toThrow(ValueTooLongError);
    await expect(repo.createQueryBuilder().insert().values({ reference: long }).execute()).rejects.toThrow(
      ValueTooLongError,
    );
    await expect(repo.upsert({ reference: long }, ["id"])).rejects.toThrow(ValueTooLongError);
    const order = await repo.save(newOrder("short"));
    await expect(repo.update({ id: order.id }, { reference: long })).rejects.toThrow(ValueTooLongError);
    await expect(
      repo.createQueryBuilder().update().set({ reference: long }).where("id = :id", { id: order.id }).execute(),
    ).rejects.toThrow(ValueTooLongError);
    expect(await countOrders(db)).toBe(before + 1);
    expect((await repo.findOneByOrFail({ id: order.id })).reference).toBe("short");
  });

  it("refuses a NUL character in a string column on every dialect", async () => {
    const order = newOrder("a\u0000b");
    await expect(db.getRepository(Order).save(order)).rejects.toThrow(InvalidValueError);
  });
});

/** The reference model of a UUID string: the 8-4-4-4-12 hex layout, any case. */
const UUID_MODEL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

describe("isUuid and the canonical id against the reference model", () => {
  // each character below 128 and the ones above it that fold to a hex digit's low bits (U+0130 is "0" + 256, fullwidth
  // digits and letters, a NUL), in every position of a UUID, and lengths around 36
  const base = "0189abcd-ef01-7abc-8def-0123456789ab";
  const odd = ["\u0000", "\u0130", "\u0161", "\uff10", "\uff41", "\u2010", "\u00e9", "G", "g", "-", " ", "Z", "A", "F"];
  const candidates = [base, base.toUpperCase(), "0189ABCD-ef01-7AbC-8dEf-0123456789aB", base.slice(1), base + "0", ""];
  for (let i = 0; i < 36; i++)
    for (const c of [...odd, ...Array.from({ length: 128 }, (_, k) => String.fromCharCode(k))])
      candidates.push(base.slice(0, i) + c + base.slice(i + 1));

  it("agrees on every candidate, and answers the lower-case form (the same string when it is one)", async () => {
    const { canonicalUuid } = await import("../src/util/uuid");
    let valid = 0;
    for (const candidate of candidates) {
      const expected = UUID_MODEL.test(candidate);
      expect([candidate, isUuid(candidate)]).toEqual([candidate, expected]);
      expect([candidate, canonicalUuid(candidate)]).toEqual([
        candidate,
        expected ? candidate.toLowerCase() : undefined,
      ]);
      if (expected) valid++;
    }
    // both kinds are met: at each of the 32 hex positions the 22 hex characters of ASCII and "A" and "F" again, at
    // each of the 4 dashes "-" twice, and the three whole strings in lower, upper and mixed case
    expect(valid).toBe(32 * 24 + 4 * 2 + 3);
    expect(candidates.length - valid).toBeGreaterThan(4_000);
    expect(canonicalUuid(base)).toBe(base);
  });
});

describe.each(DIALECTS)("%s: UUID ids", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));

  it("generates a time-ordered UUIDv7 when the id is absent", async () => {
    const first = await db.getRepository(Order).save(newOrder());
    const second = await db.getRepository(Order).save(newOrder());
    expect(isUuid(first.id)).toBe(true);
    expect(first.id[14]).toBe("7");
    expect(["8", "9", "a", "b"]).toContain(first.id[19]);
    expect(second.id > first.id).toBe(true);
    const stored = await raw<{ id: string }>(db, "SELECT id FROM orders WHERE id = ?", [first.id]);
    expect(stored[0]!.id).toBe(first.id);
  });

  it("uuidv7: the RFC 9562 layout read back field by field, in order within and across milliseconds", () => {
    // (ahead of the clock: the generator never goes back to a millisecond before the last it used)
    const start = Date.now() + 60_000;
    const ids: string[] = [];
    // 5,000 ids in each of three milliseconds (the 12-bit counter runs past its 4,096 values and borrows the next
    // millisecond), then one millisecond later and one from the past (the clock stepping back)
    for (const ms of [start, start + 1, start + 2]) for (let i = 0; i < 5_000; i++) ids.push(uuidv7(ms));
    ids.push(uuidv7(start + 100), uuidv7(start - 1));
    let last = "";
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(id > last).toBe(true);
      last = id;
    }
    // the first id of a millisecond carries it, and its counter starts in the lower half
    const msOf = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    const counterOf = (id: string) => parseInt(id.slice(15, 18), 16);
    expect(msOf(ids[0]!)).toBe(start);
    expect(counterOf(ids[0]!)).toBeLessThan(0x800);
    expect(msOf(ids[ids.length - 2]!)).toBe(start + 100);
    // the clock stepping back keeps the last millisecond and counts on
    expect(msOf(ids[ids.length - 1]!)).toBe(start + 100);
    expect(counterOf(ids[ids.length - 1]!)).toBe(counterOf(ids[ids.length - 2]!) + 1);
    // the 62 random bits differ from id to id
    expect(new Set(ids.map((id) => id.slice(19))).size).toBe(ids.length);
  });

  it("generates ids on the insert() and QueryBuilder paths too", async () => {
    const result = await db.getRepository(Order).insert({ reference: "via insert" });
    const id = result.identifiers[0]!["id"] as string;
    expect(isUuid(id)).toBe(true);
    const qb = await db
      .getRepository(Order)
      .createQueryBuilder()
      .insert()
      .values([{ reference: "qb1" }, { reference: "qb2" }])
      .execute();
    expect(qb.identifiers.map((i) => isUuid(i["id"]))).toEqual([true, true]);
    const rows = await raw<{ n: unknown }>(
      db,
      "SELECT COUNT(*) AS n FROM orders WHERE reference IN ('via insert', 'qb1', 'qb2')",
    );
    expect(Number(rows[0]!.n)).toBe(3);
  });

  it("keeps an explicit valid id (a v4 one too), stored in lower case", async () => {
    const order = newOrder();
    order.id = "9F1C6A52-3B7E-4C1D-8A2B-6D4E5F708192";
    await db.getRepository(Order).save(order);
    const stored = await raw<{ id: string }>(db, "SELECT id FROM orders WHERE reference = ? AND id = ?", [
      "A-1",
      "9f1c6a52-3b7e-4c1d-8a2b-6d4e5f708192",
    ]);
    expect(stored.map((r) => r.id)).toEqual(["9f1c6a52-3b7e-4c1d-8a2b-6d4e5f708192"]);
  });

  it.each([
    "not-a-uuid",
    "9f1c6a52-3b7e-4c1d-8a2b-6d4e5f70819",
    "9f1c6a52-3b7e-4c1d-8a2b-6d4e5f70819g",
    "",
    " 9f1c6a52-3b7e-4c1d-8a2b-6d4e5f708192",
  ])("refuses the id %j with a typed error and nothing written", async (bad) => {
    const before = await countOrders(db);
    const order = newOrder();
    order.id = bad;
    const attempt = db.getRepository(Order).save(order);
    await expect(attempt).rejects.toBeInstanceOf(InvalidValueError);
    const error = (await attempt.catch((e: unknown) => e)) as InvalidValueError;
    expect(error).toMatchObject({ entity: "Order", property: "id", value: bad });
    expect(error.message).toContain(`Order.id: ${JSON.stringify(bad)} is not a UUID`);
    expect(await countOrders(db)).toBe(before);
  });

  it("a lookup by an invalid id gets the same typed error on every dialect", async () => {
    await expect(db.getRepository(Order).findOneBy({ id: "42" })).rejects.toThrow(InvalidValueError);
  });

  it("a lookup by an upper-case id finds the row", async () => {
    const order = await db.getRepository(Order).save(newOrder("upper"));
    const found = await db.getRepository(Order).findOneBy({ id: order.id.toUpperCase() });
    expect(found?.id).toBe(order.id);
  });

  it("a lookup by keys (whereInIds) is a plain key condition, takes upper case and finds every row", async () => {
    const a = await db.getRepository(Order).save(newOrder("keys a"));
    const b = await db.getRepository(Order).save(newOrder("keys b"));
    let found: Order[] = [];
    const many = await statementsOf(db, async () => {
      found = await db.getRepository(Order).createQueryBuilder("o").whereInIds([a.id.toUpperCase(), b.id]).getMany();
    });
    expect(found.map((o) => o.reference).sort()).toEqual(["keys a", "keys b"]);
    // `id IN (...)`, not TypeORM's two nested brackets per id for a key column with a transformer
    expect(many.find((sql) => /^SELECT/i.test(sql))).toMatch(/\bWHERE \(?\s*["`]o["`]\.["`]id["`] IN \(/);
    const one = await statementsOf(db, () =>
      db.getRepository(Order).createQueryBuilder("o").whereInIds(a.id.toUpperCase()).getOneOrFail(),
    );
    expect(one.find((sql) => /^SELECT/i.test(sql))).toMatch(/\bWHERE \(?\s*["`]o["`]\.["`]id["`] = /);
  });

  it("save() of a loaded row finds and updates it by a plain key condition", async () => {
    const { id } = await db.getRepository(Order).save(newOrder("keyed"));
    const loaded = await db.getRepository(Order).findOneByOrFail({ id });
    loaded.reference = "keyed again";
    const statements = await statementsOf(db, () => db.getRepository(Order).save(loaded));
    const update = statements.find((sql) => /^UPDATE/i.test(sql))!;
    expect(update).toMatch(/ WHERE \(?["`]id["`] = /);
    expect(update).not.toContain("((");
    const rows = await raw<{ r: string }>(db, "SELECT reference AS r FROM orders WHERE id = ?", [id]);
    expect(rows.map((r) => r.r)).toEqual(["keyed again"]);
  });

  it("a lookup by keys refuses an id that is not a UUID, naming it, before any SQL", async () => {
    const { id } = await db.getRepository(Order).save(newOrder("keys bad"));
    let error: unknown;
    const statements = await statementsOf(db, async () => {
      // thrown where the condition is built, as TypeORM's own condition does
      error = await (async () =>
        db.getRepository(Order).createQueryBuilder("o").whereInIds([id, "42"]).getMany())().catch((e: unknown) => e);
    });
    expect(error).toBeInstanceOf(InvalidValueError);
    expect(error).toMatchObject({ entity: "Order", property: "id", value: "42" });
    expect((error as Error).message).toContain('Order.id: "42" is not a UUID');
    expect(statements).toEqual([]);
  });

  it("refuses an invalid id on the insert() path", async () => {
    await expect(db.getRepository(Order).insert({ id: "1234", reference: "x" })).rejects.toThrow(InvalidValueError);
  });
});
