import { Equal, In } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { QueryBuilder } from "typeorm/query-builder/QueryBuilder";
import { UuidTransformer } from "../columns/uuid-column";
import { registeredDialect } from "./registry";
import { dataSourceOf } from "./typeorm-line";

/** The parts of TypeORM's QueryBuilder the key condition reads. */
interface KeyConditionBuilder {
  expressionMap: { mainAlias?: { hasMetadata: boolean; metadata: EntityMetadata } };
  getWhereInIdsCondition(ids: unknown): unknown;
}

let installed = false;

/** Per entity: its UUID key column, where that is the entity's only key and a plain column. */
const uuidKeys = new WeakMap<EntityMetadata, ColumnMetadata | null>();

function uuidKeyOf(metadata: EntityMetadata): ColumnMetadata | null {
  let key = uuidKeys.get(metadata);
  if (key === undefined) {
    const column = metadata.primaryColumns.length === 1 ? metadata.primaryColumns[0]! : undefined;
    key =
      column &&
      column.transformer instanceof UuidTransformer &&
      !column.relationMetadata &&
      !column.embeddedMetadata &&
      !column.referencedColumn
        ? column
        : null;
    uuidKeys.set(metadata, key);
  }
  return key;
}

/**
 * TypeORM turns "these entities" into a condition on their keys (`whereInIds`, `whereEntity`: the SELECT `save()`
 * makes before an update, the UPDATE itself, `softRemove`, `findByIds`). For a single key column it writes
 * `id = :id` (or `IN`), except when the column has a transformer — an old workaround (TypeORM #2390) for transformers
 * handed the `In` operator — where it nests two `Brackets` per id instead, each building a query builder of its own.
 * The library's UUID keys all have one (it refuses a value that is not a UUID and writes it in lower case). On the
 * library's DataSources such a key gets TypeORM's plain condition, its values put through that transformer first
 * (the same check and error, before any SQL; it takes its own output unchanged where TypeORM applies it again).
 * Any other key, a missing key value, and other DataSources keep TypeORM's own.
 *
 * @internal
 */
export function installUuidKeyConditions(): void {
  if (installed) return;
  installed = true;
  const proto = QueryBuilder.prototype as unknown as KeyConditionBuilder;
  const original = proto.getWhereInIdsCondition;
  proto.getWhereInIdsCondition = function (this: KeyConditionBuilder, ids: unknown): unknown {
    const alias = this.expressionMap.mainAlias;
    const key = alias?.hasMetadata && registeredDialect(dataSourceOf(this)) ? uuidKeyOf(alias.metadata) : null;
    if (!key) return original.call(this, ids);
    const metadata = alias!.metadata;
    const transformer = key.transformer as UuidTransformer;
    const list = Array.isArray(ids) ? ids : [ids];
    if (list.length === 0) return original.call(this, ids);
    const values: unknown[] = [];
    for (const id of list) {
      const value = key.getEntityValue(metadata.ensureEntityIdMap(id), false);
      if (value === undefined || value === null || typeof value === "object") return original.call(this, ids);
      values.push(transformer.to(value));
    }
    return { [key.propertyName]: values.length === 1 ? Equal(values[0]) : In(values) };
  };
}
