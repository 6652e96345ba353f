import {
  Column,
  DataSource,
  Entity,
  In,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  QueryFailedError,
  TableColumn,
} from "typeorm";
import {
  ADOPTION_WARNING,
  AuditContext,
  ConfigurationError,
  DatabaseManager,
  FullAuditModel,
  ValueTooLongError,
} from "../src";
import { jsonArrival, zonedInstantText } from "../src/dialects/mysql";
import { parseDatabaseUrl } from "../src/data-source/url";
import { LINE_DIFFERENCES } from "../src/typeorm/typeorm-line";
import { DIALECTS, urlFor, type TestDialect } from "./support/dialects";

// An adopted DataSource's own entities behave exactly as TypeORM makes them: the same schema (so synchronize on an
// existing schema changes nothing), the same values stored, the same outcomes. The reference is a plain DataSource
// on the same database, run side by side; `appEntities: "library"` opts the app's entities into the library's rules.

@Entity("parity_notes")
class AppNote {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  title!: string;

  @Column()
  at!: Date;

  @Column({ type: "uuid", nullable: true })
  ref!: string | null;

  @Column({ type: "text", nullable: true })
  body!: string | null;
}

@Entity("parity_tags")
class AppTag {
  @PrimaryGeneratedColumn()
  id!: number;

  @ManyToOne(() => AppNote, { nullable: false })
  @JoinColumn({ name: "note_id" })
  note!: AppNote;
}

/** A library model beside them, so that the DataSource has the library's work to do. */
@Entity("parity_invoices")
class ParityInvoice extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  number!: string;
}

/** The app's entities before adopting; the library's model joins them once adopted. */
const APP_ENTITIES = [AppNote, AppTag];
const AT = new Date("2026-03-04T05:06:07.000Z");

