import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { type DatabaseManager, DatabaseOperationError } from "../src";
import { DIALECTS, destroyTest, initTest } from "./support/dialects";
import { type TestDialect } from "./support/servers";
import { Order, newOrder } from "./support/entities";

// The real servers are stopped and started again (PostgreSQL with pg_ctlcluster, or with pg_ctl when the test run
// started it, as npm run test:pg18 does; MariaDB by shutting it down and starting mariadbd). Where this process
// cannot control the server (not root, tools missing, or a remote URL) the dialect is skipped with a loud message;
// the same behaviour through a proxy is covered in faults.test.ts.
type ServerDialect = Exclude<TestDialect, "sqlite">;

function control(dialect: ServerDialect): { stop(): void; start(): void } | string {
  if (dialect === "postgres" && process.env["INFERENCE_PG_CTL_DATA"]) return pgCtlControl();
  if (process.getuid?.() !== 0) return "not running as root";
  if (dialect === "postgres") {
    // behind PgBouncer (npm run test:pgbouncer) the server it pools is the local one, which PG_ADMIN_URL names
    const server = process.env["INFERENCE_PGBOUNCER"] ? process.env["PG_ADMIN_URL"] : process.env["PG_URL"];
    const { hostname, port } = new URL(server ?? "postgres://127.0.0.1");
    if (hostname !== "127.0.0.1" || (port !== "" && port !== "5432") || !existsSync("/etc/postgresql"))
      return "PostgreSQL is not the local pg_ctlcluster server";
    const version = readdirSync("/etc/postgresql")[0]!;
    const ctl = (action: string, ...extra: string[]) =>
      execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", action, ...extra], {
        stdio: "pipe",
      });
    const answering = () => pgIsReady("127.0.0.1", "5432");
    return {
      stop: () => ctl("stop", "-m", "fast"), // pg_ctl waits for the server to stop
      start: () => {
        if (answering()) return;
        ctl("start");
        waitSync(answering, 60);
      },
    };
  }
  if (process.env["MARIADB_URL"] || !existsSync("/usr/sbin/mariadbd")) return "MariaDB is not the local mariadbd";
  // `mariadb-admin shutdown` returns while the server is still shutting down, and start-stop-daemon --oknodo does
  // nothing while the old process lives: both wait for the process, or the server could stay down for the next tests
  const running = () => succeeds("pgrep", ["-x", "mariadbd"]);
  const answering = () => succeeds("mariadb-admin", ["-h", "127.0.0.1", "-u", "root", "ping", "--silent"]);
  return {
    stop: () => {
      execFileSync("mariadb-admin", ["-h", "127.0.0.1", "-u", "root", "shutdown"], { stdio: "pipe" });
      waitSync(() => !running(), 60);
    },
    start: () => {
      if (answering()) return;
      waitSync(() => !running(), 60);
      execFileSync("start-stop-daemon", ["--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"], {
        stdio: "pipe",
      });
      waitSync(answering, 60);
    },
  };
}

/**
 * A PostgreSQL server the test run started itself (npm run test:pg18): stopped and started with its own pg_ctl on its
 * data folder, as the user it runs as (`INFERENCE_PG_CTL_*`, set by scripts/test-postgres18.sh).
 */
function pgCtlControl(): { stop(): void; start(): void } {
  const env = (name: string) => {
    const value = process.env[`INFERENCE_PG_CTL_${name}`];
    if (value === undefined) throw new Error(`INFERENCE_PG_CTL_${name} is not set`);
    return value;
  };
  const user = process.env["INFERENCE_PG_CTL_USER"];
  const pgCtl = (...args: string[]) => {
    const command = [`${env("BIN")}/pg_ctl`, "-D", env("DATA"), ...args];
    if (user) execFileSync("runuser", ["-u", user, "--", ...command], { stdio: "pipe" });
    else execFileSync(command[0]!, command.slice(1), { stdio: "pipe" });
  };
  const url = new URL(process.env["PG_URL"]!);
  const answering = () => pgIsReady(url.hostname, url.port || "5432");
  return {
    stop: () => pgCtl("-m", "fast", "-w", "stop"),
    start: () => {
      if (answering()) return;
      pgCtl("-l", env("LOG"), "-w", "-t", "60", "-o", env("OPTIONS"), "start");
      waitSync(answering, 60);
    },
  };
}

/** Whether the PostgreSQL server at host:port accepts connections. */
function pgIsReady(host: string, port: string): boolean {
  return succeeds("pg_isready", ["-h", host, "-p", port, "-q"]);
}

function succeeds(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

function waitSync(condition: () => boolean, seconds: number): void {
  const until = Date.now() + seconds * 1000;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`gave up waiting after ${seconds} s`);
    execFileSync("sleep", ["0.2"]);
  }
}

async function until(check: () => Promise<boolean>, seconds: number): Promise<boolean> {
  for (let i = 0; i < seconds * 4; i++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

const SERVERS = DIALECTS.filter((d): d is ServerDialect => d !== "sqlite");
const eachServer =
  SERVERS.length > 0 ? describe.each(SERVERS) : describe.skip.each(["(no server answered)" as ServerDialect]); // skipped only when no server runs: the global setup says so loudly

eachServer("%s: the real server stops and starts again", (dialect) => {
  let db: DatabaseManager;
  const controller = control(dialect);

  beforeAll(async () => {
    db = await initTest(dialect, [Order], { poolSize: 3 });
  });
  afterAll(async () => {
    try {
      // the server must be back for the suites after this one, whatever happened above
      if (typeof controller !== "string") controller.start();
      await until(async () => (await db.healthCheck()).ok, 60);
    } finally {
      await destroyTest(db);
    }
  });

  it("the same manager reports down, then up, and its sessions work again", async () => {
    if (typeof controller === "string") {
      console.warn(`!!! SKIPPED: cannot stop and start the ${dialect} server here: ${controller}`);
      return;
    }
    await Promise.all(Array.from({ length: 3 }, (_, i) => db.withSession((m) => m.save(newOrder(`before-${i}`)))));
    expect((await db.healthCheck()).ok).toBe(true);
    controller.stop();
    try {
      const down = await db.healthCheck({ timeoutMs: 500 });
      expect(down).toMatchObject({ ok: false, dialect });
      await expect(db.withSession((m) => m.save(newOrder("while-down")))).rejects.toBeInstanceOf(
        DatabaseOperationError,
      );
      // the pool's connections see the server go; the process must not crash on their error events
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      controller.start();
    }
    expect(await until(async () => (await db.healthCheck({ timeoutMs: 500 })).ok, 60)).toBe(true);
    for (let i = 0; i < 5; i++) await db.withSession((m) => m.save(newOrder(`after-${i}`)));
    expect(await db.getRepository(Order).count()).toBe(8);
  }, 120_000);
});
