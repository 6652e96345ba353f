/**
 * `npm run bench` (and `npm run bench -- --quick`): the library against plain TypeORM and the raw drivers, on every
 * dialect that answers, subjects alternated round by round in one process. Prints a table, writes
 * bench/results.json and draws bench/results.svg.
 */
import "reflect-metadata";
import { instanceToPlain, plainToInstance } from "class-transformer";
import { randomUUID } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { DataSource } from "typeorm";
import { DatabaseManager, JsonPath, ModelSerializer } from "../src";
import { TYPEORM_LINE } from "../src/typeorm/typeorm-line";
import { registeredDialect } from "../src/typeorm/registry";
import { Customer, Invoice, InvoiceLine } from "../test/support/shop-entities";
import { databaseUrl } from "../test/support/servers";
import { prepareDatabase } from "../test/support/global-setup";
import {
  freshConnectionsOf,
  rawBulk,
  rawInsertSql,
  rawMariadb,
  rawPostgres,
  rawSqlite,
  type FreshConnections,
  type RawDriver,
} from "./raw";
import { measure, measureInterleaved, ratioOf, WARMUP_ROUNDS, type Measurement } from "./measure";
import { drawChart } from "./chart";
import { peers } from "./peers";
import { startBusyLoad } from "./busy";
import {
  BenchJson,
  BenchJsonIndexed,
  BenchPlain,
  BenchRow,
  BenchVersioned,
  BenchHistory,
  BenchBatch,
  BenchBatchHistory,
  RAW_COLUMNS,
  jsonDocument,
  libraryValues,
  plainValues,
  rawParams,
  rawParamsOf,
} from "./subjects";

type BenchDialect = "sqlite" | "postgres" | "mariadb";

const QUICK = process.argv.includes("--quick");
/** `--tax`: only the create row and the tax section (into bench/results-tax.json). */
const ONLY_TAX = process.argv.includes("--tax");
/** `--one-row`: only the one-row scenarios against the raw driver (create, find by id, update by id). */
const ONLY_ONE_ROW = process.argv.includes("--one-row");
/** `--history`: only what history costs the writes of many rows (into bench/results-history.json). */
const ONLY_HISTORY = process.argv.includes("--history");
/**
 * Rounds of the one-row scenarios (create, find by id, the tax), in quick and full runs alike: a round's ratio on a
 * server moves by a tenth or two (the machine's two cores are shared with the server; PostgreSQL's `save()` of a
 * changed entity, a commit each, 0.88x to 1.83x in one full run of eleven rounds), so the median needs fifteen to
 * repeat within a few percent. A full run's rounds are longer (more operations), not more numerous.
 */
const ONE_ROW_ROUNDS = 15;
/**
 * Operations a round of the one-row scenarios on a server (SQLite: five times as many). Quick runs take 200: the
 * one-row and tax scenarios were more than half of a quick run's 16 minutes; the rounds stay fifteen, so a round's
 * noise grows by about 1.4x and the median's spread with it. Over three quick runs of 200, MariaDB's find by id
 * spread by 16% (14% with 400), the other one-row rows by at most 8%.
 */
const SINGLE_OPS = QUICK ? 200 : 1000;
/**
 * Operations a round of the one-row scenarios (create, find by id, the tax): SQLite answers in microseconds inside
 * the process, so it runs five times as many, for rounds as long as the servers' (a garbage collection then lands
 * on a round's few percent, not its half).
 */
function singleOps(dialect: BenchDialect): number {
  return dialect === "sqlite" ? SINGLE_OPS * 5 : SINGLE_OPS;
}
/**
 * A one-row scenario, each subject given as one operation, its subjects interleaved (see measureInterleaved): on a
 * server operation by operation (the server's speed moves within a round, and both must see the same), on SQLite
 * {@link SQLITE_STEP} operations a step (the work is all in this process: a subject's code stays in the caches for a
 * step, and the steps still alternate every few hundred microseconds). Measured, round by round as before: on one
 * machine the raw driver's rounds ran at two speeds a few rounds long (31 and 44 ms for 2,000 inserts) and
 * `insertOne` read 1.12x the raw INSERT in one quick run and 1.40x in the next.
 *
 * `against` names a subject measured against the raw driver (the library's one-row fast paths): on SQLite such a
 * scenario takes {@link SQLITE_RAW_ROUNDS} rounds, and plain TypeORM, 3x to 12x the raw driver's time there, runs a
 * fifth of the others' operations a step (its ratio is per operation). On a server, where the subjects alternate
 * operation by operation, plain TypeORM run at every fifth operation read 1.4x to 1.6x the ratio it reads run at every
 * one (`save()` 4.65x the raw INSERT where 3.24x): a subject run at another rhythm is not measured alike, so the
 * servers keep fifteen rounds of every subject at every operation.
 */
async function measureOneRow(
  scenario: string,
  operations: Record<string, (i: number) => Promise<unknown>>,
  ops: number,
  dialect: BenchDialect,
  freshConnections: FreshConnections,
  rounds = ONE_ROW_ROUNDS,
  against?: "raw",
): Promise<Measurement[]> {
  if (dialect !== "sqlite")
    return measureInterleaved(scenario, rounds, operations, ops, dialect, { beforeRound: freshConnections });
  // at least 20 steps a round (`find` of 100 rows runs a tenth of the operations)
  const perStep = [SQLITE_STEP, 10, 5, 1].find((size) => ops % size === 0 && ops / size >= 20) ?? 1;
  const thin = against && "typeorm" in operations && perStep % 5 === 0 ? "typeorm" : undefined;
  const opsPerStep: Record<string, number> = {};
  const steps: Record<string, (i: number) => Promise<void>> = {};
  for (const [name, operation] of Object.entries(operations)) {
    const size = (opsPerStep[name] = name === thin ? perStep / 5 : perStep);
    steps[name] = async (step) => {
      for (let i = step * size, end = i + size; i < end; i++) await operation(i);
    };
  }
  return measureInterleaved(scenario, against ? SQLITE_RAW_ROUNDS : rounds, steps, ops / perStep, dialect, {
    opsPerStep,
  });
}
/**
 * Rounds of the tax's reads (`findOneBy`, `find({ take: 100 })`), three times {@link ONE_ROW_ROUNDS}: a read is
 * short, so its rounds are, and their ratios moved most. On SQLite TypeORM's read of one row is about 40 µs, a round
 * of them 40 ms, and the rounds ran at two speeds in stretches of three to six rounds (per-round ratios near 0.88x,
 * then near 1.05x): fifteen rounds saw two or three stretches, and `findOneBy` read 0.89x to 1.03x in three busy quick
 * runs, 0.97x to 0.99x in three runs of 45. On MariaDB beside the busy load, a quick round of 100 `findOneBy` calls
 * read 0.62x to 1.31x within one run, and the median of fifteen 0.80x to 0.93x across three.
 */
const READ_ROUNDS = ONE_ROW_ROUNDS * 3;
/**
 * Calls of `find({ take: 100 })` a round at least (otherwise a tenth of the one-row operations): quick rounds on a
 * server had ten, about 5 ms, and MariaDB's median read 0.86x to 1.18x across three busy runs.
 */
