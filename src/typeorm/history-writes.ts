import { DeleteResult, UpdateResult, type EntityManager, type ObjectLiteral, type QueryRunner } from "typeorm";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { SubjectExecutor } from "typeorm/persistence/SubjectExecutor";
import { DeleteQueryBuilder } from "typeorm/query-builder/DeleteQueryBuilder";
import { InsertQueryBuilder } from "typeorm/query-builder/InsertQueryBuilder";
import { SelectQueryBuilder } from "typeorm/query-builder/SelectQueryBuilder";
import { SoftDeleteQueryBuilder } from "typeorm/query-builder/SoftDeleteQueryBuilder";
import { UpdateQueryBuilder } from "typeorm/query-builder/UpdateQueryBuilder";
import {
  hasHistory,
  historyKey,
  loadRows,
  pairByKey,
  recordChanges,
  recordedByStatement,
  type HistoryOperation,
  type RowChange,
} from "../history/history";
import { inBuilderTransaction } from "./builder-transaction";
import { registeredDialect } from "./registry";
import { dataSourceOf } from "./typeorm-line";

interface WriteBuilder {
  queryRunner?: QueryRunner;
  expressionMap: {
    mainAlias?: { hasMetadata: boolean; metadata: EntityMetadata; name: string };
    queryType: string;
    wheres: unknown[];
    limit?: number;
    valuesSet?: unknown;
    onUpdate?: { conflict?: string | string[] };
    onIgnore?: boolean;
  };
  getParameters(): Record<string, unknown>;
  setQueryRunner(queryRunner: QueryRunner): this;
  clone(): this;
  whereInIds(ids: unknown): this;
  execute(): Promise<WriteResult>;
}

interface WriteResult {
  raw?: unknown;
  affected?: number | null;
  generatedMaps?: ObjectLiteral[];
  identifiers?: ObjectLiteral[];
}

/** TypeORM's SubjectExecutor, as far as the history reads it. */
interface Executor {
  readonly queryRunner: QueryRunner;
  readonly updateSubjects: readonly PersistSubject[];
  readonly removeSubjects: readonly PersistSubject[];
  readonly softRemoveSubjects: readonly PersistSubject[];
  readonly recoverSubjects: readonly PersistSubject[];
}

/** One row TypeORM persists: its entity's metadata, its key, and the row as loaded before (when it was). */
interface PersistSubject {
  readonly metadata: EntityMetadata;
  readonly identifier?: ObjectLiteral;
  readonly databaseEntity?: ObjectLiteral;
}

/** Query runners inside TypeORM's own writes of loaded entities (save, remove, ...): the subscriber records those. */
const persisting = new WeakMap<QueryRunner, number>();

/** Rows written per statement when a criteria write is narrowed to the rows it was read to change. */
const KEYS_PER_WRITE = 500;

/** The rows a criteria write would change, read (and locked) with the write's own conditions. */
function rowsMatching(builder: WriteBuilder, runner: QueryRunner): Promise<ObjectLiteral[]> {
  const alias = builder.expressionMap.mainAlias!;
  const select = new SelectQueryBuilder(dataSourceOf(builder), runner)
    .select(alias.name)
    .from(alias.metadata.target, alias.name)
    .withDeleted();
  // the conditions were written for the write, whose property names carry no alias: read the same way
  const map = select.expressionMap as unknown as WriteBuilder["expressionMap"] & { aliasNamePrefixingEnabled: boolean };
  map.aliasNamePrefixingEnabled = false;
  map.wheres = [...builder.expressionMap.wheres];
  select.setParameters(builder.getParameters());
  if (builder.expressionMap.limit !== undefined) select.limit(builder.expressionMap.limit);
  if (registeredDialect(dataSourceOf(builder))?.singleConnection !== true) select.setLock("pessimistic_write");
  return select.getMany();
}

/**
 * A criteria write (update, delete, soft delete, restore by conditions) of a `@History()` entity: in one transaction
 * the rows it matches are read and locked, the write runs on exactly those rows (by key, so a row another
 * transaction adds meanwhile is neither changed nor left unrecorded), they are read again and each change is
 * recorded.
 */
