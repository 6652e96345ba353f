import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { EntityManager, type ObjectLiteral } from "typeorm";
import { SoftDeleteQueryBuilder } from "typeorm/query-builder/SoftDeleteQueryBuilder";
import { UpdateQueryBuilder } from "typeorm/query-builder/UpdateQueryBuilder";
import { ReturningResultsEntityUpdator } from "typeorm/query-builder/ReturningResultsEntityUpdator";
import { SubjectExecutor } from "typeorm/persistence/SubjectExecutor";
import { AuditContext } from "../audit/audit-context";
import { columnKind } from "../columns/column-kinds";
import { isDeletedColumn, rememberUpsertInstant, updatedByColumn } from "./model-subscriber";
import { registeredDialect } from "./registry";
import { dataSourceOf, LINE_DIFFERENCES } from "./typeorm-line";

/**
 * TypeORM writes `updated_at = CURRENT_TIMESTAMP` on every update and `deleted_at = CURRENT_TIMESTAMP` on a soft
 * delete. That loses the milliseconds on MySQL/MariaDB (`CURRENT_TIMESTAMP` has none) and on SQLite (it is
 * `YYYY-MM-DD HH:MM:SS`), and it takes the database server's clock where inserts take the application's.
 *
 * For the library's instant columns on a DataSource the library adapted, this replaces exactly those two
 * assignments with a literal of the application clock, in the form the column stores. Other DataSources and other
 * columns are left as TypeORM wrote them.
 */
interface UpdateExpressionBuilder {
  expressionMap: {
    mainAlias?: { hasMetadata: boolean; metadata: EntityMetadata };
    parameters: Record<string, unknown>;
    queryType: string;
    wheres: { type: string; condition: string }[];
    returning?: string | string[];
    extraReturningColumns: ColumnMetadata[];
    updateEntity: boolean;
    whereEntities: ObjectLiteral[];
    valuesSet?: ObjectLiteral;
    /** The application-clock instant this update wrote into its update-date column. */
    __inferenceNow?: Date;
    /** The update's RETURNING was left off: what it would have answered is known (see skipKnownReturning). */
    __inferenceReturningSkipped?: boolean;
    /**
     * The version a version-checked entity update requires (optimistic-lock.ts): when it succeeds, the row is at
     * exactly one more (TypeORM writes `version = version + 1`).
     */
    __inferenceExpectedVersion?: number;
  };
  escape(name: string): string;
  createUpdateExpression(): string;
}

let installed = false;

/** What an update wrote for the library's columns: its application-clock instant and the acting user. @internal */
export interface UpdateAssignments {
  readonly now: Date;
  readonly actor: string | undefined;
}

/** The named parameter the application-clock instant of an update is bound as. */
const NOW_PARAMETER = "inference_now";
/** The acting user's id in a soft delete or restore: always bound, never written into the SQL text. */
const ACTOR_PARAMETER = "inference_actor";

/**
 * `upsert()` decides which columns its ON CONFLICT branch overwrites from the values given, before any subscriber
 * runs. On an adapted DataSource the update instant and the acting user are filled in first, so that a row updated by
 * an upsert gets a new `updated_at` and `updated_by`, while `created_at` and `created_by` (filled later, for the
 * insert only) are left alone.
 */