const FIND_100_MIN_OPS = 30;
/** Operations a step of SQLite's one-row scenarios. */
const SQLITE_STEP = 50;
/**
 * Rounds of SQLite's one-row scenarios against the raw driver (create, find by id, update by id), three times
 * {@link ONE_ROW_ROUNDS}. A round's ratio there moves by a tenth around its median (`insertOne` 0.91x-1.19x in one
 * run: a scavenge or the other core's work landing on a step of a millisecond), and the median of fifteen read
 * 1.04x-1.11x for `findById` across six processes of the same code (Dec 7); the median of n rounds moves as
 * 1/sqrt(n). The rounds cost little: plain TypeORM, which had taken 60-85% of those scenarios' time, runs a fifth of
 * the operations.
 */
const SQLITE_RAW_ROUNDS = ONE_ROW_ROUNDS * 3;
const UUID_ROWS = QUICK ? 20_000 : 200_000;
/** `--serializer`: only the serialization scenarios (into bench/results-serializer.json). */
const ONLY_SERIALIZER = process.argv.includes("--serializer");
/**
 * Rounds of the bulk scenarios. A round's ratio moves by a sixth around its median on a server (PostgreSQL's 10,000
 * rows 0.27x to 0.55x the raw INSERTs in one run, MariaDB's 100,000 0.46x to 0.77x): with nine rounds the median of
 * three quick runs spread by 16% on those two rows; the median of n rounds moves as 1/sqrt(n). (With five, one slow
 * round of the server, a checkpoint's flush, moved the median by a fifth.) Quick runs take nine of the 100,000-row
 * scenario (the raw subject's 100,000 INSERTed rows took PostgreSQL a minute of the run): in three quick runs of 15
 * (Dec 6), the medians of the first nine and of the last nine rounds spread by at most 9% across the runs.
 */
const BULK_ROUNDS = { "bulk-10k": 25, "bulk-100k": QUICK ? 9 : 15 } as const;
/**
 * Rounds of SQLite's 100,000-row bulk insert, in quick and full runs alike: its rounds' ratios ran from 0.68x to
 * 1.31x within one quick run of nine (a major collection of the round's 400,000 input objects landing on either
 * subject), and the median read 0.82x to 1.00x across three runs; a round takes about a second here.
 */
const SQLITE_BULK_100K_ROUNDS = 25;
/** `--crossover`: only the crossover rows of the bulk loader (into bench/results-crossover.json). */
const ONLY_CROSSOVER = process.argv.includes("--crossover");
/** `--json`: only the JSON insert and lookup rows (into bench/results-json.json). */
const ONLY_JSON = process.argv.includes("--json");
/**
 * The serializer scenarios run in processes of their own, several per dialect, each started fresh with a young
 * generation of a fixed size (V8's flags below); the row kept is the process whose ratio is the median. Measured:
 * in the process that had run the database scenarios before, the ratios moved by half between runs (the heap those
 * left); in fresh processes with V8's default, growing young generation, one process in a few still settled at
 * another speed (the scavenges fell at other moments of the conversions: `bulkToDict` of the invoices 0.044x to
 * 0.052x on MariaDB); with the young generation fixed at 128 MB five processes agreed within 7%, and the median
 * keeps the odd one (class-transformer once took 685 ms a round where it takes 490) out of the result. Five, not
 * three: `fromDict` of the invoices read from 0.138x to 0.189x in the nine processes (three dialects) of each of three
 * quick runs, and the medians of three moved by 16% between runs.
 */
const SERIALIZER_PROCESSES = 5;
const SERIALIZER_V8_FLAGS = ["--min-semi-space-size=128", "--max-semi-space-size=128"];
/**
 * The crossover and JSON scenarios run in one fresh process per dialect, with the serializer's fixed young
 * generation, after the database scenarios' process. Measured: in that process, after the one-row, tax and bulk
 * scenarios, MariaDB's crossover at 100 and 250 rows moved by a fifth and more between runs (one path 10-17% faster in
 * one run, the other not), PostgreSQL's indexed JSON lookups by a fifth (282-351 ms per 1,000, mostly the client's
 * work); three crossover runs in fresh processes agreed within 11%.
 */
const LOADS_V8_FLAGS = SERIALIZER_V8_FLAGS;
/**
 * Rounds of the serializer scenarios in each of their processes: a round takes a few tenths of a second of the
 * process's time alone, and within a process the rounds agree to a few percent (what moves between runs is the
 * process, which the five processes are for); quick runs take three rounds a process after one warm-up round (the
 * check that both subjects agree has run each conversion once before it).
 */
const SERIALIZER_ROUNDS = QUICK ? 3 : 9;
const SERIALIZER_WARMUP = QUICK ? 1 : WARMUP_ROUNDS;
/**
 * Rounds of the JSON lookup scenario (quick: 20,000 documents, a round of 500 indexed and 50 unindexed lookups;
 * full: 100,000 documents, 400 and 40). With seven quick rounds PostgreSQL's ratio read 0.038x, 0.046x and 0.044x in
 * three runs, a round's ratio moving by a tenth within a run.
 */
const JSON_LOOKUP_ROUNDS = { quick: 11, full: 7 } as const;
/**
 * Rounds of the JSON insert scenario (10,000 documents of each path a round, into emptied tables; a round takes about
 * half a second). With eleven, MariaDB's rounds read 0.98x-1.41x and the median 1.27x and 1.16x in two runs.
 */
const JSON_INSERT_ROUNDS = 25;
/**
 * A JSON insert round's calls of each path: ten `insertMany` calls of 1,000 documents (MariaDB's LOAD DATA threshold,
 * so each call takes its dialect's bulk loader where it has one), the two paths' calls alternating as in the crossover. Measured a path a round, one
 * call of 10,000, MariaDB's ratio read 1.41x, 1.15x and 1.34x in three quick runs, its rounds 0.9x-1.8x within one.
 */
const JSON_INSERT_CALLS = { calls: 10, rows: 1_000 } as const;
/**
 * The serializer scenarios' steps a round and conversions of the list a step, per subject: the invoices
 * ({@link INVOICES}) and the flat rows (1,000). The subjects' steps alternate (see measureInterleaved); the library
 * converts more times a step than class-transformer (ratios are per conversion), so that its steps last as long as
 * the baseline's.
 */
const INVOICE_STEPS = { steps: 2, library: 4, "class-transformer": 1 };
/**
 * Invoices the serializer converts, in quick runs too: with 5,000 in quick runs (a quarter of a run is the serializer's
 * fifteen processes), `bulkToDict`'s ratio spread by 21% and 23% across three runs on MariaDB and SQLite, where it
 * stays within 7% with 10,000.
 */
const INVOICES = 10_000;
const FLAT_STEPS = { steps: 20, library: 6, "class-transformer": 1 };

/** The SQLite database file every SQLite subject opens, in the run's folder. */
function sqliteFile(dir: string): string {
  return join(dir, "bench.db");
}

/** The database URL of the library's and plain TypeORM's subjects. */
function urlOf(dialect: BenchDialect, dir: string): string {
  return dialect === "sqlite" ? `sqlite:${sqliteFile(dir)}` : databaseUrl(dialect);
}

/** The library's DatabaseManager on a reset database, or undefined (announced) where the server does not answer. */
async function openLibrary(dialect: BenchDialect, dir: string): Promise<DatabaseManager | undefined> {
  const url = urlOf(dialect, dir);
  const db = new DatabaseManager({
    url,
    entities: [
      BenchRow,
      BenchVersioned,
      BenchHistory,
      BenchBatch,
      BenchBatchHistory,
      BenchJson,
      BenchJsonIndexed,
      Customer,
      Invoice,
      InvoiceLine,
    ],
    poolSize: 3,
  });
  try {
    await db.initialize();
  } catch (error) {
    console.warn(`!! ${dialect}: not answering, skipped (${(error as Error).message})`);
    return undefined;
  }
  await db.reset({ confirm: true });
  return db;
}

