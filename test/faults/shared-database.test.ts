import { DatabaseManager, UnsafeResetError } from "../../src";
import { DIALECTS, destroyTest, initTest, raw, urlFor, type TestDialect } from "../support/dialects";
import { outcomeOf } from "../support/faults";
import { Order, newOrder } from "../support/entities";

// A database another program shares: reset() drops only this manager's tables, and refuses (dropping nothing) when
// an object of the other program depends on them.

/** The column type of orders.id, and the table's collation on MariaDB, so another table can point at it. */
async function idColumn(db: DatabaseManager): Promise<string> {
  if (db.dialect === "postgres") return "uuid";
  if (db.dialect === "sqlite") return "varchar(36)";
  const [column] = await raw<{ t: string; c: string }>(
    db,
    "SELECT COLUMN_TYPE AS t, COLLATION_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'id'",
  );
  return column!.c ? `${column!.t} CHARACTER SET utf8mb4 COLLATE ${column!.c}` : column!.t;
}

async function orderCount(db: DatabaseManager): Promise<number> {
  const [row] = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders");
  return Number(row!.n);
}

describe.each(DIALECTS)("%s: reset() in a database another program shares", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeEach(async () => {
    db = await initTest(dialect, [Order]);
    await db.getRepository(Order).save(newOrder("kept"));
  });
  afterEach(() => destroyTest(db));

  it("keeps a table named migrations when this manager has no migrations configured", async () => {
    await raw(db, "DROP TABLE IF EXISTS migrations");
    await raw(db, "CREATE TABLE migrations (id integer PRIMARY KEY, name varchar(100))");
    await raw(db, "INSERT INTO migrations (id, name) VALUES (1, 'the other program''s history')");
    try {
      await db.reset({ confirm: true });
      expect(await raw(db, "SELECT id, name FROM migrations")).toEqual([
        { id: 1, name: "the other program's history" },
      ]);
      expect(await orderCount(db)).toBe(0);
    } finally {
      await raw(db, "DROP TABLE IF EXISTS migrations");
    }
  });

  it("refuses, naming it and dropping nothing, when another program's view reads the tables", async () => {
    await raw(db, "CREATE VIEW other_order_refs AS SELECT reference FROM orders");
    try {
      const error = await outcomeOf(() => db.reset({ confirm: true }));
      expect(error).toBeInstanceOf(UnsafeResetError);
      expect((error as Error).message).toMatch(/view [^;]*other_order_refs/);
      expect((error as Error).message).toMatch(/nothing was dropped/);
      expect(await orderCount(db)).toBe(1);
      expect(await raw(db, "SELECT reference FROM other_order_refs")).toEqual([{ reference: "kept" }]);
    } finally {
      await raw(db, "DROP VIEW IF EXISTS other_order_refs");
    }
  });

  it("refuses, naming it and dropping nothing, when another program's table has a foreign key into them", async () => {
    await raw(db, "DROP TABLE IF EXISTS other_links");
    await raw(
      db,
      `CREATE TABLE other_links (id integer PRIMARY KEY, order_id ${await idColumn(db)} REFERENCES orders (id))`,
    );
    const [order] = await raw<{ id: string }>(db, "SELECT id FROM orders");
    await raw(db, "INSERT INTO other_links (id, order_id) VALUES (1, ?)", [order!.id]);
    try {
      const error = await outcomeOf(() => db.reset({ confirm: true }));
      expect(error).toBeInstanceOf(UnsafeResetError);
      expect((error as Error).message).toMatch(/foreign key [^;]*other_links/);
      expect(await orderCount(db)).toBe(1);
      expect(await raw(db, "SELECT id FROM other_links")).toEqual([{ id: 1 }]);
    } finally {
      await raw(db, "DROP TABLE IF EXISTS other_links");
    }
  });

  it("drops the migrations table its own configuration names", async () => {
    const own = new DatabaseManager({ url: urlFor(dialect), entities: [Order], migrationsTableName: "app_migrations" });
    await own.initialize();
    try {
      await raw(own, "CREATE TABLE IF NOT EXISTS app_migrations (id integer PRIMARY KEY)");
      await own.reset({ confirm: true });
      expect(await own.dataSource.createQueryRunner().hasTable("app_migrations")).toBe(false);
    } finally {
      await own.close();
    }
  });
});