function installUpsertStamps(): void {
  type Upsert = (this: EntityManager, target: unknown, values: unknown, options: unknown) => Promise<unknown>;
  const proto = EntityManager.prototype as unknown as { upsert: Upsert };
  const upsert = proto.upsert;
  proto.upsert = function (this: EntityManager, target: unknown, values: unknown, options: unknown) {
    const dataSource = dataSourceOf(this);
    if (registeredDialect(dataSource) && values && typeof values === "object") {
      const metadata = dataSource.getMetadata(target as Function);
      const now = new Date();
      const actor = AuditContext.currentActor();
      const { updateDate, updatedBy } = upsertPlan(metadata);
      for (const row of (Array.isArray(values) ? values : [values]) as object[]) {
        if (updateDate && updateDate.getEntityValue(row) === undefined) {
          updateDate.setEntityValue(row, now);
          rememberUpsertInstant(row, now);
        }
        if (actor !== undefined && updatedBy && updatedBy.getEntityValue(row) === undefined)
          updatedBy.setEntityValue(row, actor);
      }
      if (LINE_DIFFERENCES.upsertOverwritesEveryGivenColumn)
        return upsertKeepingFixedColumns(this, metadata, target, values, options);
    }
    return upsert.call(this, target, values, options);
  };
}

/** The columns an upsert stamps: the library's update instant and `updated_by`, worked out once per entity. */
const upsertPlans = new WeakMap<EntityMetadata, { updateDate?: ColumnMetadata; updatedBy?: ColumnMetadata }>();

function upsertPlan(metadata: EntityMetadata): { updateDate?: ColumnMetadata; updatedBy?: ColumnMetadata } {
  let plan = upsertPlans.get(metadata);
  if (!plan) {
    plan = {
      updateDate:
        metadata.updateDateColumn && isInstant(metadata.updateDateColumn) ? metadata.updateDateColumn : undefined,
      updatedBy: updatedByColumn(metadata),
    };
    upsertPlans.set(metadata, plan);
  }
  return plan;
}

/** What `upsert()` accepts after the entities: conflict paths, or the options object. */
type UpsertOptions =
  | string[]
  | {
      conflictPaths: string[] | Record<string, true>;
      skipUpdateIfNoValuesChanged?: boolean;
      indexPredicate?: string;
      upsertType?: "on-conflict-do-update" | "on-duplicate-key-update";
      returning?: string | string[];
    };

/**
 * TypeORM 0.3's `upsert()` overwrites every column that has a value, so upserting a loaded entity writes its
 * generated `is_deleted` (refused by the database) and its `update: false` columns. This is 1.x's upsert: the ON
 * CONFLICT branch leaves generated and `update: false` columns alone.
 */
function upsertKeepingFixedColumns(
  manager: EntityManager,
  metadata: EntityMetadata,
  target: unknown,
  values: object,
  conflictPathsOrOptions: unknown,
): Promise<unknown> {
  const given = conflictPathsOrOptions as UpsertOptions;
  const options = Array.isArray(given) ? { conflictPaths: given } : given;
  const entities = (Array.isArray(values) ? values : [values]) as ObjectLiteral[];
  const conflictColumns = metadata.mapPropertyPathsToColumns(
    Array.isArray(options.conflictPaths) ? options.conflictPaths : Object.keys(options.conflictPaths),
  );
  const overwriteColumns = metadata.columns.filter(
    (column) =>
      !conflictColumns.includes(column) &&
      column.isUpdate !== false &&
      !column.generatedType &&
      entities.some((entity) => column.getEntityValue(entity) !== undefined),
  );
  const builder = manager
    .createQueryBuilder()
    .insert()
    .into(target as Function)
    .values(entities)
    .orUpdate(
      [...conflictColumns, ...overwriteColumns].map((column) => column.databaseName),
      conflictColumns.map((column) => column.databaseName),
      {
        skipUpdateIfNoValuesChanged: options.skipUpdateIfNoValuesChanged,
        indexPredicate: options.indexPredicate,
        upsertType:
          options.upsertType ?? (dataSourceOf(manager).driver.supportedUpsertTypes[0] as typeof options.upsertType),
      },
    );
  if (options.returning !== undefined) builder.returning(options.returning);
  return builder.execute();
}