/** {@link openLibrary}, plain TypeORM's DataSource and the raw driver on the same database, with their tables. */
async function openDialect(
  dialect: BenchDialect,
  dir: string,
): Promise<{ db: DatabaseManager; plain: DataSource; raw: RawDriver } | undefined> {
  const db = await openLibrary(dialect, dir);
  if (!db) return undefined;
  const url = urlOf(dialect, dir);
  const sqliteType = db.dataSource.options.type;
  const plainOptions =
    dialect === "sqlite"
      ? { type: sqliteType as "better-sqlite3", database: sqliteFile(dir), enableWAL: true }
      : dialect === "postgres"
        ? { type: "postgres" as const, url, poolSize: 3 }
        : { type: "mariadb" as const, url: url.replace(/^mariadb:/, "mysql:"), poolSize: 3 };
  const plain = new DataSource({ ...plainOptions, entities: [BenchPlain], synchronize: true });
  await plain.initialize();
  await plain.getRepository(BenchPlain).clear();
  const raw =
    dialect === "sqlite"
      ? rawSqlite(sqliteFile(dir), sqliteType)
      : dialect === "postgres"
        ? rawPostgres()
        : rawMariadb();
  // the raw driver's table: the same columns, a plain is_deleted, the same primary key
  await db.dataSource.query("DROP TABLE IF EXISTS bench_raw");
  await db.dataSource.query("CREATE TABLE bench_raw AS SELECT * FROM bench_library WHERE 1 = 0");
  await db.dataSource.query(
    dialect === "sqlite"
      ? "CREATE UNIQUE INDEX bench_raw_id ON bench_raw (id)"
      : "ALTER TABLE bench_raw ADD PRIMARY KEY (id)",
  );
  return { db, plain, raw };
}

async function benchDialect(dialect: BenchDialect, dir: string): Promise<Measurement[]> {
  // the serializer's processes convert entities the library loaded: no other subject's tables or connections
  if (PART === "serializer") {
    const db = await openLibrary(dialect, dir);
    if (!db) return [];
    try {
      return await serialization(db, dialect);
    } finally {
      await db.close();
    }
  }
  const opened = await openDialect(dialect, dir);
  if (!opened) return [];
  const { db, plain, raw } = opened;
  const freshConnections = freshConnectionsOf(db, plain, raw);
  const maxParams = dialect === "sqlite" ? 32_766 : 65_535;
  if (ONLY_HISTORY) {
    const measured = await historyWrites(db, dialect);
    await raw.close();
    await plain.destroy();
    await db.close();
    return measured;
  }
  const rows: Measurement[] = [];
  const plainRepo = plain.getRepository(BenchPlain);
  const ops = singleOps(dialect);
  let n = 0;
  if (PART === "loads") {
    if (!ONLY_JSON) rows.push(...(await crossover(db, dialect)));
    if (!ONLY_CROSSOVER) rows.push(...(await jsonScenarios(db, dialect, freshConnections)));
    await raw.close();
    await plain.destroy();
    await db.close();
    return rows;
  }

  // 1. create one row
  const insertRaw = rawInsertSql(raw, 1);
  rows.push(
    ...(await measureOneRow(
      "create",
      {
        library: () => db.insertOne(BenchRow, libraryValues(n++)),
        typeorm: () => plainRepo.save(plainValues(n++)),
        raw: () => raw.run(insertRaw, rawParams(n++, raw.time, raw.bool)),
      },
      ops,
      dialect,
      freshConnections,
      ONE_ROW_ROUNDS,
      "raw",
    )),
  );

  // 2. find one by id, before the tax: the library's and the raw driver's tables then hold the same rows (the tax adds
  // rows to the library's and plain TypeORM's tables; on SQLite the library's then held three times the raw one's);
  // on SQLite plain TypeORM's holds a fifth of them (see measureOneRow)
  if (!ONLY_TAX) {
    const libraryIds = (await db.dataSource.query("SELECT id FROM bench_library")) as { id: string }[];
    const plainIds = (await db.dataSource.query("SELECT id FROM bench_typeorm")) as { id: string }[];
    const rawIds = (await db.dataSource.query("SELECT id FROM bench_raw")) as { id: string }[];
    const selectRaw = `SELECT ${RAW_COLUMNS.join(", ")} FROM bench_raw WHERE id = ${raw.placeholder(0)} AND deleted_at IS NULL`;
    rows.push(
      ...(await measureOneRow(
        "find-by-id",
        {
          library: async (i) => {
            if (!(await db.findById(BenchRow, libraryIds[i % libraryIds.length]!.id))) throw new Error("missing");
          },
          typeorm: async (i) => {
            if (!(await plainRepo.findOneBy({ id: plainIds[i % plainIds.length]!.id }))) throw new Error("missing");
          },
          raw: async (i) => {
            if (!(await raw.first(selectRaw, [rawIds[i % rawIds.length]!.id]))) throw new Error("missing");
          },
        },
        ops,
        dialect,
        freshConnections,
        ONE_ROW_ROUNDS,
        "raw",
      )),
    );

    // 2b. update one column by id: the library's fast path, TypeORM's update(), the raw UPDATE (the same SET and
    // WHERE)
    const updateRaw = `UPDATE bench_raw SET reference = ${raw.placeholder(0)}, updated_at = ${raw.placeholder(1)} WHERE id = ${raw.placeholder(2)} AND deleted_at IS NULL`;
    rows.push(
      ...(await measureOneRow(
        "update-by-id",
        {
          library: (i) => db.updateById(BenchRow, libraryIds[i % libraryIds.length]!.id, { reference: `u-${n++}` }),
          typeorm: (i) => plainRepo.update({ id: plainIds[i % plainIds.length]!.id }, { reference: `u-${n++}` }),
          raw: (i) => raw.run(updateRaw, [`u-${n++}`, raw.time(new Date()), rawIds[i % rawIds.length]!.id]),
        },
        ops,
        dialect,
        freshConnections,
        ONE_ROW_ROUNDS,
        "raw",
      )),
    );
  }

  if (ONLY_ONE_ROW) {
    await raw.close();
    await plain.destroy();
    await db.close();
    return rows;
  }

  // 3. the tax on TypeORM's own paths
  rows.push(...(await tax(db, plain, dialect, freshConnections)));
  // a minute a dialect: in the full run and with --history, not in the quick or --tax runs
  if (!ONLY_TAX && !QUICK) rows.push(...(await historyWrites(db, dialect)));
  if (ONLY_TAX) {
    await raw.close();
    await plain.destroy();
    await db.close();
    return rows;
  }

  // 4. bulk insert
  for (const [scenario, count] of [
    ["bulk-10k", 10_000],
    ["bulk-100k", 100_000],
  ] as const) {
    const bulkRounds =
      dialect === "sqlite" && scenario === "bulk-100k" ? SQLITE_BULK_100K_ROUNDS : BULK_ROUNDS[scenario];
    // every subject's round takes the same input, the library's value objects, built before the clock: the round
    // times the call alone (the library's insertMany; the raw driver's caller turning those objects into parameters
    // and running the multi-row INSERTs). Built inside the round, the 400,000 objects of 100,000 rows (each row's
    // embedded audit, metadata and JSON) were timed as the library's work, where the raw subject made up flat arrays.
    let input: Partial<BenchRow>[] = [];
    const subjects: Record<string, () => Promise<void>> = {
      library: async () => {
        await db.insertMany(BenchRow, input);
      },
      raw: () => rawBulk(raw, count, maxParams, "bench_raw", undefined, input),
    };
    // the driver's ceiling: in full runs (a third of a quick run's bulk time, for a row the docs take from full runs)
    const ceiling = QUICK ? undefined : ceilingFor(dialect, raw, count, () => input);
    if (ceiling) subjects["ceiling"] = ceiling;
    rows.push(
      ...(await measure(scenario, bulkRounds, subjects, count, dialect, {
        // every round into an empty table (700,000 rows kept from the rounds before made the last ones slower), on a
        // server with nothing left to write from the rounds before (see settle)
        beforeRound: async (subject) => {
          input = [];
          await emptyTable(db, dialect, subject === "library" ? "bench_library" : "bench_raw");
          await settle(db, dialect);
          input = Array.from({ length: count }, (_, i) => libraryValues(i));
        },
      })),
    );
    input = [];
    await emptyTable(db, dialect, "bench_library");
    await emptyTable(db, dialect, "bench_raw");
  }

  // 4b. where insertMany's bulk loader (COPY, LOAD DATA) overtakes its own multi-row INSERTs, and 4c. JSON (a
  // JsonPath lookup on 100,000 documents with and without its @JsonIndex, what the index costs inserts): in a process
  // of their own (see LOADS_V8_FLAGS), not in quick runs (`--quick --crossover`, `--quick --json`)

  // 5. serialization: in processes of its own (see SERIALIZER_PROCESSES)

  // 6. health
  rows.push(await health(db, dialect));

  // 7. UUIDv7 against UUIDv4 keys
  if (dialect !== "sqlite") rows.push(...(await uuidKeys(db, raw, dialect, maxParams)));

  await raw.close();
  await plain.destroy();
  await db.close();
  return rows;
}

