import { Column, Entity, JoinColumn, ManyToOne, OneToMany } from "typeorm";
import { AuditContext, type DatabaseManager, FullAuditModel, SoftDeleteCascade } from "../src";
import { DIALECTS, destroyTest, initTest, raw, statementsOf, type TestDialect } from "./support/dialects";

// The acting user's id comes from a request (a token's subject): whatever it looks like, it is stored as it is,
// changes only the rows the statement names, and never appears in the SQL text.

@Entity("actor_shelves")
class Shelf extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  name!: string;

  @OneToMany(() => Book, (book) => book.shelf)
  @SoftDeleteCascade()
  books?: Book[];
}

@Entity("actor_books")
class Book extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  title!: string;

  @ManyToOne(() => Shelf, (shelf) => shelf.books)
  @JoinColumn({ name: "shelf_id" })
  shelf?: Shelf;
}

const HOSTILE_ACTORS = [
  "ops:orm_param_0",
  ":name",
  "a:b:c",
  "$1",
  "$1$2 ? ?",
  "?",
  "o'brien",
  "back\\slash\\",
  "\\' OR 1=1 --",
  "'; UPDATE actor_shelves SET name = 'x'; --",
  '"quoted"',
  "@user ::text",
];

async function stored(db: DatabaseManager, table: string): Promise<{ name: string; by: unknown; deleted: boolean }[]> {
  const rows = await raw<{ n: string; u: unknown; d: unknown }>(
    db,
    `SELECT ${table === "actor_shelves" ? "name" : "title"} AS n, updated_by AS u, deleted_at AS d FROM ${table} ORDER BY n`,
  );
  return rows.map((r) => ({ name: r.n, by: r.u, deleted: r.d !== null }));
}

describe.each(DIALECTS)("%s: an acting user's id is always a bound value", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Shelf, Book]);
  });
  afterAll(() => destroyTest(db));

  beforeEach(async () => {
    await raw(db, "DELETE FROM actor_books");
    await raw(db, "DELETE FROM actor_shelves");
  });

  it.each(HOSTILE_ACTORS)(
    "softDelete and restore by %j change the named rows only, cascades included",
    async (actor) => {
      const shelves = db.getRepository(Shelf);
      const target = await shelves.save(Object.assign(new Shelf(), { name: "target" }));
      const other = await shelves.save(Object.assign(new Shelf(), { name: "other" }));
      await db
        .getRepository(Book)
        .save([
          Object.assign(new Book(), { title: "t-book", shelf: target }),
          Object.assign(new Book(), { title: "o-book", shelf: other }),
        ]);

      const statements = await statementsOf(db, () =>
        AuditContext.run(actor, () => shelves.softDelete({ id: target.id })),
      );
      // (a one- or two-character actor such as `?` or `$1` is a placeholder's text too)
      if (actor.length > 2) expect(statements.join("\n")).not.toContain(actor);
      expect(await stored(db, "actor_shelves")).toEqual([
        { name: "other", by: null, deleted: false },
        { name: "target", by: actor, deleted: true },
      ]);
      expect(await stored(db, "actor_books")).toEqual([
        { name: "o-book", by: null, deleted: false },
        { name: "t-book", by: actor, deleted: true },
      ]);

      const restoring = `${actor}-restore`;
      await AuditContext.run(restoring, () => shelves.restore({ id: target.id }));
      expect(await stored(db, "actor_shelves")).toEqual([
        { name: "other", by: null, deleted: false },
        { name: "target", by: restoring, deleted: false },
      ]);
      expect(await stored(db, "actor_books")).toEqual([
        { name: "o-book", by: null, deleted: false },
        { name: "t-book", by: restoring, deleted: false },
      ]);
    },
  );

  it("softRemove of an entity by an actor that looks like a placeholder stores it as it is", async () => {
    const shelf = await db.getRepository(Shelf).save(Object.assign(new Shelf(), { name: "removed" }));
    await AuditContext.run("ops:orm_param_0", () => db.getRepository(Shelf).softRemove(shelf));
    expect(await stored(db, "actor_shelves")).toEqual([{ name: "removed", by: "ops:orm_param_0", deleted: true }]);
  });
});