/**
 * After an UPDATE of an entity (`save()` of a loaded one), TypeORM reloads the update-date and generated columns:
 * with a SELECT on databases without RETURNING for updates (SQLite, MySQL, MariaDB), with a RETURNING clause on the
 * UPDATE itself on PostgreSQL. On the library's entities the update instant is the application-clock value the UPDATE
 * itself wrote, and `is_deleted` follows `deleted_at`: when those are all the reload would fetch, they are set on the
 * entity from what is known and the SELECT (or the RETURNING, left off by the update expression) is skipped. So is
 * the version of a version-checked update (the one it required, plus one). Any other column to reload (an
 * unchecked version column, a `@JsonIndex` generated column) keeps TypeORM's reload.
 */
function installKnownUpdateValues(): void {
  interface Updator {
    expressionMap: UpdateExpressionBuilder["expressionMap"];
    queryRunner: object;
    update(updateResult: unknown, entities: ObjectLiteral[]): Promise<void>;
  }
  const proto = ReturningResultsEntityUpdator.prototype as unknown as Updator;
  const update = proto.update;
  proto.update = function (this: Updator, updateResult: unknown, entities: ObjectLiteral[]): Promise<void> {
    const map = this.expressionMap;
    const now = map.__inferenceNow;
    // a RETURNING left off was left off because the reload is known (checked there); where a SELECT would reload,
    // it is checked here
    const known =
      map.__inferenceReturningSkipped === true ||
      (!dataSourceOf(this.queryRunner).driver.isReturningSqlSupported("update") && reloadIsKnown(map));
    if (now === undefined || !known) return update.call(this, updateResult, entities);
    const metadata = map.mainAlias!.metadata;
    const updateDate = metadata.updateDateColumn;
    // `entities` are the update's key maps (TypeORM's subject identifiers), not the saved entities: is_deleted is
    // known from the deleted_at this update writes; where it writes none, the row's is_deleted did not change and
    // the entity keeps its own
    const written = metadata.deleteDateColumn?.getEntityValue(map.valuesSet ?? {}) as Date | null | undefined;
    // what TypeORM's reload would have answered: the key and those columns, merged into the entity and handed on
    const generatedMaps = (updateResult as { generatedMaps: ObjectLiteral[] }).generatedMaps;
    for (const entity of entities) {
      const generated: ObjectLiteral = {};
      for (const column of metadata.primaryColumns) column.setEntityValue(generated, column.getEntityValue(entity));
      for (const column of map.extraReturningColumns) {
        let value: () => unknown;
        // each its own Date, as a reload gives the entity and the generated map their own
        if (column === updateDate) value = () => new Date(now.getTime());
        else if (column === metadata.versionColumn) value = () => map.__inferenceExpectedVersion! + 1;
        else if (written === undefined) continue;
        else value = () => written != null;
        column.setEntityValue(generated, value());
        column.setEntityValue(entity, value());
      }
      generatedMaps.push(generated);
    }
    return Promise.resolve();
  };
}

/** A row TypeORM's SubjectExecutor writes: with its entity, or (unloaded) only its key and the values to change. */
interface ChangeSubject {
  readonly metadata: EntityMetadata;
  readonly entity?: ObjectLiteral;
  readonly changeMaps: { column?: ColumnMetadata; value: unknown }[];
}

/**
 * Rows `save()` changes without an entity (a child left out of its parent's one-to-many relation has its key
 * nullified): the subscriber stamps the acting user on the entity, and there is none, so the actor goes in beside
 * the values TypeORM writes, as `updated_at` from the application clock does.
 */
function installActorOnUnloadedRows(): void {
  const proto = SubjectExecutor.prototype as unknown as {
    executeUpdateOperations(this: { updateSubjects: ChangeSubject[] }): Promise<void>;
  };
  const execute = proto.executeUpdateOperations;
  proto.executeUpdateOperations = function (this: { updateSubjects: ChangeSubject[] }) {
    const actor = AuditContext.currentActor();
    if (actor !== undefined)
      for (const subject of this.updateSubjects) {
        if (subject.entity !== undefined) continue;
        const column = updatedByColumn(subject.metadata);
        if (column && !subject.changeMaps.some((change) => change.column === column))
          subject.changeMaps.push({ column, value: actor });
      }
    return execute.call(this);
  };
}