/**
 * The tax: the library's entity (`BenchRow extends FullAuditModel`) through the ordinary TypeORM paths an app uses
 * every day, against a plain TypeORM entity with the same ten columns (`BenchPlain`), on the same database in the
 * same run. Goal: every path at most 1.05x plain TypeORM.
 */
async function tax(
  db: DatabaseManager,
  plain: DataSource,
  dialect: BenchDialect,
  freshConnections: FreshConnections,
): Promise<Measurement[]> {
  const library = db.getRepository(BenchRow);
  const typeorm = plain.getRepository(BenchPlain);
  // quick runs on a server: half the one-row scenarios' rounds (the subjects alternate operation by operation, and the
  // tax rows had stayed within 5% across quick runs; on SQLite, halved, two rows moved by 11% and 12% between runs)
  const ops = QUICK && dialect !== "sqlite" ? singleOps(dialect) / 2 : singleOps(dialect);
  const perRun = (ONE_ROW_ROUNDS + WARMUP_ROUNDS) * ops;
  let n = 0;
  const fresh = {
    library: () => Object.assign(new BenchRow(), libraryValues(n++)),
    typeorm: () => plainValues(n++),
  };
  const rows: Measurement[] = [];
  // PostgreSQL: both tables vacuumed before every round as well, untimed. Without it the dead rows the updates leave
  // stay where they are (this server runs no autovacuum), `find({ take: 100 })` scans past them from the first page,
  // and the two tables' pages were in different states: one full run read 1.21x, its rounds 0.77x for five and 1.2x
  // to 1.33x for ten, the table that was slow in one stretch of rounds the fast one in the next.
  const beforeRound: FreshConnections =
    dialect === "postgres" && freshConnections
      ? async () => {
          await db.dataSource.query(
            "VACUUM ANALYZE bench_library, bench_typeorm, bench_versioned, bench_history, inference_history",
          );
          await freshConnections();
        }
      : freshConnections;
  const run = async (
    scenario: string,
    operations: Record<"library" | "typeorm", (i: number) => Promise<unknown>>,
    count = ops,
    rounds = ONE_ROW_ROUNDS,
  ) => rows.push(...(await measureOneRow(`tax:${scenario}`, operations, count, dialect, beforeRound, rounds)));

  await run("save-insert", {
    library: () => library.save(fresh.library()),
    typeorm: () => typeorm.save(fresh.typeorm()),
  });
  // rows for the reads and updates, loaded once
  const libraryRows = await library.find({ take: ops });
  const typeormRows = await typeorm.find({ take: ops });
  await run("save-changed", {
    library: (i) => {
      const row = libraryRows[i]!;
      row.reference = `changed-${n++}`;
      return library.save(row);
    },
    typeorm: (i) => {
      const row = typeormRows[i]!;
      row.reference = `changed-${n++}`;
      return typeorm.save(row);
    },
  });
  await run(
    "findOneBy",
    {
      library: async (i) => {
        if (!(await library.findOneBy({ id: libraryRows[i]!.id }))) throw new Error("missing");
      },
      typeorm: async (i) => {
        if (!(await typeorm.findOneBy({ id: typeormRows[i]!.id }))) throw new Error("missing");
      },
    },
    ops,
    READ_ROUNDS,
  );
  await run(
    "find-100",
    {
      library: async () => {
        if ((await library.find({ take: 100 })).length !== 100) throw new Error("short");
      },
      typeorm: async () => {
        if ((await typeorm.find({ take: 100 })).length !== 100) throw new Error("short");
      },
    },
    Math.max(FIND_100_MIN_OPS, ops / 10),
    READ_ROUNDS,
  );
  await run("update", {
    library: (i) => library.update({ id: libraryRows[i]!.id }, { reference: `u-${n++}` }),
    typeorm: (i) => typeorm.update({ id: typeormRows[i]!.id }, { reference: `u-${n++}` }),
  });
  await run("querybuilder-update", {
    library: (i) =>
      library
        .createQueryBuilder()
        .update()
        .set({ reference: `q-${n++}` })
        .where("id = :id", { id: libraryRows[i]!.id })
        .execute(),
    typeorm: (i) =>
      typeorm
        .createQueryBuilder()
        .update()
        .set({ reference: `q-${n++}` })
        .where("id = :id", { id: typeormRows[i]!.id })
        .execute(),
  });
  await run("upsert", {
    library: (i) => library.upsert({ id: libraryRows[i]!.id, reference: `up-${n++}` }, ["id"]),
    typeorm: (i) => typeorm.upsert({ id: typeormRows[i]!.id, reference: `up-${n++}` }, ["id"]),
  });
  // soft delete and restore: each round takes the next rows of a set inserted for them
  const setUp = { chunk: 500 };
  const libraryIds = (
    await library.save(
      Array.from({ length: perRun }, () => fresh.library()),
      setUp,
    )
  ).map((r) => r.id);
  const typeormIds = (
    await typeorm.save(
      Array.from({ length: perRun }, () => fresh.typeorm()),
      setUp,
    )
  ).map((r) => r.id);
  const cursor = { library: 0, typeorm: 0, libraryBack: 0, typeormBack: 0 };
  await run("softDelete", {
    library: () => library.softDelete({ id: libraryIds[cursor.library++]! }),
    typeorm: () => typeorm.softDelete({ id: typeormIds[cursor.typeorm++]! }),
  });
  await run("restore", {
    library: () => library.restore({ id: libraryIds[cursor.libraryBack++]! }),
    typeorm: () => typeorm.restore({ id: typeormIds[cursor.typeormBack++]! }),
  });
  // what a model option costs: the same loaded, changed save of the library's model with it and of BenchRow without
  const changedSave = async (
    scenario: string,
    target: typeof BenchVersioned | typeof BenchHistory,
    baseline: string,
  ): Promise<void> => {
    const repository = db.getRepository<BenchRow>(target);
    const loaded = await repository.save(
      Array.from({ length: ops }, () => Object.assign(new target(), libraryValues(n++))),
      { chunk: 500 },
    );
    const changed = (saved: BenchRow[], save: (row: BenchRow) => Promise<unknown>) => (i: number) => {
      const row = saved[i]!;
      row.reference = `changed-${n++}`;
      return save(row);
    };
    rows.push(
      ...(await measureOneRow(
        scenario,
        {
          library: changed(loaded, (row) => repository.save(row)),
          [baseline]: changed(libraryRows, (row) => library.save(row)),
        },
        ops,
        dialect,
        beforeRound,
      )),
    );
  };
  // the version check (an extra column, TypeORM's and the check's work) and the history (an entry per save), after
  // the tax's paths: their baseline saves the library's rows again, which had left its table with twice the plain
  // one's updated rows before the reads. In `--tax` and full runs; quick runs leave them out (about 50 s a run)
  if (!QUICK || ONLY_TAX) {
    await changedSave("version-check:save-changed", BenchVersioned, "no-version");
    await changedSave("history:save-changed", BenchHistory, "no-history");
  }
  return rows;
}

