import {
  Between,
  Column,
  Entity,
  Equal,
  ILike,
  In,
  IsNull,
  LessThan,
  Like,
  MoreThan,
  MoreThanOrEqual,
  Not,
} from "typeorm";
import {
  type DatabaseManager,
  FullAuditModel,
  InvalidValueError,
  JsonContains,
  JsonIndex,
  JsonHasKey,
  JsonPath,
  SmartJsonColumn,
  type JsonValue,
} from "../src";
import { DIALECTS, destroyTest, initTest, type TestDialect } from "./support/dialects";

// the indexed paths go through the index column; the results must be the same as the plain ones
@Entity("json_docs")
@JsonIndex("body", "qty", { type: "number" })
@JsonIndex("body", "channel")
@JsonIndex("body", ["customer", "id"])
class Doc extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  name!: string;

  @SmartJsonColumn({ name: "body" })
  body!: JsonValue | null;
}

/** One shared data set, with the type traps: "1" against 1, true against 1, null against a missing key. */
const DOCS: Record<string, JsonValue | null> = {
  web10: { channel: "web", qty: 10, paid: true, customer: { id: "c-1", tier: "gold" }, items: [{ sku: "A", n: 1 }] },
  web9: {
    channel: "web",
    qty: 9,
    paid: false,
    customer: { id: "c-2" },
    items: [
      { sku: "B", n: 2 },
      { sku: "A", n: 3 },
    ],
  },
  shopText: { channel: "shop", qty: "10", paid: "true", customer: { id: "c-1" }, items: [] },
  shopOne: { channel: "Shop", qty: 1, paid: 1, note: null },
  missing: { channel: "phone" },
  quotes: { "it's": 'say "hi"', "a.b": { ü: "emoji 🚀" }, path: "back\\slash", pct: "100%_done" },
  array: ["gift", 1, { k: "v" }],
  scalar: "web",
  nothing: null,
};

describe.each(DIALECTS)("%s: querying inside SmartJSON", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Doc]);
    await db
      .getRepository(Doc)
      .save(Object.entries(DOCS).map(([name, body]) => Object.assign(new Doc(), { name, body })));
  });
  afterAll(() => destroyTest(db));

  async function names(where: object): Promise<string[]> {
    const found = await db.getRepository(Doc).find({ where, order: { name: "ASC" } });
    return found.map((d) => d.name).sort();
  }

  it.each([
    ["a string", JsonPath("channel", "web"), ["web10", "web9"]],
    ["case-sensitive", JsonPath("channel", "shop"), ["shopText"]],
    ["a number, never the string", JsonPath("qty", 10), ["web10"]],
    ["the string, never the number", JsonPath("qty", "10"), ["shopText"]],
    ["a boolean, never 1 or 'true'", JsonPath("paid", true), ["web10"]],
    ["1, never true", JsonPath("paid", 1), ["shopOne"]],
    ["JSON null, not a missing key", JsonPath("note", null), ["shopOne"]],
    ["IsNull is JSON null", JsonPath("note", IsNull()), ["shopOne"]],
    ["a nested path", JsonPath("customer.id", "c-1"), ["shopText", "web10"]],
    ["an array index path", JsonPath(["items", 1, "sku"], "A"), ["web9"]],
    ["numbers compare as numbers: 10 > 9", JsonPath("qty", MoreThan(9)), ["web10"]],
    ["MoreThanOrEqual", JsonPath("qty", MoreThanOrEqual(9)), ["web10", "web9"]],
    ["LessThan skips strings", JsonPath("qty", LessThan(10)), ["shopOne", "web9"]],
    ["Between", JsonPath("qty", Between(2, 9)), ["web9"]],
    ["In keeps types", JsonPath("qty", In([1, "10"])), ["shopOne", "shopText"]],
    ["Equal", JsonPath("channel", Equal("phone")), ["missing"]],
    ["Like, case-sensitive", JsonPath("channel", Like("S%")), ["shopOne"]],
    ["Like with escaped % and _", JsonPath("pct", Like("100\\%\\_%")), ["quotes"]],
    [
      "Not includes missing keys",
      JsonPath("qty", Not(10)),
      ["array", "missing", "nothing", "quotes", "scalar", "shopOne", "shopText", "web9"],
    ],
    ["a key with a quote", JsonPath(["it's"], 'say "hi"'), ["quotes"]],
    ["a key with a dot and unicode", JsonPath(["a.b", "ü"], "emoji 🚀"), ["quotes"]],
    ["a backslash in a value", JsonPath("path", "back\\slash"), ["quotes"]],
    ["has key, JSON null included", JsonHasKey("note"), ["shopOne"]],
    ["has a nested key", JsonHasKey(["customer", "tier"]), ["web10"]],
    ["contains an object", JsonContains({ customer: { id: "c-1" } }), ["shopText", "web10"]],
    ["contains keeps types", JsonContains({ qty: 10 }), ["web10"]],
    ["contains inside arrays", JsonContains({ items: [{ sku: "A" }] }), ["web10", "web9"]],
    ["contains array elements in any order", JsonContains({ items: [{ n: 3 }, { sku: "B" }] }), ["web9"]],
    ["an array contains a scalar element", JsonContains("gift"), ["array"]],
    ["a top-level scalar", JsonContains("web"), ["scalar"]],
    ["an array contains an object element", JsonContains([{ k: "v" }]), ["array"]],
  ])("%s", async (_label, condition, expected) => {
    expect(await names({ body: condition })).toEqual([...expected].sort());
  });

  it("works inside the embedded metadata.json and in QueryBuilder where objects", async () => {
    const doc = await db.getRepository(Doc).save(Object.assign(new Doc(), { name: "meta", body: null }));
    doc.metadata.json = { source: "import" };
    await db.getRepository(Doc).save(doc);
    expect(await names({ metadata: { json: JsonPath("source", "import") } })).toEqual(["meta"]);
    const viaBuilder = await db
      .getRepository(Doc)
      .createQueryBuilder("d")
      .where({ body: JsonPath("channel", "web") })
      .andWhere({ body: JsonPath("qty", MoreThan(9)) })
      .getMany();
    expect(viaBuilder.map((d) => d.name)).toEqual(["web10"]);
  });

  it("binds every key and value: SQL in a key or a value is data", async () => {
    const evil = "x' OR '1'='1";
    expect(await names({ body: JsonPath([evil], evil) })).toEqual([]);
    expect(await names({ body: JsonContains({ [evil]: evil }) })).toEqual([]);
  });

  it.each([
    ["an object operand", () => JsonPath("customer", { id: "c-1" } as never), /use JsonContains for objects/],
    ["NaN", () => JsonPath("qty", NaN), /expected a JSON scalar/],
    ["a string with MoreThan", () => JsonPath("qty", MoreThan("9")), /moreThan compares numbers only/],
    ["an unsupported operator", () => JsonPath("channel", ILike("web")), /does not take TypeORM's ilike operator/],
    ["a negative index", () => JsonPath(["items", -1], 1), /not a whole number >= 0/],
    ["an empty path", () => JsonHasKey(""), /needs at least one key/],
    ["a value that is not JSON", () => JsonContains({ when: new Date() } as never), /JsonContains/],
  ])("refuses %s with a typed error naming the entity and the property, before any SQL", async (_l, make, message) => {
    const attempt = db.getRepository(Doc).findBy({ body: (make as () => never)() });
    await expect(attempt).rejects.toBeInstanceOf(InvalidValueError);
    await expect(attempt).rejects.toMatchObject({ entity: "Doc", property: "body" });
    await expect(attempt).rejects.toThrow(message);
  });
});

