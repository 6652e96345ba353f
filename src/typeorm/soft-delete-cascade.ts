import { hasHistory, loadRows, pairByKey, recordChanges } from "../history/history";
import type { UpdateAssignments } from "./app-clock";
import type { QueryRunner } from "typeorm";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { SelectQueryBuilder } from "typeorm/query-builder/SelectQueryBuilder";
import { SoftDeleteQueryBuilder } from "typeorm/query-builder/SoftDeleteQueryBuilder";
import { isSoftDeleteCascade } from "../columns/soft-delete-cascade";
import type { Dialect } from "../dialects/dialect";
import { inBuilderTransaction } from "./builder-transaction";
import { registeredDialect } from "./registry";
import { dataSourceOf } from "./typeorm-line";

/** One step down a cascade: the child table and the column in it that points at the parent's key. */
interface CascadeStep {
  readonly child: EntityMetadata;
  readonly foreignKey: string;
  readonly parentKey: string;
}

/** A path from the soft-deleted entity down to one cascading descendant table. */
type CascadePath = readonly CascadeStep[];

interface SoftDeleteBuilder {
  queryRunner?: QueryRunner;
  expressionMap: {
    mainAlias?: { hasMetadata: boolean; metadata: EntityMetadata; name: string };
    queryType: string;
    wheres: unknown[];
  };
  getParameters(): Record<string, unknown>;
  setQueryRunner(queryRunner: QueryRunner): unknown;
  execute(): Promise<unknown>;
  /** Literals the update expression used, for the children to get the same. @internal */
  __inferenceAssignments?: UpdateAssignments;
}

const paths = new WeakMap<EntityMetadata, CascadePath[]>();

/** Every cascading path below an entity, depth first, each table once per path. */
function cascadePaths(metadata: EntityMetadata): CascadePath[] {
  let found = paths.get(metadata);
  if (found) return found;
  found = [];
  const walk = (current: EntityMetadata, path: CascadeStep[], seen: Set<EntityMetadata>) => {
    for (const relation of current.relations) {
      if (
        !(relation.isOneToMany || relation.isOneToOneNotOwner) ||
        !isSoftDeleteCascade(relation.target, relation.propertyName)
      )
        continue;
      const child = relation.inverseEntityMetadata;
      const joinColumn = relation.inverseRelation?.joinColumns[0];
      if (!child.deleteDateColumn || !joinColumn?.referencedColumn || seen.has(child)) continue;
      const step = { child, foreignKey: joinColumn.databaseName, parentKey: joinColumn.referencedColumn.databaseName };
      const next = [...path, step];
      found!.push(next);
      walk(child, next, new Set([...seen, child]));
    }
  };
  walk(metadata, [], new Set([metadata]));
  paths.set(metadata, found);
  return found;
}

/** `fk IN (...)` down a path, with the parents' keys as parameters at the top. */
function keysCondition(dialect: Dialect, path: CascadePath, params: unknown[], keys: readonly unknown[]): string {
  const q = (name: string) => dialect.quoteIdentifier(name);
  const placeholders = () =>
    keys
      .map((key) => {
        params.push(key);
        return dialect.placeholder(params.length - 1);
      })
      .join(", ");
  // innermost: the first step's foreign key among the parents' keys; each further step selects the previous table's keys
  let condition = `${q(path[0]!.foreignKey)} IN (${placeholders()})`;
  for (let i = 1; i < path.length; i++) {
    const previous = path[i - 1]!;
    const step = path[i]!;
    condition = `${q(step.foreignKey)} IN (SELECT ${q(step.parentKey)} FROM ${dialect.quoteTable(previous.child.tablePath)} WHERE ${condition})`;
  }
  return condition;
}

/**
 * Runs a soft delete or restore together with the cascades below it, in one transaction on one connection.
 *
 * @internal
 */
