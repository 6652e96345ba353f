import { Client } from "pg";
import { createConnection } from "mysql2/promise";
import { ALL_DIALECTS, SERVER_URLS, TEST_DATABASE, type TestDialect } from "./servers";

/**
 * Finds which database servers answer, creates the test database on each, and publishes the list in
 * INFERENCE_DIALECTS for the test files. With DB_REQUIRE=all (or a comma list) a server that does not answer fails
 * the run; without it the skip is announced loudly.
 */
export default async function globalSetup(): Promise<void> {
  const wanted = (process.env["DB_DIALECTS"] ?? ALL_DIALECTS.join(","))
    .split(",")
    .map((d) => d.trim()) as TestDialect[];
  const requireSpec = process.env["DB_REQUIRE"] ?? "";
  const required = new Set(requireSpec === "all" ? ALL_DIALECTS : requireSpec.split(",").filter(Boolean));
  const available: TestDialect[] = [];
  const failures: string[] = [];
  for (const dialect of wanted) {
    try {
      await prepareDatabase(dialect);
      available.push(dialect);
    } catch (error) {
      failures.push(`${dialect}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const missingRequired = [...required].filter((d) => !available.includes(d as TestDialect));
  if (missingRequired.length > 0) {
    throw new Error(
      `DB_REQUIRE=${requireSpec}: ${missingRequired.join(", ")} did not answer:\n  ${failures.join("\n  ")}`,
    );
  }
  if (failures.length > 0) {
    const bar = "!".repeat(78);
    process.stderr.write(
      `\n${bar}\n!! SKIPPING DIALECTS (servers did not answer):\n!!   ${failures.join("\n!!   ")}\n!! Set DB_REQUIRE=all to make this a failure.\n${bar}\n\n`,
    );
  }
  process.env["INFERENCE_DIALECTS"] = available.join(",");
}

/**
 * Creates the test database (or `database`, a plain name: letters, digits, `_`) on the dialect's server unless it has
 * one (the bench calls it too, for its own databases as well); SQLite has none.
 */
export async function prepareDatabase(dialect: TestDialect, database = TEST_DATABASE): Promise<void> {
  // a database name cannot be a bound parameter: only a plain name is written into the statement
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`not a plain database name: ${JSON.stringify(database)}`);
  if (dialect === "postgres") await preparePostgres(database);
  if (dialect === "mariadb") await prepareMariadb(database);
}

async function preparePostgres(database: string): Promise<void> {
  const url = new URL(SERVER_URLS.postgres);
  url.pathname = "/postgres";
  const client = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

async function prepareMariadb(database: string): Promise<void> {
  const url = new URL(SERVER_URLS.mariadb);
  const connection = await createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    connectTimeout: 5000,
  });
  try {
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    // a database made earlier by hand (or by a bench run before any test) may have the server's default collation;
    // the tables the suites create take the database's, and the connection speaks utf8mb4_unicode_ci
    await connection.query(`ALTER DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await connection.end();
  }
}