describe.each(DIALECTS)(
  "%s: adopting a DataSource leaves the app's entities as TypeORM makes them",
  (dialect: TestDialect) => {
    const url = urlFor(dialect);
    const plainOptions = () => ({ ...parseDatabaseUrl(url).options, entities: APP_ENTITIES });

    /** A plain DataSource: TypeORM's own behaviour, the reference. */
    async function plainDataSource(synchronize = false): Promise<DataSource> {
      const plain = new DataSource({ ...plainOptions(), synchronize } as never);
      await plain.initialize();
      return plain;
    }

    /** An app's DataSource handed to the library before it connects. */
    async function adopted(
      extra: { appEntities?: "typeorm" | "library"; synchronize?: boolean; sessionSettings?: "app" } = {},
    ) {
      const dataSource = new DataSource({
        ...plainOptions(),
        entities: [...APP_ENTITIES, ParityInvoice],
        synchronize: extra.synchronize ?? false,
      } as never);
      const db = new DatabaseManager({
        dataSource,
        ...(extra.appEntities ? { appEntities: extra.appEntities } : {}),
        ...(extra.sessionSettings ? { sessionSettings: extra.sessionSettings } : {}),
      });
      await db.initialize();
      return db;
    }

    async function pendingSchema(dataSource: DataSource): Promise<string[]> {
      const log = await dataSource.driver.createSchemaBuilder().log();
      return log.upQueries.map((q) => q.query).filter((q) => /parity_notes/.test(q));
    }

    beforeAll(async () => {
      // the schema as the app had it before adopting: made by plain TypeORM, with a row in it
      const plain = await plainDataSource();
      await plain.query("DROP TABLE IF EXISTS parity_tags");
      await plain.query("DROP TABLE IF EXISTS parity_notes");
      await plain.query("DROP TABLE IF EXISTS parity_invoices");
      await plain.synchronize();
      await plain.destroy();
    });

    it("synchronize on the app's existing schema changes nothing, and its rows keep every value", async () => {
      const plain = await plainDataSource();
      const title = "t".repeat(200);
      const saved = await plain.getRepository(AppNote).save({ title, at: AT, ref: null, body: "kept" });
      await plain.destroy();
      const warn = jest.spyOn(process, "emitWarning").mockImplementation(() => undefined);
      let calls: unknown[][] = [];
      const db = await adopted({ synchronize: true }).finally(() => {
        calls = [...warn.mock.calls];
        warn.mockRestore();
      });
      try {
        expect(await pendingSchema(db.dataSource)).toEqual([]);
        const row = await db.getRepository(AppNote).findOneByOrFail({ id: saved.id });
        // MySQL/MariaDB: the connections speak UTC from now on, which cannot be per entity; adoption said so before
        // connecting, and a DATETIME the app wrote in its own zone reads back shifted by that zone's offset
        const said = calls
          .filter(([, options]) => (options as { code?: string } | undefined)?.code === ADOPTION_WARNING)
          .map(([message]) => String(message));
        const offsetMs = -AT.getTimezoneOffset() * 60_000;
        if (dialect === "mariadb") {
          expect(said).toEqual([expect.stringMatching(/timezone "local" becomes "Z".*shifted/)]);
          expect(row.at.toISOString()).toBe(new Date(AT.getTime() + offsetMs).toISOString());
        } else {
          expect(said).toEqual([]);
          expect(row.at.toISOString()).toBe(AT.toISOString());
        }
        expect([row.title, row.body]).toEqual([title, "kept"]);
        // and a plain DataSource sees nothing to change either
        const again = await plainDataSource();
        expect(await pendingSchema(again)).toEqual([]);
        await again.destroy();
      } finally {
        await db.close();
      }
    });

    it("sessionSettings: \"app\" keeps the app's zone and sql_mode; the library's instants and JSON still read back exactly", async () => {
      const plain = await plainDataSource();
      const saved = await plain.getRepository(AppNote).save({ title: "before", at: AT, ref: null, body: null });
      const session = async (dataSource: DataSource) =>
        dialect === "mariadb"
          ? ((await dataSource.query("SELECT @@SESSION.sql_mode AS mode, @@SESSION.time_zone AS zone")) as unknown[])
          : [];
      const plainSession = await session(plain);
      await plain.destroy();
      const warn = jest.spyOn(process, "emitWarning").mockImplementation(() => undefined);
      let calls: unknown[][] = [];
      const db = await adopted({ sessionSettings: "app", synchronize: true }).finally(() => {
        calls = [...warn.mock.calls];
        warn.mockRestore();
      });
      try {
        const said = calls
          .filter(([, options]) => (options as { code?: string } | undefined)?.code === ADOPTION_WARNING)
          .map(([message]) => String(message));
        // nothing of the app's connection changes (TypeORM 0.3 alone: the connector it would have picked)
        expect(said.filter((message) => !/mysql package/.test(message))).toEqual([]);
        expect(said.join()).not.toMatch(/timezone|time_zone|sql_mode|jsonStrings/);
        expect((db.dataSource.options.extra as { jsonStrings?: unknown } | undefined)?.jsonStrings).toBeUndefined();
        // the app's DATETIME reads back as it wrote it, and its sessions are the plain ones
        expect((await db.getRepository(AppNote).findOneByOrFail({ id: saved.id })).at.toISOString()).toBe(
          AT.toISOString(),
        );
        expect(await session(db.dataSource)).toEqual(plainSession);

        // the library's instants on every path it writes them: TypeORM's save, insertOne, insertMany (LOAD DATA from
        // 1,000 rows on MariaDB), a soft delete stamped with the app's clock; and a JSON document that is a string
        const before = Date.now();
        const invoices = db.getRepository(ParityInvoice);
        const one = await AuditContext.run("it's :name $1 ?", () =>
          invoices.save(Object.assign(new ParityInvoice(), { number: "one", metadata: { json: "123", tags: null } })),
        );
        const direct = await db.insertOne(ParityInvoice, { number: "direct" });
        const many = await db.insertMany(
          ParityInvoice,
          Array.from({ length: 1_000 }, (_, i) => ({ number: `m-${i}` })),
        );
        await invoices.softDelete({ number: "direct" });
        const after = Date.now();
        const reread = await invoices.findOneByOrFail({ id: one.id });
        expect([reread.createdAt.toISOString(), reread.metadata.json]).toEqual([one.createdAt.toISOString(), "123"]);
        const gone = await invoices.findOneOrFail({ where: { id: direct.id }, withDeleted: true });
        expect(gone.createdAt.toISOString()).toBe(direct.createdAt.toISOString());
        const loaded = await invoices.findBy({ number: `m-999` });
        for (const at of [gone.deletedAt!, loaded[0]!.createdAt]) {
          expect(at.getTime()).toBeGreaterThanOrEqual(before);
          expect(at.getTime()).toBeLessThanOrEqual(after);
        }
        expect(many).toHaveLength(1_000);
        if (dialect === "mariadb") {
          // stored as the app's own DATETIMEs are: wall time in the connection's zone (the process's here)
          const wall = (await db.dataSource.query(
            "SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS at FROM parity_invoices WHERE number IN ('one', 'm-999') ORDER BY number DESC",
          )) as { at: string }[];
          expect(wall.map((r) => r.at)).toEqual(
            [one.createdAt, loaded[0]!.createdAt].map((d) => `${zonedInstantText(d, "local")}000`),
          );
        }

        // documents that are strings looking like JSON read back as those strings on every read path, where the
        // app's raw results of the column are a plain connection's (parsed by mysql2 on MariaDB)
        const documents: unknown[] = ["123", "[1]", "true", "null", ' "quoted" ', "{}", { nested: "123" }, [1, "2"]];
        const withDocuments = await Promise.all(
          documents.map((document, i) =>
            invoices.save(
              Object.assign(new ParityInvoice(), { number: `json-${i}`, metadata: { json: document as never } }),
            ),
          ),
        );
        const byTypeorm = await invoices.findBy({ number: In(documents.map((_, i) => `json-${i}`)) });
        const byBuilder = await invoices.createQueryBuilder("i").where("i.number LIKE 'json-%'").getMany();
        for (const [i, document] of documents.entries()) {
          const id = withDocuments[i]!.id;
          expect(byTypeorm.find((row) => row.id === id)?.metadata.json).toEqual(document);
          expect(byBuilder.find((row) => row.id === id)?.metadata.json).toEqual(document);
          expect((await db.findById(ParityInvoice, id))?.metadata.json).toEqual(document);
        }
        const rawOf = async (dataSource: DataSource) =>
          (
            (await dataSource.query(
              "SELECT number, metadata_json AS doc FROM parity_invoices WHERE number LIKE 'json-%' ORDER BY number",
            )) as { doc: unknown }[]
          ).map((row) => row.doc);
        // (TypeORM 0.3 would pick the mysql package, which hands JSON back as text: adoption names mysql2, and says so)
        const plainAgain = new DataSource({
          ...plainOptions(),
          ...(LINE_DIFFERENCES.mysqlNeedsConnectorPackage && dialect === "mariadb"
            ? { connectorPackage: "mysql2" }
            : {}),
        } as never);
        await plainAgain.initialize();
        try {
          expect(await rawOf(db.dataSource)).toEqual(await rawOf(plainAgain));
        } finally {
          await plainAgain.destroy();
        }
      } finally {
        await db.dataSource.query("DELETE FROM parity_invoices").finally(() => db.close());
      }
    });

    (dialect === "mariadb" ? it : it.skip)(
      'sessionSettings: "app" with the app\'s own typeCast of JSON: text is read, anything else refused at initialize() naming the fix',
      async () => {
        type Field = { type: string; extendedFormat?: string; string(): string | null; buffer(): Buffer | null };
        const isJson = (field: Field) => field.type === "JSON" || field.extendedFormat === "json";
        const withTypeCast = async (cast: (field: Field) => unknown) => {
          const dataSource = new DataSource({
            ...plainOptions(),
            entities: [...APP_ENTITIES, ParityInvoice],
            extra: { typeCast: (field: Field, next: () => unknown) => (isJson(field) ? cast(field) : next()) },
          } as never);
          const db = new DatabaseManager({ dataSource, sessionSettings: "app" });
          return db.initialize().then(
            (ready) => ready,
            (error: unknown) => error,
          );
        };
        // JSON as text (what jsonStrings does): TypeORM's parse reads it, once
        const text = await withTypeCast((field) => field.string());
        expect(text).toBeInstanceOf(DatabaseManager);
        const db = text as DatabaseManager;
        try {
          const invoices = db.getRepository(ParityInvoice);
          const saved = await invoices.save(
            Object.assign(new ParityInvoice(), { number: "text", metadata: { json: "123" } }),
          );
          expect((await invoices.findOneByOrFail({ id: saved.id })).metadata.json).toBe("123");
          expect((await db.findById(ParityInvoice, saved.id))?.metadata.json).toBe("123");
        } finally {
          await db.dataSource.query("DELETE FROM parity_invoices").finally(() => db.close());
        }
        // integers past 2^53 as their digits (mysql2's supportBigNumbers on a Node with JSON source access), or
        // something that is neither text nor the parsed value: refused before anything is read, the pool closed
        const bigDigits = await withTypeCast((field) =>
          JSON.parse(field.string() ?? "null", (_key, value: unknown) =>
            typeof value === "number" && !Number.isSafeInteger(value) ? "9007199254740993" : value,
          ),
        );
        expect(bigDigits).toBeInstanceOf(ConfigurationError);
        expect((bigDigits as Error).message).toMatch(
          /integers past 2\^53 .* as strings .*jsonStrings: true \} or supportBigNumbers: false/,
        );
        const buffer = await withTypeCast((field) => field.buffer());
        expect(buffer).toBeInstanceOf(ConfigurationError);
        expect((buffer as Error).message).toMatch(/typeCast hands back a JSON value as a Buffer/);
      },
    );

    it("how the driver handed back the JSON probe is told apart exactly", () => {
      expect(jsonArrival("[9007199254740993]")).toBe("text");
      expect(jsonArrival([9007199254740992])).toBe("parsed");
      expect(jsonArrival(["9007199254740993"])).toBe("big-number-text");
      for (const other of [[9007199254740993n], [], [1], Buffer.from("[1]"), null, { 0: 9007199254740992 }])
        expect(jsonArrival(other)).toBe("other");
    });

    it("a setting that is not one of the documented values is a ConfigurationError naming it; an adopted, connected DataSource is taken as it is where it can be", async () => {
      const dataSource = new DataSource({ ...plainOptions(), entities: [...APP_ENTITIES, ParityInvoice] } as never);
      for (const config of [{ sessionSettings: "mine" }, { appEntities: "all" }])
        expect(() => new DatabaseManager({ dataSource, ...(config as object) })).toThrow(
          new ConfigurationError(
            `${Object.keys(config)[0]} must be ${"sessionSettings" in config ? '"library" or "app"' : '"typeorm" or "library"'}, got "${Object.values(config)[0]}"`,
          ),
        );
      const connected = async (extra: object) => {
        const ds = new DataSource({ ...plainOptions(), entities: [...APP_ENTITIES, ParityInvoice], extra } as never);
        await ds.initialize();
        try {
          return ((() => new DatabaseManager({ dataSource: ds, sessionSettings: "app" })) as () => unknown)();
        } catch (error) {
          return error;
        } finally {
          await ds.destroy();
        }
      };
      // MySQL/MariaDB: the library reads its JSON only as text, which a connected pool without jsonStrings lacks
      const refused = await connected({});
      if (dialect === "mariadb") {
        expect(refused).toBeInstanceOf(ConfigurationError);
        expect((refused as Error).message).toMatch(/without mysql2's jsonStrings.*learns how JSON values arrive/);
        expect(await connected({ jsonStrings: true })).toBeInstanceOf(DatabaseManager);
      } else expect(refused).toBeInstanceOf(DatabaseManager);
    });

    it("values go in and come back as with plain TypeORM, refused where it refuses them", async () => {
      const cases: Record<string, Partial<AppNote>> = {
        "300 characters in an undeclared varchar": { title: "x".repeat(300), at: AT },
        "an upper-case UUID": { title: "u", at: AT, ref: "0190B0F2-7A51-7CC2-8F4A-8C7E0B5D2A10" },
        // (no 4-byte character: TypeORM 0.3's MySQL connections default to utf8, which refuses them, and adoption's
        // utf8mb4 stores them; the adoption warning says so)
        "a trailing space and unicode": { title: "ünïcödé ", at: AT },
      };
      const outcomes = async (dataSource: DataSource) => {
        const seen: Record<string, unknown> = {};
        for (const [name, values] of Object.entries(cases)) {
          const result = await dataSource
            .getRepository(AppNote)
            .save({ ...values })
            .then(
              async (note) => {
                const [row] = (await dataSource.query(
                  `SELECT title, ref FROM parity_notes WHERE id = ${Number(note.id)}`,
                )) as {
                  title: string;
                  ref: string | null;
                }[];
                return { stored: [row!.title, row!.ref] };
              },
              (error: unknown) => ({
                refused: (error as Error).constructor.name === "QueryFailedError" ? "by the database" : String(error),
              }),
            );
          seen[name] = result;
        }
        return seen;
      };
      const plain = await plainDataSource();
      const reference = await outcomes(plain);
      await plain.destroy();
      const db = await adopted();
      try {
        expect(await outcomes(db.dataSource)).toEqual(reference);
      } finally {
        await db.close();
      }
    });

    it("appEntities: \"library\" gives the app's entities the library's rules; its own models have them either way", async () => {
      const db = await adopted({ appEntities: "library" });
      try {
        const error = await db
          .getRepository(AppNote)
          .save({ title: "x".repeat(300), at: AT })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValueTooLongError);
        expect((error as Error).message).toMatch(/AppNote\.title/);
      } finally {
        await db.close();
      }
      const typeorm = await adopted();
      try {
        const error = await typeorm
          .getRepository(ParityInvoice)
          .save(Object.assign(new ParityInvoice(), { number: "n".repeat(21) }))
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValueTooLongError);
      } finally {
        await typeorm.close();
      }
    });

    it("a foreign key violation between the app's entities is TypeORM's QueryFailedError, as on a plain DataSource", async () => {
      const refused = async (dataSource: DataSource) => {
        const note = await dataSource.getRepository(AppNote).save({ title: "parent", at: AT });
        await dataSource.getRepository(AppTag).save({ note });
        const error = await dataSource
          .getRepository(AppNote)
          .delete({ id: note.id })
          .catch((e: unknown) => e);
        await dataSource.getRepository(AppTag).delete({ note: { id: note.id } });
        return error;
      };
      const plain = await plainDataSource();
      const reference = await refused(plain);
      await plain.destroy();
      expect(reference).toBeInstanceOf(QueryFailedError);
      const db = await adopted();
      try {
        const error = await refused(db.dataSource);
        expect(error).toBeInstanceOf(QueryFailedError);
        expect((error as Error).constructor).toBe((reference as Error).constructor);
      } finally {
        await db.close();
      }
    });

    it("a query runner's SQL memory is its own: executeMemoryDownSql() reverts its statements and no others", async () => {
      const db = await adopted({ synchronize: true });
      try {
        // another caller's change, done and released first
        const other = db.dataSource.createQueryRunner();
        await other.addColumn("parity_tags", new TableColumn({ name: "extra", type: "integer", isNullable: true }));
        await other.release();
        const runner = db.dataSource.createQueryRunner();
        try {
          await runner.dropTable("parity_tags");
          expect(await runner.getTable("parity_tags")).toBeUndefined();
          await runner.executeMemoryDownSql();
          // the table as this runner dropped it: the other caller's column is still there
          const table = await runner.getTable("parity_tags");
          expect([table?.findColumnByName("note_id")?.name, table?.findColumnByName("extra")?.name]).toEqual([
            "note_id",
            "extra",
          ]);
          await runner.dropColumn("parity_tags", "extra");
        } finally {
          await runner.release();
        }
        expect(await pendingSchema(db.dataSource)).toEqual([]);
      } finally {
        await db.close();
      }
    });
  },
);
