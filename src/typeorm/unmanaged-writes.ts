import type { DataSource } from "typeorm";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { SubjectExecutor } from "typeorm/persistence/SubjectExecutor";
import { InsertQueryBuilder } from "typeorm/query-builder/InsertQueryBuilder";
import { isLibraryModel } from "../columns/column-kinds";
import { ConfigurationError } from "../errors";
import { registeredDialect } from "./registry";

interface SubjectLike {
  readonly metadata: EntityMetadata;
}

interface ExecutorLike {
  readonly queryRunner: { readonly connection: DataSource };
  readonly allSubjects: readonly SubjectLike[];
}

interface InsertBuilderLike {
  readonly connection: DataSource;
  readonly expressionMap: { readonly mainAlias?: { readonly hasMetadata: boolean; readonly metadata: EntityMetadata } };
}

/** The error for a write of a library model through a DataSource no DatabaseManager built or adopted. */
function unmanaged(metadata: EntityMetadata): ConfigurationError {
  return new ConfigurationError(
    `${metadata.name} extends one of the library's models, but this DataSource was not built or adopted by a ` +
      `DatabaseManager, so nothing would fill its id, instants and audit columns; nothing was written. Build the ` +
      `DataSource with new DatabaseManager({ url | options | dataSource }) (NestJS: DatabaseModule.forRoot(...) ` +
      `instead of TypeOrmModule.forRoot(...)) and use the manager's DataSource`,
  );
}

let installed = false;

/**
 * The library's models are filled (ids, instants, audit, checks) only on DataSources a DatabaseManager built or
 * adopted. A write of one through any other DataSource (an app's `TypeOrmModule.forRoot`, say) is refused with a
 * {@link ConfigurationError} saying what to do, instead of the database's NOT NULL error. Installed when the base
 * models are loaded; a DataSource the library adapted pays one lookup per write.
 *
 * @internal
 */
export function installUnmanagedWriteCheck(): void {
  if (installed) return;
  installed = true;
  const executor = SubjectExecutor.prototype as unknown as Record<string, (this: ExecutorLike) => Promise<void>>;
  const execute = executor["execute"]!;
  executor["execute"] = function (this: ExecutorLike) {
    if (registeredDialect(this.queryRunner.connection) === undefined) {
      const subject = this.allSubjects.find((s) => isLibraryModel(s.metadata.target));
      if (subject) return Promise.reject(unmanaged(subject.metadata));
    }
    return execute.call(this);
  };
  const builder = InsertQueryBuilder.prototype as unknown as Record<string, (this: InsertBuilderLike) => unknown>;
  const insert = builder["execute"]!;
  builder["execute"] = function (this: InsertBuilderLike) {
    const alias = this.expressionMap.mainAlias;
    if (
      alias?.hasMetadata === true &&
      isLibraryModel(alias.metadata.target) &&
      registeredDialect(this.connection) === undefined
    )
      return Promise.reject(unmanaged(alias.metadata));
    return insert.call(this);
  };
}
