import { Column, Entity, JoinColumn, ManyToOne } from "typeorm";
import { type DatabaseManager, FullAuditModel, ModelSerializer, ValidationError, ValueTooLongError } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

/** The most common TypeORM idiom: `@Column()` on a string, no type and no length. */
@Entity("people")
class Person extends FullAuditModel {
  @Column()
  firstName!: string;

  @Column({ type: "varchar", nullable: true })
  nickname!: string | null;

  @Column({ type: "text", nullable: true })
  biography!: string | null;
}

@Entity("pets")
class Pet extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  name!: string;

  @ManyToOne(() => Person, { nullable: false })
  @JoinColumn({ name: "owner_id" })
  owner!: Person;
}

async function countPeople(db: DatabaseManager): Promise<number> {
  return Number((await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM people"))[0]!.n);
}

describe.each(DIALECTS)(
  "%s: a string column without a declared length holds 255 characters",
  (dialect: TestDialect) => {
    let db: DatabaseManager;

    beforeAll(async () => {
      db = await initTest(dialect, [Person, Pet]);
    });
    afterAll(() => destroyTest(db));

    it("the table says varchar(255), and text stays unbounded", async () => {
      const queryRunner = db.dataSource.createQueryRunner();
      try {
        const table = await queryRunner.getTable("people");
        const lengths = Object.fromEntries(table!.columns.map((c) => [c.name, c.length]));
        expect([lengths["firstName"], lengths["nickname"], lengths["biography"]]).toEqual(["255", "255", ""]);
      } finally {
        await queryRunner.release();
      }
    });

    it("255 characters are stored exactly", async () => {
      const person = db.getRepository(Person).create({ firstName: "a".repeat(255) });
      await db.getRepository(Person).save(person);
      const rows = await raw<{ v: string }>(db, `SELECT ${q(dialect, "firstName")} AS v FROM people WHERE id = ?`, [
        person.id,
      ]);
      expect(rows[0]!.v).toBe("a".repeat(255));
    });

    it("256 characters are a ValueTooLongError, and nothing is written", async () => {
      const before = await countPeople(db);
      const attempt = db.getRepository(Person).save(db.getRepository(Person).create({ firstName: "b".repeat(256) }));
      await expect(attempt).rejects.toBeInstanceOf(ValueTooLongError);
      const error = (await attempt.catch((e: unknown) => e)) as ValueTooLongError;
      expect(error).toMatchObject({ entity: "Person", property: "firstName", maxLength: 255, actualLength: 256 });
      expect(await countPeople(db)).toBe(before);
    });

    it("a UUID key and a foreign key to it are varchar(36) where the database has no UUID type", async () => {
      const queryRunner = db.dataSource.createQueryRunner();
      try {
        const people = await queryRunner.getTable("people");
        const pets = await queryRunner.getTable("pets");
        const id = people!.columns.find((c) => c.name === "id")!;
        const owner = pets!.columns.find((c) => c.name === "owner_id")!;
        if (dialect === "postgres") expect([id.type, owner.type]).toEqual(["uuid", "uuid"]);
        else expect([id.type, id.length, owner.type, owner.length]).toEqual(["varchar", "36", "varchar", "36"]);
      } finally {
        await queryRunner.release();
      }
    });
  },
);

// fromDict reads no database: once.
describe("fromDict and a string column without a declared length", () => {
  it("256 characters are a too_long issue", () => {
    try {
      ModelSerializer.fromDict(Person, { firstName: "c".repeat(256) });
      throw new Error("expected a ValidationError");
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues).toEqual([
        { path: "firstName", code: "too_long", message: "256 characters given, at most 255 allowed" },
      ]);
    }
  });
});

function q(dialect: TestDialect, name: string): string {
  return dialect === "mariadb" ? `\`${name}\`` : `"${name}"`;
}
