import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import type { ObjectLiteral, QueryRunner } from "typeorm";
import { SubjectExecutor } from "typeorm/persistence/SubjectExecutor";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import { SoftDeleteQueryBuilder } from "typeorm/query-builder/SoftDeleteQueryBuilder";
import { UpdateQueryBuilder } from "typeorm/query-builder/UpdateQueryBuilder";
import { isLibraryModel } from "../columns/column-kinds";
import { StaleEntityError } from "../errors";
import { registeredDialect } from "./registry";

interface SubjectLike {
  metadata: EntityMetadata;
  entity?: ObjectLiteral;
  databaseEntity?: ObjectLiteral;
  identifier?: ObjectLiteral;
}

interface ExecutorLike {
  queryRunner: QueryRunner;
  insertSubjects: SubjectLike[];
  updateSubjects: SubjectLike[];
  removeSubjects: SubjectLike[];
  softRemoveSubjects: SubjectLike[];
  recoverSubjects: SubjectLike[];
}

type ExecutorMethod = (this: ExecutorLike) => Promise<void>;

interface VersionCheck {
  readonly metadata: EntityMetadata;
  readonly id: unknown;
  readonly expected: number;
}

interface CheckedBuilder {
  expressionMap: {
    mainAlias?: { metadata: EntityMetadata };
    parameters: Record<string, unknown>;
    /** Read by app-clock.ts: the version after a successful update is known, no reload needed. */
    __inferenceExpectedVersion?: number;
  };
  queryRunner?: QueryRunner;
  connection: { createQueryRunner(): QueryRunner };
  escape(name: string): string;
  andWhere(condition: string, parameters?: ObjectLiteral): unknown;
  __inferenceVersionCheck?: VersionCheck;
}

/** The key map an entity write's WHERE is built from (a subject's identifier) -> the version it must still have. */
const pending = new WeakMap<object, VersionCheck>();

const EXPECTED_PARAMETER = "inference_expected_version";

/** Whether writes of this subject are version-checked: a library model with a `@VersionColumn()`, on an adapted DataSource. */
function checked(queryRunner: QueryRunner, metadata: EntityMetadata): boolean {
  return (
    metadata.versionColumn !== undefined &&
    isLibraryModel(metadata.target) &&
    registeredDialect(queryRunner.connection) !== undefined
  );
}

function versionOf(metadata: EntityMetadata, entity: ObjectLiteral | undefined): number | undefined {
  const value: unknown = entity === undefined ? undefined : metadata.versionColumn!.getEntityValue(entity);
  return typeof value === "number" ? value : undefined;
}

function idOf(metadata: EntityMetadata, entity: ObjectLiteral): unknown {
  const ids = metadata.primaryColumns.map((column) => column.getEntityValue(entity) as unknown);
  return ids.length === 1 ? ids[0] : ids;
}

/**
 * Before any event or statement: a loaded entity whose row the persistence layer just read (TypeORM reads each
 * entity's row before writing it) at another version, or did not find, is stale. This catches the common case
 * before the subscriber stamps anything on the entity; the check in the UPDATE itself catches the race.
 */
function checkLoadedVersions(executor: ExecutorLike): void {
  const { queryRunner } = executor;
  for (const subject of executor.insertSubjects) {
    const { metadata, entity } = subject;
    if (!entity || !checked(queryRunner, metadata)) continue;
    // an entity that carries a version was loaded: saving it inserts only because its row is gone
    const expected = versionOf(metadata, entity);
    if (expected !== undefined) throw StaleEntityError.of(metadata.name, idOf(metadata, entity), expected, null);
  }
  for (const subject of [
    ...executor.updateSubjects,
    ...executor.softRemoveSubjects,
    ...executor.recoverSubjects,
    ...executor.removeSubjects,
  ]) {
    const { metadata, entity, databaseEntity } = subject;
    if (!entity || !checked(queryRunner, metadata)) continue;
    const expected = versionOf(metadata, entity);
    if (expected === undefined) continue;
    const actual = databaseEntity ? (versionOf(metadata, databaseEntity) ?? null) : null;
    if (actual !== expected) throw StaleEntityError.of(metadata.name, idOf(metadata, entity), expected, actual);
  }
}

/** The column values of the version-checked entities, to put back if their write turns out stale. */
function snapshot(executor: ExecutorLike): Array<() => void> {
  const restores: Array<() => void> = [];
  for (const { metadata, entity } of [
    ...executor.updateSubjects,
    ...executor.softRemoveSubjects,
    ...executor.recoverSubjects,
    ...executor.removeSubjects,
  ]) {
    if (!entity || !checked(executor.queryRunner, metadata) || versionOf(metadata, entity) === undefined) continue;
    const values = metadata.columns.map((column): [ColumnMetadata, unknown] => [column, column.getEntityValue(entity)]);
    restores.push(() => {
      for (const [column, value] of values) column.setEntityValue(entity, value);
    });
  }
  return restores;
}

/**
 * Deletes each version-checked subject by its key and the version it was loaded at, one statement each (their
 * affected-row counts decide), and answers the subjects left to TypeORM's grouped DELETE.
 */
