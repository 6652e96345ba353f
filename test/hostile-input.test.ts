import { ILike, Like, Not } from "typeorm";
import { type DatabaseManager, InvalidValueError, JsonPath } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";
import { outcomeOf } from "./support/faults";

// Input no database stores or reads as written gets a typed error naming the entity, the property and the value,
// on every write and query path, and nothing is written.

const LONE_SURROGATES = ["a\uD800b", "\uDC00", "end\uD83D"];

async function count(db: DatabaseManager): Promise<number> {
  const [row] = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders");
  return Number(row!.n);
}

function refused(error: unknown, property: string, value: unknown): void {
  expect(error).toBeInstanceOf(InvalidValueError);
  expect(error).toMatchObject({ entity: "Order", property, value });
  expect((error as Error).message).toMatch(new RegExp(`^Order\\.${property.replace(".", "\\.")}: `));
}

describe.each(DIALECTS)("%s: hostile input gets a typed error and writes nothing", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));
  beforeEach(async () => {
    await raw(db, "DELETE FROM orders");
  });

  it.each(LONE_SURROGATES)("a lone surrogate in a string column (%j) is refused on every write path", async (text) => {
    const repo = db.getRepository(Order);
    refused(await outcomeOf(() => repo.save(newOrder(text))), "reference", text);
    refused(await outcomeOf(() => repo.insert({ reference: text })), "reference", text);
    refused(await outcomeOf(() => db.insertOne(Order, newOrder(text))), "reference", text);
    refused(await outcomeOf(() => db.insertMany(Order, [newOrder("fine"), newOrder(text)])), "reference", text);
    expect(await count(db)).toBe(0);
    const kept = await repo.save(newOrder("kept"));
    refused(await outcomeOf(() => repo.update({ id: kept.id }, { reference: text })), "reference", text);
    kept.reference = text;
    refused(await outcomeOf(() => repo.save(kept)), "reference", text);
    expect(await raw(db, "SELECT reference FROM orders")).toEqual([{ reference: "kept" }]);
  });

  it("a well-formed astral character (a surrogate pair) is stored and read back as written", async () => {
    const text = "rocket \uD83D\uDE80 done";
    const saved = await db.getRepository(Order).save(newOrder(text));
    expect((await db.getRepository(Order).findOneByOrFail({ id: saved.id })).reference).toBe(text);
  });

  it.each(["abc\\", "\\", "a\\\\\\", "50%\\"])(
    "a Like pattern ending in a lone backslash (%j) is refused, not a driver error",
    async (pattern) => {
      for (const operator of [Like(pattern), ILike(pattern), Not(Like(pattern))]) {
        refused(await outcomeOf(() => db.getRepository(Order).findBy({ reference: operator })), "reference", pattern);
      }
    },
  );

  it("a Like pattern whose backslash is escaped, or with none, runs", async () => {
    await db.getRepository(Order).save(newOrder("plain"));
    expect(await db.getRepository(Order).countBy({ reference: Like("pla%") })).toBe(1);
    await expect(db.getRepository(Order).countBy({ reference: Like("x\\\\") })).resolves.toBe(0);
  });

  it("a Like pattern with a lone surrogate is refused", async () => {
    refused(
      await outcomeOf(() => db.getRepository(Order).findBy({ reference: Like("a\uD800%") })),
      "reference",
      "a\uD800%",
    );
  });

  it.each([
    ["a value", () => JsonPath("channel", "x\uD800")],
    ["a key", () => JsonPath(["\uDC00"], "x")],
  ])("a JsonPath with a lone surrogate in %s is refused before any SQL", async (_what, make) => {
    const error = await outcomeOf(() => db.getRepository(Order).findBy({ payload: make() }));
    expect(error).toBeInstanceOf(InvalidValueError);
    expect(error).toMatchObject({ entity: "Order", property: "payload" });
    expect((error as Error).message).toMatch(/lone UTF-16 surrogate/);
  });
});