/** @internal */
export function installAppClockTimestamps(): void {
  if (installed) return;
  installed = true;
  installUpsertStamps();
  installActorOnUnloadedRows();
  installKnownUpdateValues();
  for (const proto of [
    UpdateQueryBuilder.prototype,
    SoftDeleteQueryBuilder.prototype,
  ] as unknown as UpdateExpressionBuilder[]) {
    const original = proto.createUpdateExpression;
    proto.createUpdateExpression = function (this: UpdateExpressionBuilder): string {
      const dialect = registeredDialect(dataSourceOf(this));
      const alias = this.expressionMap.mainAlias;
      if (dialect && alias?.hasMetadata && LINE_DIFFERENCES.softDeleteTouchesEveryRow) onlyRowsThatChange(this);
      const sql = original.call(this);
      if (!dialect || !alias?.hasMetadata) return sql;
      const nowDate = new Date();
      const actor = AuditContext.currentActor();
      // what a cascading soft delete or restore writes into the children (made into SQL there, when there are any)
      (this as unknown as { __inferenceAssignments?: UpdateAssignments }).__inferenceAssignments = {
        now: nowDate,
        actor,
      };
      const plan = clockPlan(alias.metadata, this);
      let bound: unknown;
      let result = sql;
      for (const stamp of plan.stamps) {
        // bound, not written as a literal: one SQL text for every run of the statement (TypeORM's better-sqlite3
        // runner keeps prepared statements by text; a new text per call would be prepared again each time)
        const at = result.indexOf(stamp.typeormAssignment);
        if (at === -1) continue;
        result = result.slice(0, at) + stamp.boundAssignment + result.slice(at + stamp.typeormAssignment.length);
        // formatted once, though a soft delete binds it to two columns
        this.expressionMap.parameters[NOW_PARAMETER] = bound ??= dialect.instantParameter(nowDate);
        if (stamp.isUpdateDate) this.expressionMap.__inferenceNow = nowDate;
      }
      // a soft delete or restore is an update by the acting user: TypeORM writes no values for it, so the
      // updated_by assignment goes in beside deleted_at
      const queryType = this.expressionMap.queryType;
      if (actor !== undefined && plan.deletedAssignment && (queryType === "soft-delete" || queryType === "restore")) {
        const at = result.indexOf(plan.deletedAssignment);
        // a bound parameter: the id comes from a request (a token's subject), and a literal is read by TypeORM's
        // parameter substitution (`:name` inside it) and by the server's string rules (backslashes)
        if (at !== -1) {
          result = `${result.slice(0, at)}${plan.updatedByAssignment} = :${ACTOR_PARAMETER}, ${result.slice(at)}`;
          this.expressionMap.parameters[ACTOR_PARAMETER] = actor;
        }
      }
      return skipKnownReturning(this, result);
    };
  }
}

/**
 * Whether every column TypeORM would reload after this entity update is one whose value the update knows: the
 * application-clock instant it wrote into the update-date column, and `is_deleted`, which follows the `deleted_at`
 * it writes (or did not change, where it writes none). A `deleted_at` given as an SQL expression is not known.
 */
function reloadIsKnown(map: UpdateExpressionBuilder["expressionMap"]): boolean {
  const metadata = map.mainAlias?.metadata;
  if (map.__inferenceNow === undefined || metadata === undefined) return false;
  const updateDate = metadata.updateDateColumn;
  const isDeleted = isDeletedColumn(metadata);
  const version = map.__inferenceExpectedVersion === undefined ? undefined : metadata.versionColumn;
  return (
    map.extraReturningColumns.every((column) => column === updateDate || column === isDeleted || column === version) &&
    typeof metadata.deleteDateColumn?.getEntityValue(map.valuesSet ?? {}) !== "function"
  );
}

