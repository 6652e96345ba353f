import { type DatabaseManager, InvalidStoredJsonError } from "../src";
import { destroyTest, initTest, raw } from "./support/dialects";
import { Order, newOrder } from "./support/entities";

// SQLite only: its SmartJSON column is TEXT, so another program can write text that is not JSON into it.
// PostgreSQL (jsonb) and MariaDB/MySQL (JSON_VALID check / json type) refuse such text themselves.
describe("sqlite: stored text that is not JSON", () => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest("sqlite", [Order]);
  });
  afterAll(() => destroyTest(db));

  it.each([
    ["payload", "payload", "{not json"],
    ["metadata.json", "metadata_json", "undefined"],
    ["payload", "payload", ""],
  ])("loading %s raises a typed error naming table, column and row id", async (_property, column, text) => {
    const order = await db.getRepository(Order).save(newOrder());
    await raw(db, `UPDATE orders SET ${column} = ? WHERE id = ?`, [text, order.id]);
    const attempt = db.getRepository(Order).findOneBy({ id: order.id });
    await expect(attempt).rejects.toBeInstanceOf(InvalidStoredJsonError);
    const error = (await attempt.catch((e: unknown) => e)) as InvalidStoredJsonError;
    expect(error.table).toBe("orders");
    expect(error.column).toBe(column);
    expect(error.rowId).toBe(order.id);
    expect(error.rawValue).toBe(text);
    expect(error.message).toContain(`orders.${column}`);
    expect(error.message).toContain(order.id);
  });

  it("a list containing the bad row fails rather than returning a null or {}", async () => {
    const good = await db.getRepository(Order).save(newOrder("good"));
    const bad = await db.getRepository(Order).save(newOrder("bad"));
    await raw(db, "UPDATE orders SET payload = 'nope' WHERE id = ?", [bad.id]);
    await expect(db.getRepository(Order).find({ where: [{ id: good.id }, { id: bad.id }] })).rejects.toThrow(
      InvalidStoredJsonError,
    );
  });
});
