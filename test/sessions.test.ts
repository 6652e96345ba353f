import { type DatabaseManager } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";

async function references(db: DatabaseManager): Promise<string[]> {
  const rows = await raw<{ reference: string }>(db, "SELECT reference FROM orders ORDER BY reference");
  return rows.map((r) => r.reference);
}

class Planned extends Error {}

describe.each(DIALECTS)("%s: sessions", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order], { poolSize: 3 });
  });
  beforeEach(async () => {
    await raw(db, "DELETE FROM orders");
  });
  afterAll(() => destroyTest(db));

  it("a nested session whose failure the outer work catches undoes only its own writes", async () => {
    await db.withSession(async (manager) => {
      await manager.save(newOrder("outer-1"));
      await expect(
        db.withSession(async (inner) => {
          await inner.save(newOrder("inner-failed"));
          throw new Planned("inner");
        }),
      ).rejects.toBeInstanceOf(Planned);
      await db.withSession(async (inner) => inner.save(newOrder("inner-ok")));
      await manager.save(newOrder("outer-2"));
    });
    expect(await references(db)).toEqual(["inner-ok", "outer-1", "outer-2"]);
  });

  it("an outer failure undoes everything, inner successes included", async () => {
    const failure = new Planned("outer");
    await expect(
      db.withSession(async (manager) => {
        await manager.save(newOrder("outer"));
        await db.withSession(async (inner) => inner.save(newOrder("inner")));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await references(db)).toEqual([]);
  });

  it("db.getRepository() and db.manager resolve to the session's transaction inside it, and to the pool outside", async () => {
    expect(db.manager).toBe(db.dataSource.manager);
    await expect(
      db.withSession(async (manager) => {
        expect(db.manager).toBe(manager);
        await db.getRepository(Order).save(newOrder("via repository"));
        await db.manager.save(newOrder("via manager"));
        // deep in other code, through awaits and timers, the session is still found
        await new Promise((resolve) => setTimeout(resolve, 1));
        await Promise.resolve().then(() => db.getRepository(Order).insert({ reference: "via insert" }));
        expect(await db.getRepository(Order).count()).toBe(3);
        throw new Planned("undo all three");
      }),
    ).rejects.toBeInstanceOf(Planned);
    expect(await references(db)).toEqual([]);
    await db.getRepository(Order).save(newOrder("outside"));
    expect(await references(db)).toEqual(["outside"]);
  });

  it("Promise.all of several queries inside one session works", async () => {
    const saved = await db.withSession((manager) =>
      Promise.all(Array.from({ length: 12 }, (_, i) => manager.save(newOrder(`p-${String(i).padStart(2, "0")}`)))),
    );
    expect(saved).toHaveLength(12);
    const counted = await db.withSession((manager) =>
      Promise.all([
        manager.count(Order),
        manager.findOneBy(Order, { reference: "p-03" }),
        db.getRepository(Order).count(),
      ]),
    );
    expect([counted[0], counted[1]?.reference, counted[2]]).toEqual([12, "p-03", 12]);
  });

  it("concurrent sessions stay apart: one that fails takes only its own rows with it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const failing = db.withSession(async (manager) => {
      await manager.save(newOrder("failing"));
      await gate;
      throw new Planned("late failure");
    });
    const succeeding = db.withSession(async (manager) => {
      await manager.save(newOrder("succeeding"));
    });
    // on SQLite the second session waits for the first; elsewhere it runs beside it
    setTimeout(release, 20);
    await expect(failing).rejects.toBeInstanceOf(Planned);
    await succeeding;
    expect(await references(db)).toEqual(["succeeding"]);
  });

  it("wraps each query runner once, however often the driver hands it out (SQLite shares one)", async () => {
    const first = db.dataSource.createQueryRunner();
    const query = first.query;
    for (let i = 0; i < 5; i++) await db.dataSource.createQueryRunner().release();
    await db.withSession(async () => undefined);
    expect(first.query).toBe(query);
    await first.release();
  });

  it("returns what the work returns and leaves no connection busy", async () => {
    expect(await db.withSession(async () => 42)).toBe(42);
    const report = await db.healthCheck();
    expect(report.pool).toBeDefined();
    expect(report.pool!.total - report.pool!.idle).toBe(0);
    expect(report.pool!.waiting).toBe(0);
  });
});

describe.each(DIALECTS)(
  "%s: load: 2,000 sessions at concurrency 50 over a pool of 3, a fifth throwing",
  (dialect: TestDialect) => {
    let db: DatabaseManager;

    beforeAll(async () => {
      db = await initTest(dialect, [Order], { poolSize: 3 });
    });
    afterAll(() => destroyTest(db));

    it("stores exactly the rows of the sessions that succeeded and leaves every connection idle", async () => {
      const total = 2000;
      const expected: string[] = [];
      let next = 0;
      let failures = 0;
      const worker = async () => {
        while (next < total) {
          const i = next++;
          const reference = `load-${String(i).padStart(4, "0")}`;
          const fails = i % 5 === 0;
          try {
            await db.withSession(async (manager) => {
              const order = await manager.save(newOrder(reference));
              if (fails) throw new Planned(reference);
              await manager.update(Order, { id: order.id }, { metadata: { tags: "done" } });
            });
            expected.push(reference);
          } catch (error) {
            if (!(error instanceof Planned)) throw error;
            failures++;
          }
        }
      };
      await Promise.all(Array.from({ length: 50 }, worker));
      expect(failures).toBe(total / 5);
      const stored = await raw<{ reference: string; tags: string }>(
        db,
        "SELECT reference, tags FROM orders ORDER BY reference",
      );
      expect(stored.map((r) => r.reference)).toEqual(expected.sort());
      expect(new Set(stored.map((r) => r.tags))).toEqual(new Set(["done"]));
      const pool = (await db.healthCheck()).pool!;
      expect([pool.idle, pool.waiting]).toEqual([pool.total, 0]);
      expect(pool.total).toBeLessThanOrEqual(3);
      if (dialect === "postgres") {
        const stuck = await raw(
          db,
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'",
        );
        expect(stuck).toEqual([]);
      }
    });
  },
);
