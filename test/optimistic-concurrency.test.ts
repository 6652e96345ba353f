import {
  Column,
  Entity,
  VersionColumn,
  type EntitySubscriberInterface,
  type ObjectLiteral,
  type UpdateEvent,
} from "typeorm";
import {
  DatabaseManager,
  FullAuditModel,
  InvalidValueError,
  ModelSerializer,
  StaleEntityError,
  ValidationError,
} from "../src";
import { DIALECTS, destroyTest, initTest, raw, statementsOf, urlFor, type TestDialect } from "./support/dialects";

@Entity("versioned_invoices")
class Invoice extends FullAuditModel {
  @VersionColumn()
  version!: number;

  @Column({ name: "amount_cents", type: "int" })
  amountCents!: number;
}

async function stored(db: DatabaseManager, id: string): Promise<{ version: number; amount: number } | undefined> {
  const rows = await raw<{ version: unknown; amount: unknown }>(
    db,
    "SELECT version, amount_cents AS amount FROM versioned_invoices WHERE id = ?",
    [id],
  );
  return rows[0] === undefined ? undefined : { version: Number(rows[0].version), amount: Number(rows[0].amount) };
}

async function staleOf(work: Promise<unknown>): Promise<StaleEntityError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StaleEntityError);
  return error as StaleEntityError;
}

