import { Equal } from "typeorm";
import { type DatabaseManager, InvalidJsonValueError, JsonContains, MAX_JSON_DEPTH, type JsonValue } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";

function nested(depth: number): JsonValue {
  let value: JsonValue = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

const ROUND_TRIPS: [string, JsonValue][] = [
  ["a nested object", { a: { b: { c: [1, 2, { d: "e" }] } }, empty: {}, list: [] }],
  ["an array of mixed values", [1, "two", 3.5, true, false, null, { x: [] }]],
  ["unicode and emoji", { text: "Zażółć gęślą jaźń — 日本語 — 👩‍👩‍👧‍👦 🚀", "key 🔑": "v" }],
  ["strings that look like other types", ["123", "1e5", "true", "null", "{}", "[1]", " 7 ", "0x10", "-0"]],
  ["a top-level string", "hello"],
  ["a top-level string that looks like a number", "42"],
  ["a top-level string that looks like JSON", '{"a":1}'],
  ["a top-level empty string", ""],
  ["a top-level integer", 42],
  ["a top-level float", 0.1],
  ["a negative number", -12345.678],
  ["a large number", 1e300],
  ["the largest safe integer", Number.MAX_SAFE_INTEGER],
  ["true", true],
  ["false", false],
  ["an empty object", {}],
  ["an empty array", []],
  ["escapes and quotes", { s: 'a "quoted" \\ back\\slash\nnew line\ttab \u2028' }],
  [`nesting at the limit (${MAX_JSON_DEPTH} levels)`, nested(MAX_JSON_DEPTH)],
];

const REFUSED: [string, () => unknown, string][] = [
  ["a BigInt", () => 10n, "$"],
  ["a nested BigInt", () => ({ a: [1, 2n] }), "$.a[1]"],
  ["a function", () => ({ f: () => 1 }), "$.f"],
  ["a symbol", () => Symbol("s"), "$"],
  [
    "a circular structure",
    () => {
      const o: Record<string, unknown> = { a: 1 };
      o["self"] = o;
      return o;
    },
    "$.self",
  ],
  ["NaN", () => ({ n: NaN }), "$.n"],
  ["Infinity", () => Infinity, "$"],
  ["-Infinity in an array", () => [-Infinity], "$[0]"],
  ["a Date", () => ({ at: new Date() }), "$.at"],
  ["a Map", () => new Map([["a", 1]]), "$"],
  ["undefined in an array", () => [1, undefined], "$[1]"],
  ["a NUL character", () => ({ s: "a\u0000b" }), "$.s"],
  ["a lone surrogate", () => "\ud800", "$"],
  [
    `nesting deeper than ${MAX_JSON_DEPTH} levels`,
    () => nested(MAX_JSON_DEPTH + 1),
    "$" + "[0]".repeat(MAX_JSON_DEPTH),
  ],
];

describe.each(DIALECTS)("%s: SmartJSON", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));

  it.each(ROUND_TRIPS)("round-trips %s with its type", async (_name, value) => {
    const order = newOrder();
    order.payload = value;
    order.metadata.json = value;
    await db.getRepository(Order).save(order);
    const loaded = await db.getRepository(Order).findOneByOrFail({ id: order.id });
    expect(loaded.payload).toStrictEqual(value);
    expect(loaded.metadata.json).toStrictEqual(value);
  });

  it("stores null as SQL NULL", async () => {
    const order = newOrder();
    order.payload = null;
    await db.getRepository(Order).save(order);
    const rows = await raw<{ n: unknown }>(
      db,
      "SELECT COUNT(*) AS n FROM orders WHERE id = ? AND payload IS NULL AND metadata_json IS NULL",
      [order.id],
    );
    expect(Number(rows[0]!.n)).toBe(1);
    expect((await db.getRepository(Order).findOneByOrFail({ id: order.id })).payload).toBeNull();
  });

  it("stores JSON text the database can read", async () => {
    const order = newOrder();
    order.payload = { n: 1, s: "x" };
    await db.getRepository(Order).save(order);
    const rows = await raw<{ p: unknown }>(db, "SELECT payload AS p FROM orders WHERE id = ?", [order.id]);
    const stored = rows[0]!.p;
    expect(typeof stored === "string" ? JSON.parse(stored) : stored).toStrictEqual({ n: 1, s: "x" });
  });

  it.each(REFUSED)("refuses %s with a typed error before anything is written", async (_name, make, path) => {
    const before = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders");
    const order = newOrder();
    order.metadata.json = make() as JsonValue;
    const attempt = db.getRepository(Order).save(order);
    await expect(attempt).rejects.toBeInstanceOf(InvalidJsonValueError);
    const error = (await attempt.catch((e: unknown) => e)) as InvalidJsonValueError;
    expect(error.entity).toBe("Order");
    expect(error.property).toBe("metadata.json");
    expect(error.jsonPath).toBe(path);
    expect(error.message).toContain(`Order.metadata.json:`);
    expect(error.message).toContain(`at ${path}`);
    const after = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders");
    expect(Number(after[0]!.n)).toBe(Number(before[0]!.n));
  });

  it("refuses a query operator or a JSON condition given as a value to insertOne and insertMany, and writes nothing", async () => {
    const count = async () => Number((await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders"))[0]!.n);
    const before = await count();
    for (const condition of [Equal({ a: 1 }), JsonContains({ a: 1 })]) {
      const values = { ...newOrder("operator"), payload: condition as unknown as JsonValue };
      for (const attempt of [db.insertOne(Order, values), db.insertMany(Order, [values])]) {
        const error = await attempt.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidJsonValueError);
        expect(error).toMatchObject({ entity: "Order", property: "payload", jsonPath: "$" });
        expect((error as Error).message).toMatch(/^Order\.payload: an object is not a plain object at \$ \(got /);
      }
    }
    expect(await count()).toBe(before);
  });

  it("refuses a non-JSON value on the QueryBuilder update path too", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    await expect(db.getRepository(Order).update({ id: order.id }, { payload: { n: NaN } })).rejects.toThrow(
      InvalidJsonValueError,
    );
    expect((await db.getRepository(Order).findOneByOrFail({ id: order.id })).payload).toBeNull();
  });

  it("refuses a function (which TypeORM would run as raw SQL) on every write path, and writes nothing", async () => {
    const sql = () => "1";
    const expected = (error: unknown) => {
      expect(error).toBeInstanceOf(InvalidJsonValueError);
      expect(error).toMatchObject({ entity: "Order", property: "payload", jsonPath: "$" });
      expect((error as Error).message).toMatch(
        /^Order\.payload: a function is not a JSON value \(TypeORM would run it as raw SQL\) at \$ \(got /,
      );
    };
    const repository = db.getRepository(Order);
    const count = async () => Number((await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders"))[0]!.n);
    const before = await count();
    const fresh = (): Order => Object.assign(newOrder("fn"), { payload: sql as unknown as JsonValue });
    expected(await repository.save(fresh()).catch((e: unknown) => e));
    expected(await repository.insert(fresh() as never).catch((e: unknown) => e));
    expected(await repository.upsert(fresh() as never, ["id"]).catch((e: unknown) => e));
    expected(await db.insertOne(Order, fresh()).catch((e: unknown) => e));
    expected(await db.insertMany(Order, [fresh()]).catch((e: unknown) => e));
    expect(await count()).toBe(before);
    const order = await repository.save(newOrder("kept"));
    expected(await repository.update({ id: order.id }, { payload: sql as never }).catch((e: unknown) => e));
    expected(
      await db.manager
        .createQueryBuilder()
        .update(Order)
        .set({ payload: sql as never })
        .where("id = :id", { id: order.id })
        .execute()
        .catch((e: unknown) => e),
    );
    order.payload = sql as unknown as JsonValue;
    expected(await repository.save(order).catch((e: unknown) => e));
    const [row] = await raw<{ payload: unknown }>(db, "SELECT payload FROM orders WHERE id = ?", [order.id]);
    expect(row!.payload).toBeNull();
  });
});
