import { In, QueryBuilder } from "typeorm";
import { AuditContext, type DatabaseManager } from "../src";
import { uncachedPropertyNames } from "../src/typeorm/property-names";
import { Customer, Invoice, InvoiceLine } from "./support/shop-entities";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

/** Every statement TypeORM rewrote while `work` ran: what the library answered and what TypeORM's own rewrite gives. */
async function rewrites(work: () => Promise<unknown>): Promise<{ cached: string; typeorm: string }[]> {
  const proto = QueryBuilder.prototype as unknown as { replacePropertyNamesForTheWholeQuery(s: string): string };
  const installed = proto.replacePropertyNamesForTheWholeQuery;
  const seen: { cached: string; typeorm: string }[] = [];
  proto.replacePropertyNamesForTheWholeQuery = function (this: object, statement: string) {
    const typeorm = uncachedPropertyNames(this, statement);
    const cached = installed.call(this, statement);
    seen.push({ cached, typeorm });
    return cached;
  };
  try {
    await work();
  } finally {
    proto.replacePropertyNamesForTheWholeQuery = installed;
  }
  return seen;
}

describe.each(DIALECTS)("%s: property names rewritten once per query shape", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Customer, Invoice, InvoiceLine]);
  });
  afterAll(() => destroyTest(db));

  it("every statement TypeORM builds reads the same as TypeORM's own rewrite, the first time and from memory", async () => {
    const customers = db.getRepository(Customer);
    const invoices = db.getRepository(Invoice);
    const work = async (round: number) => {
      const ada = await AuditContext.run("clerk", () =>
        customers.save(customers.create({ email: `ada${round}@x.y`, passwordHash: "h", loyaltyPoints: round })),
      );
      const invoice = await invoices.save(invoices.create({ number: `N-${round}`, customer: ada, billing: { a: 1 } }));
      await db.getRepository(InvoiceLine).insert({ label: "tea", price: 3, invoice: { id: invoice.id } });
      await customers.findOne({ where: { id: ada.id }, relations: { invoices: { lines: true } } });
      await invoices.find({ where: { customer: { email: ada.email } }, order: { number: "DESC", createdAt: "ASC" } });
      await invoices
        .createQueryBuilder("i")
        .leftJoinAndSelect("i.customer", "c")
        .where("c.loyaltyPoints >= :points AND i.audit.createdBy IS NULL", { points: round })
        .andWhere("i.metadata.tags IS NULL")
        .orderBy("i.issuedAt", "DESC")
        .getMany();
      await invoices
        .createQueryBuilder("i")
        .select("i.number", "n")
        .where("i.customer = :id AND i.customer.id = :id", { id: ada.id })
        .getRawMany();
      await customers.update({ id: ada.id }, { loyaltyPoints: round + 1, internalNote: "n" });
      await customers
        .createQueryBuilder()
        .update()
        .set({ isVip: true })
        .where("loyaltyPoints > :p", { p: -1 })
        .execute();
      await invoices.softDelete({ id: In([invoice.id]) });
      await invoices.restore({ id: invoice.id });
      await customers.upsert({ id: ada.id, email: ada.email, passwordHash: "h2" }, ["id"]);
      await customers.createQueryBuilder("c").disableEscaping().where("c.email = :n", { n: ada.email }).getOne();
      await customers.createQueryBuilder("c").where("c.email = :n", { n: ada.email }).getOne();
      await db.getRepository(InvoiceLine).delete({ label: "none" });
      await customers.count({ where: { isVip: true } });
    };
    const first = await rewrites(() => work(1));
    const again = await rewrites(() => work(2));
    expect(first.length).toBeGreaterThan(15);
    expect(again.length).toBe(first.length);
    for (const { cached, typeorm } of [...first, ...again]) expect(cached).toBe(typeorm);
    // the rewrite did happen: a property path became its column
    expect(first.some(({ cached }) => cached.includes("loyalty_points") && !cached.includes("loyaltyPoints"))).toBe(
      true,
    );
    // and the statements did what they say
    const rows = await raw<{ email: string; vip: unknown; points: unknown; actor: string | null }>(
      db,
      "SELECT email, is_vip AS vip, loyalty_points AS points, created_by AS actor FROM customers ORDER BY email",
    );
    expect(rows.map((r) => [r.email, Boolean(Number(r.vip)), Number(r.points), r.actor])).toEqual([
      ["ada1@x.y", true, 2, "clerk"],
      ["ada2@x.y", true, 3, "clerk"],
    ]);
  });

  it("past the statements it keeps, it starts over and still answers TypeORM's rewrite", async () => {
    const customers = db.getRepository(Customer);
    const seen = await rewrites(async () => {
      for (let i = 0; i < 300; i++)
        await customers.createQueryBuilder("c").where(`c.loyaltyPoints = ${i}`).select("c.id").getRawMany();
      await customers.createQueryBuilder("c").where("c.loyaltyPoints = 0").select("c.id").getRawMany();
    });
    expect(seen).toHaveLength(301);
    for (const { cached, typeorm } of seen) expect(cached).toBe(typeorm);
  });
});