describe.each(DIALECTS)("%s: optimistic concurrency on @VersionColumn", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Invoice]);
  });
  beforeEach(async () => {
    await raw(db, "DELETE FROM versioned_invoices");
  });
  afterAll(() => destroyTest(db));

  async function created(amountCents = 100): Promise<Invoice> {
    const repo = db.getRepository(Invoice);
    return repo.save(repo.create({ amountCents }));
  }

  it("starts at 1 and bumps by exactly one per save, soft delete and restore", async () => {
    const repo = db.getRepository(Invoice);
    const invoice = await created();
    expect((await stored(db, invoice.id))!.version).toBe(1);
    invoice.amountCents = 200;
    await repo.save(invoice);
    expect(invoice.version).toBe(2);
    await repo.softRemove(invoice);
    expect((await stored(db, invoice.id))!.version).toBe(3);
    await repo.recover(invoice);
    expect((await stored(db, invoice.id))!.version).toBe(4);
    expect(invoice.version).toBe(4);
  });

  it("every insert path starts the row at version 1", async () => {
    const repo = db.getRepository(Invoice);
    const one = await db.insertOne(Invoice, { amountCents: 1 });
    const many = await db.insertMany(Invoice, [{ amountCents: 2 }, { amountCents: 3 }]);
    const inserted = await repo.insert({ amountCents: 4 });
    await repo.upsert({ id: "0190b0f2-7a51-7cc2-8f4a-8c7e0b5d2a10", amountCents: 5 }, ["id"]);
    const given = await db.insertOne(Invoice, { amountCents: 6, version: 1 });
    const ids = [
      one.id,
      ...many,
      String(inserted.identifiers[0]!["id"]),
      "0190b0f2-7a51-7cc2-8f4a-8c7e0b5d2a10",
      given.id,
    ];
    for (const id of ids) expect(await stored(db, id)).toMatchObject({ version: 1 });
    expect([one.version, given.version]).toEqual([1, 1]);
    // a new row claiming a history is refused before any SQL, by entity, property and value
    const count = (await raw(db, "SELECT id FROM versioned_invoices")).length;
    for (const work of [
      () => db.insertOne(Invoice, { amountCents: 7, version: 7 }),
      () => db.insertMany(Invoice, [{ amountCents: 8 }, { amountCents: 9, version: 0 }]),
    ]) {
      const error = await work().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidValueError);
      expect([(error as InvalidValueError).entity, (error as InvalidValueError).property]).toEqual([
        "Invoice",
        "version",
      ]);
      expect((error as Error).message).toMatch(/^Invoice\.version: a new row starts at version 1, got [07]/);
    }
    expect((await raw(db, "SELECT id FROM versioned_invoices")).length).toBe(count);
  });

  it("a second user's save of the same loaded version is refused, naming both versions; the first one's stays", async () => {
    const repo = db.getRepository(Invoice);
    const { id } = await created();
    const mine = await repo.findOneByOrFail({ id });
    const theirs = await repo.findOneByOrFail({ id });
    mine.amountCents = 150;
    await repo.save(mine);
    theirs.amountCents = 999;
    const error = await staleOf(repo.save(theirs));
    expect([error.entity, error.id, error.expectedVersion, error.actualVersion]).toEqual(["Invoice", id, 1, 2]);
    expect(error.message).toContain(`Invoice ${id}: changed since it was loaded`);
    expect(await stored(db, id)).toEqual({ version: 2, amount: 150 });
    // the refused entity is as the application left it
    expect([theirs.version, theirs.amountCents]).toEqual([1, 999]);
  });

  it("the check is in the UPDATE itself: a change between TypeORM's read and its write is still refused", async () => {
    const repo = db.getRepository(Invoice);
    const { id } = await created();
    const mine = await repo.findOneByOrFail({ id });
    mine.amountCents = 300;
    const loadedUpdatedAt = mine.updatedAt.getTime();
    // after save() has read the row (version 1) and before its UPDATE, the row moves on in the same transaction
    const mover: EntitySubscriberInterface = {
      async beforeUpdate(event: UpdateEvent<ObjectLiteral>) {
        if (event.metadata.target !== Invoice) return;
        await event.queryRunner.query(
          `UPDATE versioned_invoices SET version = version + 1 WHERE id = ${dialect === "postgres" ? "$1" : "?"}`,
          [id],
        );
      },
    };
    db.dataSource.subscribers.push(mover);
    let statements: string[];
    try {
      statements = await statementsOf(db, () => staleOf(repo.save(mine)));
    } finally {
      db.dataSource.subscribers.splice(db.dataSource.subscribers.indexOf(mover), 1);
    }
    const update = statements.find((s) => /^UPDATE/i.test(s) && /amount_cents/.test(s));
    expect(update).toMatch(/version\W* = /);
    // the save's transaction rolled back, the mover's UPDATE with it
    expect(await stored(db, id)).toEqual({ version: 1, amount: 100 });
    // and the entity is as the application left it, without the stamps the refused write had put on it
    expect([mine.version, mine.amountCents, mine.updatedAt.getTime()]).toEqual([1, 300, loadedUpdatedAt]);
  });

  it("remove() checks in its DELETE: a change between TypeORM's read and the DELETE keeps the row", async () => {
    const repo = db.getRepository(Invoice);
    const { id } = await created();
    const other = await created(5);
    const mine = await repo.findOneByOrFail({ id });
    const alsoMine = await repo.findOneByOrFail({ id: other.id });
    const mover: EntitySubscriberInterface = {
      async beforeRemove(event) {
        if (event.metadata.target !== Invoice || (event.entity as Invoice).id !== id) return;
        await event.queryRunner.query(
          `UPDATE versioned_invoices SET version = version + 1 WHERE id = ${dialect === "postgres" ? "$1" : "?"}`,
          [id],
        );
      },
    };
    db.dataSource.subscribers.push(mover);
    let statements: string[];
    try {
      statements = await statementsOf(db, async () => {
        const error = await staleOf(repo.remove([alsoMine, mine]));
        expect([error.id, error.expectedVersion, error.actualVersion]).toEqual([id, 1, 2]);
      });
    } finally {
      db.dataSource.subscribers.splice(db.dataSource.subscribers.indexOf(mover), 1);
    }
    expect(statements.filter((s) => /^DELETE/i.test(s)).every((s) => /version\W* = /.test(s))).toBe(true);
    // one transaction: neither row is gone, and the entities keep their ids
    expect(await stored(db, id)).toEqual({ version: 1, amount: 100 });
    expect(await stored(db, other.id)).toEqual({ version: 1, amount: 5 });
    expect([mine.id, alsoMine.id]).toEqual([id, other.id]);
    // a fresh one goes
    await repo.remove(await repo.findOneByOrFail({ id }));
    expect(await stored(db, id)).toBeUndefined();
  });

  it("two sessions saving at once lose no update: each that resolves bumped the version, a loser is stale", async () => {
    const { id } = await created();
    const results = await Promise.allSettled(
      [111, 222].map((amountCents) =>
        db.withSession(async (manager) => {
          const invoice = await manager.findOneByOrFail(Invoice, { id });
          invoice.amountCents = amountCents;
          await manager.save(invoice);
        }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    // SQLite serializes the two sessions: the second reads version 2 and saves cleanly
    if (dialect === "sqlite") expect(statuses).toEqual(["fulfilled", "fulfilled"]);
    else expect(statuses.filter((s) => s === "fulfilled").length).toBeGreaterThanOrEqual(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StaleEntityError);
    const row = (await stored(db, id))!;
    expect(row.version).toBe(1 + results.filter((r) => r.status === "fulfilled").length);
  });

  it("a read-modify-write counter from 20 concurrent workers on two managers, with retry and no locks, ends exact", async () => {
    const { id } = await created(0);
    // a second manager on the same database (on SQLite, the same file)
    const url = dialect === "sqlite" ? `sqlite:${String(db.dataSource.options.database)}` : urlFor(dialect);
    const other = new DatabaseManager({ url, entities: [Invoice] });
    await other.initialize();
    try {
      const increments = Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? db : other).withSession(
          async (manager) => {
            const invoice = await manager.findOneByOrFail(Invoice, { id });
            invoice.amountCents += 1;
            await manager.save(invoice);
          },
          { retry: { attempts: 100, baseDelayMs: 1 } },
        ),
      );
      await Promise.all(increments);
    } finally {
      await other.close();
    }
    expect(await stored(db, id)).toEqual({ version: 21, amount: 20 });
  });

  it("saving a loaded entity whose row was deleted meanwhile is refused instead of inserting it again", async () => {
    const repo = db.getRepository(Invoice);
    const { id } = await created();
    const mine = await repo.findOneByOrFail({ id });
    await raw(db, "DELETE FROM versioned_invoices WHERE id = ?", [id]);
    mine.amountCents = 1;
    const error = await staleOf(repo.save(mine));
    expect([error.expectedVersion, error.actualVersion]).toEqual([1, null]);
    expect(await stored(db, id)).toBeUndefined();
  });

  it("softRemove, recover and remove of a stale entity are refused and write nothing", async () => {
    const repo = db.getRepository(Invoice);
    const { id } = await created();
    const stale = await repo.findOneByOrFail({ id });
    const fresh = await repo.findOneByOrFail({ id });
    fresh.amountCents = 7;
    await repo.save(fresh);
    await staleOf(repo.softRemove(stale));
    expect(await stored(db, id)).toEqual({ version: 2, amount: 7 });
    await staleOf(repo.remove(stale));
    expect(await stored(db, id)).toEqual({ version: 2, amount: 7 });
    await repo.softRemove(fresh);
    const staleDeleted = await repo.findOneOrFail({ where: { id }, withDeleted: true });
    await repo.recover(fresh);
    await staleOf(repo.recover(staleDeleted));
    expect((await stored(db, id))!.version).toBe(4);
  });

  it("the PATCH flow: toDict carries the version; updateFromDict with the version read applies, with another refuses", async () => {
    const repo = db.getRepository(Invoice);
    const { id } = await created();
    const read = ModelSerializer.toDict(await repo.findOneByOrFail({ id }));
    expect(read["version"]).toBe(1);
    // the client sends back what it read, changed; meanwhile nobody wrote: it applies
    const current = await repo.findOneByOrFail({ id });
    await repo.save(ModelSerializer.updateFromDict(current, { ...read, amountCents: 250 }));
    expect(await stored(db, id)).toEqual({ version: 2, amount: 250 });
    // a second client still holding version 1 is refused before anything is applied
    const latest = await repo.findOneByOrFail({ id });
    const error = await staleOf(
      Promise.resolve().then(() => ModelSerializer.updateFromDict(latest, { amountCents: 1, version: 1 })),
    );
    expect([error.entity, error.id, error.expectedVersion, error.actualVersion]).toEqual(["Invoice", id, 1, 2]);
    expect([latest.amountCents, latest.version]).toEqual([250, 2]);
    // also when other keys have issues: the stale version is the answer that matters
    await staleOf(Promise.resolve().then(() => ModelSerializer.updateFromDict(latest, { version: 0, nope: 1 })));
    await staleOf(
      Promise.resolve().then(() => ModelSerializer.updateFromDict(latest, { version: 9 }, { protectedKeys: "ignore" })),
    );
    // a version that is not an integer is a validation issue
    for (const version of ["2", 2.5, null, true]) {
      const invalid = await Promise.resolve()
        .then(() => ModelSerializer.updateFromDict(latest, { version }))
        .catch((e: unknown) => e);
      expect(invalid).toBeInstanceOf(ValidationError);
      expect((invalid as ValidationError).issues.map((i) => [i.path, i.code])).toEqual([["version", "invalid_type"]]);
    }
    expect(await stored(db, id)).toEqual({ version: 2, amount: 250 });
  });

  it("criteria updates keep TypeORM's meaning: no check, version bumped", async () => {
    const repo = db.getRepository(Invoice);
    const { id } = await created();
    await repo.update({ id }, { amountCents: 42 });
    await repo.update({ id }, { amountCents: 43 });
    expect(await stored(db, id)).toEqual({ version: 3, amount: 43 });
  });
});
