import { AuditContext, type DatabaseManager, InvalidActorError } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";

async function actors(db: DatabaseManager, id: string): Promise<[unknown, unknown]> {
  const rows = await raw<{ c: unknown; u: unknown }>(
    db,
    "SELECT created_by AS c, updated_by AS u FROM orders WHERE id = ?",
    [id],
  );
  return [rows[0]!.c, rows[0]!.u];
}

describe("AuditContext", () => {
  it("carries the actor through awaits and timers, and only inside run()", async () => {
    expect(AuditContext.currentActor()).toBeUndefined();
    const seen = await AuditContext.run("alice", async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return Promise.resolve().then(() => AuditContext.currentActor());
    });
    expect(seen).toBe("alice");
    expect(AuditContext.currentActor()).toBeUndefined();
  });

  it.each(["", "x".repeat(256), "a\u0000b"])("refuses the actor %j with a typed error", (actor) => {
    expect(() => AuditContext.run(actor, () => 1)).toThrow(InvalidActorError);
  });

  it("middleware runs the rest of a request as the actor its function names", async () => {
    const middleware = AuditContext.middleware((request: { user?: { id: string } }) => request.user?.id);
    const seen = await new Promise((resolve) =>
      middleware({ user: { id: "u-7" } }, {}, () => void setTimeout(() => resolve(AuditContext.currentActor()), 1)),
    );
    expect(seen).toBe("u-7");
    const anonymous = await new Promise((resolve) => middleware({}, {}, () => resolve(AuditContext.currentActor())));
    expect(anonymous).toBeUndefined();
  });
});

describe.each(DIALECTS)("%s: created_by and updated_by fill themselves", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));

  it("outside a context nothing is invented", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    expect(await actors(db, order.id)).toEqual([null, null]);
  });

  it("save(): an insert sets both, a later update sets updated_by only", async () => {
    const order = await AuditContext.run("alice", () => db.getRepository(Order).save(newOrder()));
    expect(await actors(db, order.id)).toEqual(["alice", "alice"]);
    order.reference = "changed";
    await AuditContext.run("bob", () => db.getRepository(Order).save(order));
    expect(await actors(db, order.id)).toEqual(["alice", "bob"]);
    expect(order.audit.updatedBy).toBe("bob");
  });

  it("a value the application set explicitly wins", async () => {
    const order = newOrder();
    order.audit.createdBy = "importer";
    order.audit.updatedBy = null;
    await AuditContext.run("alice", () => db.getRepository(Order).save(order));
    expect(await actors(db, order.id)).toEqual(["importer", null]);
    await AuditContext.run("alice", () =>
      db.getRepository(Order).update({ id: order.id }, { audit: { updatedBy: "batch" } }),
    );
    expect(await actors(db, order.id)).toEqual(["importer", "batch"]);
  });

  it("repository.insert, QueryBuilder insert and insertOne / insertMany set both", async () => {
    const repo = db.getRepository(Order);
    const inserted = await AuditContext.run("carol", () => repo.insert({ reference: "i" }));
    const built = await AuditContext.run("carol", () =>
      repo.createQueryBuilder().insert().values({ reference: "qb" }).execute(),
    );
    const one = await AuditContext.run("carol", () => db.insertOne(Order, { reference: "one" }));
    const many = await AuditContext.run("carol", () =>
      db.insertMany(Order, [{ reference: "m1" }, { reference: "m2" }]),
    );
    const ids = [inserted.identifiers[0]!["id"] as string, built.identifiers[0]!["id"] as string, one.id, ...many];
    for (const id of ids) expect([id, ...(await actors(db, id))]).toEqual([id, "carol", "carol"]);
    expect(one.audit).toEqual({ createdBy: "carol", updatedBy: "carol" });
  });

  it("upsert inserting a new row sets both", async () => {
    await AuditContext.run("dave", () => db.getRepository(Order).upsert({ reference: "u" }, ["id"]));
    const rows = await raw<{ c: unknown; u: unknown }>(
      db,
      "SELECT created_by AS c, updated_by AS u FROM orders WHERE reference = 'u'",
    );
    expect(rows.map((r) => [r.c, r.u])).toEqual([["dave", "dave"]]);
  });

  it("repository.update and a QueryBuilder update set updated_by and leave created_by", async () => {
    const order = await AuditContext.run("alice", () => db.getRepository(Order).save(newOrder()));
    await AuditContext.run("erin", () => db.getRepository(Order).update({ id: order.id }, { reference: "u1" }));
    expect(await actors(db, order.id)).toEqual(["alice", "erin"]);
    await AuditContext.run("frank", () =>
      db
        .getRepository(Order)
        .createQueryBuilder()
        .update()
        .set({ reference: "u2" })
        .where("id = :id", { id: order.id })
        .execute(),
    );
    expect(await actors(db, order.id)).toEqual(["alice", "frank"]);
  });

  it("softRemove, softDelete, restore and recover set updated_by", async () => {
    const repo = db.getRepository(Order);
    const order = await AuditContext.run("alice", () => repo.save(newOrder()));
    await AuditContext.run("gina", () => repo.softRemove(order));
    expect(await actors(db, order.id)).toEqual(["alice", "gina"]);
    expect(order.audit.updatedBy).toBe("gina");
    await AuditContext.run("hank", () => repo.recover(order));
    expect(await actors(db, order.id)).toEqual(["alice", "hank"]);
    await AuditContext.run("o'brien \\ x", () => repo.softDelete({ id: order.id }));
    expect(await actors(db, order.id)).toEqual(["alice", "o'brien \\ x"]);
    await AuditContext.run("ivy", () => repo.restore({ id: order.id }));
    expect(await actors(db, order.id)).toEqual(["alice", "ivy"]);
    // `$&` and `$'` mean something to String.replace: the id is stored as it is
    await AuditContext.run("jo$&$'$$", () => repo.softDelete({ id: order.id }));
    expect(await actors(db, order.id)).toEqual(["alice", "jo$&$'$$"]);
  });
});

describe.each(DIALECTS)("%s: upsert updating an existing row", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));

  it("sets updated_by and updated_at, and leaves created_by and created_at", async () => {
    const order = await AuditContext.run("alice", () => db.getRepository(Order).save(newOrder("before")));
    const createdAt = order.createdAt.getTime();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const before = Date.now();
    await AuditContext.run("zed", () => db.getRepository(Order).upsert({ id: order.id, reference: "after" }, ["id"]));
    expect(await actors(db, order.id)).toEqual(["alice", "zed"]);
    const loaded = await db.getRepository(Order).findOneByOrFail({ id: order.id });
    expect([loaded.reference, loaded.createdAt.getTime()]).toEqual(["after", createdAt]);
    expect(loaded.updatedAt.getTime()).toBeGreaterThanOrEqual(before);
  });
});
