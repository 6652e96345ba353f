import { type DatabaseManager } from "../src";
import { dataSourceOf, TYPEORM_LINE } from "../src/typeorm/typeorm-line";
import { DIALECTS, destroyTest, initTest, raw, storedInstants, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";

/** Waits until the application clock has moved on by at least a few milliseconds. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 15));

// Each behaviour below differs between TypeORM 0.3 and 1.x underneath; the library makes them the same. The suite
// runs on both lines (npm test on 1.x, npm run test:typeorm03 on 0.3), so each test fails on the line that has the
// difference if the library's seam stops covering it.
describe.each(DIALECTS)(`%s: TypeORM ${TYPEORM_LINE} behaves as the library promises`, (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));

  it("query builders and entity managers answer their DataSource", () => {
    const builder = db.getRepository(Order).createQueryBuilder("o");
    expect(dataSourceOf(builder)).toBe(db.dataSource);
    expect(dataSourceOf(db.manager)).toBe(db.dataSource);
  });

  it("repository.update() moves updated_at to the application clock, milliseconds kept", async () => {
    const order = await db.getRepository(Order).save(newOrder("update"));
    const before = await storedInstants(db, "orders", order.id);
    await tick();
    const start = Date.now();
    await db.getRepository(Order).update({ id: order.id }, { reference: "updated" });
    const after = await storedInstants(db, "orders", order.id);
    expect(after.updated).toBeGreaterThanOrEqual(start);
    expect(after.updated).toBeLessThanOrEqual(Date.now());
    expect(after.updated).toBeGreaterThan(before.updated);
    expect(after.created).toBe(before.created);
  });

  it("a second softDelete keeps the first deleted_at and updated_at", async () => {
    const order = await db.getRepository(Order).save(newOrder("twice"));
    await db.getRepository(Order).softDelete({ id: order.id });
    const first = await storedInstants(db, "orders", order.id);
    await tick();
    const result = await db.getRepository(Order).softDelete({ id: order.id });
    const second = await storedInstants(db, "orders", order.id);
    expect(second).toEqual(first);
    expect(result.affected).toBe(0);
  });

  it("restore leaves rows that are not deleted untouched", async () => {
    const order = await db.getRepository(Order).save(newOrder("live"));
    const before = await storedInstants(db, "orders", order.id);
    await tick();
    const result = await db.getRepository(Order).restore({ id: order.id });
    expect(await storedInstants(db, "orders", order.id)).toEqual(before);
    expect(result.affected).toBe(0);
  });

  it("upsert of a loaded entity updates it and leaves is_deleted and created_at alone", async () => {
    const saved = await db.getRepository(Order).save(newOrder("upsert"));
    const loaded = await db.getRepository(Order).findOneByOrFail({ id: saved.id });
    const before = await storedInstants(db, "orders", saved.id);
    await tick();
    loaded.reference = "upserted";
    await db.getRepository(Order).upsert(loaded as never, ["id"]);
    const rows = await raw<{ reference: string }>(db, "SELECT reference FROM orders WHERE id = ?", [saved.id]);
    expect(rows).toEqual([{ reference: "upserted" }]);
    const after = await storedInstants(db, "orders", saved.id);
    expect(after.created).toBe(before.created);
    expect(after.isDeleted).toBe(false);
  });

  it("raw query() parameters take booleans", async () => {
    const rows = await raw<Record<string, unknown>>(db, "SELECT COUNT(*) AS n FROM orders WHERE ? = ?", [true, true]);
    expect(Number(rows[0]!["n"])).toBeGreaterThan(0);
  });
});

// skipped (loudly, by the global setup) when MariaDB is not available
const describeMariadb = DIALECTS.includes("mariadb") ? describe : describe.skip;

describeMariadb("mariadb: the MySQL driver package", () => {
  it("is mysql2 even where the older mysql package is installed too", async () => {
    const db = await initTest("mariadb", [Order]);
    try {
      const driver = db.dataSource.driver as unknown as { mysql: object };
      // the library wraps the driver's module object; the module itself is underneath
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect(Object.getPrototypeOf(driver.mysql)).toBe(require("mysql2"));
    } finally {
      await destroyTest(db);
    }
  });
});
