import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { EntityManager } from "typeorm";
import { SoftDeleteQueryBuilder } from "typeorm/query-builder/SoftDeleteQueryBuilder";
import { UpdateQueryBuilder } from "typeorm/query-builder/UpdateQueryBuilder";
import type { DataSource } from "typeorm";
import { AuditContext } from "../audit/audit-context";
import { columnKind } from "../columns/column-kinds";
import { registeredDialect } from "./registry";

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
  dataSource: DataSource;
  expressionMap: { mainAlias?: { hasMetadata: boolean; metadata: EntityMetadata }; queryType: string };
  escape(name: string): string;
  createUpdateExpression(): string;
}

let installed = false;

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
    if (registeredDialect(this.dataSource) && values && typeof values === "object") {
      const metadata = this.dataSource.getMetadata(target as Function);
      const now = new Date();
      const actor = AuditContext.currentActor();
      const updateDate =
        metadata.updateDateColumn && isInstant(metadata.updateDateColumn) ? metadata.updateDateColumn : undefined;
      const updatedBy = metadata.columns.find((c) => columnKind(c.target, c.propertyName) === "updated-by");
      for (const row of (Array.isArray(values) ? values : [values]) as object[]) {
        if (updateDate && updateDate.getEntityValue(row) === undefined) updateDate.setEntityValue(row, now);
        if (actor !== undefined && updatedBy && updatedBy.getEntityValue(row) === undefined)
          updatedBy.setEntityValue(row, actor);
      }
    }
    return upsert.call(this, target, values, options);
  };
}

/** @internal */
export function installAppClockTimestamps(): void {
  if (installed) return;
  installed = true;
  installUpsertStamps();
  for (const proto of [
    UpdateQueryBuilder.prototype,
    SoftDeleteQueryBuilder.prototype,
  ] as unknown as UpdateExpressionBuilder[]) {
    const original = proto.createUpdateExpression;
    proto.createUpdateExpression = function (this: UpdateExpressionBuilder): string {
      const sql = original.call(this);
      const dialect = registeredDialect(this.dataSource);
      const alias = this.expressionMap.mainAlias;
      if (!dialect || !alias?.hasMetadata) return sql;
      const now = dialect.instantLiteral(new Date());
      const record = this as unknown as { __inferenceAssignments?: { instant: string; actor?: string } };
      const currentActor = AuditContext.currentActor();
      record.__inferenceAssignments = {
        instant: now,
        actor: currentActor === undefined ? undefined : dialect.stringLiteral(currentActor),
      };
      let result = sql;
      for (const column of [alias.metadata.updateDateColumn, alias.metadata.deleteDateColumn]) {
        if (!column || !isInstant(column)) continue;
        const assignment = `${this.escape(column.databaseName)} = CURRENT_TIMESTAMP`;
        result = result.replace(assignment, `${this.escape(column.databaseName)} = ${now}`);
      }
      // a soft delete or restore is an update by the acting user: TypeORM writes no values for it, so the
      // updated_by assignment goes in beside deleted_at
      const actor = AuditContext.currentActor();
      const deleted = alias.metadata.deleteDateColumn;
      const queryType = this.expressionMap.queryType;
      if (actor !== undefined && deleted && (queryType === "soft-delete" || queryType === "restore")) {
        const updatedBy = alias.metadata.columns.find((c) => columnKind(c.target, c.propertyName) === "updated-by");
        if (updatedBy) {
          const target = `${this.escape(deleted.databaseName)} = `;
          result = result.replace(
            target,
            `${this.escape(updatedBy.databaseName)} = ${dialect.stringLiteral(actor)}, ${target}`,
          );
        }
      }
      return result;
    };
  }
}

function isInstant(column: ColumnMetadata): boolean {
  return columnKind(column.target, column.propertyName) === "instant";
}