/**
 * Calls of each path a crossover round makes at least: at 2,500 rows a round of 10,000 was four calls, and its ratio
 * moved from 0.37x to 0.55x round to round on PostgreSQL where the 1,000-row rounds (ten calls) stayed within
 * 0.41x to 0.48x; the 2,500-row row spread by 21% across three quick runs.
 */
const CROSSOVER_MIN_CALLS = 10;
/**
 * Rounds of each crossover size. With 15, MariaDB's ratio at 100 rows read 1.08x, 1.05x and 1.22x in three quick runs
 * (its rounds 0.98x-1.19x in one run, 1.10x-1.26x in another), in the process of the other scenarios; in a process of
 * their own two runs of 25 agreed within 6% on every size, and quick runs take 19.
 */
const CROSSOVER_ROUNDS = QUICK ? 19 : 25;

/**
 * insertMany at small sizes, through the dialect's bulk loader ("library") and through multi-row INSERTs
 * ("insert-path", the loader's threshold lifted for the measurement), to place the threshold. A round inserts about
 * 10,000 rows of each path (at least {@link CROSSOVER_MIN_CALLS} calls) in calls of `count` rows, the two paths'
 * calls alternating (each call timed), into a table emptied before the round, inside one transaction: the calls'
 * commits would each wait for a flush of the log, the same for both paths and as long as the loads themselves, and
 * one slow flush moved a round by a third; and calls of the two paths a round apart met the server in different
 * states (a checkpoint, the log's recycling), which moved the ratio by a third between runs.
 */
async function crossover(db: DatabaseManager, dialect: BenchDialect): Promise<Measurement[]> {
  const loader = registeredDialect(db.dataSource) as { bulkLoadThreshold: number } | undefined;
  if (!loader || !Number.isFinite(loader.bulkLoadThreshold)) return [];
  const threshold = loader.bulkLoadThreshold;
  const out: Measurement[] = [];
  let offset = 0;
  // quick runs leave out 2,500 rows a call (beyond both thresholds; at least 25,000 rows a path a round, the slowest)
  for (const count of QUICK ? [50, 100, 250, 1_000] : [50, 100, 250, 1_000, 2_500]) {
    const call = (bulk: boolean) => async () => {
      loader.bulkLoadThreshold = bulk ? 1 : Number.POSITIVE_INFINITY;
      try {
        const base = (offset += count);
        await db.insertMany(
          BenchRow,
          Array.from({ length: count }, (_, i) => libraryValues(base + i)),
        );
      } finally {
        loader.bulkLoadThreshold = threshold;
      }
    };
    out.push(
      ...(await measureInterleaved(
        `crossover-${count}`,
        CROSSOVER_ROUNDS,
        { library: call(true), "insert-path": call(false) },
        Math.max(CROSSOVER_MIN_CALLS, Math.ceil(10_000 / count)),
        dialect,
        {
          opsPerStep: count,
          beforeRound: async () => {
            await emptyTable(db, dialect, "bench_library");
            await settle(db, dialect);
          },
          wrapRound: (round) => db.withSession(round),
        },
      )),
    );
  }
  await emptyTable(db, dialect, "bench_library");
  return out;
}

/** Batches of {@link HISTORY_BATCH} rows the criteria updates take turns on. */
const HISTORY_BATCHES = 4;
const HISTORY_BATCH = 1_000;
const HISTORY_BULK = 100_000;

/**
 * What history costs the writes of many rows: `update()` of 1,000 rows by criteria (an indexed column) and
 * `insertMany` of 100,000 rows, on an entity with `@History()` against the same entity without. Goals: 2x and 1.5x.
 */
async function historyWrites(db: DatabaseManager, dialect: BenchDialect): Promise<Measurement[]> {
  const out: Measurement[] = [];
  const clear = async () => {
    for (const table of ["bench_batch", "bench_batch_history", "inference_history"])
      await emptyTable(db, dialect, table);
    await settle(db, dialect);
  };
  await clear();
  const seed = Array.from({ length: HISTORY_BATCHES * HISTORY_BATCH }, (_, i) => ({
    batch: i % HISTORY_BATCHES,
    reference: `seed-${i}`,
  }));
  await db.insertMany(BenchBatch, seed);
  await db.insertMany(BenchBatchHistory, seed);
  let n = 0;
  const update = (target: typeof BenchBatch | typeof BenchBatchHistory) => (i: number) =>
    db.getRepository<BenchBatch>(target).update({ batch: i % HISTORY_BATCHES }, { reference: `u-${n++}` });
  // the floor any per-row history has: the same write without history, and in its transaction one entry row per
  // changed row (the database builds them itself, with no changes recorded in them)
  const entriesOf = (op: string, where: string) =>
    `INSERT INTO inference_history (entity, entity_id, op, actor, at, changes) SELECT 'bench_floor', ` +
    `CAST(id AS ${dialect === "mariadb" ? "CHAR(36)" : dialect === "postgres" ? "varchar" : "TEXT"}), '${op}', NULL, ` +
    `CURRENT_TIMESTAMP, NULL FROM bench_batch WHERE ${where}`;
  const floorUpdate = (i: number) =>
    db.withSession(async (manager) => {
      const batch = i % HISTORY_BATCHES;
      await manager.getRepository(BenchBatch).update({ batch }, { reference: `u-${n++}` });
      await manager.query(entriesOf("update", `batch = ${dialect === "postgres" ? "$1" : "?"}`), [batch]);
    });
  out.push(
    ...(await measureInterleaved(
      "history:update-1000",
      QUICK ? 5 : 10,
      { library: update(BenchBatchHistory), "no-history": update(BenchBatch), "entries-floor": floorUpdate },
      HISTORY_BATCHES,
      dialect,
      { opsPerStep: HISTORY_BATCH },
    )),
  );
  const rows = Array.from({ length: HISTORY_BULK }, (_, i) => ({ batch: i % 100, reference: `bulk-${i}` }));
  out.push(
    ...(await measure(
      "history:insertMany-100k",
      QUICK ? 3 : 5,
      {
        library: () => db.insertMany(BenchBatchHistory, rows),
        "no-history": () => db.insertMany(BenchBatch, rows),
        // each round starts from empty tables: the entries are those of every row there
        "entries-floor": () =>
          db.withSession(async (manager) => {
            await db.insertMany(BenchBatch, rows);
            await manager.query(entriesOf("insert", "1 = 1"));
          }),
      },
      HISTORY_BULK,
      dialect,
      { beforeRound: clear },
    )),
  );
  await clear();
  return out;
}

