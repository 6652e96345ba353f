import { Column, Entity } from "typeorm";
import { type DatabaseManager, FullAuditModel, UniqueConstraintError, UniqueWhileActive } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

@Entity("accounts")
@UniqueWhileActive(["email"])
@UniqueWhileActive(["tenant", "handle"])
class Account extends FullAuditModel {
  @Column({ type: "varchar", length: 120 })
  email!: string;

  @Column({ type: "varchar", length: 40 })
  tenant!: string;

  @Column({ type: "varchar", length: 40 })
  handle!: string;
}

function account(email: string, tenant = "t1", handle = email.split("@")[0]!): Partial<Account> {
  return { email, tenant, handle };
}

async function liveWith(db: DatabaseManager, email: string): Promise<number> {
  const rows = await raw<{ n: unknown }>(
    db,
    "SELECT COUNT(*) AS n FROM accounts WHERE email = ? AND deleted_at IS NULL",
    [email],
  );
  return Number(rows[0]!.n);
}

describe.each(DIALECTS)("%s: @UniqueWhileActive", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Account]);
  });
  beforeEach(async () => {
    await raw(db, "DELETE FROM accounts");
  });
  afterAll(() => destroyTest(db));

  it("keeps TypeORM's schema diff empty after createTables()", async () => {
    await db.createTables();
    await db.createTables();
    expect((await db.dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
  });

  it("refuses a second live row with the same key, naming the entity and the properties", async () => {
    const repo = db.getRepository(Account);
    await repo.save(repo.create(account("a@x.io")));
    const attempt = repo.save(repo.create(account("a@x.io", "t2", "other")));
    await expect(attempt).rejects.toBeInstanceOf(UniqueConstraintError);
    const error = (await attempt.catch((e: unknown) => e)) as UniqueConstraintError;
    expect([error.entity, error.properties, error.index]).toEqual(["Account", ["email"], "uq_active_account_email"]);
    expect(error.message).toContain("Account: another live row already has this email");
    expect(await liveWith(db, "a@x.io")).toBe(1);
  });

  it("lets the key of a soft-deleted row be used again", async () => {
    const repo = db.getRepository(Account);
    const first = await repo.save(repo.create(account("b@x.io")));
    await repo.softRemove(first);
    const second = await repo.save(repo.create(account("b@x.io")));
    expect(second.id).not.toBe(first.id);
    expect(await liveWith(db, "b@x.io")).toBe(1);
  });

  it("refuses to restore a row whose key was taken meanwhile, and leaves it deleted", async () => {
    const repo = db.getRepository(Account);
    const first = await repo.save(repo.create(account("c@x.io")));
    await repo.softDelete({ id: first.id });
    await repo.save(repo.create(account("c@x.io")));
    await expect(repo.restore({ id: first.id })).rejects.toThrow(UniqueConstraintError);
    const rows = await raw<{ d: unknown }>(db, "SELECT deleted_at AS d FROM accounts WHERE id = ?", [first.id]);
    expect(rows[0]!.d).not.toBeNull();
  });

  it("holds composite keys: the same handle in another tenant is fine, in the same tenant refused", async () => {
    const repo = db.getRepository(Account);
    await repo.save(repo.create(account("d1@x.io", "t1", "dee")));
    await repo.save(repo.create(account("d2@x.io", "t2", "dee")));
    const attempt = repo.save(repo.create(account("d3@x.io", "t1", "dee")));
    await expect(attempt).rejects.toMatchObject({ name: "UniqueConstraintError", properties: ["tenant", "handle"] });
  });

  it("refuses duplicates on the bulk path too", async () => {
    await expect(db.insertMany(Account, [account("e@x.io"), account("e@x.io", "t2", "e2")])).rejects.toThrow(
      UniqueConstraintError,
    );
    expect(await liveWith(db, "e@x.io")).toBe(0);
  });

  it("two sessions creating the same key at once: exactly one wins", async () => {
    const results = await Promise.allSettled(
      ["f1", "f2"].map((handle) => db.withSession((m) => m.save(m.create(Account, account("f@x.io", "t1", handle))))),
    );
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(
      UniqueConstraintError,
    );
    expect(await liveWith(db, "f@x.io")).toBe(1);
  });

  it("the generated twin columns are neither loaded nor serialized", async () => {
    const repo = db.getRepository(Account);
    const saved = await repo.save(repo.create(account("g@x.io")));
    const loaded = await repo.findOneByOrFail({ id: saved.id });
    expect(Object.keys(loaded.toDict()).filter((k) => k.startsWith("__active"))).toEqual([]);
    const rows = await raw<{ a: unknown }>(db, "SELECT active_email AS a FROM accounts WHERE id = ?", [saved.id]);
    expect(rows[0]!.a).toBe("g@x.io");
  });
});
