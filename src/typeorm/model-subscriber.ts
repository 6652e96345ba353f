import type {
  EntitySubscriberInterface,
  InsertEvent,
  LoadEvent,
  RecoverEvent,
  RemoveEvent,
  SoftRemoveEvent,
  UpdateEvent,
} from "typeorm";
import { hasHistory, recordChange, recordedByStatement } from "../history/history";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { columnKind, isLibraryEntity } from "../columns/column-kinds";
import { keepsTypeormRules } from "./registry";
import { AuditContext } from "../audit/audit-context";
import { columnAccess, type ColumnAccess } from "./column-access";
import { FUNCTION_AS_SQL, UnparseableJson } from "../columns/smart-json";
import { InvalidJsonValueError, InvalidStoredJsonError, InvalidValueError, ValueTooLongError } from "../errors";
import { isUuid, uuidv7 } from "../util/uuid";
import { characterCount, STRING_COLUMN_TYPES } from "../util/text";
import { decimalMisfit, DECIMAL_TYPES, integerRange, type IntegerRange } from "../util/numeric";
import { activeUniqueKeys } from "../columns/unique-while-active";

/** What the subscriber does for one entity, worked out once per entity metadata. */
interface EntityPlan {
  readonly entity: string;
  readonly id: ColumnMetadata | undefined;
  readonly stamps: readonly ColumnMetadata[];
  /** Each with its accessor (no lookup per column on every write). */
  readonly uuids: readonly Checked[];
  readonly strings: readonly (Checked & { readonly maxLength: number | undefined })[];
  readonly json: readonly Checked[];
  /** Integer and decimal columns of a library model, with the values their type holds. */
  readonly integers: readonly (Checked & { readonly range: IntegerRange })[];
  readonly decimals: readonly (Checked & { readonly precision: number; readonly scale: number })[];
  /** The properties of the hidden `@UniqueWhileActive` twins, which TypeORM writes onto a saved entity. */
  readonly twins: readonly string[];
  readonly deleteDate: ColumnMetadata | undefined;
  readonly isDeleted: ColumnMetadata | undefined;
  /** The audit columns the acting user goes into. */
  readonly createdBy: ColumnMetadata | undefined;
  readonly updatedBy: ColumnMetadata | undefined;
}

type ObjectLike = Record<string, unknown>;

/** A column the checks read, and its accessor. */
interface Checked {
  readonly column: ColumnMetadata;
  readonly access: ColumnAccess;
}

const plans = new WeakMap<EntityMetadata, EntityPlan>();

function checked(column: ColumnMetadata): Checked {
  return { column, access: columnAccess(column) };
}