/**
 * An entity update on a database with RETURNING (`save()` of a loaded entity on PostgreSQL) ends in
 * `RETURNING "updated_at", "is_deleted"`, added by TypeORM to reload those columns. When the update instant is the
 * application clock's and nothing else is asked back (no `returning()` of the caller's, no version or other
 * generated column), the clause is left off: installKnownUpdateValues sets those values from what is known, as it
 * does where a SELECT would reload them.
 */
function skipKnownReturning(builder: UpdateExpressionBuilder, sql: string): string {
  const map = builder.expressionMap;
  map.__inferenceReturningSkipped = false;
  const extra = map.extraReturningColumns;
  if (
    map.queryType !== "update" ||
    !map.updateEntity ||
    map.whereEntities.length === 0 ||
    extra.length === 0 ||
    (map.returning !== undefined && (typeof map.returning === "string" || map.returning.length > 0)) ||
    !reloadIsKnown(map)
  )
    return sql;
  const clause = ` RETURNING ${extra.map((column) => builder.escape(column.databaseName)).join(", ")}`;
  if (!sql.endsWith(clause)) return sql;
  map.__inferenceReturningSkipped = true;
  return sql.slice(0, -clause.length);
}

/** What the application clock changes in an entity's updates, worked out once per entity metadata. */
interface ClockPlan {
  /** The library's instant columns TypeORM stamps with CURRENT_TIMESTAMP: that assignment, and the bound one. */
  readonly stamps: readonly { typeormAssignment: string; boundAssignment: string; isUpdateDate: boolean }[];
  /** `"deleted_at" = ` and `"updated_by"`, where the entity has both (a soft delete's acting user goes in). */
  readonly deletedAssignment: string | undefined;
  readonly updatedByAssignment: string | undefined;
}

const clockPlans = new WeakMap<EntityMetadata, ClockPlan>();

function clockPlan(metadata: EntityMetadata, builder: UpdateExpressionBuilder): ClockPlan {
  let plan = clockPlans.get(metadata);
  if (plan) return plan;
  const stamps = [metadata.updateDateColumn, metadata.deleteDateColumn]
    .filter((column): column is ColumnMetadata => column !== undefined && isInstant(column))
    .map((column) => {
      const target = builder.escape(column.databaseName);
      return {
        typeormAssignment: `${target} = CURRENT_TIMESTAMP`,
        boundAssignment: `${target} = :${NOW_PARAMETER}`,
        isUpdateDate: column === metadata.updateDateColumn,
      };
    });
  const deleted = metadata.deleteDateColumn;
  const updatedBy = updatedByColumn(metadata);
  const both = deleted !== undefined && updatedBy !== undefined;
  plan = {
    stamps,
    deletedAssignment: both ? `${builder.escape(deleted.databaseName)} = ` : undefined,
    updatedByAssignment: both ? builder.escape(updatedBy.databaseName) : undefined,
  };
  clockPlans.set(metadata, plan);
  return plan;
}

/**
 * On TypeORM 0.3 a soft delete also stamps rows that are already deleted, and a restore touches live rows: the
 * condition 1.x adds itself goes in once, so that a second soft delete keeps the first instant (restore cascades
 * match children by that instant).
 */
function onlyRowsThatChange(builder: UpdateExpressionBuilder): void {
  const { queryType, mainAlias, wheres } = builder.expressionMap;
  const deleted = mainAlias?.metadata.deleteDateColumn;
  if (!deleted || (queryType !== "soft-delete" && queryType !== "restore")) return;
  const condition = `${builder.escape(deleted.databaseName)} IS ${queryType === "soft-delete" ? "NULL" : "NOT NULL"}`;
  if (!wheres.some((where) => where.condition === condition)) wheres.push({ type: "and", condition });
}

function isInstant(column: ColumnMetadata): boolean {
  return columnKind(column.target, column.propertyName) === "instant";
}
