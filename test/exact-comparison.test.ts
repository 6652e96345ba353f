import { Column, Entity } from "typeorm";
import { type DatabaseManager, FullAuditModel, UniqueConstraintError, UniqueWhileActive } from "../src";
import { MariadbDialect } from "../src/dialects/mariadb";
import { MysqlDialect } from "../src/dialects/mysql";
import { PostgresDialect } from "../src/dialects/postgres";
import { BetterSqlite3Dialect } from "../src/dialects/sqlite";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

/** Exact keys (the default). */
@Entity("exact_members")
@UniqueWhileActive(["email"])
class ExactMember extends FullAuditModel {
  @Column({ type: "varchar", length: 120 })
  email!: string;

  @Column({ type: "text", nullable: true })
  note!: string | null;
}

/** ASCII case folded, everything else exact. */
@Entity("folded_members")
@UniqueWhileActive(["email"], { caseInsensitive: true })
class FoldedMember extends FullAuditModel {
  @Column({ type: "varchar", length: 120 })
  email!: string;
}

/** An app's own entity (not a library model): its columns keep the database's collation. */
@Entity("app_people")
class AppPerson {
  @Column({ type: "varchar", length: 60, primary: true })
  handle!: string;
}

/** The reference model of `caseInsensitive`: A-Z lower-cased, nothing else. */
function foldAscii(value: string): string {
  return value.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/**
 * Keys that fold together under some database's or locale's rules but are different here: case beyond ASCII
 * (the Kelvin sign lower-cases to `k` in Unicode, `İ` to `i̇`, `ẞ` to `ß`), accents, composed and decomposed forms,
 * trailing and leading spaces, tabs, full-width letters; and ASCII case, which `caseInsensitive` folds.
 */
const AWKWARD = [
  "ann@x.io",
  "Ann@X.IO",
  "ANN@x.io",
  "ann@x.io ",
  " ann@x.io",
  "ann@x.io\t",
  "\u00e1nn@x.io", // á
  "\u00c1nn@x.io", // Á
  "a\u0301nn@x.io", // a + combining acute
  "\uff41nn@x.io", // full-width a
  "\u212aim@x.io", // Kelvin sign
  "kim@x.io",
  "KIM@x.io",
  "\u0130da@x.io", // İ
  "ida@x.io",
  "Ida@x.io",
  "stra\u00dfe@x.io", // ß
  "STRA\u1e9eE@x.io", // ẞ
  "STRASSE@x.io",
  "strasse@x.io",
  "",
  " ",
  "  ",
  "'; DROP TABLE exact_members; --",
  "a\\b",
  "a%b",
  "a_b",
];

async function count(db: DatabaseManager, table: string, column: string, value: string): Promise<number> {
  const rows = await raw<{ n: unknown }>(db, `SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`, [value]);
  return Number(rows[0]!.n);
}

/** MariaDB stands in for MySQL here (MySQL 8 gets `utf8mb4_0900_bin`, the dialect's unit of the same rule). */
function isMysqlFamily(dialect: TestDialect): boolean {
  return dialect === "mariadb";
}

const EXACT_COLLATION = "utf8mb4_nopad_bin";

async function collationOf(db: DatabaseManager, table: string, column: string): Promise<string | null> {
  const rows = await raw<{ c: string | null }>(
    db,
    "SELECT COLLATION_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
    [table, column],
  );
  return rows[0]?.c ?? null;
}

describe.each(DIALECTS)("%s: exact string comparison and uniqueness", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [ExactMember, FoldedMember, AppPerson]);
  });
  beforeEach(async () => {
    await raw(db, "DELETE FROM exact_members");
    await raw(db, "DELETE FROM folded_members");
  });
  afterAll(() => destroyTest(db));

  it("stores every key that differs in any byte, and refuses only the identical one", async () => {
    const repo = db.getRepository(ExactMember);
    for (const email of AWKWARD) await repo.save(repo.create({ email }));
    expect(Number((await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM exact_members"))[0]!.n)).toBe(
      AWKWARD.length,
    );
    for (const email of ["ann@x.io", "ann@x.io ", "\u00e1nn@x.io", "\u212aim@x.io", " "]) {
      const attempt = repo.save(repo.create({ email }));
      await expect(attempt).rejects.toBeInstanceOf(UniqueConstraintError);
      await expect(attempt).rejects.toMatchObject({ entity: "ExactMember", properties: ["email"] });
    }
    // stored as written, byte for byte
    const stored = await raw<{ email: string }>(db, "SELECT email FROM exact_members");
    expect(stored.map((r) => r.email).sort()).toEqual([...AWKWARD].sort());
  });

  it("findBy and raw equality match exactly the rows whose value is identical (no case, accent or padding folding)", async () => {
    const repo = db.getRepository(ExactMember);
    for (const email of AWKWARD) await repo.save(repo.create({ email, note: email }));
    for (const probe of AWKWARD) {
      const found = await repo.findBy({ email: probe });
      expect(found.map((m) => m.email)).toEqual([probe]);
      const byNote = await repo.findBy({ note: probe });
      expect(byNote.map((m) => m.note)).toEqual([probe]);
      expect(await count(db, "exact_members", "email", probe)).toBe(1);
    }
    expect(await repo.findBy({ email: "ANN@X.IO" })).toEqual([]);
  });

  it("caseInsensitive folds ASCII letters only, as the reference model does, and keeps the value as written", async () => {
    const repo = db.getRepository(FoldedMember);
    const taken = new Set<string>();
    const outcomes: string[] = [];
    const expected: string[] = [];
    const kept: string[] = [];
    for (const email of AWKWARD) {
      const key = foldAscii(email);
      expected.push(`${JSON.stringify(email)}: ${taken.has(key) ? "refused" : "stored"}`);
      if (!taken.has(key)) kept.push(email);
      taken.add(key);
      const result = await repo.save(repo.create({ email })).then(
        () => "stored",
        (error: unknown) => (error instanceof UniqueConstraintError ? "refused" : String(error)),
      );
      outcomes.push(`${JSON.stringify(email)}: ${result}`);
    }
    expect(outcomes).toEqual(expected);
    const stored = await raw<{ email: string; twin: string }>(
      db,
      "SELECT email, active_ci_email AS twin FROM folded_members",
    );
    for (const row of stored) expect(row.twin).toBe(foldAscii(row.email));
    expect(stored.map((r) => r.email).sort()).toEqual(kept.sort());
    expect(kept).toEqual(expect.arrayContaining(["\u212aim@x.io", "kim@x.io", "\u00e1nn@x.io", "\u00c1nn@x.io"]));
  });

  it("caseInsensitive: the refusal names the entity and property; a soft-deleted row's key is free again", async () => {
    const repo = db.getRepository(FoldedMember);
    const first = await repo.save(repo.create({ email: "Bob@X.io" }));
    const attempt = repo.save(repo.create({ email: "bob@x.IO" }));
    await expect(attempt).rejects.toMatchObject({
      name: "UniqueConstraintError",
      entity: "FoldedMember",
      properties: ["email"],
      index: "uq_active_ci_foldedmember_email",
    });
    await repo.softRemove(first);
    const second = await repo.save(repo.create({ email: "BOB@x.io" }));
    expect(await count(db, "folded_members", "email", "BOB@x.io")).toBe(1);
    await expect(repo.recover(first)).rejects.toBeInstanceOf(UniqueConstraintError);
    await repo.softRemove(second);
    await repo.recover(first);
    expect((await repo.findOneByOrFail({ id: first.id })).email).toBe("Bob@X.io");
  });

  it("keeps the schema diff empty, and leaves the app's own entities' columns as the database makes them", async () => {
    await db.createTables();
    expect((await db.dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
    if (isMysqlFamily(dialect)) {
      const exact = EXACT_COLLATION;
      expect(await collationOf(db, "exact_members", "email")).toBe(exact);
      expect(await collationOf(db, "exact_members", "note")).toBe(exact);
      expect(await collationOf(db, "folded_members", "active_ci_email")).toBe(exact);
      expect(await collationOf(db, "app_people", "handle")).not.toBe(exact);
    }
  });

  (isMysqlFamily(dialect) ? it : it.skip)(
    "createTables() and the migration log bring a table created with a folding collation to the exact one, rows kept",
    async () => {
      await raw(
        db,
        "ALTER TABLE exact_members MODIFY email varchar(120) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL",
      );
      await raw(db, "ALTER TABLE exact_members MODIFY note text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL");
      await raw(
        db,
        "ALTER TABLE exact_members MODIFY active_email varchar(120) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci " +
          "AS (CASE WHEN deleted_at IS NULL THEN email END) STORED",
      );
      const repo = db.getRepository(ExactMember);
      await repo.save(repo.create({ email: "carl@x.io", note: "Carl" }));
      await expect(repo.save(repo.create({ email: "CARL@x.io" }))).rejects.toBeInstanceOf(UniqueConstraintError);
      const log = (await db.dataSource.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query);
      expect(log).toHaveLength(1);
      expect(log[0]).toMatch(/^ALTER TABLE `exact_members` CHANGE `email` .* CHANGE `note` .* CHANGE `active_email` /);
      await db.createTables();
      expect(await collationOf(db, "exact_members", "email")).toBe(EXACT_COLLATION);
      await repo.save(repo.create({ email: "CARL@x.io" }));
      const rows = await raw<{ email: string; note: string | null }>(db, "SELECT email, note FROM exact_members");
      expect(rows.map((r) => [r.email, r.note]).sort()).toEqual([
        ["CARL@x.io", null],
        ["carl@x.io", "Carl"],
      ]);
      expect((await db.dataSource.driver.createSchemaBuilder().log()).upQueries).toEqual([]);
    },
  );
});

describe("the exact collation each server gets", () => {
  it("MariaDB: utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin (NO PAD); MySQL 5.7: utf8mb4_bin, the only binary one", () => {
    expect(new MariadbDialect().exactCollation("10.11.6-MariaDB")).toBe("utf8mb4_nopad_bin");
    expect(new MysqlDialect().exactCollation("8.4.3")).toBe("utf8mb4_0900_bin");
    expect(new MysqlDialect().exactCollation("9.1.0")).toBe("utf8mb4_0900_bin");
    expect(new MysqlDialect().exactCollation("5.7.44")).toBe("utf8mb4_bin");
    expect(new MysqlDialect().exactCollation(undefined)).toBe("utf8mb4_0900_bin");
  });

  it("the ASCII fold of every dialect maps A-Z and nothing else (the expression, checked against the reference)", () => {
    const sqlite = new BetterSqlite3Dialect().foldAsciiCase("x");
    expect(sqlite.match(/REPLACE\(/g)).toHaveLength(26);
    for (let code = 65; code <= 90; code++)
      expect(sqlite).toContain(`'${String.fromCharCode(code)}', '${String.fromCharCode(code + 32)}')`);
    expect(new PostgresDialect().foldAsciiCase("x")).toBe(
      "translate(x, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
    );
  });
});
