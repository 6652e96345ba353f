import { Column, Entity, JoinColumn, ManyToOne } from "typeorm";
import { ConfigurationError, DatabaseManager, FullAuditModel, SnakeNamingStrategy } from "../src";
import { DIALECTS, urlFor, type TestDialect } from "./support/dialects";
import { Order } from "./support/entities";

@Entity()
class ShopCustomer extends FullAuditModel {
  @Column({ type: "varchar", length: 80 })
  firstName!: string;

  @Column({ type: "varchar", length: 80, name: "surname" })
  lastName!: string;
}

@Entity()
class ShopOrder extends FullAuditModel {
  @Column({ type: "integer" })
  totalCents!: number;

  @ManyToOne(() => ShopCustomer, { nullable: true })
  billingCustomer!: ShopCustomer | null;

  @ManyToOne(() => ShopCustomer, { nullable: true })
  @JoinColumn({ name: "shipTo" })
  shippingCustomer!: ShopCustomer | null;
}

describe.each(DIALECTS)("%s: SnakeNamingStrategy from the URL config", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = new DatabaseManager({
      url: urlFor(dialect),
      entities: [ShopCustomer, ShopOrder],
      namingStrategy: new SnakeNamingStrategy(),
    });
    await db.initialize();
    await db.reset({ confirm: true });
  });
  afterAll(() => db.close());

  it("gives the application's columns and tables snake_case names and keeps the base model's and explicit ones", async () => {
    const queryRunner = db.dataSource.createQueryRunner();
    try {
      const customer = await queryRunner.getTable("shop_customer");
      const order = await queryRunner.getTable("shop_order");
      expect(customer?.columns.map((c) => c.name).sort()).toEqual([
        "created_at",
        "created_by",
        "deleted_at",
        "first_name",
        "id",
        "is_deleted",
        "metadata_json",
        "surname",
        "tags",
        "updated_at",
        "updated_by",
      ]);
      expect(order?.columns.map((c) => c.name)).toEqual(
        expect.arrayContaining(["total_cents", "billing_customer_id", "shipTo"]),
      );
    } finally {
      await queryRunner.release();
    }
  });

  it("saves and loads through the renamed columns", async () => {
    const customer = await db.getRepository(ShopCustomer).save({ firstName: "Ada", lastName: "Lovelace" });
    const saved = await db.getRepository(ShopOrder).save({ totalCents: 1250, billingCustomer: customer });
    const loaded = await db
      .getRepository(ShopOrder)
      .findOneOrFail({ where: { id: saved.id }, relations: { billingCustomer: true } });
    expect([loaded.totalCents, loaded.billingCustomer?.firstName, loaded.isDeleted]).toEqual([1250, "Ada", false]);
    const rows = (await db.dataSource.query(
      `SELECT first_name FROM shop_customer WHERE id = ${dialect === "postgres" ? "$1" : "?"}`,
      [customer.id],
    )) as { first_name: string }[];
    expect(rows).toEqual([{ first_name: "Ada" }]);
  });
});

describe.each(DIALECTS)("%s: an entity the manager was not given", (dialect: TestDialect) => {
  it("getRepository() says which entity and what to do, in a ConfigurationError", async () => {
    const db = new DatabaseManager({ url: urlFor(dialect), entities: [Order] });
    await db.initialize();
    try {
      expect(() => db.getRepository(ShopCustomer)).toThrow(ConfigurationError);
      expect(() => db.getRepository(ShopCustomer)).toThrow(
        /ShopCustomer is not one of this DatabaseManager's entities: add it to the entities list/,
      );
    } finally {
      await db.close();
    }
  });
});