/** Rows enough for the planners to prefer an index: 10,000 documents, every 100th on channel "rare". */
async function fill(db: DatabaseManager): Promise<void> {
  const rows = Array.from({ length: 10_000 }, (_, i) => ({
    name: `d${i}`,
    body: { channel: i % 100 === 0 ? "rare" : `c${i % 7}`, qty: i, customer: { id: `c-${i}` } },
  }));
  await db.insertMany(Doc, rows);
}

/** How the database would run a query: the plan's text. */
async function plan(db: DatabaseManager, dialect: TestDialect, where: object): Promise<string> {
  const [sql, params] = db.getRepository(Doc).createQueryBuilder("d").where(where).getQueryAndParameters();
  const prefix = { sqlite: "EXPLAIN QUERY PLAN ", postgres: "EXPLAIN (FORMAT JSON) ", mariadb: "EXPLAIN " }[dialect];
  return JSON.stringify(await db.dataSource.query(prefix + sql, params));
}

describe.each(DIALECTS)("%s: @JsonIndex", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Doc]);
    await fill(db);
    if (dialect === "postgres") await db.dataSource.query("ANALYZE json_docs");
    if (dialect === "mariadb") await db.dataSource.query("ANALYZE TABLE json_docs");
    if (dialect === "sqlite") await db.dataSource.query("ANALYZE");
  }, 120_000);
  afterAll(() => destroyTest(db));

  it("keeps TypeORM's schema diff empty after createTables()", async () => {
    await db.createTables();
    expect((await db.dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
  });

  it.each([
    ["a string path", JsonPath("channel", "rare"), "ix_json_doc_body_channel"],
    ["a nested string path", JsonPath("customer.id", "c-4242"), "ix_json_doc_body_customer_id"],
    ["a number path", JsonPath("qty", 4242), "ix_json_doc_body_qty"],
    ["a number range", JsonPath("qty", MoreThan(9_990)), "ix_json_doc_body_qty"],
  ])("%s is looked up through its index (EXPLAIN), with the exact answer", async (_label, condition, index) => {
    expect(await plan(db, dialect, { body: condition })).toContain(index);
    const found = await db.getRepository(Doc).findBy({ body: condition });
    const expected = { "a string path": 100, "a nested string path": 1, "a number path": 1, "a number range": 9 }[
      _label
    ];
    expect(found).toHaveLength(expected!);
  });

  it("a value of another type than the index's is answered exactly, without it", async () => {
    expect(await db.getRepository(Doc).countBy({ body: JsonPath("qty", "4242") })).toBe(0);
    expect(await db.getRepository(Doc).countBy({ body: JsonPath("channel", 5) })).toBe(0);
  });

  it("a value that changes moves the row in the index", async () => {
    const doc = await db.getRepository(Doc).findOneByOrFail({ body: JsonPath("customer.id", "c-7") });
    doc.body = { channel: "moved", qty: -1, customer: { id: "c-7b" } };
    await db.getRepository(Doc).save(doc);
    expect(await db.getRepository(Doc).countBy({ body: JsonPath("customer.id", "c-7") })).toBe(0);
    expect(await db.getRepository(Doc).countBy({ body: JsonPath("customer.id", "c-7b") })).toBe(1);
    expect(await db.getRepository(Doc).countBy({ body: JsonPath("qty", LessThan(0)) })).toBe(1);
  });
});