async function removeChecked(executor: ExecutorLike): Promise<SubjectLike[]> {
  const rest: SubjectLike[] = [];
  for (const subject of executor.removeSubjects) {
    const { metadata, entity, identifier } = subject;
    const expected = versionOf(metadata, entity);
    if (
      !entity ||
      !identifier ||
      expected === undefined ||
      metadata.treeType !== undefined ||
      !checked(executor.queryRunner, metadata)
    ) {
      rest.push(subject);
      continue;
    }
    const versionColumn = metadata.versionColumn!;
    const result = await executor.queryRunner.manager
      .createQueryBuilder()
      .delete()
      .from(metadata.target)
      .where(`${executor.queryRunner.connection.driver.escape(versionColumn.databaseName)} = :${EXPECTED_PARAMETER}`, {
        [EXPECTED_PARAMETER]: expected,
      })
      .andWhereInIds(identifier)
      .callListeners(false)
      .execute();
    if (result.affected === 0) {
      throw await readBack(executor.queryRunner, { metadata, id: idOf(metadata, entity), expected });
    }
  }
  return rest;
}

/** Registers the version each subject's UPDATE must still find, keyed by the key map its WHERE is built from. */
function expectVersions(executor: ExecutorLike, subjects: readonly SubjectLike[]): void {
  for (const { metadata, entity, identifier } of subjects) {
    if (!entity || !identifier || !checked(executor.queryRunner, metadata)) continue;
    const expected = versionOf(metadata, entity);
    if (expected !== undefined) pending.set(identifier, { metadata, id: idOf(metadata, entity), expected });
  }
}

let installed = false;

/**
 * Optimistic concurrency on TypeORM's own `@VersionColumn()`, for the library's models: `save()`, `softRemove()`,
 * `recover()` and `remove()` of a loaded entity whose row has moved on are refused with {@link StaleEntityError}.
 * The UPDATE carries `AND version = <loaded>` and its affected-row count decides (MySQL's counts matched rows:
 * the version always changes), so of two racing saves one wins; the read TypeORM makes before writing refuses the
 * plain case earlier, before the entity is stamped. Criteria writes (`update(criteria)`, QueryBuilder) keep
 * TypeORM's meaning: no check, version bumped.
 *
 * @internal
 */
export function installOptimisticLocking(): void {
  if (installed) return;
  installed = true;
  const executor = SubjectExecutor.prototype as unknown as Record<string, ExecutorMethod>;
  const execute = executor["execute"]!;
  executor["execute"] = function (this: ExecutorLike) {
    let restores: Array<() => void>;
    try {
      checkLoadedVersions(this);
      restores = snapshot(this);
    } catch (error) {
      return Promise.reject(error);
    }
    if (restores.length === 0) return execute.call(this);
    return execute.call(this).catch((error: unknown) => {
      // the subscriber's stamps (updatedAt, updatedBy, ...) came off with the refused write
      if (error instanceof StaleEntityError) for (const restore of restores) restore();
      throw error;
    });
  };
  const removeOperations = executor["executeRemoveOperations"]!;
  executor["executeRemoveOperations"] = async function (this: ExecutorLike) {
    const all = this.removeSubjects;
    if (!all.some((subject) => checked(this.queryRunner, subject.metadata))) return removeOperations.call(this);
    this.removeSubjects = await removeChecked(this);
    try {
      await removeOperations.call(this);
    } finally {
      this.removeSubjects = all;
    }
  };
  for (const [method, subjects] of [
    ["executeUpdateOperations", (e: ExecutorLike) => e.updateSubjects],
    ["executeSoftRemoveOperations", (e: ExecutorLike) => e.softRemoveSubjects],
    ["executeRecoverOperations", (e: ExecutorLike) => e.recoverSubjects],
  ] as const) {
    const original = executor[method]!;
    executor[method] = function (this: ExecutorLike) {
      expectVersions(this, subjects(this));
      return original.call(this);
    };
  }
  for (const proto of [UpdateQueryBuilder.prototype, SoftDeleteQueryBuilder.prototype] as unknown as Record<
    string,
    (this: CheckedBuilder, ...args: unknown[]) => unknown
  >[]) {
    const whereEntity = proto["whereEntity"]!;
    proto["whereEntity"] = function (this: CheckedBuilder, entity: unknown) {
      const result = whereEntity.call(this, entity);
      const check = !Array.isArray(entity) && entity !== null ? pending.get(entity as object) : undefined;
      if (check) {
        pending.delete(entity as object);
        this.andWhere(`${this.escape(check.metadata.versionColumn!.databaseName)} = :${EXPECTED_PARAMETER}`, {
          [EXPECTED_PARAMETER]: check.expected,
        });
        this.__inferenceVersionCheck = check;
        this.expressionMap.__inferenceExpectedVersion = check.expected;
      }
      return result;
    };
    const run = proto["execute"]! as (this: CheckedBuilder) => Promise<{ affected?: number | null }>;
    proto["execute"] = async function (this: CheckedBuilder) {
      const result = await run.call(this);
      const check = this.__inferenceVersionCheck;
      if (check && result.affected === 0) {
        const own = this.queryRunner;
        const queryRunner = own ?? this.connection.createQueryRunner();
        try {
          throw await readBack(queryRunner, check);
        } finally {
          if (own === undefined) await queryRunner.release();
        }
      }
      return result;
    };
  }
}

/** The error for a write that found its row at another version (or none): the row's version read back. */
async function readBack(queryRunner: QueryRunner, check: VersionCheck): Promise<StaleEntityError> {
  const { metadata } = check;
  const row = (await queryRunner.manager
    .createQueryBuilder(metadata.target, "row")
    .withDeleted()
    .select(`row.${metadata.versionColumn!.propertyPath}`, "version")
    .whereInIds([check.id])
    .getRawOne()) as { version?: unknown } | undefined;
  const actual = row?.version === undefined || row.version === null ? null : Number(row.version);
  return StaleEntityError.of(metadata.name, check.id, check.expected, actual);
}
