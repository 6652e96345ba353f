import { instanceToPlain } from "class-transformer";
import { type DatabaseManager, ModelSerializer, type Dict } from "../src";
import { DIALECTS, destroyTest, initTest, type TestDialect } from "./support/dialects";
import { Customer, Invoice, InvoiceLine, SHOP_ENTITIES } from "./support/shop-entities";

const viaClassTransformer = (value: object, groups?: string[]): unknown =>
  JSON.parse(JSON.stringify(instanceToPlain(value, groups ? { groups } : undefined)));

async function seed(db: DatabaseManager): Promise<Invoice> {
  return db.withSession(async (manager) => {
    const customer = manager.create(Customer, {
      email: "Ada@Example.COM",
      passwordHash: "secret-hash",
      internalNote: "pays late",
      loyaltyPoints: 120,
      isVip: true,
    });
    customer.audit.createdBy = "clerk-7";
    customer.metadata.json = { segment: "b2b", scores: [1, 2.5, null] };
    customer.metadata.tags = "vip,early";
    await manager.save(customer);
    const invoice = manager.create(Invoice, {
      number: "INV-1",
      issuedAt: new Date("2025-01-31T23:59:59.999Z"),
      billing: { street: "Main 1", zip: "00-950", vat: "42" },
      customer,
    });
    await manager.save(invoice);
    for (const [label, price] of [
      ["Teapot", 1999],
      ["Cup", 450],
    ] as const) {
      await manager.save(manager.create(InvoiceLine, { label, price, quantity: 2, invoice }));
    }
    return invoice;
  });
}

describe.each(DIALECTS)("%s: ModelSerializer on loaded entities", (dialect: TestDialect) => {
  let db: DatabaseManager;
  let invoiceId: string;

  beforeAll(async () => {
    db = await initTest(dialect, SHOP_ENTITIES);
    invoiceId = (await seed(db)).id;
  });
  afterAll(() => destroyTest(db));

  const load = () =>
    db.getRepository(Invoice).findOneOrFail({
      where: { id: invoiceId },
      relations: { customer: true, lines: true },
      order: { lines: { price: "DESC" } },
    });

  it("toDict equals JSON.parse(JSON.stringify(instanceToPlain(entity))) for a graph with relations", async () => {
    const invoice = await load();
    expect(ModelSerializer.toDict(invoice)).toStrictEqual(viaClassTransformer(invoice));
    expect(ModelSerializer.toDict(invoice, { groups: ["admin"] })).toStrictEqual(
      viaClassTransformer(invoice, ["admin"]),
    );
    expect(ModelSerializer.bulkToDict([invoice, invoice.customer!])).toStrictEqual([
      viaClassTransformer(invoice),
      viaClassTransformer(invoice.customer!),
    ]);
  });

  it("gives ISO 8601 UTC instants with milliseconds, nested audit and metadata, SmartJSON as it is", async () => {
    const dict = (await load()).toDict();
    expect(dict["issuedAt"]).toBe("2025-01-31T23:59:59.999Z");
    expect(dict["createdAt"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(dict["deletedAt"]).toBeNull();
    expect(dict["isDeleted"]).toBe(false);
    expect(dict["billing"]).toStrictEqual({ street: "Main 1", zip: "00-950", vat: "42" });
    const customer = dict["customer"] as Dict;
    expect(customer["audit"]).toStrictEqual({ createdBy: "clerk-7", updatedBy: null });
    expect(customer["metadata"]).toStrictEqual({ json: { segment: "b2b", scores: [1, 2.5, null] }, tags: "vip,early" });
  });

  it("honours @Exclude, @Expose with groups and @Transform", async () => {
    const customer = (await load()).customer!;
    const plain = ModelSerializer.toDict(customer);
    expect(plain).not.toHaveProperty("passwordHash");
    expect(plain).not.toHaveProperty("internalNote");
    expect(plain["email"]).toBe("ada@example.com");
    expect(ModelSerializer.toDict(customer, { groups: ["admin"] })["internalNote"]).toBe("pays late");
  });

  it("includes loaded relations recursively and leaves out relations that were not loaded", async () => {
    const full = (await load()).toDict();
    expect((full["lines"] as Dict[]).map((l) => [l["label"], l["price"]])).toEqual([
      ["Teapot", 1999],
      ["Cup", 450],
    ]);
    expect(full["customer"]).toHaveProperty("email");
    expect(full["customer"]).not.toHaveProperty("invoices");
    const bare = (await db.getRepository(Invoice).findOneByOrFail({ id: invoiceId })).toDict();
    expect(bare).not.toHaveProperty("customer");
    expect(bare).not.toHaveProperty("lines");
  });

  it("cuts cycles: an entity already on the current path appears as its id", async () => {
    const invoice = await load();
    invoice.customer!.invoices = [invoice];
    for (const line of invoice.lines!) line.invoice = invoice;
    const dict = invoice.toDict();
    const customer = dict["customer"] as Dict;
    expect(customer["invoices"]).toStrictEqual([{ id: invoice.id }]);
    expect((dict["lines"] as Dict[])[0]!["invoice"]).toStrictEqual({ id: invoice.id });
  });

  it("excludes property paths, through embedded objects and arrays of relations", async () => {
    const dict = ModelSerializer.toDict(await load(), {
      exclude: ["audit", "metadata.json", "lines.price", "customer.metadata"],
    });
    expect(dict).not.toHaveProperty("audit");
    expect(dict["metadata"]).toStrictEqual({ tags: null });
    expect((dict["lines"] as Dict[]).every((l) => !("price" in l) && "label" in l)).toBe(true);
    expect(dict["customer"]).not.toHaveProperty("metadata");
    expect(dict["customer"]).toHaveProperty("audit");
  });

  it("round trip: fromDict(Entity, toDict(e)) serializes back to exactly toDict(e)", async () => {
    const invoice = await load();
    const dict = ModelSerializer.toDict(invoice, { groups: ["admin"] });
    const rebuilt = ModelSerializer.fromDict(Invoice, dict, { protectedKeys: "accept" });
    expect(rebuilt).toBeInstanceOf(Invoice);
    expect(rebuilt.customer).toBeInstanceOf(Customer);
    expect(rebuilt.lines![0]).toBeInstanceOf(InvoiceLine);
    expect(rebuilt.issuedAt).toBeInstanceOf(Date);
    expect(ModelSerializer.toDict(rebuilt, { groups: ["admin"] })).toStrictEqual(dict);
  });

  it("a fromDict entity with a relation reference saves on this database", async () => {
    const customer = (await load()).customer!;
    const invoice = ModelSerializer.fromDict(Invoice, {
      number: "INV-2",
      billing: [1, "2"],
      customer: { id: customer.id.toUpperCase() },
      issuedAt: "2025-06-01T10:00:00.5+02:00",
    });
    await db.getRepository(Invoice).save(invoice);
    const loaded = await db
      .getRepository(Invoice)
      .findOneOrFail({ where: { id: invoice.id }, relations: { customer: true } });
    expect([loaded.customer?.id, loaded.billing, loaded.issuedAt?.toISOString()]).toStrictEqual([
      customer.id,
      [1, "2"],
      "2025-06-01T08:00:00.500Z",
    ]);
  });
});
