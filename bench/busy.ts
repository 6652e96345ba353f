/**
 * `npm run bench -- --quick --busy`: the benchmark beside another program's steady traffic on both servers. This
 * file, run as a process of its own, is that traffic: on PostgreSQL and MariaDB, in a database of its own
 * (`<test database>_busy`), {@link CONNECTIONS} connections a server run a paced mix of one-row UPDATEs (each a
 * commit, so a log flush) and 20-row range SELECTs, {@link RATE} statements a second a server in all, until it is
 * sent SIGTERM; it then prints what it ran and exits. The pace is fixed (not as fast as it can), so that every run
 * meets the same load: a statement is started on its schedule, or at once when the server is behind it, never in
 * a burst to catch up.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Client } from "pg";
import { createConnection, type Connection } from "mysql2/promise";
import { prepareDatabase } from "../test/support/global-setup";
import { SERVER_URLS, TEST_DATABASE } from "../test/support/servers";

/** Statements a second on each server (`INFERENCE_BENCH_BUSY_RATE`). */
const RATE = Number(process.env["INFERENCE_BENCH_BUSY_RATE"] ?? 400);
/** Connections a server, each running its share of the rate. */
const CONNECTIONS = 2;
const ROWS = 1000;
const DATABASE = `${TEST_DATABASE}_busy`;

interface Tally {
  statements: number;
  behind: number;
  errors: number;
}

type Run = (sql: string, params: (string | number)[]) => Promise<unknown>;

/** One connection's paced loop: a statement every `interval` ms until `stopped()`. */
async function paced(run: Run, interval: number, tally: Tally, stopped: () => boolean, seed: number): Promise<void> {
  let next = performance.now();
  let i = seed;
  while (!stopped()) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else if (wait < -interval) {
      tally.behind++;
      next = performance.now();
    }
    next += interval;
    i++;
    const id = ((i * 7919) % ROWS) + 1;
    const statement =
      i % 3 === 0
        ? run("UPDATE busy_rows SET n = n + 1, payload = ? WHERE id = ?", [`busy ${i}`, id])
        : run("SELECT id, n, payload FROM busy_rows WHERE id BETWEEN ? AND ?", [id, id + 19]);
    await statement.then(
      () => tally.statements++,
      () => tally.errors++,
    );
  }
}

async function postgres(stopped: () => boolean, tally: Tally): Promise<() => Promise<void>> {
  await prepareDatabase("postgres", DATABASE);
  const clients = Array.from(
    { length: CONNECTIONS },
    () => new Client({ connectionString: `${SERVER_URLS.postgres}/${DATABASE}` }),
  );
  for (const client of clients) await client.connect();
  await clients[0]!.query("DROP TABLE IF EXISTS busy_rows");
  await clients[0]!.query("CREATE TABLE busy_rows (id integer PRIMARY KEY, n integer NOT NULL, payload text NOT NULL)");
  await clients[0]!.query("INSERT INTO busy_rows SELECT g, 0, 'new' FROM generate_series(1, $1) g", [ROWS]);
  const loops = clients.map((client, c) => {
    const run: Run = (sql, params) => {
      let k = 0;
      return client.query(
        sql.replace(/\?/g, () => `$${++k}`),
        params,
      );
    };
    return paced(run, (1000 * CONNECTIONS) / RATE, tally, stopped, c * 500);
  });
  return async () => {
    await Promise.all(loops);
    await clients[0]!.query("DROP TABLE busy_rows");
    for (const client of clients) await client.end();
  };
}

async function mariadb(stopped: () => boolean, tally: Tally): Promise<() => Promise<void>> {
  const url = new URL(SERVER_URLS.mariadb);
  const options = {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
  await prepareDatabase("mariadb", DATABASE);
  const connections: Connection[] = [];
  for (let c = 0; c < CONNECTIONS; c++) connections.push(await createConnection({ ...options, database: DATABASE }));
  const first = connections[0]!;
  await first.query("DROP TABLE IF EXISTS busy_rows");
  await first.query(
    "CREATE TABLE busy_rows (id int PRIMARY KEY, n int NOT NULL, payload varchar(64) NOT NULL) ENGINE=InnoDB",
  );
  await first.query("INSERT INTO busy_rows SELECT seq, 0, 'new' FROM seq_1_to_" + String(ROWS));
  const loops = connections.map((connection, c) =>
    paced((sql, params) => connection.execute(sql, params), (1000 * CONNECTIONS) / RATE, tally, stopped, c * 500),
  );
  return async () => {
    await Promise.all(loops);
    await first.query("DROP TABLE busy_rows");
    for (const connection of connections) await connection.end();
  };
}

/** The load, run in this process until SIGTERM. */
async function load(): Promise<void> {
  let stop = false;
  const stopped = () => stop;
  const started = performance.now();
  const tallies = {
    postgres: { statements: 0, behind: 0, errors: 0 },
    mariadb: { statements: 0, behind: 0, errors: 0 },
  };
  const finishers: (() => Promise<void>)[] = [];
  for (const [name, start] of [
    ["postgres", postgres],
    ["mariadb", mariadb],
  ] as const) {
    await start(stopped, tallies[name]).then(
      (finish) => finishers.push(finish),
      (error: unknown) => console.warn(`!! busy: ${name} not loaded (${(error as Error).message})`),
    );
  }
  process.send?.("ready");
  // stopped by the benchmark, or by its end (the channel closes when the benchmark's process does)
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("disconnect", () => resolve());
  });
  stop = true;
  for (const finish of finishers) await finish();
  const seconds = (performance.now() - started) / 1000;
  for (const [name, tally] of Object.entries(tallies))
    console.log(
      `.. busy ${name}: ${tally.statements} statements in ${Math.round(seconds)} s (${Math.round(tally.statements / seconds)}/s), ${tally.behind} times behind, ${tally.errors} errors`,
    );
  // the channel to the benchmark would keep this process alive
  if (process.connected) process.disconnect();
}

/** Starts the load in a process of its own; resolves once it runs, to a function that stops it. */
export async function startBusyLoad(): Promise<() => Promise<void>> {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, __filename], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, INFERENCE_BENCH_BUSY: "1" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await Promise.race([
    new Promise<void>((resolve) => child.once("message", () => resolve())),
    exited.then(() => {
      throw new Error("the busy load's process ended before it started");
    }),
  ]);
  console.log(`.. busy: ${RATE} statements a second on each server, ${CONNECTIONS} connections each`);
  return async () => {
    child.kill("SIGTERM");
    const late = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(late);
  };
}

if (process.env["INFERENCE_BENCH_BUSY"] === "1")
  load().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
