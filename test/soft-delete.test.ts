import { type DatabaseManager } from "../src";
import { DIALECTS, destroyTest, initTest, raw, storedInstants, type TestDialect } from "./support/dialects";
import { Order, newOrder } from "./support/entities";

describe.each(DIALECTS)("%s: soft delete keeps is_deleted in step with deleted_at", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Order]);
  });
  afterAll(() => destroyTest(db));

  async function expectStored(id: string, deleted: boolean): Promise<void> {
    const stored = await storedInstants(db, "orders", id);
    expect(stored.isDeleted).toBe(deleted);
    expect(stored.deleted !== null).toBe(deleted);
  }

  it("a new row is stored live", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    await expectStored(order.id, false);
    expect(order.isDeleted).toBe(false);
    expect(order.deletedAt).toBeNull();
  });

  it("softRemove marks the row and the entity", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    await db.getRepository(Order).softRemove(order);
    await expectStored(order.id, true);
    expect(order.isDeleted).toBe(true);
    expect(order.deletedAt).toBeInstanceOf(Date);
  });

  it("recover brings back a softRemoved row", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    await db.getRepository(Order).softRemove(order);
    await db.getRepository(Order).recover(order);
    await expectStored(order.id, false);
    expect(order.isDeleted).toBe(false);
    expect(order.deletedAt).toBeNull();
  });

  it("softDelete and restore by criteria", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    await db.getRepository(Order).softDelete({ id: order.id });
    await expectStored(order.id, true);
    await db.getRepository(Order).restore({ id: order.id });
    await expectStored(order.id, false);
  });

  it("a QueryBuilder soft delete and restore", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    await db.getRepository(Order).createQueryBuilder().softDelete().where("id = :id", { id: order.id }).execute();
    await expectStored(order.id, true);
    await db.getRepository(Order).createQueryBuilder().restore().where("id = :id", { id: order.id }).execute();
    await expectStored(order.id, false);
  });

  it("a raw UPDATE of deleted_at by another program keeps is_deleted in step too", async () => {
    const order = await db.getRepository(Order).save(newOrder());
    await raw(db, "UPDATE orders SET deleted_at = updated_at WHERE id = ?", [order.id]);
    await expectStored(order.id, true);
  });

  it("default finds hide deleted rows and withDeleted shows them", async () => {
    const live = await db.getRepository(Order).save(newOrder("live"));
    const gone = await db.getRepository(Order).save(newOrder("gone"));
    await db.getRepository(Order).softRemove(gone);
    const ids = [live.id, gone.id];
    const visible = await db.getRepository(Order).createQueryBuilder("o").where("o.id IN (:...ids)", { ids }).getMany();
    expect(visible.map((o) => o.id)).toEqual([live.id]);
    expect(await db.getRepository(Order).findOneBy({ id: gone.id })).toBeNull();
    const all = await db
      .getRepository(Order)
      .find({ where: ids.map((id) => ({ id })), withDeleted: true, order: { reference: "ASC" } });
    expect(all.map((o) => [o.reference, o.isDeleted])).toEqual([
      ["gone", true],
      ["live", false],
    ]);
  });

  it("is_deleted cannot be written by the application", async () => {
    const order = newOrder();
    order.isDeleted = true;
    await db.getRepository(Order).save(order);
    await expectStored(order.id, false);
  });
});
