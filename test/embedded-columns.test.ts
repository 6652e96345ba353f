import { Column, Entity } from "typeorm";
import { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import { FullAuditModel, type DatabaseManager } from "../src";
import { DIALECTS, destroyTest, initTest, raw, type TestDialect } from "./support/dialects";

class Size {
  @Column({ type: "int", nullable: true })
  width!: number | null;
}

class Parcel {
  @Column({ type: "varchar", length: 20, nullable: true, transformer: { to: (v) => v, from: (v) => v } })
  carrier!: string | null;

  @Column(() => Size, { prefix: false })
  size!: Size;
}

@Entity("parcels")
class Shipment extends FullAuditModel {
  @Column({ type: "varchar", length: 20 })
  label!: string;

  @Column(() => Parcel, { prefix: false })
  parcel!: Parcel;
}

/** Objects to read from and write into, each made fresh per use (writes change them). */
const shapes: Record<string, () => unknown> = {
  "a loaded-like entity": () =>
    Object.assign(new Shipment(), {
      label: "x",
      parcel: Object.assign(new Parcel(), { carrier: "dhl", size: Object.assign(new Size(), { width: 3 }) }),
    }),
  "a new entity": () => new Shipment(),
  "a plain object": () => ({ audit: { createdBy: "a" }, metadata: {}, parcel: { size: {} } }),
  "embedded objects null": () => ({ audit: null, metadata: null, parcel: null }),
  "an inner embedded object null": () => ({ parcel: { carrier: "ups", size: null } }),
  "embedded values that are not objects": () => ({ audit: 0, metadata: "text", parcel: { size: 7 } }),
  "an empty object": () => ({}),
};

describe.each(DIALECTS)("%s: embedded columns read and written as TypeORM does", (dialect: TestDialect) => {
  let db: DatabaseManager;

  beforeAll(async () => {
    db = await initTest(dialect, [Shipment]);
  });
  afterAll(() => destroyTest(db));

  it("every embedded column answers what TypeORM's own getEntityValue and setEntityValue give", () => {
    const columns = db.dataSource.getMetadata(Shipment).columns.filter((c) => c.embeddedMetadata);
    expect(columns.map((c) => c.propertyPath).sort()).toEqual([
      "audit.createdBy",
      "audit.updatedBy",
      "metadata.json",
      "metadata.tags",
      "parcel.carrier",
      "parcel.size.width",
    ]);
    const { getEntityValue, setEntityValue } = ColumnMetadata.prototype;
    for (const column of columns) {
      // the library's own functions are in place (the comparison below is not TypeORM's against itself)
      expect(Object.hasOwn(column, "getEntityValue") && Object.hasOwn(column, "setEntityValue")).toBe(true);
      for (const [shape, make] of Object.entries(shapes)) {
        const context = `${column.propertyPath} on ${shape}`;
        for (const transform of [false, true]) {
          expect([context, column.getEntityValue(make() as object, transform)]).toStrictEqual([
            context,
            getEntityValue.call(column, make() as object, transform),
          ]);
        }
        const ours = make() as Record<string, unknown>;
        const typeorms = make() as Record<string, unknown>;
        let oursError: unknown;
        let typeormsError: unknown;
        try {
          column.setEntityValue(ours, "v");
        } catch (error) {
          oursError = error;
        }
        try {
          setEntityValue.call(column, typeorms, "v");
        } catch (error) {
          typeormsError = error;
        }
        expect([context, ours, String(oursError)]).toStrictEqual([context, typeorms, String(typeormsError)]);
      }
      for (const nothing of [null, undefined]) {
        expect(column.getEntityValue(nothing as unknown as object)).toBe(
          getEntityValue.call(column, nothing as unknown as object),
        );
      }
    }
  });

  it("a saved and reloaded entity keeps its embedded values, stored in their columns", async () => {
    const repo = db.getRepository(Shipment);
    const saved = await repo.save(
      repo.create({ label: "box", parcel: { carrier: "dhl", size: { width: 12 } }, metadata: { json: { a: 1 } } }),
    );
    const rows = await raw<{ carrier: string; width: unknown }>(db, "SELECT carrier, width FROM parcels WHERE id = ?", [
      saved.id,
    ]);
    expect(rows.map((r) => [r.carrier, Number(r.width)])).toEqual([["dhl", 12]]);
    const loaded = await repo.findOneByOrFail({ id: saved.id });
    expect([loaded.parcel.carrier, loaded.parcel.size.width, loaded.metadata.json]).toStrictEqual([
      "dhl",
      12,
      { a: 1 },
    ]);
    loaded.parcel.size.width = 13;
    await repo.save(loaded);
    const after = await raw<{ width: unknown }>(db, "SELECT width FROM parcels WHERE id = ?", [saved.id]);
    expect(Number(after[0]!.width)).toBe(13);
  });
});
