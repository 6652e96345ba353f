/**
 * The demo: `npm run demo`. Runs on the embedded SQLite file ./data/demo.db unless DATABASE_URL names another
 * database (postgres://..., mysql://..., mariadb://...).
 */
import "reflect-metadata";
import { DatabaseManager, InvalidJsonValueError, ValueTooLongError } from "../src";
import { Product, User } from "../src/models";

async function main(): Promise<void> {
  const url = process.env["DATABASE_URL"] ?? "sqlite:./data/demo.db";
  const db = new DatabaseManager({ url, entities: [User, Product] });
  await db.initialize();
  await db.createTables();
  console.log(`connected: ${db.dialect}`, await db.healthCheck());

  const { user, product } = await db.withSession(async (manager) => {
    const user = manager.create(User, { email: `ada+${Date.now()}@example.com`, displayName: "Ada" });
    user.audit.createdBy = "demo";
    await manager.save(user);
    const product = manager.create(Product, { name: "Teapot", sku: `TP-${Date.now()}`, priceCents: 1999, owner: user });
    product.attributes = { colour: "blue", sizes: ["S", "M"], organic: true, ünïcødé: "🫖" };
    product.metadata.tags = "kitchen,tea";
    await manager.save(product);
    return { user, product };
  });
  console.log(
    "saved product:",
    JSON.stringify(product.toDict({ exclude: ["owner.audit", "owner.metadata"] }), null, 2),
  );

  await db.getRepository(Product).softRemove(product);
  console.log("visible after soft delete:", await db.getRepository(Product).countBy({ id: product.id }));
  await db.getRepository(Product).restore({ id: product.id });
  const restored = await db
    .getRepository(Product)
    .findOneOrFail({ where: { id: product.id }, relations: { owner: true } });
  console.log("restored:", restored.toDict({ exclude: ["owner"] }));
  const ids = await db.insertMany(
    Product,
    Array.from({ length: 1000 }, (_, i) => ({ name: `Cup ${i}`, sku: `CUP-${Date.now()}-${i}`, priceCents: 450 })),
  );
  console.log(`insertMany: ${ids.length} products, first ${ids[0]}`);

  for (const attempt of [
    () => db.getRepository(Product).save({ ...restored, attributes: { price: NaN } }),
    () => db.getRepository(User).save({ ...user, metadata: { json: null, tags: "x".repeat(501) } }),
  ]) {
    try {
      await attempt();
    } catch (error) {
      if (error instanceof InvalidJsonValueError || error instanceof ValueTooLongError)
        console.log(`refused: ${error.name}: ${error.message}`);
      else throw error;
    }
  }
  await db.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
