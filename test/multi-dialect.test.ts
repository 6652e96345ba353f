import { type DatabaseManager } from "../src";
import { DIALECTS, destroyTest, initTest, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";

describe.each(DIALECTS)("sqlite and %s side by side in one process", (dialect: TestDialect) => {
  let sqlite: DatabaseManager;
  let other: DatabaseManager;

  beforeAll(async () => {
    sqlite = await initTest("sqlite", [Order]);
    other = await initTest(dialect, [Order]);
  });
  afterAll(async () => {
    await destroyTest(sqlite);
    await destroyTest(other);
  });

  it("one entity class works on both DataSources, each with its own JSON column type", async () => {
    const value = { nested: { list: [1, "2", null] }, text: "ü 🚀" };
    for (const db of [sqlite, other]) {
      const order = newOrder(db.dialect);
      order.metadata.json = value;
      order.payload = "top-level string";
      await db.getRepository(Order).save(order);
      const loaded = await db.getRepository(Order).findOneByOrFail({ id: order.id });
      expect([db.dialect, loaded.metadata.json, loaded.payload]).toStrictEqual([db.dialect, value, "top-level string"]);
    }
    const jsonType = (db: DatabaseManager) =>
      db.dataSource.getMetadata(Order).findColumnWithPropertyPath("metadata.json")?.type;
    expect(jsonType(sqlite)).toBe("text");
    expect(jsonType(other)).toBe({ sqlite: "text", postgres: "jsonb", mariadb: "json" }[dialect]);
  });
});
