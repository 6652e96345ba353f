import type { DataSource, QueryRunner } from "typeorm";
import type { Dialect } from "../dialects/dialect";
import { SchemaDriftError, type SchemaDifference } from "../errors";
import { alignCollations } from "./exact-collation";

/** The schema builder's steps that drop, retype, rename or re-key something: run only to see what they would do. */
const REFUSED_STEPS = [
  "dropOldViews",
  "dropOldForeignKeys",
  "dropOldIndices",
  "dropOldChecks",
  "dropOldExclusions",
  "dropCompositeUniqueConstraints",
  "renameTables",
  "renameColumns",
  "dropRemovedColumns",
  "updatePrimaryKeys",
  "updateExistColumns",
] as const;

/**
 * The steps that only add (missing tables, columns, indexes, constraints, views), and the table comments (TypeORM
 * asks for each table; the query runner changes only one that differs, and a comment holds no data).
 */
const ADDING_STEPS = [
  "changeTableComment",
  "createNewTables",
  "addNewColumns",
  "createNewIndices",
  "createNewChecks",
  "createNewExclusions",
  "createCompositeUniqueConstraints",
  "createForeignKeys",
  "createViews",
  "createNewViewIndices",
] as const;

/** Query runner methods that change what exists; in the look-ahead they are recorded instead of run. */
const CHANGING_METHODS = new Set([
  "dropTable",
  "renameTable",
  "dropView",
  "dropColumn",
  "dropColumns",
  "changeColumn",
  "changeColumns",
  "renameColumn",
  "updatePrimaryKeys",
  "createPrimaryKey",
  "dropPrimaryKey",
  "dropIndex",
  "dropIndices",
  "dropForeignKey",
  "dropForeignKeys",
  "dropCheckConstraint",
  "dropCheckConstraints",
  "dropUniqueConstraint",
  "dropUniqueConstraints",
  "dropExclusionConstraint",
  "dropExclusionConstraints",
  "clearTable",
]);

/** The column attributes a difference is told by. */
const COLUMN_ATTRIBUTES = [
  "type",
  "length",
  "precision",
  "scale",
  "width",
  "unsigned",
  "zerofill",
  "isNullable",
  "default",
  "onUpdate",
  "isPrimary",
  "isUnique",
  "isGenerated",
  "generationStrategy",
  "generatedType",
  "asExpression",
  "isArray",
  "enum",
  "charset",
  "collation",
  "comment",
] as const;

interface Recorded {
  readonly method: string;
  readonly args: readonly unknown[];
}

type Builder = Record<string, unknown> & {
  queryRunner: QueryRunner;
  build(): Promise<void>;
  createMetadataTableIfNecessary(queryRunner: QueryRunner): Promise<void>;
  executeSchemaSyncOperationsInProperOrder(): Promise<void>;
};

/**
 * `createTables()`: TypeORM's schema synchronization, held to adding. The schema builder's own comparison runs
 * first as a look-ahead with every statement that would drop, retype, rename or re-key recorded instead of run; if
 * it found any, nothing is changed and {@link SchemaDriftError} lists them. Otherwise only the adding steps run
 * (missing tables, columns, indexes, constraints, views). The whole runs under the dialect's schema lock, taken
 * before the builder reads the catalog, so instances starting together create each table once.
 *
 * @internal
 */
export async function synchronizeAdding(dataSource: DataSource, dialect: Dialect): Promise<void> {
  const builder = dataSource.driver.createSchemaBuilder() as unknown as Builder;
  if (typeof builder.executeSchemaSyncOperationsInProperOrder !== "function") {
    await dataSource.synchronize(false);
    return;
  }
  const createMetadataTable = builder.createMetadataTableIfNecessary.bind(builder);
  builder.createMetadataTableIfNecessary = async (queryRunner: QueryRunner) => {
    await dialect.lockSchema(queryRunner);
    await createMetadataTable(queryRunner);
  };
  builder.executeSchemaSyncOperationsInProperOrder = async () => {
    const real = builder.queryRunner;
    const recorded: Recorded[] = [];
    builder.queryRunner = recording(real, recorded);
    try {
      for (const step of REFUSED_STEPS) await runStep(builder, step);
    } finally {
      builder.queryRunner = real;
    }
    const differences = recorded.flatMap(describe);
    if (differences.length > 0) throw SchemaDriftError.fromDifferences(differences);
    for (const step of ADDING_STEPS) await runStep(builder, step);
    await alignCollations(dataSource, dialect, builder.queryRunner);
  };
  await builder.build();
}

