/**
 * `npm run bench -- --peers`: the library beside plain TypeORM, Kysely, Drizzle, MikroORM 6 and Sequelize 6 on the
 * same ten-column rows and the same five scenarios, each database in a process of its own, the subjects interleaved
 * step by step, every ratio to the raw driver. Writes bench/results-peers.json and prints the table. Prisma is not
 * among them: its client cannot be generated without downloading its engine, which this machine cannot reach.
 */
import "reflect-metadata";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { instanceToPlain } from "class-transformer";
import { DataSource } from "typeorm";
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from "kysely";
import { eq } from "drizzle-orm";
import { Sequelize, DataTypes, type ModelStatic, type Model } from "sequelize";
import { EntitySchema, MikroORM, wrap, type EntityManager } from "@mikro-orm/core";
import { DatabaseManager, ModelSerializer, uuidv7 } from "../src";
import { TYPEORM_LINE } from "../src/typeorm/typeorm-line";
import { databaseUrl } from "../test/support/servers";
import { measureInterleaved, ratioOf, type Measurement } from "./measure";
import { mariadbPoolOptions, rawBetterSqlite3, rawMariadb, rawPostgres, type RawDriver } from "./raw";
import { BenchPlain, BenchRow, RAW_COLUMNS, libraryValues, plainValues, rawParams } from "./subjects";

type Dialect = "sqlite" | "postgres" | "mariadb";
const QUICK = process.argv.includes("--quick");
const ROUNDS = QUICK ? 7 : 15;
/** One-row operations a round (SQLite answers in microseconds inside the process: more of them). */
const ONE_ROW_OPS = { sqlite: QUICK ? 500 : 2_000, postgres: QUICK ? 100 : 400, mariadb: QUICK ? 100 : 400 };
const BULK_ROWS = 10_000;
/** Rows a statement for the subjects that leave chunking to the app (a statement of 10,000 rows passes PostgreSQL's 65,535 parameters). */
const CHUNK = 500;
const SERIALIZE_ROWS = 1_000;
const SUBJECTS = ["raw", "library", "typeorm", "kysely", "drizzle", "mikro-orm", "sequelize"] as const;
type Subject = (typeof SUBJECTS)[number];

/** What a subject does for each scenario; `i` counts operations within a round. */
interface Operations {
  insertOne(i: number): Promise<unknown>;
  findById(id: string): Promise<unknown>;
  updateById(id: string, reference: string): Promise<unknown>;
  insertMany(rows: number): Promise<unknown>;
  /** Loads SERIALIZE_ROWS rows the subject's way (untimed) and answers the timed conversion of them to JSON text. */
  serializer(): Promise<() => string>;
  table: string;
  close(): Promise<void>;
}

/** One row as the driver-level subjects (raw, Kysely) bind it: instants and booleans as the driver takes them. */
function rowObject(i: number, raw: RawDriver): Record<string, unknown> {
  const values = rawParams(i, raw.time, raw.bool);
  return Object.fromEntries(RAW_COLUMNS.map((column, c) => [column, values[c]]));
}

async function cloneTable(db: DatabaseManager, dialect: Dialect, table: string): Promise<void> {
  await db.dataSource.query(`DROP TABLE IF EXISTS ${table}`);
  await db.dataSource.query(`CREATE TABLE ${table} AS SELECT * FROM bench_library WHERE 1 = 0`);
  await db.dataSource.query(
    dialect === "sqlite"
      ? `CREATE UNIQUE INDEX ${table}_id ON ${table} (id)`
      : `ALTER TABLE ${table} ADD PRIMARY KEY (id)`,
  );
}