function recordCriteriaWrite(builder: WriteBuilder, run: (b: WriteBuilder) => Promise<WriteResult>) {
  const metadata = builder.expressionMap.mainAlias!.metadata;
  const type = builder.expressionMap.queryType;
  const op: HistoryOperation =
    type === "delete" ? "delete" : type === "soft-delete" ? "soft_delete" : type === "restore" ? "restore" : "update";
  return inBuilderTransaction(builder, async (runner) => {
    const before = await rowsMatching(builder, runner);
    // what TypeORM answers for the statement: its result class, the rows it changed counted over every part, the rows
    // a RETURNING gave (PostgreSQL) gathered
    const result: WriteResult = op === "delete" ? new DeleteResult() : new UpdateResult();
    result.raw = [];
    result.affected = 0;
    if (op !== "delete") result.generatedMaps = [];
    const keys = before.map((row) => metadata.getEntityIdMap(row)!);
    for (let i = 0; i < keys.length; i += KEYS_PER_WRITE) {
      const narrowed = builder.clone().setQueryRunner(runner);
      narrowed.expressionMap.wheres = [];
      narrowed.expressionMap.limit = undefined;
      narrowed.whereInIds(keys.slice(i, i + KEYS_PER_WRITE));
      const part = await run(narrowed);
      result.raw = Array.isArray(part.raw) && Array.isArray(result.raw) ? [...result.raw, ...part.raw] : part.raw;
      result.affected = (result.affected ?? 0) + (part.affected ?? 0);
      if (part.generatedMaps) result.generatedMaps!.push(...part.generatedMaps);
    }
    if (before.length === 0) return result;
    const changes: RowChange[] =
      op === "delete"
        ? before.map((row) => [row, undefined])
        : pairByKey(metadata, before, await loadRows(runner.manager, metadata, keys, false));
    await recordChanges(runner.manager, metadata, op, changes);
    return result;
  });
}

/** The conditions that find the rows an upsert's value sets may meet: by key, and by the conflict columns. */
function conflictConditions(metadata: EntityMetadata, builder: WriteBuilder, rows: readonly ObjectLiteral[]) {
  const conflict = builder.expressionMap.onUpdate?.conflict;
  const named = conflict === undefined ? [] : Array.isArray(conflict) ? conflict : [conflict];
  const columnSets = [
    metadata.primaryColumns,
    named.map((name) => metadata.findColumnWithDatabaseName(name)).filter((c) => c !== undefined),
    // MySQL's ON DUPLICATE KEY meets any unique key
    ...metadata.uniques.map((unique) => unique.columns),
  ].filter((columns) => columns.length > 0);
  const wheres: ObjectLiteral[] = [];
  for (const row of rows) {
    for (const columns of columnSets) {
      const values = columns.map((column) => column.getEntityValue(row) as unknown);
      if (values.some((value) => value === undefined || value === null || typeof value === "function")) continue;
      const where: ObjectLiteral = {};
      columns.forEach((column, i) => column.setEntityValue(where, values[i]));
      wheres.push(where);
    }
  }
  return wheres;
}

/** Loads the rows an upsert's conditions meet, locked where the database has row locks. */
async function rowsMeeting(manager: EntityManager, metadata: EntityMetadata, wheres: ObjectLiteral[], lock: boolean) {
  if (wheres.length === 0) return [];
  const found = await manager.find(metadata.target, { where: wheres, withDeleted: true });
  if (!lock || found.length === 0) return found;
  return loadRows(
    manager,
    metadata,
    found.map((row) => metadata.getEntityIdMap(row)!),
    true,
  );
}

/**
 * An upsert (or an insert ignoring conflicts) of a `@History()` entity: the rows its value sets may meet are read
 * (and locked) before, the statement runs, the rows are read again (the ones inserted found by the keys it
 * generated), and each row that appeared is recorded as an insert, each that changed as an update.
 */
