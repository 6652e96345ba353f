import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "pg";
import { createConnection } from "mysql2/promise";
import { DatabaseManager } from "../src";
import { Product, User } from "../src/models";
import { DIALECTS, type TestDialect } from "./support/dialects";
import { SERVER_URLS } from "./support/servers";

const ROOT = resolve(__dirname, "..");
const MIGRATION_DB = "inference_migrations";

/** A new, empty database for the dialect, and its URL. */
async function emptyDatabase(dialect: TestDialect, dir: string): Promise<string> {
  if (dialect === "sqlite") return `sqlite:${join(dir, "migrations.db")}`;
  const server = new URL(SERVER_URLS[dialect]);
  if (dialect === "postgres") {
    server.pathname = "/postgres";
    const client = new Client({ connectionString: server.toString() });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${MIGRATION_DB} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${MIGRATION_DB}`);
    await client.end();
  } else {
    const connection = await createConnection({
      host: server.hostname,
      port: Number(server.port || 3306),
      user: decodeURIComponent(server.username),
      password: decodeURIComponent(server.password),
    });
    await connection.query(`DROP DATABASE IF EXISTS ${MIGRATION_DB}`);
    await connection.query(`CREATE DATABASE ${MIGRATION_DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await connection.end();
  }
  server.pathname = `/${MIGRATION_DB}`;
  return server.toString();
}

/** The TypeORM CLI on ormconfig.ts, as `npm run migration:*` runs it. */
function typeorm(url: string, dir: string, ...args: string[]): string {
  return execFileSync(
    process.execPath,
    [join(ROOT, "node_modules", "typeorm", "cli-ts-node-commonjs.js"), ...args, "-d", join(ROOT, "ormconfig.ts")],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url, MIGRATIONS_DIR: dir, TS_NODE_TRANSPILE_ONLY: "true" },
      encoding: "utf8",
      stdio: "pipe",
    },
  );
}

/** What the database holds for the example models: tables, their columns with types, nullability and defaults. */
async function schemaOf(url: string): Promise<unknown> {
  const db = new DatabaseManager({ url, entities: [User, Product] });
  await db.initialize();
  const queryRunner = db.dataSource.createQueryRunner();
  try {
    const tables = await queryRunner.getTables(["users", "products"]);
    return tables
      .map((t) => ({
        name: t.name,
        columns: t.columns
          .map((c) => [
            c.name,
            c.type,
            c.length,
            c.precision,
            c.isNullable,
            c.default,
            c.generatedType,
            c.asExpression,
            c.isPrimary,
          ])
          .sort(),
        foreignKeys: t.foreignKeys.map((f) => [f.columnNames, f.referencedTableName, f.onDelete]),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    await queryRunner.release();
    await db.close();
  }
}

/** Which of the example models' tables exist. */
async function entityTables(url: string): Promise<string[]> {
  const db = new DatabaseManager({ url, entities: [] });
  await db.initialize();
  const queryRunner = db.dataSource.createQueryRunner();
  try {
    const present: string[] = [];
    for (const table of ["users", "products"]) if (await queryRunner.hasTable(table)) present.push(table);
    return present;
  } finally {
    await queryRunner.release();
    await db.close();
  }
}

describe.each(DIALECTS)("%s: migrations through ormconfig.ts and the TypeORM CLI", (dialect: TestDialect) => {
  const dir = mkdtempSync(join(tmpdir(), `inference-migrations-${dialect}-`));
  let url: string;

  beforeAll(async () => {
    url = await emptyDatabase(dialect, dir);
  });

  it("generate, run, schema equal to createTables with an empty diff, revert to an empty database", async () => {
    expect(typeorm(url, dir, "migration:generate", join(dir, "Init"))).toContain("has been generated successfully");
    const [file] = readdirSync(dir).filter((f) => f.endsWith("-Init.ts"));
    expect(readFileSync(join(dir, file!), "utf8")).toContain("CREATE TABLE");
    typeorm(url, dir, "migration:run");
    expect(typeorm(url, dir, "schema:log")).toContain("Your schema is up to date");
    const migrated = await schemaOf(url);
    expect(await entityTables(url)).toEqual(["users", "products"]);
    typeorm(url, dir, "migration:revert");
    expect(await entityTables(url)).toEqual([]);
    const db = new DatabaseManager({ url, entities: [User, Product] });
    await db.initialize();
    await db.createTables();
    await db.close();
    expect(await schemaOf(url)).toEqual(migrated);
  }, 180_000);
});
