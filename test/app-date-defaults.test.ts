import { Column, Entity, PrimaryGeneratedColumn } from "typeorm";
import { DatabaseManager } from "../src";
import { DIALECTS, destroyTest, initTest, type TestDialect } from "./support/dialects";

/** An application's own timestamps that the database fills (TypeORM's create-update-date shape). */
@Entity("app_default_instants")
class Visit {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ default: () => "CURRENT_TIMESTAMP" })
  seenAt!: Date;

  @Column({ default: () => "CURRENT_TIMESTAMP", onUpdate: "CURRENT_TIMESTAMP" })
  touchedAt!: Date;

  @Column({ type: Date, nullable: true })
  leftAt!: Date | null;
}

describe.each(DIALECTS)("%s: an app's Date columns with a database default", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Visit]);
  });
  afterAll(() => destroyTest(db));

  it("createTables() leaves nothing for TypeORM's schema diff, and the database fills them", async () => {
    // what synchronize and migration:generate would run: nothing, after createTables()
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query).filter((q) => /app_default_instants/.test(q))).toEqual([]);
    const saved = await db.getRepository(Visit).save(new Visit());
    const loaded = await db.getRepository(Visit).findOneByOrFail({ id: saved.id });
    expect(loaded.seenAt).toBeInstanceOf(Date);
    expect(Math.abs(loaded.seenAt.getTime() - Date.now())).toBeLessThan(60_000);
  });
});