async function runStep(builder: Builder, step: string): Promise<void> {
  const method = builder[step];
  if (typeof method === "function") await (method as () => Promise<void>).call(builder);
}

/** The query runner as the look-ahead sees it: reads go through, changes are recorded and answered at once. */
function recording(queryRunner: QueryRunner, recorded: Recorded[]): QueryRunner {
  return new Proxy(queryRunner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof property !== "string" || typeof value !== "function") return value;
      if (CHANGING_METHODS.has(property))
        return (...args: unknown[]) => {
          recorded.push({ method: property, args });
          return Promise.resolve();
        };
      if (property === "query")
        return (sql: unknown, ...rest: unknown[]) => {
          if (typeof sql === "string" && /^\s*(SELECT|SHOW|PRAGMA|WITH)\b/i.test(sql))
            return (value as (...a: unknown[]) => unknown).call(receiver, sql, ...rest);
          recorded.push({ method: property, args: [sql] });
          return Promise.resolve([]);
        };
      return value;
    },
  });
}

function nameOf(table: unknown): string {
  if (typeof table === "string") return table;
  return String((table as { name?: unknown } | undefined)?.name ?? "?");
}

function columnName(column: unknown): string {
  return typeof column === "string" ? column : String((column as { name?: unknown } | undefined)?.name ?? "?");
}

function shown(value: unknown): string {
  if (value === undefined) return "unset";
  if (typeof value === "string") return JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** What a changed column would change: each attribute that differs, old and new. */
function columnChange(oldColumn: unknown, newColumn: unknown): string {
  const before = oldColumn as Record<string, unknown>;
  const after = newColumn as Record<string, unknown>;
  const changes = COLUMN_ATTRIBUTES.filter((a) => shown(before[a]) !== shown(after[a])).map(
    (a) => `${a} ${shown(before[a])} -> ${shown(after[a])}`,
  );
  return changes.length > 0 ? changes.join(", ") : "definition differs";
}

/** One recorded change as the differences it stands for. */
function describe({ method, args }: Recorded): SchemaDifference[] {
  const table = nameOf(args[0]);
  switch (method) {
    case "dropColumn":
      return [
        {
          table,
          column: columnName(args[1]),
          change: "in the table but not in the entity: would be dropped with its data",
        },
      ];
    case "dropColumns":
      return (args[1] as unknown[]).map((c) => ({
        table,
        column: columnName(c),
        change: "in the table but not in the entity: would be dropped with its data",
      }));
    case "changeColumn":
      return [{ table, column: columnName(args[1]), change: columnChange(args[1], args[2]) }];
    case "changeColumns":
      return (args[1] as { oldColumn: unknown; newColumn: unknown }[]).map(({ oldColumn, newColumn }) => ({
        table,
        column: columnName(oldColumn),
        change: columnChange(oldColumn, newColumn),
      }));
    case "renameColumn":
      // TypeORM "renames" a column to its own name where it reads the stored type differently (MariaDB's JSON as
      // longtext): no difference
      if (columnName(args[1]) === columnName(args[2])) return [];
      return [{ table, column: columnName(args[1]), change: `would be renamed to ${columnName(args[2])}` }];
    case "query":
      return [{ table: "(statement)", change: `would run ${String(args[0]).slice(0, 200)}` }];
    default: {
      const what = method.replace(/([A-Z])/g, " $1").toLowerCase();
      const subject = Array.isArray(args[1])
        ? (args[1] as unknown[]).map(columnName).join(", ")
        : args[1] !== undefined
          ? columnName(args[1])
          : "";
      return [{ table, change: `would ${what}${subject ? ` ${subject}` : ""}` }];
    }
  }
}