async function jsonScenarios(
  db: DatabaseManager,
  dialect: BenchDialect,
  freshConnections: FreshConnections,
): Promise<Measurement[]> {
  const count = QUICK ? 20_000 : 100_000;
  const out: Measurement[] = [];
  let offset = 0;
  // the two paths' insertMany calls alternate inside a round (see JSON_INSERT_CALLS), in one transaction, into tables
  // emptied before it
  const insert = (target: typeof BenchJson | typeof BenchJsonIndexed) => async () => {
    const base = offset;
    offset += JSON_INSERT_CALLS.rows;
    await db.insertMany(
      target,
      Array.from({ length: JSON_INSERT_CALLS.rows }, (_, i) => jsonDocument(base + i)),
    );
  };
  out.push(
    ...(await measureInterleaved(
      "json-insert-10k",
      JSON_INSERT_ROUNDS,
      { library: insert(BenchJsonIndexed), "no-index": insert(BenchJson) },
      JSON_INSERT_CALLS.calls,
      dialect,
      {
        opsPerStep: JSON_INSERT_CALLS.rows,
        beforeRound: async () => {
          await emptyTable(db, dialect, "bench_json_plain");
          await emptyTable(db, dialect, "bench_json_indexed");
          await settle(db, dialect);
        },
        wrapRound: (round) => db.withSession(round),
      },
    )),
  );
  await emptyTable(db, dialect, "bench_json_plain");
  await emptyTable(db, dialect, "bench_json_indexed");
  const documents = Array.from({ length: count }, (_, i) => jsonDocument(i));
  await db.insertMany(BenchJson, documents);
  await db.insertMany(BenchJsonIndexed, documents);
  // PostgreSQL: VACUUM as well, so that the tables' hint bits and visibility map are set before the lookups, not
  // by whichever lookup reads a page first or by an autovacuum the inserts set off in the middle of the rounds
  const analyze = {
    sqlite: "ANALYZE",
    postgres: "VACUUM ANALYZE bench_json_plain, bench_json_indexed",
    mariadb: "ANALYZE TABLE bench_json_plain, bench_json_indexed",
  };
  await db.dataSource.query(analyze[dialect]);
  // the two lookups alternate inside a round, ten indexed lookups a step against one unindexed (a round of 100
  // indexed lookups took 40-90 ms on a server, moved by any hiccup; rounds a subject apart met the server's busy
  // moments at different times)
  // quick: 50 steps (MariaDB's 100 unindexed lookups a round, a scan of 20,000 documents each, had taken a minute of
  // the run; a round is still 500 indexed lookups and 50 scans)
  const steps = QUICK ? 50 : 40;
  const perStep = { library: 10, "no-index": 1 };
  const lookup = (target: typeof BenchJson | typeof BenchJsonIndexed, at: number) =>
    db
      .getRepository(target)
      .findBy({ body: JsonPath("customer", `c-${(at * 4_999) % count}`) })
      .then((found) => {
        if (found.length !== 1) throw new Error(`${dialect}: a JSON lookup found ${found.length} rows`);
      });
  out.push(
    ...(await measureInterleaved(
      `json-lookup-${count / 1000}k`,
      QUICK ? JSON_LOOKUP_ROUNDS.quick : JSON_LOOKUP_ROUNDS.full,
      {
        library: async (i) => {
          for (let k = 0; k < perStep.library; k++) await lookup(BenchJsonIndexed, i * perStep.library + k);
        },
        "no-index": (i) => lookup(BenchJson, i),
      },
      steps,
      dialect,
      { opsPerStep: perStep, beforeRound: freshConnections },
    )),
  );
  await emptyTable(db, dialect, "bench_json_plain");
  await emptyTable(db, dialect, "bench_json_indexed");
  return out;
}

/**
 * Empties a benchmark table between scenarios or rounds: TRUNCATE on the servers (a DELETE leaves its rows to
 * PostgreSQL's vacuum and InnoDB's purge, which then run on the machine's other core during the measurements that
 * follow), a DELETE without WHERE on SQLite (its truncate optimization).
 */
async function emptyTable(db: DatabaseManager, dialect: BenchDialect, table: string): Promise<void> {
  await db.dataSource.query(dialect === "sqlite" ? `DELETE FROM ${table}` : `TRUNCATE TABLE ${table}`);
}

/**
 * Before a round of the bulk scenarios, untimed: PostgreSQL writes out what the rounds before left in its buffers
 * (`CHECKPOINT`), so that the checkpoint the 100,000-row rounds' WAL sets off does not land on whichever subject runs
 * next. (MariaDB has no such statement short of changing the server's settings, and it does not checkpoint while
 * idle either: with `innodb_max_dirty_pages_pct_lwm` at 0, as here, its page cleaner flushes only when the redo log
 * nears its limit, which the crossover's process gets away from by running on its own; see LOADS_V8_FLAGS.)
 */
async function settle(db: DatabaseManager, dialect: BenchDialect): Promise<void> {
  if (dialect === "postgres") await db.dataSource.query("CHECKPOINT");
}

/** The driver's fastest way to load the same rows (from the round's input), where it has one beside multi-row INSERTs. */
function ceilingFor(
  dialect: BenchDialect,
  raw: RawDriver,
  count: number,
  input: () => readonly Partial<BenchRow>[],
): (() => Promise<void>) | undefined {
  if (dialect === "sqlite") {
    // better-sqlite3 prepared single-row inserts in one transaction
    const sql = rawInsertSql(raw, 1);
    return () =>
      raw.transaction(async (run) => {
        const values = input();
        for (let i = 0; i < count; i++) await run(sql, rawParamsOf(values[i]!, raw.time, raw.bool));
      });
  }
  if (dialect === "postgres") {
    // one INSERT ... SELECT FROM UNNEST of ten arrays
    const types = [
      "uuid",
      "timestamptz",
      "timestamptz",
      "timestamptz",
      "boolean",
      "varchar",
      "varchar",
      "jsonb",
      "varchar",
      "varchar",
    ];
    const sql = `INSERT INTO bench_raw (${RAW_COLUMNS.join(", ")}) SELECT * FROM UNNEST(${types.map((t, i) => `$${i + 1}::${t}[]`).join(", ")})`;
    return async () => {
      const columns: unknown[][] = RAW_COLUMNS.map(() => []);
      const values = input();
      for (let i = 0; i < count; i++)
        rawParamsOf(values[i]!, raw.time, raw.bool).forEach((v, c) => columns[c]!.push(v));
      await raw.run(sql, columns);
    };
  }
  return undefined;
}

