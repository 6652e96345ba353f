import { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";

type GetEntityValue = ColumnMetadata["getEntityValue"];
type SetEntityValue = ColumnMetadata["setEntityValue"];

const { getEntityValue, setEntityValue } = ColumnMetadata.prototype;

/**
 * TypeORM reads and writes a column inside an embedded object (`audit.createdBy`, `metadata.json`) through
 * `getEntityValue`/`setEntityValue`, which copy the embedded path into a new array and walk it with a new recursive
 * closure on every call: for the four embedded columns of a `FullAuditModel`, that is most of what hydrating a
 * loaded row costs beyond plain columns, and it runs again on every save's change detection. For the plain embedded
 * columns of an entity (no relation, no referenced column, not an embedded array) this gives each column a
 * function with its path written in, answering what TypeORM's would on both lines: a missing embedded object reads
 * as undefined, and a write where an embedded object is missing (or anything unusual: a null entity, a value TypeORM
 * transforms) is left to TypeORM's own.
 *
 * @internal
 */
export function compileEmbeddedColumns(metadata: EntityMetadata): void {
  for (const column of metadata.columns) {
    const embedded = column.embeddedMetadata;
    if (!embedded || embedded.isArray || column.relationMetadata || column.referencedColumn) continue;
    if (Object.hasOwn(column, "getEntityValue")) continue;
    const path = embedded.parentPropertyNames.map((name) => `[${JSON.stringify(name)}]`);
    const property = `[${JSON.stringify(column.propertyName)}]`;
    const object = (name: string) => `${name} !== null && typeof ${name} === "object"`;
    const walk = path.map((step, depth) => `${depth === 0 ? "t = e" : "if (t) t = t"}${step};`).join(" ");
    const get = new Function(
      "original",
      `return function getEntityValue(e, transform) {
        if (e === undefined || e === null || (transform && this.transformer)) return original.call(this, e, transform);
        let t; ${walk}
        return t ? t${property} : undefined;
      };`,
    )(getEntityValue) as GetEntityValue;
    const nested = path
      .slice(1)
      .map((step) => `t = t${step}; if (!(${object("t")})) return original.call(this, e, v);`)
      .join(" ");
    const set = new Function(
      "original",
      `return function setEntityValue(e, v) {
        if (!(${object("e")})) return original.call(this, e, v);
        let t = e${path[0]!}; if (!(${object("t")})) return original.call(this, e, v);
        ${nested}
        t${property} = v;
        return e;
      };`,
    )(setEntityValue) as SetEntityValue;
    Object.defineProperty(column, "getEntityValue", { value: get, configurable: true, writable: true });
    Object.defineProperty(column, "setEntityValue", { value: set, configurable: true, writable: true });
  }
}