async function executeWithCascade(
  builder: SoftDeleteBuilder,
  original: () => Promise<unknown>,
  dialect: Dialect,
): Promise<unknown> {
  const alias = builder.expressionMap.mainAlias!;
  const metadata = alias.metadata;
  const cascade = cascadePaths(metadata);
  const dataSource = dataSourceOf(builder);
  const restoring = builder.expressionMap.queryType === "restore";
  const deleted = metadata.deleteDateColumn!;
  const q = (name: string) => dialect.quoteIdentifier(name);
  return inBuilderTransaction(builder, async (queryRunner) => {
    // the parents this statement changes: their keys, and for a restore the instant they were deleted at
    const select = new SelectQueryBuilder(dataSource, queryRunner)
      .select(`${q(alias.name)}.${q(metadata.primaryColumns[0]!.databaseName)}`, "k")
      .addSelect(`${q(alias.name)}.${q(deleted.databaseName)}`, "d")
      .from(metadata.target, alias.name)
      .withDeleted();
    // the statement's conditions, as it wrote them: property names without the alias (read the same way here),
    // and in brackets, so that an OR among them does not swallow the deleted_at condition below
    const map = select.expressionMap as unknown as { aliasNamePrefixingEnabled: boolean; wheres: unknown[] };
    map.aliasNamePrefixingEnabled = false;
    map.wheres = [
      { type: "simple", condition: { operator: "brackets", condition: [...builder.expressionMap.wheres] } },
    ];
    select.setParameters(builder.getParameters());
    select.andWhere(`${q(alias.name)}.${q(deleted.databaseName)} IS ${restoring ? "NOT " : ""}NULL`);
    const parents = (await select.getRawMany()) as { k: unknown; d: unknown }[];
    builder.setQueryRunner(queryRunner);
    const result = await original();
    const assignments = builder.__inferenceAssignments;
    if (parents.length > 0 && assignments) {
      // every value bound, none written into the SQL text: the actor's id comes from a request
      const now = dialect.instantParameter(assignments.now);
      const actor = assignments.actor;
      const groups = restoring ? groupBy(parents) : new Map([[undefined as unknown, parents.map((p) => p.k)]]);
      for (const path of cascade) {
        const child = path[path.length - 1]!.child;
        const childDeleted = q(child.deleteDateColumn!.databaseName);
        const updatedBy = child.columns.find((c) => c.propertyPath === "audit.updatedBy");
        for (const [instant, keys] of groups) {
          // which children: the ones the parents' statement left as the parents were
          const where = (params: unknown[]) => {
            const which = restoring
              ? `${childDeleted} = ${dialect.placeholder(params.push(instant) - 1)}`
              : `${childDeleted} IS NULL`;
            return `${which} AND ${keysCondition(dialect, path, params, keys)}`;
          };
          const update = async (narrow?: readonly unknown[]) => {
            const params: unknown[] = [];
            const bind = (value: unknown) => dialect.placeholder(params.push(value) - 1);
            const sets = [`${childDeleted} = ${restoring ? "NULL" : bind(now)}`];
            if (child.updateDateColumn) sets.push(`${q(child.updateDateColumn.databaseName)} = ${bind(now)}`);
            if (actor !== undefined && updatedBy) sets.push(`${q(updatedBy.databaseName)} = ${bind(actor)}`);
            let sql = `UPDATE ${dialect.quoteTable(child.tablePath)} SET ${sets.join(", ")} WHERE ${where(params)}`;
            if (narrow) sql += ` AND ${q(child.primaryColumns[0]!.databaseName)} IN (${narrow.map(bind).join(", ")})`;
            await queryRunner.query(sql, params);
          };
          if (!hasHistory(child.target)) {
            await update();
            continue;
          }
          // a child with history: the rows read and locked first, written by key, read again and recorded
          const params: unknown[] = [];
          const found = (await queryRunner.query(
            `SELECT ${q(child.primaryColumns[0]!.databaseName)} AS ${q("k")} FROM ${dialect.quoteTable(child.tablePath)} WHERE ${where(params)}`,
            params,
          )) as { k: unknown }[];
          if (found.length === 0) continue;
          const childKeys = found.map((row) => row.k);
          const before = await loadRows(queryRunner.manager, child, childKeys, true);
          for (let i = 0; i < childKeys.length; i += 500) await update(childKeys.slice(i, i + 500));
          const after = await loadRows(queryRunner.manager, child, childKeys, false);
          await recordChanges(
            queryRunner.manager,
            child,
            restoring ? "restore" : "soft_delete",
            pairByKey(child, before, after),
          );
        }
      }
    }
    return result;
  });
}

/** Parents grouped by the instant they were deleted at: each group's children were deleted at that instant. */
function groupBy(parents: readonly { k: unknown; d: unknown }[]): Map<unknown, unknown[]> {
  const groups = new Map<string, { instant: unknown; keys: unknown[] }>();
  for (const parent of parents) {
    const key = parent.d instanceof Date ? `t${parent.d.getTime()}` : `s${String(parent.d)}`;
    const group = groups.get(key) ?? { instant: parent.d, keys: [] };
    group.keys.push(parent.k);
    groups.set(key, group);
  }
  return new Map([...groups.values()].map((g) => [g.instant, g.keys]));
}

let installed = false;

/** @internal */
export function installSoftDeleteCascade(): void {
  if (installed) return;
  installed = true;
  const proto = SoftDeleteQueryBuilder.prototype as unknown as SoftDeleteBuilder;
  const execute = proto.execute;
  proto.execute = function (this: SoftDeleteBuilder): Promise<unknown> {
    const dialect = registeredDialect(dataSourceOf(this));
    const alias = this.expressionMap.mainAlias;
    const original = () => execute.call(this);
    if (
      !dialect ||
      !alias?.hasMetadata ||
      !alias.metadata.deleteDateColumn ||
      cascadePaths(alias.metadata).length === 0
    )
      return original();
    return executeWithCascade(this, original, dialect);
  };
}
