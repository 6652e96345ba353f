import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";

/** Reads and writes one column's value on an entity or a values object. @internal */
export interface ColumnAccess {
  get(object: object): unknown;
  set(object: object, value: unknown): void;
}

const accessors = new WeakMap<ColumnMetadata, ColumnAccess>();

/**
 * A compiled accessor for a column: a plain property read and written by name, without TypeORM's general
 * `getEntityValue`. Columns inside embedded objects and relation columns use the column's own `getEntityValue` /
 * `setEntityValue` (on the library's DataSources, the ones `compileEmbeddedColumns` wrote for the column's path).
 *
 * @internal
 */
export function columnAccess(column: ColumnMetadata): ColumnAccess {
  let access = accessors.get(column);
  if (access) return access;
  if (column.relationMetadata || column.embeddedMetadata) {
    access = { get: (o) => column.getEntityValue(o), set: (o, v) => column.setEntityValue(o, v) };
  } else {
    // a function per column with the property name written in, so each access site sees one property name and
    // stays a fast named access instead of a megamorphic keyed one
    const key = JSON.stringify(column.propertyName);
    access = {
      get: new Function("o", `return o[${key}];`) as ColumnAccess["get"],
      set: new Function("o", "v", `o[${key}] = v;`) as ColumnAccess["set"],
    };
  }
  accessors.set(column, access);
  return access;
}