async function serialization(db: DatabaseManager, dialect: BenchDialect): Promise<Measurement[]> {
  const customer = await db.insertOne(Customer, {
    email: "ada@example.com",
    passwordHash: "x",
    loyaltyPoints: 3,
    isVip: true,
  });
  await db.insertMany(
    Invoice,
    Array.from({ length: INVOICES }, (_, i) => ({
      number: `INV-${i}`,
      issuedAt: new Date(1_700_000_000_000 + i),
      billing: { street: "Main 1", lines: [i] },
      customer,
    })),
  );
  const invoices = await db.getRepository(Invoice).find({ relations: { customer: true }, take: INVOICES });
  const out = await serializerPair(dialect, "", Invoice, invoices, INVOICE_STEPS);
  // the flat entity: 1,000 plain FullAuditModel rows, loaded, converted FLAT_REPEATS times a round
  await emptyTable(db, dialect, "bench_library");
  await db.insertMany(
    BenchRow,
    Array.from({ length: 1_000 }, (_, i) => libraryValues(i)),
  );
  const flat = await db.getRepository(BenchRow).find();
  out.push(...(await serializerPair(dialect, "-flat", BenchRow, flat, FLAT_STEPS)));
  await emptyTable(db, dialect, "bench_library");
  return out;
}

/** class-transformer's body of an entity: `instanceToPlain` and a JSON round trip. */
function viaClassTransformer(entity: object): unknown {
  return JSON.parse(JSON.stringify(instanceToPlain(entity))) as unknown;
}

/**
 * `to-dict<suffix>` and `from-dict<suffix>` on loaded entities of one class, the subjects' steps interleaved, each
 * step converting the list `repeats` times (per subject; ratios are per conversion): bulkToDict against
 * class-transformer's body (checked equal first), and fromDict of those bodies as an application gets them (their
 * JSON text, parsed, as a framework parses a request) against plainToInstance.
 */
async function serializerPair<T extends object>(
  dialect: BenchDialect,
  suffix: string,
  target: new () => T,
  entities: readonly T[],
  repeats: { readonly steps: number; readonly library: number; readonly "class-transformer": number },
): Promise<Measurement[]> {
  const perStep = {
    library: entities.length * repeats.library,
    "class-transformer": entities.length * repeats["class-transformer"],
  };
  const ours = ModelSerializer.bulkToDict(entities);
  if (!isDeepStrictEqual(ours, entities.map(viaClassTransformer)))
    throw new Error(`${dialect}: bulkToDict and class-transformer disagree on ${target.name}`);
  const toDict = await measureInterleaved(
    `to-dict${suffix}`,
    SERIALIZER_ROUNDS,
    {
      library: () => {
        for (let r = 0; r < repeats.library; r++) ModelSerializer.bulkToDict(entities);
      },
      "class-transformer": () => {
        for (let r = 0; r < repeats["class-transformer"]; r++) entities.map(viaClassTransformer);
      },
    },
    repeats.steps,
    dialect,
    { opsPerStep: perStep, warmupRounds: SERIALIZER_WARMUP },
  );
  const bodies = JSON.parse(JSON.stringify(ours)) as Record<string, unknown>[];
  const fromDict = await measureInterleaved(
    `from-dict${suffix}`,
    SERIALIZER_ROUNDS,
    {
      library: () => {
        for (let r = 0; r < repeats.library; r++)
          bodies.map((p) => ModelSerializer.fromDict(target, p, { protectedKeys: "accept" }));
      },
      "class-transformer": () => {
        for (let r = 0; r < repeats["class-transformer"]; r++) bodies.map((p) => plainToInstance(target, p));
      },
    },
    repeats.steps,
    dialect,
    { opsPerStep: perStep, warmupRounds: SERIALIZER_WARMUP },
  );
  return [...toDict, ...fromDict];
}

async function health(db: DatabaseManager, dialect: BenchDialect): Promise<Measurement> {
  const times: number[] = [];
  for (let i = 0; i < 50; i++) await db.healthCheck();
  for (let i = 0; i < (QUICK ? 500 : 2000); i++) {
    const report = await db.healthCheck();
    if (!report.ok) throw new Error(`${dialect}: health check failed: ${report.error}`);
    times.push(report.latencyMs);
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length * 0.5)]!;
  const p99 = times[Math.floor(times.length * 0.99)]!;
  return {
    dialect,
    scenario: "health",
    subject: "library",
    medianMs: p50,
    minMs: times[0]!,
    maxMs: times[times.length - 1]!,
    opsPerSec: Math.round(1000 / p50),
    p99Ms: p99,
  } as Measurement;
}

async function uuidKeys(
  db: DatabaseManager,
  raw: RawDriver,
  dialect: BenchDialect,
  maxParams: number,
): Promise<Measurement[]> {
  const rows: Measurement[] = [];
  for (const [scenario, id] of [
    ["uuid-v7-insert", undefined],
    ["uuid-v4-insert", () => randomUUID()],
  ] as const) {
    await db.dataSource.query("TRUNCATE TABLE bench_raw"); // a fresh index, not one with dead entries
    const started = process.hrtime.bigint();
    await rawBulk(raw, UUID_ROWS, maxParams, "bench_raw", id);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const indexBytes = await indexSize(db, dialect);
    rows.push({
      dialect,
      scenario,
      subject: "raw",
      medianMs: Math.round(ms),
      minMs: Math.round(ms),
      maxMs: Math.round(ms),
      opsPerSec: Math.round((UUID_ROWS / ms) * 1000),
      indexBytes,
    } as Measurement);
  }
  return rows;
}

async function indexSize(db: DatabaseManager, dialect: BenchDialect): Promise<number> {
  if (dialect === "postgres") {
    await db.dataSource.query("VACUUM ANALYZE bench_raw");
    const [row] = (await db.dataSource.query(
      "SELECT pg_relation_size(indexrelid) AS bytes FROM pg_index WHERE indrelid = 'bench_raw'::regclass",
    )) as { bytes: string }[];
    return Number(row?.bytes ?? 0);
  }
  // InnoDB clusters the table on its primary key: the clustered index is the table, its size is the key's cost
  await db.dataSource.query("ANALYZE TABLE bench_raw");
  const [row] = (await db.dataSource.query(
    "SELECT stat_value * @@innodb_page_size AS bytes FROM mysql.innodb_index_stats WHERE database_name = DATABASE() AND table_name = 'bench_raw' AND index_name = 'PRIMARY' AND stat_name = 'size'",
  )) as { bytes: number }[];
  return Number(row?.bytes ?? 0);
}

function ratioTable(rows: Measurement[]): string[][] {
  const out: string[][] = [
    [
      "dialect",
      "scenario",
      "subject",
      "median ms",
      "ops/s",
      "x raw",
      "x typeorm",
      "x class-transformer",
      "x insert-path",
      "x no-index",
      "x no-version",
      "x no-history",
    ],
  ];
  for (const row of rows) {
    const base = (subject: string) =>
      rows.find((r) => r.dialect === row.dialect && r.scenario === row.scenario && r.subject === subject);
    const ratio = (subject: string) => {
      const other = base(subject);
      return other && other !== row ? ratioOf(row, other).toFixed(2) : "";
    };
    out.push([
      row.dialect,
      row.scenario,
      row.subject,
      String(row.medianMs),
      String(row.opsPerSec),
      ratio("raw"),
      ratio("typeorm"),
      ratio("class-transformer"),
      ratio("insert-path"),
      ratio("no-index"),
      ratio("no-version"),
      ratio("no-history"),
    ]);
  }
  return out;
}

