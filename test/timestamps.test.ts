import { Column, Entity, VersionColumn, type EntitySubscriberInterface } from "typeorm";
import { FullAuditModel, type DatabaseManager } from "../src";
import {
  DIALECTS,
  destroyTest,
  initTest,
  raw,
  statementsOf,
  storedInstants,
  type TestDialect,
} from "./support/dialects";
import { Order, newOrder } from "./support/entities";

/**
 * A model with a version column: TypeORM reloads it after an update; the library's version-checked update knows it
 * (the version it required, plus one).
 */
@Entity("versioned_notes")
class VersionedNote extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  text!: string;

  @VersionColumn()
  version!: number;
}

/** The test database's own default zone before this file moved it (the PgBouncer run gives it Asia/Kolkata). */
async function databaseZone(db: DatabaseManager): Promise<string | null> {
  if (db.dialect !== "postgres") return null;
  const rows = await raw<{ s: string | null }>(
    db,
    "SELECT (SELECT substr(c, 10) FROM unnest(setconfig) AS c WHERE c LIKE 'TimeZone=%') AS s FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND setrole = 0",
  );
  return rows[0]?.s ?? null;
}

async function setServerZone(db: DatabaseManager, zone: string | null): Promise<void> {
  if (db.dialect === "postgres") {
    const database = (await raw<{ d: string }>(db, "SELECT current_database() AS d"))[0]!.d;
    await raw(
      db,
      zone ? `ALTER DATABASE "${database}" SET timezone TO '${zone}'` : `ALTER DATABASE "${database}" RESET timezone`,
    );
  } else if (db.dialect === "mariadb" || db.dialect === "mysql") {
    await raw(db, `SET GLOBAL time_zone = '${zone ?? "SYSTEM"}'`);
  }
}