function planOf(metadata: EntityMetadata): EntityPlan {
  let plan = plans.get(metadata);
  if (plan) return plan;
  const kindOf = (c: ColumnMetadata) => columnKind(c.target, c.propertyName);
  // an application's column with its own transformer holds, on the entity, what the transformer turns into the
  // stored value (a value object, say): the checks would see the wrong value, so they leave it to the database, as
  // TypeORM does
  // an application's entity on a DataSource that keeps TypeORM's rules for them: only the library's own columns
  // (SmartJSON, its UUIDs) are looked at
  const appRules = keepsTypeormRules(metadata.connection) && !isLibraryEntity(metadata.target, metadata.columns);
  const own = (c: ColumnMetadata) => !appRules && (c.transformer === undefined || kindOf(c) !== undefined);
  const stamps = metadata.columns.filter((c) => kindOf(c) === "instant" && (c.isCreateDate || c.isUpdateDate));
  const uuids = metadata.columns.filter(
    (c) => kindOf(c) === "uuid" || (c.type === "uuid" && !c.relationMetadata && own(c)),
  );
  const json = metadata.columns.filter((c) => kindOf(c) === "smart-json");
  const strings = metadata.columns
    .filter(
      (c) => STRING_COLUMN_TYPES.has(c.type as string) && kindOf(c) !== "smart-json" && !uuids.includes(c) && own(c),
    )
    .map((column) => ({ ...checked(column), maxLength: column.length ? Number(column.length) : undefined }));
  const id = metadata.primaryColumns.find((c) => kindOf(c) === "uuid");
  // ranges are checked on the library's models only: an application's own entities keep TypeORM's behaviour
  const numeric = id
    ? metadata.columns.filter((c) => c.transformer === undefined && !c.relationMetadata && c.isInsert)
    : [];
  plan = {
    entity: metadata.name,
    id,
    stamps,
    uuids: uuids.map(checked),
    strings,
    json: json.map(checked),
    integers: numeric.flatMap((column) => {
      const range = integerRange(column.type, column.unsigned);
      return range ? [{ ...checked(column), range }] : [];
    }),
    decimals: numeric
      .filter((c) => DECIMAL_TYPES.has(c.type) && c.precision != null)
      .map((column) => ({ ...checked(column), precision: column.precision!, scale: column.scale ?? 0 })),
    twins: [...new Set(activeUniqueKeys(metadata.target).flatMap((key) => key.twinProperties))],
    deleteDate: metadata.deleteDateColumn,
    isDeleted: metadata.columns.find(
      (c) => c.target === metadata.deleteDateColumn?.target && c.propertyName === "isDeleted",
    ),
    createdBy: metadata.columns.find((c) => kindOf(c) === "created-by"),
    updatedBy: metadata.columns.find((c) => kindOf(c) === "updated-by"),
  };
  plans.set(metadata, plan);
  return plan;
}

/**
 * Checks the string columns of an entity or a partial values object before anything is written.
 * SmartJSON values are checked by their transformer.
 */
function validate(values: object, plan: EntityPlan, normalise = true): void {
  // TypeORM writes a function value as raw SQL, past the column's transformer: on a SmartJSON column that would
  // skip every check (and PostgreSQL would refuse the result's type), so it is refused like any other non-JSON value
  for (const { column, access } of plan.json) {
    const value: unknown = access.get(values);
    if (typeof value === "function")
      throw InvalidJsonValueError.at(plan.entity, column.propertyPath, "$", value, FUNCTION_AS_SQL);
  }
  for (const { column, access } of plan.uuids) {
    const value: unknown = access.get(values);
    if (value === undefined || value === null || typeof value === "function") continue;
    if (!isUuid(value)) throw InvalidValueError.notUuid(plan.entity, column.propertyPath, value);
    if (normalise && value !== value.toLowerCase()) access.set(values, value.toLowerCase());
  }
  for (const { column, access, range } of plan.integers) {
    const value: unknown = access.get(values);
    if (typeof value !== "number") continue;
    if (!Number.isInteger(value))
      throw InvalidValueError.outOfRange(plan.entity, column.propertyPath, value, `is not an integer (${range.type})`);
    if (value < range.min || value > range.max)
      throw InvalidValueError.outOfRange(
        plan.entity,
        column.propertyPath,
        value,
        `is outside the range of ${range.type} (${range.min} to ${range.max})`,
      );
  }
  for (const { column, access, precision, scale } of plan.decimals) {
    const value: unknown = access.get(values);
    if (typeof value !== "number" && typeof value !== "string") continue;
    const misfit = decimalMisfit(value, precision, scale);
    if (misfit !== undefined)
      throw InvalidValueError.outOfRange(
        plan.entity,
        column.propertyPath,
        value,
        `${misfit} (decimal(${precision}, ${scale}))`,
      );
  }
  for (const { column, access, maxLength } of plan.strings) {
    const value: unknown = access.get(values);
    if (typeof value !== "string") continue;
    if (value.includes("\u0000")) throw InvalidValueError.nulCharacter(plan.entity, column.propertyPath, value);
    if (!value.isWellFormed()) throw InvalidValueError.loneSurrogate(plan.entity, column.propertyPath, value);
    if (maxLength !== undefined && value.length > maxLength) {
      const count = characterCount(value);
      if (count > maxLength)
        throw ValueTooLongError.forColumn(plan.entity, column.propertyPath, value, maxLength, count);
    }
  }
}

