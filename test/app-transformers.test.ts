import { Column, Entity, Equal, PrimaryColumn, type ValueTransformer } from "typeorm";
import { DatabaseManager } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

/** A value object an application keeps its ids in (TypeORM's github-issues/1748 shape). */
class Uuid {
  constructor(readonly value: string) {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) throw new Error("not a UUID");
  }
}

const uuid: ValueTransformer = {
  to: (value: Uuid | undefined) => value?.value,
  from: (value: string | null) => (value === null ? null : new Uuid(value)),
};

/** A code the application holds as an object; the column holds its short text. */
class Code {
  constructor(
    readonly text: string,
    readonly description: string,
  ) {}
}

const code: ValueTransformer = {
  to: (value: Code | undefined) => value?.text,
  from: (value: string | null) => (value === null ? null : new Code(value, "")),
};

@Entity("app_transformed_posts")
class Post {
  @PrimaryColumn({ type: "uuid", transformer: uuid })
  id!: Uuid;

  @Column({ type: "varchar", length: 5, transformer: code })
  code!: Code;

  @Column({ type: "varchar", length: 40 })
  title!: string;
}

describe.each(DIALECTS)(
  "%s: an app entity's columns with transformers, on the manager's DataSource",
  (dialect: TestDialect) => {
    let db: DatabaseManager;

    beforeAll(async () => {
      db = await initTest(dialect, [Post]);
    });
    beforeEach(async () => {
      await raw(db, "DELETE FROM app_transformed_posts");
    });
    afterAll(() => destroyTest(db));

    it("saves, updates and finds by the value object as TypeORM does: the checks see the transformed value", async () => {
      const repository = db.getRepository(Post);
      const id = new Uuid("6f715828-d2c6-4e96-a749-aecb9598fd69");
      const post = Object.assign(new Post(), {
        id,
        code: new Code("AB-12", "a description far longer than the column's five characters"),
        title: "About columns",
      });
      await repository.save(post);
      post.title = "About columns1";
      await repository.save(post);
      const loaded = await repository.findOneBy({ id: Equal(id as never) });
      expect(loaded?.id).toEqual(id);
      expect([loaded?.title, loaded?.code.text]).toEqual(["About columns1", "AB-12"]);
      expect(await raw(db, "SELECT code, title FROM app_transformed_posts")).toEqual([
        { code: "AB-12", title: "About columns1" },
      ]);
    });
  },
);
