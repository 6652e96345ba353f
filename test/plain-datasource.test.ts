import { Column, DataSource, Entity, PrimaryGeneratedColumn } from "typeorm";
import { BaseModel, ConfigurationError, DatabaseManager } from "../src";
import { parseDatabaseUrl } from "../src/data-source/url";
import { DIALECTS, urlFor, type TestDialect } from "./support/dialects";

@Entity("plain_ds_models")
class Memo extends BaseModel {
  @Column({ type: "varchar", length: 40 })
  text!: string;
}

@Entity("plain_ds_rows")
class Row {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: "varchar", length: 40 })
  text!: string;
}

describe.each(DIALECTS)("%s: a library model on a DataSource no DatabaseManager built", (dialect: TestDialect) => {
  let plain: DataSource;
  let db: DatabaseManager;

  beforeAll(async () => {
    const url = urlFor(dialect);
    // the tables, created by a manager; then a plain DataSource on the same database, as TypeOrmModule.forRoot builds
    db = new DatabaseManager({ url, entities: [Memo, Row] });
    await db.initialize();
    await db.createTables();
    plain = new DataSource({ ...parseDatabaseUrl(url).options, entities: [Memo, Row] });
    await plain.initialize();
  });
  afterAll(async () => {
    await plain.destroy();
    await db.close();
  });

  it("every write of it is a ConfigurationError saying what to do, and nothing is written", async () => {
    const before = Number((await db.getRepository(Memo).count()) ?? 0);
    const repository = plain.getRepository(Memo);
    for (const write of [
      () => repository.save(repository.create({ text: "a" })),
      () => repository.insert({ text: "b" }),
      () => plain.createQueryBuilder().insert().into(Memo).values({ text: "c" }).execute(),
      () => plain.transaction((manager) => manager.save(Memo, { text: "d" })),
    ]) {
      const error = await write().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(
        /^Memo extends one of the library's models, but this DataSource was not built or adopted by a DatabaseManager.*DatabaseModule\.forRoot/,
      );
    }
    expect(await db.getRepository(Memo).count()).toBe(before);
  });

  it("the app's own entities on it, and the library's models on the manager's DataSource, work as before", async () => {
    await plain.getRepository(Row).save({ text: "plain" });
    expect(await plain.getRepository(Row).countBy({ text: "plain" })).toBeGreaterThan(0);
    const saved = await db.getRepository(Memo).save(Object.assign(new Memo(), { text: "managed" }));
    expect(saved.id).toMatch(/^[0-9a-f-]{36}$/);
    // reads of the library's models on the plain DataSource are not refused
    expect(await plain.getRepository(Memo).findOneBy({ id: saved.id })).toMatchObject({ text: "managed" });
  });
});
