import { DatabaseManager, DatabaseUnavailableError, NotInitializedError } from "../src";
import { DIALECTS, raw, urlFor, type TestDialect } from "./support/dialects";
import { newOrder, Order } from "./support/entities";
import { TcpProxy } from "./support/tcp-proxy";

type ServerDialect = Exclude<TestDialect, "sqlite">;
const SERVERS = DIALECTS.filter((d): d is ServerDialect => d !== "sqlite");

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(done()).toBe(true);
}

async function unavailable(work: () => unknown): Promise<void> {
  const error = await Promise.resolve()
    .then(work)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(DatabaseUnavailableError);
  expect((error as Error).message).toMatch(/database is not reachable yet \(.+\); the manager keeps trying/);
}

(SERVERS.length > 0 ? describe.each(SERVERS) : describe.skip.each<ServerDialect>(["postgres"]))(
  "%s: initialize({ lazy }) while the database is down",
  (dialect) => {
    let proxy: TcpProxy;
    let db: DatabaseManager;

    beforeEach(async () => {
      const target = new URL(urlFor(dialect));
      proxy = await TcpProxy.start(Number(target.port));
      await proxy.down();
      target.port = String(proxy.port);
      db = new DatabaseManager({ url: target.toString(), entities: [Order] });
    });
    afterEach(async () => {
      await db.close();
      await proxy.close();
    });

    it("resolves unconnected; every path is a DatabaseUnavailableError; it connects when the server answers", async () => {
      let connected = 0;
      const failures: unknown[] = [];
      await db.initialize({
        lazy: {
          retryDelayMs: 50,
          onConnected: async () => {
            await db.createTables();
            connected += 1;
          },
          onError: (error) => failures.push(error),
        },
      });
      expect(db.isInitialized).toBe(false);
      // the repositories exist (TypeORM's metadata is built), their statements are refused
      const repository = db.getRepository(Order);
      await unavailable(() => repository.find());
      await unavailable(() => repository.save(newOrder()));
      await unavailable(() => db.dataSource.query("SELECT 1"));
      await unavailable(() => db.withSession((m) => m.find(Order)));
      await unavailable(() => db.insertOne(Order, newOrder()));
      expect(await db.healthCheck()).toMatchObject({ ok: false, error: expect.stringMatching(/^connecting: /) });
      // the same repository object works once the server answers, and onConnected ran once
      await proxy.up();
      await until(() => connected === 1 || failures.length > 0);
      expect(failures).toEqual([]);
      expect(db.isInitialized).toBe(true);
      const saved = await repository.save(newOrder());
      expect(await raw(db, "SELECT id FROM orders WHERE id = ?", [saved.id])).toEqual([{ id: saved.id }]);
      expect(await db.healthCheck()).toMatchObject({ ok: true });
    });

    it("close() while connecting stops trying; without lazy a down database still throws", async () => {
      await db.initialize({ lazy: { retryDelayMs: 50 } });
      await db.close();
      await proxy.up();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(db.isInitialized).toBe(false);
      await expect(db.initialize()).rejects.toBeInstanceOf(NotInitializedError);
      await proxy.down();
      const plain = new DatabaseManager({ url: urlOf(proxy, dialect), entities: [Order] });
      await expect(plain.initialize()).rejects.toThrow(/Connecting to the/);
      await plain.close();
    });
  },
);

function urlOf(proxy: TcpProxy, dialect: TestDialect): string {
  const target = new URL(urlFor(dialect));
  target.port = String(proxy.port);
  return target.toString();
}