/**
 * Fills a missing id (UUIDv7) and missing creation/update instants (the application clock), then validates ids and
 * strings. The subscriber runs it on every TypeORM insert path; the library's direct insert runs it per row.
 *
 * @internal
 */
export function prepareInsert(values: object, metadata: EntityMetadata, now: Date): void {
  const plan = planOf(metadata);
  if (plan.id && columnAccess(plan.id).get(values) == null) columnAccess(plan.id).set(values, uuidv7());
  for (const column of plan.stamps) {
    if (columnAccess(column).get(values) == null) columnAccess(column).set(values, now);
  }
  const actor = AuditContext.currentActor();
  if (actor !== undefined) {
    // an explicit value (null included) wins; only a value the application left unset is filled
    for (const column of [plan.createdBy, plan.updatedBy]) {
      if (column && columnAccess(column).get(values) === undefined) columnAccess(column).set(values, actor);
    }
  }
  validate(values, plan);
}

/**
 * The checks of {@link prepareInsert} without touching `values` (the library's bulk insert reads the caller's rows
 * and fills ids and instants as it writes the statement).
 *
 * @internal
 */
export function validateInsert(values: object, metadata: EntityMetadata): void {
  validate(values, planOf(metadata), false);
}

/** The `updated_by` audit column of an entity, if it has one. @internal */
export function updatedByColumn(metadata: EntityMetadata): ColumnMetadata | undefined {
  return planOf(metadata).updatedBy;
}

/** The `is_deleted` column (generated from `deleted_at`) of a library entity, if it has one. @internal */
export function isDeletedColumn(metadata: EntityMetadata): ColumnMetadata | undefined {
  return planOf(metadata).isDeleted;
}

/** The columns {@link prepareInsert} fills: the UUID key and the creation/update instants. @internal */
export function filledColumns(metadata: EntityMetadata): {
  id: ColumnMetadata | undefined;
  stamps: readonly ColumnMetadata[];
  actors: readonly ColumnMetadata[];
} {
  const plan = planOf(metadata);
  return {
    id: plan.id,
    stamps: plan.stamps,
    actors: [plan.createdBy, plan.updatedBy].filter((c): c is ColumnMetadata => c !== undefined),
  };
}

/** Throws {@link InvalidStoredJsonError} when a loaded entity holds SmartJSON text that was not JSON. @internal */
export function assertLoaded(entity: object, metadata: EntityMetadata): void {
  const plan = planOf(metadata);
  for (const { column, access } of plan.json) {
    const value: unknown = access.get(entity);
    if (value instanceof UnparseableJson) {
      const id: unknown = plan.id?.getEntityValue(entity) ?? metadata.getEntityIdMap(entity);
      throw InvalidStoredJsonError.inRow(
        plan.entity,
        metadata.tableName,
        column.databaseName,
        id,
        value.raw,
        value.cause,
      );
    }
  }
}

/**
 * Takes the `@UniqueWhileActive` twins TypeORM wrote onto a saved entity (or the caller's plain object) off it: they
 * are the database's, and an entity the application gets back looks as `find` answers it.
 */
function hideTwins(entity: unknown, metadata: EntityMetadata): void {
  if (typeof entity !== "object" || entity === null) return;
  const twins = planOf(metadata).twins;
  for (let i = 0; i < twins.length; i++) if (twins[i]! in entity) delete (entity as Record<string, unknown>)[twins[i]!];
}

/** The instant `upsert()` gave each of its rows' update-date column, weakly held (see rememberUpsertInstant). */
const upsertInstants = new WeakMap<object, Date>();

/**
 * Records the instant `upsert()` gave a row's update-date column before TypeORM built its statement, so that the
 * creation instant the insert fills in later is the same one (a row an upsert inserts has `created_at` equal to
 * `updated_at`, as with `save()`, not a millisecond or an app subscriber's work after it).
 *
 * @internal
 */