function rawSubject(raw: RawDriver, table: string, dialect: Dialect): Operations {
  const columns = RAW_COLUMNS.join(", ");
  const tuple = (from: number) => `(${RAW_COLUMNS.map((_, c) => raw.placeholder(from + c)).join(", ")})`;
  const insert = `INSERT INTO ${table} (${columns}) VALUES ${tuple(0)}`;
  const select = `SELECT ${columns} FROM ${table} WHERE id = ${raw.placeholder(0)} AND deleted_at IS NULL`;
  const update = `UPDATE ${table} SET reference = ${raw.placeholder(0)}, updated_at = ${raw.placeholder(1)} WHERE id = ${raw.placeholder(2)} AND deleted_at IS NULL`;
  const perStatement = Math.floor((dialect === "sqlite" ? 32_766 : 65_535) / RAW_COLUMNS.length);
  return {
    table,
    insertOne: (i) => raw.run(insert, rawParams(i, raw.time, raw.bool)),
    findById: (id) => raw.first(select, [id]),
    updateById: (id, reference) => raw.run(update, [reference, raw.time(new Date()), id]),
    insertMany: (rows) =>
      raw.transaction(async (run) => {
        for (let start = 0; start < rows; start += perStatement) {
          const n = Math.min(perStatement, rows - start);
          const params: unknown[] = [];
          const tuples: string[] = [];
          for (let r = 0; r < n; r++) {
            tuples.push(tuple(r * RAW_COLUMNS.length));
            params.push(...rawParams(start + r, raw.time, raw.bool));
          }
          await run(`INSERT INTO ${table} (${columns}) VALUES ${tuples.join(", ")}`, params);
        }
      }),
    serializer: async () => {
      const rows = await raw.all(`SELECT ${columns} FROM ${table} LIMIT ${SERIALIZE_ROWS}`, []);
      return () => JSON.stringify(rows);
    },
    close: () => raw.close(),
  };
}

function librarySubject(db: DatabaseManager): Operations {
  return {
    table: "bench_library",
    insertOne: (i) => db.insertOne(BenchRow, libraryValues(i)),
    findById: (id) => db.findById(BenchRow, id),
    updateById: (id, reference) => db.updateById(BenchRow, id, { reference }),
    insertMany: (rows) =>
      db.insertMany(
        BenchRow,
        Array.from({ length: rows }, (_, i) => libraryValues(i)),
      ),
    serializer: async () => {
      const entities = await db.getRepository(BenchRow).find({ take: SERIALIZE_ROWS });
      return () => JSON.stringify(ModelSerializer.bulkToDict(entities));
    },
    close: () => db.close(),
  };
}

function typeormSubject(plain: DataSource): Operations {
  const repo = plain.getRepository(BenchPlain);
  return {
    table: "bench_typeorm",
    insertOne: (i) => repo.insert(plainValues(i) as never),
    findById: (id) => repo.findOneBy({ id }),
    updateById: (id, reference) => repo.update({ id }, { reference }),
    insertMany: (rows) =>
      plain.transaction(async (manager) => {
        for (let start = 0; start < rows; start += CHUNK)
          await manager.insert(
            BenchPlain,
            Array.from({ length: Math.min(CHUNK, rows - start) }, (_, i) => plainValues(start + i)) as never,
          );
      }),
    serializer: async () => {
      const entities = await repo.find({ take: SERIALIZE_ROWS });
      return () => JSON.stringify(instanceToPlain(entities));
    },
    close: () => plain.destroy(),
  };
}

async function kyselySubject(dialect: Dialect, raw: RawDriver, file: string): Promise<Operations> {
  type Row = Record<string, unknown>;
  let db: Kysely<Record<string, Row>>;
  if (dialect === "sqlite") {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Database = require("better-sqlite3") as typeof import("better-sqlite3");
    db = new Kysely({ dialect: new SqliteDialect({ database: new Database(file) }) });
  } else if (dialect === "postgres") {
    const { Pool } = await import("pg");
    db = new Kysely({
      dialect: new PostgresDialect({ pool: new Pool({ connectionString: databaseUrl("postgres"), max: 3 }) }),
    });
  } else {
    const { createPool } = await import("mysql2");
    const pool = createPool(mariadbPoolOptions());
    db = new Kysely({ dialect: new MysqlDialect({ pool }) });
  }
  const table = "peer_kysely";
  return {
    table,
    insertOne: (i) => db.insertInto(table).values(rowObject(i, raw)).execute(),
    findById: (id) =>
      db.selectFrom(table).selectAll().where("id", "=", id).where("deleted_at", "is", null).executeTakeFirst(),
    updateById: (id, reference) =>
      db
        .updateTable(table)
        .set({ reference, updated_at: raw.time(new Date()) })
        .where("id", "=", id)
        .where("deleted_at", "is", null)
        .execute(),
    insertMany: (rows) =>
      db.transaction().execute(async (trx) => {
        for (let start = 0; start < rows; start += CHUNK)
          await trx
            .insertInto(table)
            .values(Array.from({ length: Math.min(CHUNK, rows - start) }, (_, i) => rowObject(start + i, raw)))
            .execute();
      }),
    serializer: async () => {
      const rows = await db.selectFrom(table).selectAll().limit(SERIALIZE_ROWS).execute();
      return () => JSON.stringify(rows);
    },
    close: () => db.destroy(),
  };
}

