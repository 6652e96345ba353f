import { Column, Entity, JoinColumn, ManyToOne, OneToMany } from "typeorm";
import { AuditContext, type DatabaseManager, FullAuditModel, SoftDeleteCascade } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

@Entity("folders")
class Folder extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  name!: string;

  /** A property whose column has another name: criteria on it must be read as the statement reads them. */
  @Column({ name: "shelf_code", type: "varchar", length: 20, default: "S1" })
  shelfCode!: string;

  @OneToMany(() => Doc, (doc) => doc.folder)
  @SoftDeleteCascade()
  docs?: Doc[];

  @OneToMany(() => Note, (note) => note.folder)
  notes?: Note[];
}

@Entity("docs")
class Doc extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  name!: string;

  @ManyToOne(() => Folder, (folder) => folder.docs)
  @JoinColumn({ name: "folder_id" })
  folder?: Folder;

  @OneToMany(() => Page, (page) => page.doc)
  @SoftDeleteCascade()
  pages?: Page[];
}

@Entity("pages")
class Page extends FullAuditModel {
  @Column({ type: "integer" })
  number!: number;

  @ManyToOne(() => Doc, (doc) => doc.pages)
  @JoinColumn({ name: "doc_id" })
  doc?: Doc;
}

/** A child that does not follow its folder. */
@Entity("notes")
class Note extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  text!: string;

  @ManyToOne(() => Folder, (folder) => folder.notes)
  @JoinColumn({ name: "folder_id" })
  folder?: Folder;
}

const ENTITIES = [Folder, Doc, Page, Note];

async function deletedNames(db: DatabaseManager): Promise<string[]> {
  const rows = await raw<{ n: string }>(
    db,
    "SELECT name AS n FROM folders WHERE deleted_at IS NOT NULL UNION ALL SELECT name AS n FROM docs WHERE deleted_at IS NOT NULL " +
      "UNION ALL SELECT CAST(number AS CHAR(10)) AS n FROM pages WHERE deleted_at IS NOT NULL UNION ALL SELECT text AS n FROM notes WHERE deleted_at IS NOT NULL",
  );
  return rows.map((r) => String(r.n)).sort();
}

describe.each(DIALECTS)("%s: cascading soft delete", (dialect: TestDialect) => {
  let db: DatabaseManager;
  let folder: Folder;
  let early: Doc;

  beforeAll(async () => {
    db = await initTest(dialect, ENTITIES);
  });
  beforeEach(async () => {
    for (const table of ["pages", "docs", "notes", "folders"]) await raw(db, `DELETE FROM ${table}`);
    folder = await db.getRepository(Folder).save(db.getRepository(Folder).create({ name: "f" }));
    const [a, b] = await db
      .getRepository(Doc)
      .save([db.getRepository(Doc).create({ name: "a", folder }), db.getRepository(Doc).create({ name: "b", folder })]);
    await db.getRepository(Page).save([1, 2].map((n) => db.getRepository(Page).create({ number: n, doc: a })));
    await db.getRepository(Note).save(db.getRepository(Note).create({ text: "keep", folder }));
    early = b!;
    await db.getRepository(Doc).softDelete({ id: b!.id }); // deleted earlier, on its own
    // in another millisecond: restore tells the parent's children by the instant they were deleted at
    await new Promise((resolve) => setTimeout(resolve, 5));
  });
  afterAll(() => destroyTest(db));

  it("softRemove of the parent soft-deletes the children that follow it, recursively, at the same instant", async () => {
    await AuditContext.run("remover", () => db.getRepository(Folder).softRemove(folder));
    expect(await deletedNames(db)).toEqual(["1", "2", "a", "b", "f"]);
    const instants = await raw<{ d: unknown }>(
      db,
      "SELECT DISTINCT deleted_at AS d FROM docs WHERE name = 'a' UNION SELECT DISTINCT deleted_at AS d FROM pages UNION SELECT deleted_at AS d FROM folders",
    );
    expect(instants).toHaveLength(1);
    const by = await raw<{ u: unknown }>(db, "SELECT updated_by AS u FROM pages");
    expect(by.map((r) => r.u)).toEqual(["remover", "remover"]);
  });

  it("restore brings back the children deleted with the parent, not the one deleted earlier on its own", async () => {
    await db.getRepository(Folder).softDelete({ id: folder.id });
    await db.getRepository(Folder).restore({ id: folder.id });
    expect(await deletedNames(db)).toEqual(["b"]);
    const earlyRow = await db.getRepository(Doc).findOne({ where: { id: early.id }, withDeleted: true });
    expect(earlyRow?.isDeleted).toBe(true);
  });

  it("a QueryBuilder soft delete and recover cascade too", async () => {
    await db.getRepository(Folder).createQueryBuilder().softDelete().where("name = :name", { name: "f" }).execute();
    expect(await deletedNames(db)).toEqual(["1", "2", "a", "b", "f"]);
    const loaded = await db.getRepository(Folder).findOneOrFail({ where: { id: folder.id }, withDeleted: true });
    await db.getRepository(Folder).recover(loaded);
    expect(await deletedNames(db)).toEqual(["b"]);
  });

  it("criteria on a property whose column is named otherwise, and conditions joined by OR, cascade the same", async () => {
    await db.getRepository(Folder).softDelete({ shelfCode: "S1" });
    expect(await deletedNames(db)).toEqual(["1", "2", "a", "b", "f"]);
    await db.getRepository(Folder).restore({ shelfCode: "S1" });
    expect(await deletedNames(db)).toEqual(["b"]);
    // an OR among the statement's conditions: the live row it names must not be taken for a deleted one
    const other = await db.getRepository(Folder).save(db.getRepository(Folder).create({ name: "g" }));
    await db.getRepository(Folder).softDelete({ id: folder.id });
    await db
      .getRepository(Folder)
      .createQueryBuilder()
      .restore()
      .where("name = :f OR name = :g", { f: "f", g: "g" })
      .execute();
    expect(await deletedNames(db)).toEqual(["b"]);
    expect((await db.getRepository(Folder).findOneByOrFail({ id: other.id })).isDeleted).toBe(false);
  });

  it("runs in the parent's transaction: a session that fails undoes the cascade", async () => {
    await expect(
      db.withSession(async () => {
        await db.getRepository(Folder).softRemove(folder);
        throw new Error("undo");
      }),
    ).rejects.toThrow("undo");
    expect(await deletedNames(db)).toEqual(["b"]);
  });
});
