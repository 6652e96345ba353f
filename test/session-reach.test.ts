import { DatabaseManager, SessionAbortedError } from "../src";
import { DIALECTS, destroyTest, initTest, raw, urlFor, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";
import { storedReferences } from "./support/faults";

// Inside a session, every repository and manager of the session's DataSource works in its transaction: the
// repositories a NestJS service gets from @InjectRepository (dataSource.getRepository), dataSource.manager,
// QueryBuilders, custom repositories, dataSource.transaction() (a savepoint). Outside a session nothing changes.

class Planned extends Error {}

describe.each(DIALECTS)("%s: one session reaches every repository of its DataSource", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));
  beforeEach(async () => {
    await raw(db, "DELETE FROM orders");
  });

  it("writes through injected-style repositories, the DataSource's manager, QueryBuilders and custom repositories roll back with the session", async () => {
    const dataSource = db.dataSource;
    const injected = dataSource.getRepository(Order);
    const custom = dataSource.getRepository(Order).extend({
      placeRef(reference: string) {
        return this.save(newOrder(reference));
      },
    });
    const seen: unknown[] = [];
    const session = db.withSession(async () => {
      await injected.save(newOrder("in-injected"));
      await dataSource.manager.save(newOrder("in-manager"));
      await dataSource.createQueryBuilder().insert().into(Order).values({ reference: "in-query-builder" }).execute();
      await custom.placeRef("in-custom");
      await dataSource.transaction((manager) => manager.save(newOrder("in-transaction")));
      // the session's own uncommitted rows are what its repositories read
      seen.push(await injected.count());
      seen.push((await injected.findOneBy({ reference: "in-custom" }))?.reference);
      throw new Planned("roll back");
    });
    await expect(session).rejects.toBeInstanceOf(Planned);
    expect(seen).toEqual([5, "in-custom"]);
    expect(await storedReferences(db)).toEqual([]);
  });

  it("the same writes commit with the session", async () => {
    await db.withSession(async () => {
      await db.dataSource.getRepository(Order).save(newOrder("c-injected"));
      await db.dataSource.manager.insert(Order, { reference: "c-manager" });
    });
    expect(await storedReferences(db)).toEqual(["c-injected", "c-manager"]);
  });

  it("dataSource.transaction() inside a session is a savepoint: its failure undoes only its own writes", async () => {
    await db.withSession(async (manager) => {
      await manager.save(newOrder("outer"));
      await db.dataSource
        .transaction(async (inner) => {
          await inner.save(newOrder("inner"));
          throw new Planned("inner fails");
        })
        .catch((error: unknown) => {
          if (!(error instanceof Planned)) throw error;
        });
      await db.dataSource.getRepository(Order).save(newOrder("after"));
    });
    expect(await storedReferences(db)).toEqual(["after", "outer"]);
  });

  it("outside a session, a repository of the DataSource commits on its own as before", async () => {
    await db.dataSource.getRepository(Order).save(newOrder("outside"));
    expect(await storedReferences(db)).toEqual(["outside"]);
  });

  it("another DataSource's repository is not taken into the session", async () => {
    const other = new DatabaseManager({
      url: dialect === "sqlite" ? urlFor("sqlite") : urlFor(dialect),
      entities: [Order],
    });
    await other.initialize();
    if (dialect === "sqlite") await other.reset({ confirm: true });
    try {
      const session = db.withSession(async () => {
        await db.dataSource.getRepository(Order).save(newOrder("mine"));
        await other.dataSource.getRepository(Order).save(newOrder("other-data-source"));
        throw new Planned("roll back mine");
      });
      await expect(session).rejects.toBeInstanceOf(Planned);
      expect(await storedReferences(other)).toContain("other-data-source");
      expect(await storedReferences(db)).not.toContain("mine");
    } finally {
      await other.close();
    }
  });

  it("code of a committed session's scope that runs later works on the pool", async () => {
    let later!: Promise<unknown>;
    await db.withSession(async (manager) => {
      await manager.save(newOrder("committed"));
      later = new Promise((resolve) => setTimeout(resolve, 30)).then(() =>
        db.dataSource.getRepository(Order).save(newOrder("later")),
      );
    });
    await later;
    expect(await storedReferences(db)).toEqual(["committed", "later"]);
  });

  it("in a session its server ended, a repository of the DataSource refuses with SessionAbortedError", async () => {
    if (dialect === "sqlite") return; // no server to end the connection (test/faults/session-loss.test.ts)
    const outcome = await db
      .withSession(async (manager) => {
        const sql = dialect === "postgres" ? "SELECT pg_terminate_backend(pg_backend_pid())" : "KILL CONNECTION_ID()";
        await manager.query(sql).catch(() => undefined);
        await db.dataSource.getRepository(Order).save(newOrder("after-loss"));
      })
      .catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(SessionAbortedError);
    expect(await storedReferences(db)).toEqual([]);
  });
});