export function rememberUpsertInstant(row: object, now: Date): void {
  upsertInstants.set(row, now);
}

/**
 * The library's subscriber on every adapted DataSource. On every insert path (save, insert, QueryBuilder insert,
 * upsert) it fills a missing id with a UUIDv7 and missing creation/update instants with the application clock; on
 * every insert and update path it validates ids and string lengths before any SQL runs. On load it reports stored
 * SmartJSON text that is not JSON, naming the row.
 *
 * @internal
 */
export class ModelSubscriber implements EntitySubscriberInterface {
  beforeInsert(event: InsertEvent<object>): void {
    const values = event.entity as object | undefined;
    if (!values || typeof values !== "object") return;
    prepareInsert(values, event.metadata, upsertInstants.get(values) ?? new Date());
  }

  beforeUpdate(event: UpdateEvent<object>): void {
    const values = event.entity as object | undefined;
    if (!values || typeof values !== "object") return;
    const plan = planOf(event.metadata);
    const actor = AuditContext.currentActor();
    if (actor !== undefined && plan.updatedBy) {
      const access = columnAccess(plan.updatedBy);
      const current = access.get(values);
      // save(): the loaded value unchanged means the application did not set it; an update's values: not given
      const untouched = event.databaseEntity ? current === access.get(event.databaseEntity) : current === undefined;
      if (untouched) access.set(values, actor);
    }
    validate(values, plan);
  }

  afterInsert(event: InsertEvent<object>): void | Promise<void> {
    hideTwins(event.entity, event.metadata);
    // an upsert's rows are recorded by the statement, which knows which it inserted
    if (!hasHistory(event.metadata.target) || recordedByStatement.has(event.entity)) return;
    const entity = event.entity as ObjectLike;
    return recordChange(event.manager, event.metadata, "insert", undefined, entity);
  }

  afterUpdate(event: UpdateEvent<object>): void | Promise<void> {
    hideTwins(event.entity, event.metadata);
    if (!hasHistory(event.metadata.target) || !event.databaseEntity || !event.entity) return;
    const after = event.entity as ObjectLike;
    return recordChange(event.manager, event.metadata, "update", event.databaseEntity, after);
  }

  afterRemove(event: RemoveEvent<object>): void | Promise<void> {
    if (!hasHistory(event.metadata.target) || !event.databaseEntity) return;
    const before = event.databaseEntity as ObjectLike;
    return recordChange(event.manager, event.metadata, "delete", before, undefined);
  }

  afterLoad(entity: object, event?: LoadEvent<object>): void {
    if (event) assertLoaded(entity, event.metadata);
  }

  afterSoftRemove(event: SoftRemoveEvent<object>): void | Promise<void> {
    this.#syncIsDeleted(event.entity, event.metadata);
    hideTwins(event.entity, event.metadata);
    return this.#recordDeletion(event, "soft_delete");
  }

  afterRecover(event: RecoverEvent<object>): void | Promise<void> {
    this.#syncIsDeleted(event.entity, event.metadata);
    hideTwins(event.entity, event.metadata);
    return this.#recordDeletion(event, "restore");
  }

  #recordDeletion(event: SoftRemoveEvent<object>, op: "soft_delete" | "restore"): void | Promise<void> {
    if (!hasHistory(event.metadata.target) || !event.databaseEntity || !event.entity) return;
    const after = event.entity as ObjectLike;
    return recordChange(event.manager, event.metadata, op, event.databaseEntity, after);
  }

  /** After a soft delete or restore: the entity in memory says what the row now holds. */
  #syncIsDeleted(entity: object | undefined, metadata: EntityMetadata): void {
    const plan = planOf(metadata);
    if (!entity) return;
    if (plan.isDeleted && plan.deleteDate)
      plan.isDeleted.setEntityValue(entity, plan.deleteDate.getEntityValue(entity) != null);
    const actor = AuditContext.currentActor();
    if (actor !== undefined && plan.updatedBy) columnAccess(plan.updatedBy).set(entity, actor);
  }
}