async function drizzleSubject(dialect: Dialect, file: string): Promise<Operations> {
  const table = "peer_drizzle";
  const values = peerValues;
  // each dialect's table builder and driver; the columns as the library's table has them
  /* eslint-disable @typescript-eslint/no-explicit-any -- drizzle's three dialects have three query builder types */
  let db: any;
  let t: any;
  let close: () => Promise<void>;
  if (dialect === "sqlite") {
    const core = await import("drizzle-orm/sqlite-core");
    const { drizzle } = await import("drizzle-orm/better-sqlite3");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Database = require("better-sqlite3") as typeof import("better-sqlite3");
    const client = new Database(file);
    // the stored form of an instant the library and TypeORM use on SQLite: UTC text with milliseconds
    const instant = core.customType<{ data: Date; driverData: string }>({
      dataType: () => "datetime",
      toDriver: (d) => d.toISOString().replace("T", " ").replace("Z", ""),
      fromDriver: (s) => new Date(`${s.replace(" ", "T")}Z`),
    });
    t = core.sqliteTable(table, {
      id: core.text("id").primaryKey(),
      createdAt: instant("created_at").notNull(),
      updatedAt: instant("updated_at").notNull(),
      deletedAt: instant("deleted_at"),
      isDeleted: core.integer("is_deleted", { mode: "boolean" }).notNull(),
      createdBy: core.text("created_by"),
      updatedBy: core.text("updated_by"),
      metadataJson: core.text("metadata_json", { mode: "json" }),
      tags: core.text("tags"),
      reference: core.text("reference").notNull(),
    });
    db = drizzle(client);
    close = async () => void client.close();
  } else if (dialect === "postgres") {
    const core = await import("drizzle-orm/pg-core");
    const { drizzle } = await import("drizzle-orm/node-postgres");
    const { Pool } = await import("pg");
    const pool = new Pool({ connectionString: databaseUrl("postgres"), max: 3 });
    t = core.pgTable(table, {
      id: core.uuid("id").primaryKey(),
      createdAt: core.timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
      updatedAt: core.timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull(),
      deletedAt: core.timestamp("deleted_at", { withTimezone: true, precision: 3 }),
      isDeleted: core.boolean("is_deleted").notNull(),
      createdBy: core.varchar("created_by", { length: 255 }),
      updatedBy: core.varchar("updated_by", { length: 255 }),
      metadataJson: core.jsonb("metadata_json"),
      tags: core.varchar("tags", { length: 500 }),
      reference: core.varchar("reference", { length: 100 }).notNull(),
    });
    db = drizzle(pool);
    close = () => pool.end();
  } else {
    const core = await import("drizzle-orm/mysql-core");
    const { drizzle } = await import("drizzle-orm/mysql2");
    const { createPool } = await import("mysql2/promise");
    const pool = createPool(mariadbPoolOptions());
    t = core.mysqlTable(table, {
      id: core.varchar("id", { length: 36 }).primaryKey(),
      createdAt: core.datetime("created_at", { fsp: 6 }).notNull(),
      updatedAt: core.datetime("updated_at", { fsp: 6 }).notNull(),
      deletedAt: core.datetime("deleted_at", { fsp: 6 }),
      isDeleted: core.boolean("is_deleted").notNull(),
      createdBy: core.varchar("created_by", { length: 255 }),
      updatedBy: core.varchar("updated_by", { length: 255 }),
      metadataJson: core.json("metadata_json"),
      tags: core.varchar("tags", { length: 500 }),
      reference: core.varchar("reference", { length: 100 }).notNull(),
    });
    db = drizzle(pool);
    close = () => pool.end();
  }
  const { isNull, and } = await import("drizzle-orm");
  const live = (id: string) => and(eq(t.id, id), isNull(t.deletedAt));
  return {
    table,
    insertOne: (i) => db.insert(t).values(values(i)),
    findById: async (id) => (await db.select().from(t).where(live(id)).limit(1))[0],
    updateById: (id, reference) => db.update(t).set({ reference, updatedAt: new Date() }).where(live(id)),
    insertMany: async (rows) => {
      const chunk = (start: number) =>
        Array.from({ length: Math.min(CHUNK, rows - start) }, (_, i) => values(start + i));
      // better-sqlite3's transactions are synchronous, and so are drizzle's on it
      if (dialect === "sqlite")
        return db.transaction((trx: any) => {
          for (let start = 0; start < rows; start += CHUNK) trx.insert(t).values(chunk(start)).run();
        });
      return db.transaction(async (trx: any) => {
        for (let start = 0; start < rows; start += CHUNK) await trx.insert(t).values(chunk(start));
      });
    },
    serializer: async () => {
      const rows = await db.select().from(t).limit(SERIALIZE_ROWS);
      return () => JSON.stringify(rows);
    },
    close,
  };
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

/** MikroORM's entity: the same ten columns, declared with EntitySchema (no decorators, no metadata discovery). */
class PeerRow {
  id!: string;
  createdAt!: Date;
  updatedAt!: Date;
  deletedAt?: Date | null;
  isDeleted!: boolean;
  createdBy?: string | null;
  updatedBy?: string | null;
  metadataJson?: unknown;
  tags?: string | null;
  reference!: string;
}

/** One row as the subjects that map properties to columns (Drizzle, MikroORM) take it. */
function peerValues(i: number): PeerRow {
  return {
    id: uuidv7(),
    createdAt: new Date(),
    updatedAt: new Date(),
    deletedAt: null,
    isDeleted: false,
    createdBy: "bench",
    updatedBy: null,
    metadataJson: { i, tag: "x" },
    tags: "a,b",
    reference: `ref-${i}`,
  };
}

function mikroValues(i: number): PeerRow {
  return Object.assign(new PeerRow(), peerValues(i));
}

async function mikroSubject(dialect: Dialect, file: string): Promise<Operations> {
  const table = "peer_mikro";
  const schema = new EntitySchema<PeerRow>({
    class: PeerRow,
    tableName: table,
    properties: {
      id: { type: "string", primary: true },
      createdAt: { type: "datetime", fieldName: "created_at" },
      updatedAt: { type: "datetime", fieldName: "updated_at" },
      deletedAt: { type: "datetime", fieldName: "deleted_at", nullable: true },
      isDeleted: { type: "boolean", fieldName: "is_deleted" },
      createdBy: { type: "string", fieldName: "created_by", nullable: true },
      updatedBy: { type: "string", fieldName: "updated_by", nullable: true },
      metadataJson: { type: "json", fieldName: "metadata_json", nullable: true },
      tags: { type: "string", nullable: true },
      reference: { type: "string" },
    },
  });
  const common = {
    entities: [schema],
    debug: false,
    allowGlobalContext: false,
    discovery: { warnWhenNoEntities: false },
  };
  let orm: MikroORM;
  if (dialect === "sqlite") {
    const { BetterSqliteDriver } = await import("@mikro-orm/better-sqlite");
    orm = await MikroORM.init({ ...common, driver: BetterSqliteDriver, dbName: file });
  } else if (dialect === "postgres") {
    const { PostgreSqlDriver } = await import("@mikro-orm/postgresql");
    orm = await MikroORM.init({
      ...common,
      driver: PostgreSqlDriver,
      clientUrl: databaseUrl("postgres"),
      pool: { max: 3 },
    });
  } else {
    const { MariaDbDriver } = await import("@mikro-orm/mariadb");
    orm = await MikroORM.init({
      ...common,
      driver: MariaDbDriver,
      clientUrl: databaseUrl("mariadb").replace(/^mariadb:/, "mysql:"),
      pool: { max: 3 },
      timezone: "Z",
    });
  }
  // a request's own EntityManager (MikroORM's identity map is per request): a fork per operation
  const em = (): EntityManager => orm.em.fork();
  return {
    table,
    insertOne: (i) => em().persistAndFlush(mikroValues(i)),
    findById: (id) => em().findOne(PeerRow, { id, deletedAt: null }),
    updateById: (id, reference) =>
      em().nativeUpdate(PeerRow, { id, deletedAt: null }, { reference, updatedAt: new Date() }),
    insertMany: (rows) =>
      em().transactional(async (tx) => {
        for (let start = 0; start < rows; start += CHUNK)
          await tx.insertMany(
            PeerRow,
            Array.from({ length: Math.min(CHUNK, rows - start) }, (_, i) => mikroValues(start + i)),
          );
      }),
    serializer: async () => {
      const entities = await em().find(PeerRow, {}, { limit: SERIALIZE_ROWS });
      return () => JSON.stringify(entities.map((e) => wrap(e).toObject()));
    },
    close: () => orm.close(true),
  };
}

async function sequelizeSubject(dialect: Dialect, file: string): Promise<Operations> {
  const table = "peer_sequelize";
  const options = { logging: false, pool: { max: 3 } } as const;
  const sequelize =
    dialect === "sqlite"
      ? new Sequelize({ ...options, dialect: "sqlite", storage: file })
      : dialect === "postgres"
        ? new Sequelize(databaseUrl("postgres"), options)
        : new Sequelize(databaseUrl("mariadb").replace(/^mariadb:/, "mysql:"), { ...options, timezone: "+00:00" });
  const Row: ModelStatic<Model> = sequelize.define(
    "PeerRow",
    {
      id: { type: DataTypes.STRING(36), primaryKey: true },
      createdAt: { type: DataTypes.DATE(3), field: "created_at" },
      updatedAt: { type: DataTypes.DATE(3), field: "updated_at" },
      deletedAt: { type: DataTypes.DATE(3), field: "deleted_at" },
      isDeleted: { type: DataTypes.BOOLEAN, field: "is_deleted" },
      createdBy: { type: DataTypes.STRING(255), field: "created_by" },
      updatedBy: { type: DataTypes.STRING(255), field: "updated_by" },
      metadataJson: { type: DataTypes.JSON, field: "metadata_json" },
      tags: { type: DataTypes.STRING(500) },
      reference: { type: DataTypes.STRING(100) },
    },
    // its own timestamps and soft delete (paranoid): what a Sequelize user declares for these columns
    { tableName: table, timestamps: true, paranoid: true },
  );
  const values = (i: number) => ({
    id: uuidv7(),
    isDeleted: false,
    createdBy: "bench",
    updatedBy: null,
    metadataJson: { i, tag: "x" },
    tags: "a,b",
    reference: `ref-${i}`,
  });
  return {
    table,
    insertOne: (i) => Row.create(values(i)),
    findById: (id) => Row.findByPk(id),
    updateById: (id, reference) => Row.update({ reference }, { where: { id } }),
    insertMany: (rows) =>
      sequelize.transaction(async (transaction) => {
        for (let start = 0; start < rows; start += CHUNK)
          await Row.bulkCreate(
            Array.from({ length: Math.min(CHUNK, rows - start) }, (_, i) => values(start + i)),
            { transaction },
          );
      }),
    serializer: async () => {
      const instances = await Row.findAll({ limit: SERIALIZE_ROWS });
      return () => JSON.stringify(instances);
    },
    close: () => sequelize.close(),
  };
}

async function measureDialect(dialect: Dialect): Promise<Measurement[]> {
  const dir = mkdtempSync(join(existsShm() ? "/dev/shm" : tmpdir(), "inference-peers-"));
  const file = join(dir, "peers.db");
  const url = dialect === "sqlite" ? `sqlite:${file}` : databaseUrl(dialect);
  const db = new DatabaseManager({ url, entities: [BenchRow], poolSize: 3 });
  await db.initialize();
  await db.reset({ confirm: true });
  const tables = ["bench_raw", "peer_kysely", "peer_drizzle", "peer_mikro", "peer_sequelize"];
  for (const table of tables) await cloneTable(db, dialect, table);
  const plainOptions =
    dialect === "sqlite"
      ? { type: "better-sqlite3" as const, database: file, enableWAL: true }
      : dialect === "postgres"
        ? { type: "postgres" as const, url, poolSize: 3 }
        : { type: "mariadb" as const, url: url.replace(/^mariadb:/, "mysql:"), poolSize: 3, timezone: "Z" };
  const plain = new DataSource({ ...plainOptions, entities: [BenchPlain], synchronize: true });
  await plain.initialize();
  const raw = dialect === "sqlite" ? rawBetterSqlite3(file) : dialect === "postgres" ? rawPostgres() : rawMariadb();
  const subjects: Record<Subject, Operations> = {
    raw: rawSubject(raw, "bench_raw", dialect),
    library: librarySubject(db),
    typeorm: typeormSubject(plain),
    kysely: await kyselySubject(dialect, raw, file),
    drizzle: await drizzleSubject(dialect, file),
    "mikro-orm": await mikroSubject(dialect, file),
    sequelize: await sequelizeSubject(dialect, file),
  };
  const empty = async () => {
    for (const { table } of Object.values(subjects))
      await db.dataSource.query(dialect === "sqlite" ? `DELETE FROM ${table}` : `TRUNCATE TABLE ${table}`);
  };
  const each = (operation: (subject: Operations, i: number) => Promise<unknown>) =>
    Object.fromEntries(SUBJECTS.map((name) => [name, (i: number) => operation(subjects[name], i)]));
  const rows: Measurement[] = [];
  const ops = ONE_ROW_OPS[dialect];
  /**
   * One-row scenarios: on a server the subjects alternate operation by operation; on SQLite (all in this process,
   * microseconds an operation) every 50 operations, so that a subject's code stays in the caches for its step (as
   * the main bench measures SQLite's one-row paths: alternating seven subjects operation by operation read the
   * library at 1.7x the raw driver where 50 a step reads it as the main bench does).
   */
  const perStep = dialect === "sqlite" ? 50 : 1;
  const oneRow = (scenario: string, operations: Record<string, (i: number) => Promise<unknown>>) =>
    measureInterleaved(
      scenario,
      ROUNDS,
      Object.fromEntries(
        Object.entries(operations).map(([name, operation]) => [
          name,
          async (step: number) => {
            for (let i = step * perStep, end = i + perStep; i < end; i++) await operation(i);
          },
        ]),
      ),
      ops / perStep,
      dialect,
      { opsPerStep: perStep },
    );
  let n = 0;
  rows.push(
    ...(await oneRow(
      "insert-one",
      each((s) => s.insertOne(n++)),
    )),
  );
  // every subject's own rows, read and updated by id round-robin
  const ids: Record<string, string[]> = {};
  for (const name of SUBJECTS)
    ids[name] = ((await db.dataSource.query(`SELECT id FROM ${subjects[name].table}`)) as { id: string }[]).map(
      (r) => r.id,
    );
  const idOf = (name: Subject, i: number) => ids[name]![i % ids[name]!.length]!;
  const find = Object.fromEntries(
    SUBJECTS.map((name) => [
      name,
      async (i: number) => {
        if (!(await subjects[name].findById(idOf(name, i)))) throw new Error(`${dialect} ${name}: row missing`);
      },
    ]),
  );
  rows.push(...(await oneRow("find-by-id", find)));
  const update = Object.fromEntries(
    SUBJECTS.map((name) => [name, (i: number) => subjects[name].updateById(idOf(name, i), `u-${n++}`)]),
  );
  rows.push(...(await oneRow("update-by-id", update)));
  rows.push(
    ...(await measureInterleaved(
      "insert-10k",
      ROUNDS,
      each((s) => s.insertMany(BULK_ROWS)),
      1,
      dialect,
      {
        beforeRound: empty,
      },
    )),
  );
  // serialization: every subject's 1,000 rows, loaded its way, converted to JSON text
  await empty();
  for (const name of SUBJECTS) await subjects[name].insertMany(SERIALIZE_ROWS);
  const convert: Record<string, () => string> = {};
  for (const name of SUBJECTS) convert[name] = await subjects[name].serializer();
  for (const name of SUBJECTS)
    if ((JSON.parse(convert[name]!()) as unknown[]).length !== SERIALIZE_ROWS)
      throw new Error(`${dialect} ${name}: serialized the wrong number of rows`);
  rows.push(
    ...(await measureInterleaved(
      "serialize-1000",
      ROUNDS,
      Object.fromEntries(SUBJECTS.map((name) => [name, async () => void convert[name]!()])),
      5,
      dialect,
    )),
  );
  await empty();
  for (const name of SUBJECTS)
    if (name !== "library" && name !== "typeorm" && name !== "raw") await subjects[name].close();
  await raw.close();
  await plain.destroy();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return rows;
}

function existsShm(): boolean {
  try {
    return readFileSync("/proc/mounts", "utf8").includes(" /dev/shm ");
  } catch {
    return false;
  }
}

/** The table: per scenario and dialect, each subject's ratio to the raw driver (lower is faster). */
function table(rows: Measurement[]): string {
  const lines = [`| scenario | dialect | ${SUBJECTS.filter((s) => s !== "raw").join(" | ")} | raw ms/op |`];
  lines.push(`| --- | --- | ${SUBJECTS.map(() => "---").join(" | ")} |`);
  const keys = [...new Set(rows.map((r) => `${r.scenario}\t${r.dialect}`))];
  for (const key of keys) {
    const [scenario, dialect] = key.split("\t");
    const of = (subject: string) =>
      rows.find((r) => r.scenario === scenario && r.dialect === dialect && r.subject === subject);
    const raw = of("raw")!;
    const cells = SUBJECTS.filter((s) => s !== "raw").map((s) => `${ratioOf(of(s)!, raw).toFixed(2)}x`);
    lines.push(`| ${scenario} | ${dialect} | ${cells.join(" | ")} | ${(raw.medianMs / raw.opsPerRound!).toFixed(3)} |`);
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const child = process.argv.find((a) => a.startsWith("--dialect="))?.slice("--dialect=".length) as Dialect | undefined;
  if (child) {
    const out = process.env["INFERENCE_PEERS_OUT"]!;
    writeFileSync(out, JSON.stringify(await measureDialect(child)));
    return;
  }
  const wanted = (process.env["DB_DIALECTS"] ?? "sqlite,postgres,mariadb").split(",") as Dialect[];
  const rows: Measurement[] = [];
  for (const dialect of wanted) {
    const out = join(mkdtempSync(join(tmpdir(), "inference-peers-out-")), "rows.json");
    const started = Date.now();
    const result = spawnSync(
      process.execPath,
      [...process.execArgv, __filename, `--dialect=${dialect}`, ...process.argv.slice(2)],
      { stdio: "inherit", env: { ...process.env, INFERENCE_PEERS_OUT: out } },
    );
    if (result.status !== 0) {
      console.warn(`!! ${dialect}: the peers' process failed (exit ${result.status}); skipped`);
      continue;
    }
    rows.push(...(JSON.parse(readFileSync(out, "utf8")) as Measurement[]));
    console.log(`${dialect}: ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const printed = table(rows);
  console.log(printed);
  writeFileSync(
    join(__dirname, "results-peers.json"),
    JSON.stringify(
      {
        machine: `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}, TypeORM ${TYPEORM_LINE}${QUICK ? ", --quick" : ""}`,
        rows,
      },
      null,
      2,
    ) + "\n",
  );
}

if (require.main === module)
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });

// for run.ts: `npm run bench -- --peers`
export { main as peers };