/**
 * The folder of SQLite's database file: memory-backed `/dev/shm` where the machine has one (the disk's flushes, at
 * WAL checkpoints, land on whichever subject is running and are noise to a comparison of code paths), else the
 * temporary folder; `INFERENCE_BENCH_DIR` chooses another.
 */
function sqliteFolder(): string {
  const base = process.env["INFERENCE_BENCH_DIR"] ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
  return mkdtempSync(join(base, "inference-bench-"));
}

/** Set in the process {@link inOwnProcess} starts for one dialect: where it writes that dialect's rows. */
const CHILD_OUT = process.env["INFERENCE_BENCH_CHILD_OUT"];
/**
 * Set in that process too: which part of the benchmark it runs (the database scenarios, the bulk loader's crossover
 * and the JSON scenarios, or the serializer's).
 */
const PART = process.env["INFERENCE_BENCH_PART"] as "main" | "loads" | "serializer" | undefined;

/**
 * Benchmarks one part of one dialect in a process of its own (this script again, with `DB_DIALECTS` set to it): what
 * the dialects before it left in this process (V8's optimized code and its feedback, the heap) had moved the
 * serializer's ratios on the later dialects by a half between runs, while the first dialect's repeated.
 */
function inOwnProcess(
  dialect: BenchDialect,
  dir: string,
  part: NonNullable<typeof PART>,
  v8Flags: readonly string[] = [],
): Measurement[] {
  const out = join(dir, `${dialect}-${part}.json`);
  const started = Date.now();
  const args = [...v8Flags, ...process.execArgv, __filename, ...process.argv.slice(2)];
  const child = spawnSync(process.execPath, args, {
    stdio: "inherit",
    env: { ...process.env, DB_DIALECTS: dialect, INFERENCE_BENCH_CHILD_OUT: out, INFERENCE_BENCH_PART: part },
  });
  if (child.status !== 0)
    throw new Error(`${dialect}: the benchmark's ${part} process failed (${child.status ?? child.signal})`);
  console.log(`.. ${dialect} ${part}: ${Math.round((Date.now() - started) / 1000)} s`);
  return JSON.parse(readFileSync(out, "utf8")) as Measurement[];
}

/** The test database on each wanted server, made where it is missing; a server that does not answer is left out. */
async function prepareDatabases(wanted: readonly BenchDialect[]): Promise<void> {
  for (const dialect of wanted)
    await prepareDatabase(dialect).catch((error: unknown) =>
      console.warn(`!! ${dialect}: the test database could not be made (${(error as Error).message})`),
    );
}

/**
 * The serializer's rows of one dialect: {@link SERIALIZER_PROCESSES} fresh processes, and per scenario the rows of
 * the process whose ratio (library to class-transformer) is the median; `processRatios` keeps every process's.
 */
function serializerInProcesses(dialect: BenchDialect, dir: string): Measurement[] {
  const runs = Array.from({ length: SERIALIZER_PROCESSES }, () =>
    inOwnProcess(dialect, dir, "serializer", SERIALIZER_V8_FLAGS),
  );
  const out: Measurement[] = [];
  for (const scenario of [...new Set(runs[0]!.map((row) => row.scenario))]) {
    const pairs = runs.map((rows) => {
      const of = (subject: string) => rows.find((r) => r.scenario === scenario && r.subject === subject)!;
      return { library: of("library"), baseline: of("class-transformer") };
    });
    const ratios = pairs.map((pair) => ratioOf(pair.library, pair.baseline));
    const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
    const chosen = pairs[ratios.indexOf(median)]!;
    const processRatios = ratios.map((r) => Math.round(r * 1000) / 1000);
    out.push({ ...chosen.library, processRatios }, { ...chosen.baseline, processRatios });
  }
  return out;
}

async function main(): Promise<void> {
  const wanted = (process.env["DB_DIALECTS"] ?? "sqlite,postgres,mariadb").split(",") as BenchDialect[];
  // on a new machine the servers have no test database yet: made as the test suite's setup makes it (a server that
  // does not answer is reported and skipped by the process that opens it)
  if (!CHILD_OUT) await prepareDatabases(wanted);
  // `--busy`: another program's steady traffic on both servers for the whole run (bench/busy.ts)
  const stopBusy = !CHILD_OUT && process.argv.includes("--busy") ? await startBusyLoad() : undefined;
  try {
    await benchmark(wanted);
  } finally {
    await stopBusy?.();
  }
}

async function benchmark(wanted: readonly BenchDialect[]): Promise<void> {
  // the peers run in processes of their own, one a database (bench/peers.ts)
  if (process.argv.includes("--peers")) return peers();
  const dir = sqliteFolder();
  const rows: Measurement[] = [];
  try {
    for (const dialect of wanted) {
      if (CHILD_OUT) {
        rows.push(...(await benchDialect(dialect, dir)));
        continue;
      }
      console.log(`== ${dialect}`);
      if (!ONLY_SERIALIZER && !ONLY_CROSSOVER && !ONLY_JSON) rows.push(...inOwnProcess(dialect, dir, "main"));
      if (!ONLY_SERIALIZER && !ONLY_TAX && !ONLY_ONE_ROW && !ONLY_HISTORY && (!QUICK || ONLY_CROSSOVER || ONLY_JSON))
        rows.push(...inOwnProcess(dialect, dir, "loads", LOADS_V8_FLAGS));
      if (!ONLY_TAX && !ONLY_ONE_ROW && !ONLY_CROSSOVER && !ONLY_JSON && !ONLY_HISTORY)
        rows.push(...serializerInProcesses(dialect, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (CHILD_OUT) {
    writeFileSync(CHILD_OUT, JSON.stringify(rows));
    return;
  }
  const table = ratioTable(rows);
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  for (const line of table) console.log(line.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
  for (const row of rows as (Measurement & { p99Ms?: number; indexBytes?: number })[]) {
    if (row.p99Ms !== undefined) console.log(`${row.dialect} health: p50 ${row.medianMs} ms, p99 ${row.p99Ms} ms`);
    if (row.indexBytes !== undefined)
      console.log(
        `${row.dialect} ${row.scenario}: ${UUID_ROWS} rows in ${row.medianMs} ms, primary key ${(row.indexBytes / 1048576).toFixed(1)} MiB`,
      );
  }
  // npm run bench:typeorm03 writes its own files (bench/results-typeorm03-sqlite3.*) beside the main run's
  const out =
    process.env["INFERENCE_BENCH_OUT"] ??
    join(
      __dirname,
      ONLY_TAX
        ? "results-tax"
        : ONLY_HISTORY
          ? "results-history"
          : ONLY_ONE_ROW
            ? "results-one-row"
            : ONLY_SERIALIZER
              ? "results-serializer"
              : ONLY_CROSSOVER
                ? "results-crossover"
                : ONLY_JSON
                  ? "results-json"
                  : "results",
    );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.json`, `${JSON.stringify(rows, null, 2)}\n`);
  writeFileSync(
    `${out}.svg`,
    drawChart(
      rows,
      `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}, TypeORM ${TYPEORM_LINE}${QUICK ? ", --quick" : ""}`,
    ),
  );
  console.log(`wrote ${out}.json and ${out}.svg (${rows.length} measurements)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
