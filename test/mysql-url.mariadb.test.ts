import { DatabaseManager, DatabaseOperationError } from "../src";
import { DIALECTS, raw } from "./support/dialects";
import { databaseUrl } from "./support/servers";
import { Order, newOrder } from "./support/entities";

// MariaDB only: a mysql:// URL that reaches a MariaDB server (there is no MySQL server in this environment).
const describeMariadb = DIALECTS.includes("mariadb") ? describe : describe.skip; // skipped (loudly, by the global setup) when MariaDB is not available

describeMariadb("mariadb: a mysql:// URL pointed at MariaDB", () => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = new DatabaseManager({ url: databaseUrl("mariadb", "mysql"), entities: [Order] });
    expect(db.dialect).toBe("mysql");
    await db.initialize();
    await db.reset({ confirm: true });
  });
  afterAll(() => db.close());

  it("detects the server and switches to TypeORM's mariadb driver", () => {
    expect(db.dialect).toBe("mariadb");
    expect(db.dataSource.options.type).toBe("mariadb");
    expect(db.dataSource.isInitialized).toBe(true);
  });

  it("stores and loads SmartJSON, instants and ids as on a mariadb:// URL", async () => {
    const order = newOrder("via mysql url");
    order.metadata.json = { s: "42", n: 42, list: ["x"] };
    order.createdAt = new Date("2023-06-01T12:34:56.789Z");
    await db.getRepository(Order).save(order);
    const loaded = await db.getRepository(Order).findOneByOrFail({ id: order.id });
    expect(loaded.metadata.json).toStrictEqual({ s: "42", n: 42, list: ["x"] });
    expect(loaded.createdAt.toISOString()).toBe("2023-06-01T12:34:56.789Z");
    const rows = await raw<{ tz: string }>(db, "SELECT @@session.time_zone AS tz");
    expect(rows[0]!.tz).toBe("+00:00");
  });
});

describeMariadb("mariadb: a URL that asks for TLS from a server without it", () => {
  // this server has TLS off (have_ssl = DISABLED): a URL asking for TLS must fail to connect, never go on in plaintext
  it.each(["ssl-mode=REQUIRED", "ssl=required", "sslmode=require", "useSSL=true", "ssl=true"])(
    "?%s fails to connect with a DatabaseOperationError instead of connecting in plaintext",
    async (query) => {
      for (const scheme of ["mysql", "mariadb"]) {
        const db = new DatabaseManager({ url: `${databaseUrl("mariadb", scheme)}?${query}`, entities: [Order] });
        try {
          await expect(db.initialize()).rejects.toBeInstanceOf(DatabaseOperationError);
          expect(db.isInitialized).toBe(false);
          expect((await db.healthCheck()).ok).toBe(false);
        } finally {
          await db.close();
        }
      }
    },
  );
});