function recordUpsert(builder: WriteBuilder, run: (b: WriteBuilder) => Promise<WriteResult>) {
  const metadata = builder.expressionMap.mainAlias!.metadata;
  const valuesSet = builder.expressionMap.valuesSet;
  const rows = (Array.isArray(valuesSet) ? valuesSet : [valuesSet]) as ObjectLiteral[];
  for (const row of rows) recordedByStatement.add(row);
  return inBuilderTransaction(builder, async (runner) => {
    const before = await rowsMeeting(runner.manager, metadata, conflictConditions(metadata, builder, rows), true);
    const result = await run(builder.setQueryRunner(runner));
    // the value sets now hold their keys (the subscriber filled missing ones before the statement)
    const after = await rowsMeeting(runner.manager, metadata, conflictConditions(metadata, builder, rows), false);
    const known = new Map(before.map((row) => [historyKey(metadata, row), row]));
    const inserted: RowChange[] = [];
    const updated: RowChange[] = [];
    for (const row of after) {
      const was = known.get(historyKey(metadata, row));
      if (was) updated.push([was, row]);
      else inserted.push([undefined, row]);
    }
    await recordChanges(runner.manager, metadata, "insert", inserted);
    await recordChanges(runner.manager, metadata, "update", updated);
    return result;
  });
}

/** Whether a write builder's statement is one the history records here (not one of TypeORM's entity writes). */
function recordsHere(builder: WriteBuilder): boolean {
  const alias = builder.expressionMap.mainAlias;
  if (!alias?.hasMetadata || !hasHistory(alias.metadata.target)) return false;
  if (builder.queryRunner && (persisting.get(builder.queryRunner) ?? 0) > 0) return false;
  return registeredDialect(dataSourceOf(builder)) !== undefined;
}

let installed = false;

/**
 * Records the history of `@History()` entities on the write paths TypeORM's subscribers cannot see row by row:
 * criteria updates, deletes, soft deletes and restores (repository methods and QueryBuilders alike), upserts and
 * inserts that ignore conflicts. TypeORM's writes of loaded entities (save, remove, softRemove, recover) are recorded
 * by the subscriber, which sees each row's before and after.
 *
 * @internal
 */
export function installHistoryWrites(): void {
  if (installed) return;
  installed = true;
  const executor = SubjectExecutor.prototype as unknown as Record<string, (this: Executor) => Promise<void>>;
  for (const [method, list, op] of [
    ["executeUpdateOperations", "updateSubjects", "update"],
    ["executeRemoveOperations", "removeSubjects", "delete"],
    ["executeSoftRemoveOperations", "softRemoveSubjects", "soft_delete"],
    ["executeRecoverOperations", "recoverSubjects", "restore"],
  ] as const) {
    const original = executor[method]!;
    executor[method] = async function (this: Executor) {
      const runner = this.queryRunner;
      // rows TypeORM writes without having loaded them (a child left out of its parent's one-to-many relation is
      // nullified or removed by key): the subscriber sees no before for them, so they are read here, locked, and
      // recorded after the write
      const unseen = this[list].filter(
        (subject) => !subject.databaseEntity && subject.identifier && hasHistory(subject.metadata.target),
      );
      const before: ObjectLiteral[][] = [];
      for (const subject of unseen)
        before.push(await loadRows(runner.manager, subject.metadata, [subject.identifier], true));
      persisting.set(runner, (persisting.get(runner) ?? 0) + 1);
      try {
        await original.call(this);
      } finally {
        persisting.set(runner, persisting.get(runner)! - 1);
      }
      for (let i = 0; i < unseen.length; i++) {
        const { metadata, identifier } = unseen[i]!;
        if (before[i]!.length === 0) continue;
        const changes: RowChange[] =
          op === "delete"
            ? before[i]!.map((row) => [row, undefined])
            : pairByKey(metadata, before[i]!, await loadRows(runner.manager, metadata, [identifier], false));
        await recordChanges(runner.manager, metadata, op, changes);
      }
    };
  }
  for (const proto of [UpdateQueryBuilder.prototype, DeleteQueryBuilder.prototype, SoftDeleteQueryBuilder.prototype]) {
    const target = proto as unknown as { execute: (this: WriteBuilder) => Promise<WriteResult> };
    const execute = target.execute;
    target.execute = function (this: WriteBuilder) {
      if (!recordsHere(this)) return execute.call(this);
      return recordCriteriaWrite(this, (b) => execute.call(b));
    };
  }
  const insert = InsertQueryBuilder.prototype as unknown as { execute: (this: WriteBuilder) => Promise<WriteResult> };
  const execute = insert.execute;
  insert.execute = function (this: WriteBuilder) {
    const map = this.expressionMap;
    if ((map.onUpdate === undefined && map.onIgnore !== true) || !recordsHere(this)) return execute.call(this);
    return recordUpsert(this, (b) => execute.call(b));
  };
}
