import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";

/** Reads and writes one column's value on an entity or a values object. @internal */
export interface ColumnAccess {
  get(object: object): unknown;
  set(object: object, value: unknown): void;
}

const accessors = new WeakMap<ColumnMetadata, ColumnAccess>();

/**
 * A compiled accessor for a column: a plain property, or a property inside embedded objects, read without TypeORM's
 * general `getEntityValue` (which copies the embedded path on every call). Relation columns keep TypeORM's own.
 *
 * @internal
 */
export function columnAccess(column: ColumnMetadata): ColumnAccess {
  let access = accessors.get(column);
  if (access) return access;
  const property = column.propertyName;
  const parents = column.embeddedMetadata?.parentPropertyNames ?? [];
  if (column.relationMetadata || column.embeddedMetadata?.isArray) {
    access = { get: (o) => column.getEntityValue(o), set: (o, v) => column.setEntityValue(o, v) };
  } else if (parents.length === 0) {
    // a function per column with the property name written in, so each access site sees one property name and
    // stays a fast named access instead of a megamorphic keyed one
    const key = JSON.stringify(property);
    access = {
      get: new Function("o", `return o[${key}];`) as ColumnAccess["get"],
      set: new Function("o", "v", `o[${key}] = v;`) as ColumnAccess["set"],
    };
  } else {
    access = {
      get: (o) => {
        let target = o as Record<string, unknown> | undefined;
        for (let i = 0; i < parents.length && target; i++)
          target = target[parents[i]!] as Record<string, unknown> | undefined;
        return target === undefined || target === null ? undefined : target[property];
      },
      set: (o, v) => {
        let target = o as Record<string, unknown> | undefined;
        for (let i = 0; i < parents.length && target; i++)
          target = target[parents[i]!] as Record<string, unknown> | undefined;
        // the embedded object exists (an initialised property): write into it; otherwise TypeORM creates it
        if (target && typeof target === "object") target[property] = v;
        else column.setEntityValue(o, v);
      },
    };
  }
  accessors.set(column, access);
  return access;
}
