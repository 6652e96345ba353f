import { DatabaseManager, DatabaseOperationError } from "../src";
import { adminQuery, killSessions, sessionIds } from "./support/admin";
import { DIALECTS, raw } from "./support/dialects";
import { databaseUrl, type TestDialect } from "./support/servers";
import { TcpProxy } from "./support/tcp-proxy";
import { Order, newOrder } from "./support/entities";

// Faults need a server to break: these run on PostgreSQL and MariaDB. SQLite runs in the process and has no
// connection to lose; its behaviour under concurrency is in sessions.test.ts and sqlite-processes.sqlite.test.ts.
type ServerDialect = Exclude<TestDialect, "sqlite">;
const SERVERS = DIALECTS.filter((d): d is ServerDialect => d !== "sqlite");
/** The servers' ports, from the URLs the run tests (npm run test:pg18 moves PostgreSQL). */
const PORTS: Record<ServerDialect, number> = {
  postgres: Number(new URL(databaseUrl("postgres")).port || 5432),
  mariadb: Number(new URL(databaseUrl("mariadb")).port || 3306),
};
const MARKER = "inference-faults";

class Planned extends Error {}

function viaProxy(dialect: ServerDialect, proxy: TcpProxy): string {
  const url = new URL(databaseUrl(dialect));
  url.port = String(proxy.port);
  if (dialect === "postgres") url.searchParams.set("application_name", MARKER);
  return url.toString();
}

async function openThrough(dialect: ServerDialect, proxy: TcpProxy, poolSize = 3): Promise<DatabaseManager> {
  const db = new DatabaseManager({ url: viaProxy(dialect, proxy), entities: [Order], poolSize });
  await db.initialize();
  await db.reset({ confirm: true });
  return db;
}

async function sessionsWork(db: DatabaseManager, count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++) await db.withSession((m) => m.save(newOrder(`${prefix}-${i}`)));
  const rows = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM orders WHERE reference LIKE ?", [
    `${prefix}-%`,
  ]);
  expect(Number(rows[0]!.n)).toBe(count);
}

const eachServer =
  SERVERS.length > 0 ? describe.each(SERVERS) : describe.skip.each(["(no server answered)" as ServerDialect]); // skipped only when no server runs: the global setup says so loudly, and DB_REQUIRE=all fails instead

eachServer("%s: faults", (dialect) => {
  let proxy: TcpProxy;
  let db: DatabaseManager;

  beforeEach(async () => {
    proxy = await TcpProxy.start(PORTS[dialect]);
    db = await openThrough(dialect, proxy);
  });
  afterEach(async () => {
    await db.close().catch(() => undefined);
    await proxy.close();
  });

  it("health times out when the server accepts but never answers, and leaves no probe connection behind", async () => {
    expect((await db.healthCheck()).ok).toBe(true);
    const before = proxy.clients.size;
    proxy.blackhole();
    const started = Date.now();
    const report = await db.healthCheck({ timeoutMs: 300 });
    const took = Date.now() - started;
    expect(report).toMatchObject({ ok: false, dialect, error: "no answer within 300 ms" });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(800);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(proxy.clients.size).toBe(before - 1);
    // a new check against the black hole: its connection is accepted, never answered, and dropped at the timeout
    const second = await db.healthCheck({ timeoutMs: 200 });
    expect(second.ok).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(proxy.clients.size).toBe(before - 1);
  });

  it("health says ok: false while the server is gone and ok: true when it is back; sessions work again", async () => {
    await sessionsWork(db, 2, "before");
    await proxy.down();
    const down = await db.healthCheck({ timeoutMs: 500 });
    expect(down).toMatchObject({ ok: false, dialect });
    expect(down.latencyMs).toBeLessThan(700);
    const failed = db.withSession((m) => m.save(newOrder("while-down")));
    await expect(failed).rejects.toBeInstanceOf(DatabaseOperationError);
    await proxy.up();
    expect((await db.healthCheck({ timeoutMs: 1000 })).ok).toBe(true);
    await sessionsWork(db, 3, "after");
  });

  it("connections killed by the server while idle do not fail the next sessions", async () => {
    // fill the pool with three idle connections
    await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        db.withSession(async (m) => {
          await new Promise((resolve) => setTimeout(resolve, 30));
          return m.save(newOrder(`fill-${i}`));
        }),
      ),
    );
    const ids = await sessionIds(dialect, MARKER);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    await killSessions(dialect, ids);
    await sessionsWork(db, 6, "after-kill");
    const pool = (await db.healthCheck()).pool!;
    expect(pool.waiting).toBe(0);
  });

  it("a connection killed mid-query fails that session only; the pool recovers", async () => {
    const sleep = dialect === "postgres" ? "SELECT pg_sleep(10)" : "SELECT SLEEP(10)";
    const running = db.withSession(async (m) => m.query(sleep));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const busy =
      dialect === "postgres"
        ? (await adminQuery(dialect, "SELECT pid FROM pg_stat_activity WHERE query = $1", [sleep])).map((r) => r["pid"])
        : (await adminQuery(dialect, "SELECT id FROM information_schema.processlist WHERE info = ?", [sleep])).map(
            (r) => r["id"],
          );
    expect(busy).toHaveLength(1);
    await killSessions(dialect, busy);
    await expect(running).rejects.toThrow();
    await sessionsWork(db, 4, "after-mid-query-kill");
  });

  it("when the connection dies inside a session, the caller still gets the original error", async () => {
    const failure = new Planned("the application's own error");
    const attempt = db.withSession(async (m) => {
      await m.save(newOrder("lost"));
      const me = dialect === "postgres" ? "SELECT pg_backend_pid() AS id" : "SELECT CONNECTION_ID() AS id";
      const [row] = (await m.query(me)) as { id: unknown }[];
      await killSessions(dialect, [row!.id]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      throw failure;
    });
    await expect(attempt).rejects.toBe(failure);
    expect(await raw(db, "SELECT id FROM orders WHERE reference = 'lost'")).toEqual([]);
    await sessionsWork(db, 2, "after-lost");
  });

  it("a pool whose every connection is busy does not delay the health check", async () => {
    await db.close();
    db = await openThrough(dialect, proxy, 1);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holding = db.withSession(async () => gate);
    const waiting = db.withSession(async () => 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const report = await db.healthCheck({ timeoutMs: 300 });
    expect(report).toMatchObject({ ok: true, pool: { total: 1, idle: 0, waiting: 1 } });
    expect(report.latencyMs).toBeLessThan(300);
    release();
    await holding;
    expect(await waiting).toBe(1);
  });
});