describe.each(DIALECTS)("%s: timestamps are instants", (dialect: TestDialect) => {
  let db: DatabaseManager;
  let previousZone: string | null = null;
  // The process zone is Asia/Kolkata (jest.config.js); the server's default zone is moved to -07:00 here.
  beforeAll(async () => {
    const setup = await initTest(dialect, [Order, VersionedNote]);
    previousZone = await databaseZone(setup);
    await setServerZone(setup, "-07:00");
    await setup.close();
    // a fresh pool, so every connection is opened under the server's new default zone
    db = await initTest(dialect, [Order, VersionedNote]);
  });

  afterAll(async () => {
    await setServerZone(db, previousZone);
    await destroyTest(db);
  });

  it("runs with the process zone and the server zone both away from UTC", async () => {
    expect(new Date(Date.UTC(2024, 0, 1)).getTimezoneOffset()).toBe(-330);
    if (dialect === "postgres") {
      const database = (await raw<{ d: string }>(db, "SELECT current_database() AS d"))[0]!.d;
      const settings = await raw<{ s: string }>(
        db,
        "SELECT array_to_string(setconfig, ',') AS s FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = ?)",
        [database],
      );
      expect(settings[0]?.s).toBe("TimeZone=-07:00");
    } else if (dialect === "mariadb") {
      expect((await raw<{ z: string }>(db, "SELECT @@global.time_zone AS z"))[0]!.z).toBe("-07:00");
    }
  });

  it("stores an explicit instant exactly, milliseconds included", async () => {
    const order = newOrder();
    order.createdAt = new Date("2024-02-29T23:59:59.987Z");
    await db.getRepository(Order).save(order);
    const stored = await storedInstants(db, "orders", order.id);
    expect(stored.created).toBe(Date.parse("2024-02-29T23:59:59.987Z"));
    const loaded = await db.getRepository(Order).findOneByOrFail({ id: order.id });
    expect(loaded.createdAt.toISOString()).toBe("2024-02-29T23:59:59.987Z");
  });

  it("save() of a new row stamps created_at and updated_at with the application clock", async () => {
    const before = Date.now();
    const order = await db.getRepository(Order).save(newOrder());
    const after = Date.now();
    const stored = await storedInstants(db, "orders", order.id);
    expect(stored.created).toBe(order.createdAt.getTime());
    expect(stored.updated).toBe(order.updatedAt.getTime());
    expect(stored.updated).toBe(stored.created);
    expect(stored.created).toBeGreaterThanOrEqual(before);
    expect(stored.created).toBeLessThanOrEqual(after);
    const loaded = await db.getRepository(Order).findOneByOrFail({ id: order.id });
    expect(loaded.createdAt.getTime()).toBe(stored.created);
  });

  it.each(["insert", "upsert"] as const)(
    "%s() of a new row stamps created_at and updated_at with one instant, an app subscriber's work between",
    async (path) => {
      // an app's own subscriber, called before the library's, that takes a few milliseconds: the upsert stamps
      // updated_at before TypeORM builds its statement, the insert fills created_at after it
      const slow: EntitySubscriberInterface = {
        beforeInsert: () => {
          const until = Date.now() + 5;
          while (Date.now() < until);
        },
      };
      db.dataSource.subscribers.unshift(slow);
      const before = Date.now();
      const reference = `${path}-new`;
      try {
        if (path === "insert") await db.getRepository(Order).insert({ reference });
        else await db.getRepository(Order).upsert({ reference }, ["id"]);
      } finally {
        db.dataSource.subscribers.splice(db.dataSource.subscribers.indexOf(slow), 1);
      }
      const rows = await raw<{ id: string }>(db, "SELECT id FROM orders WHERE reference = ?", [reference]);
      expect(rows).toHaveLength(1);
      const stored = await storedInstants(db, "orders", rows[0]!.id);
      expect(stored.created).toBe(stored.updated);
      expect(stored.created).toBeGreaterThanOrEqual(before);
    },
  );

  it("save() of a changed row moves updated_at and keeps created_at", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    const createdAt = order.createdAt.getTime();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const before = Date.now();
    order.reference = "changed";
    await db.getRepository(Order).save(order);
    const after = Date.now();
    const stored = await storedInstants(db, "orders", order.id);
    expect(stored.created).toBe(createdAt);
    expect(stored.updated).toBeGreaterThanOrEqual(before);
    expect(stored.updated).toBeLessThanOrEqual(after);
    expect(order.updatedAt.getTime()).toBe(stored.updated);
  });

  /** The UPDATE among `statements`, and whether anything after it read the row back. */
  function updateAndReload(statements: string[]): { update: string; reloaded: boolean } {
    const at = statements.findIndex((sql) => /^UPDATE/i.test(sql));
    expect(at).toBeGreaterThanOrEqual(0);
    const update = statements[at]!;
    return {
      update,
      reloaded: / RETURNING /i.test(update) || statements.slice(at + 1).some((sql) => /^SELECT/i.test(sql)),
    };
  }

  it("save() of a loaded, changed row reads nothing back after its UPDATE: the instant it wrote is known", async () => {
    const { id } = await db.getRepository(Order).save(newOrder());
    const loaded = await db.getRepository(Order).findOneByOrFail({ id });
    await new Promise((resolve) => setTimeout(resolve, 5));
    loaded.reference = "changed again";
    const statements = await statementsOf(db, () => db.getRepository(Order).save(loaded));
    // neither a SELECT after it (SQLite, MariaDB) nor a RETURNING on it (PostgreSQL)
    expect(updateAndReload(statements).reloaded).toBe(false);
    const stored = await storedInstants(db, "orders", id);
    expect(loaded.updatedAt.getTime()).toBe(stored.updated);
    expect(loaded.isDeleted).toBe(false);
  });

  it("save() of a loaded row given deleted_at sets is_deleted on the entity as the database computes it", async () => {
    const { id } = await db.getRepository(Order).save(newOrder());
    const loaded = await db.getRepository(Order).findOneByOrFail({ id });
    loaded.deletedAt = new Date("2025-03-04T05:06:07.089Z");
    const statements = await statementsOf(db, () => db.getRepository(Order).save(loaded));
    expect(updateAndReload(statements).reloaded).toBe(false);
    const stored = await storedInstants(db, "orders", id);
    expect(stored.deleted).toBe(Date.parse("2025-03-04T05:06:07.089Z"));
    expect(stored.isDeleted).toBe(true);
    expect(loaded.isDeleted).toBe(true);
    expect(loaded.updatedAt.getTime()).toBe(stored.updated);
    loaded.deletedAt = null;
    await db.getRepository(Order).save(loaded);
    expect((await storedInstants(db, "orders", id)).isDeleted).toBe(false);
    expect(loaded.isDeleted).toBe(false);
  });

  it("save() of a soft-deleted row loaded with withDeleted keeps is_deleted true on the entity", async () => {
    const { id } = await db.getRepository(Order).save(newOrder());
    await db.getRepository(Order).softDelete({ id });
    const loaded = await db.getRepository(Order).findOneOrFail({ where: { id }, withDeleted: true });
    expect(loaded.isDeleted).toBe(true);
    loaded.reference = "edited while deleted";
    const statements = await statementsOf(db, () => db.getRepository(Order).save(loaded));
    expect(updateAndReload(statements).reloaded).toBe(false);
    expect(loaded.isDeleted).toBe(true);
    const stored = await storedInstants(db, "orders", id);
    expect(stored.isDeleted).toBe(true);
    expect(loaded.updatedAt.getTime()).toBe(stored.updated);
  });

  it("save() of a loaded row given its own updated_at stores that instant, and TypeORM's reload stays", async () => {
    const { id } = await db.getRepository(Order).save(newOrder());
    const loaded = await db.getRepository(Order).findOneByOrFail({ id });
    loaded.reference = "dated";
    loaded.updatedAt = new Date("2031-07-08T09:10:11.012Z");
    const statements = await statementsOf(db, () => db.getRepository(Order).save(loaded));
    // the instant is the caller's, not the application clock's: not known to the library, so TypeORM reloads it
    expect(updateAndReload(statements).reloaded).toBe(true);
    const stored = await storedInstants(db, "orders", id);
    expect(stored.updated).toBe(Date.parse("2031-07-08T09:10:11.012Z"));
    expect(loaded.updatedAt.toISOString()).toBe("2031-07-08T09:10:11.012Z");
  });

  it("save() of a loaded row with a version column gets the new version without a reload (the check knows it)", async () => {
    const { id } = await db.getRepository(VersionedNote).save(Object.assign(new VersionedNote(), { text: "a" }));
    const loaded = await db.getRepository(VersionedNote).findOneByOrFail({ id });
    expect(loaded.version).toBe(1);
    loaded.text = "b";
    const statements = await statementsOf(db, () => db.getRepository(VersionedNote).save(loaded));
    expect(updateAndReload(statements).reloaded).toBe(false);
    expect(loaded.version).toBe(2);
    const stored = await storedInstants(db, "versioned_notes", id);
    expect(loaded.updatedAt.getTime()).toBe(stored.updated);
    const rows = await raw<{ v: unknown }>(db, "SELECT version AS v FROM versioned_notes WHERE id = ?", [id]);
    expect(Number(rows[0]!.v)).toBe(2);
  });

  it.each([
    [
      "repository.update()",
      (db: DatabaseManager, id: string) => db.getRepository(Order).update({ id }, { reference: "u" }),
    ],
    [
      "a QueryBuilder update",
      (db: DatabaseManager, id: string) =>
        db
          .getRepository(Order)
          .createQueryBuilder()
          .update()
          .set({ reference: "qb" })
          .where("id = :id", { id })
          .execute(),
    ],
  ])("%s sets updated_at to the application clock with milliseconds", async (_name, update) => {
    const order = await db.getRepository(Order).save(newOrder());
    await new Promise((resolve) => setTimeout(resolve, 5));
    const before = Date.now();
    await update(db, order.id);
    const after = Date.now();
    const stored = await storedInstants(db, "orders", order.id);
    expect(stored.created).toBe(order.createdAt.getTime());
    expect(stored.updated).toBeGreaterThanOrEqual(before);
    expect(stored.updated).toBeLessThanOrEqual(after);
    const loaded = await db.getRepository(Order).findOneByOrFail({ id: order.id });
    expect(loaded.updatedAt.getTime()).toBe(stored.updated);
  });

  it.each([
    ["softRemove", async (db: DatabaseManager, order: Order) => void (await db.getRepository(Order).softRemove(order))],
    [
      "softDelete",
      async (db: DatabaseManager, order: Order) => void (await db.getRepository(Order).softDelete({ id: order.id })),
    ],
  ])("%s stamps deleted_at and updated_at with the application clock", async (_name, remove) => {
    const order = await db.getRepository(Order).save(newOrder());
    await new Promise((resolve) => setTimeout(resolve, 5));
    const before = Date.now();
    await remove(db, order);
    const after = Date.now();
    const stored = await storedInstants(db, "orders", order.id);
    expect(stored.deleted).not.toBeNull();
    expect(stored.deleted!).toBeGreaterThanOrEqual(before);
    expect(stored.deleted!).toBeLessThanOrEqual(after);
    expect(stored.updated).toBe(stored.deleted);
    const loaded = await db.getRepository(Order).findOneOrFail({ where: { id: order.id }, withDeleted: true });
    expect(loaded.deletedAt?.getTime()).toBe(stored.deleted);
  });

  it("restore clears deleted_at and stamps updated_at with the application clock", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    await db.getRepository(Order).softDelete({ id: order.id });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const before = Date.now();
    await db.getRepository(Order).restore({ id: order.id });
    const after = Date.now();
    const stored = await storedInstants(db, "orders", order.id);
    expect(stored.deleted).toBeNull();
    expect(stored.updated).toBeGreaterThanOrEqual(before);
    expect(stored.updated).toBeLessThanOrEqual(after);
  });
});
