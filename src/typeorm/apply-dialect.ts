import type { DataSource, QueryRunner } from "typeorm";
import { columnKind, isLibraryEntity } from "../columns/column-kinds";
import { SmartJSON } from "../columns/smart-json";
import { UuidTransformer } from "../columns/uuid-column";
import { declaredLength } from "../util/text";
import { jsonIndexesOf } from "../columns/json-index";
import { ConfigurationError } from "../errors";
import type { Dialect } from "../dialects/dialect";
import { dialectForDataSource } from "../dialects/resolve-dialect";
import { installAppClockTimestamps } from "./app-clock";
import { installSoftDeleteCascade } from "./soft-delete-cascade";
import { installJsonConditions } from "./json-conditions";
import { ModelSubscriber } from "./model-subscriber";
import { installPropertyNameCache } from "./property-names";
import { installUuidKeyConditions } from "./key-conditions";
import { compileEmbeddedColumns } from "./embedded-columns";
import { keepsTypeormRules, registerDialect, registeredDialect } from "./registry";
import { translateConstraintViolations } from "./constraint-errors";
import { alignCollations, applyExactCollations } from "./exact-collation";
import { installOptimisticLocking } from "./optimistic-lock";
import { installHistoryWrites } from "./history-writes";
import { hasHistory, HistoryEntry } from "../history/history";
import { activeTwin, twinExpression } from "../columns/unique-while-active";

/**
 * Gives a DataSource the library's dialect handling: per-dialect column types for SmartJSON and instant columns,
 * the model subscriber, the application clock in TypeORM's generated updates. Works on a DataSource before or after
 * `initialize()`; before, it hooks in right after the driver connects (when the server version is known, which
 * tells MariaDB from MySQL) and before entity metadata is validated and the schema synchronized.
 *
 * @internal
 */
export function attachDialect(dataSource: DataSource, onResolved?: (dialect: Dialect) => void): void {
  installAppClockTimestamps();
  installSoftDeleteCascade();
  installJsonConditions();
  installPropertyNameCache();
  installUuidKeyConditions();
  installOptimisticLocking();
  // outermost of the write hooks: it narrows a criteria write to the rows it read, then runs the others
  installHistoryWrites();
  if (dataSource.isInitialized) {
    const dialect = dialectForDataSource(dataSource);
    dialect.afterConnect(dataSource);
    adaptMetadata(dataSource, dialect);
    onResolved?.(dialect);
    return;
  }
  const target = dataSource as unknown as { buildMetadatas(): Promise<void> };
  const build = target.buildMetadatas.bind(dataSource);
  target.buildMetadatas = async () => {
    const dialect = dialectForDataSource(dataSource);
    // (again: the driver's connect resets what it adjusts)
    dialect.afterConnect(dataSource);
    // built ahead, before the connection (a lazy start): repositories handed out since hold that metadata
    if (builtAhead.delete(dataSource)) return;
    withHistoryStorage(dataSource);
    await build();
    adaptMetadata(dataSource, dialect);
    onResolved?.(dialect);
  };
}

const builtAhead = new WeakSet<DataSource>();

/** The history table joins the entities when one of them has `@History()` (given as classes). */
function withHistoryStorage(dataSource: DataSource): void {
  const entities = dataSource.options.entities;
  if (!Array.isArray(entities) || entities.includes(HistoryEntry)) return;
  if (!entities.some((entity) => hasHistory(entity))) return;
  Object.assign(dataSource.options, { entities: [...entities, HistoryEntry] });
}

/**
 * Builds a DataSource's entity metadata (adapted to the dialect) before it connects, so that repositories can be
 * handed out while the database does not answer (a lazy start); `initialize()` then keeps it instead of building
 * it again.
 *
 * @internal
 */
export async function buildMetadataAhead(dataSource: DataSource): Promise<void> {
  await (dataSource as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
  builtAhead.add(dataSource);
}

const DATABASE_CLOCK = /^\s*(?:current_timestamp|now|localtimestamp)\s*(?:\(\s*\))?\s*$/i;

/** A Date column's CURRENT_TIMESTAMP default or onUpdate, with its column's fractional-second precision. */
function matchClockPrecision(column: { precision?: number | null; default?: unknown; onUpdate?: string }): void {
  if (!column.precision) return;
  const clock = `CURRENT_TIMESTAMP(${column.precision})`;
  if (typeof column.default === "function") {
    const given = (column.default as () => unknown)();
    if (typeof given === "string" && DATABASE_CLOCK.test(given)) column.default = () => clock;
  }
  if (typeof column.onUpdate === "string" && DATABASE_CLOCK.test(column.onUpdate)) column.onUpdate = clock;
}

function shapeInstant(column: { type: unknown; precision?: number | null }, dialect: Dialect): void {
  if (dialect.instantColumn.type !== undefined) column.type = dialect.instantColumn.type;
  if (dialect.instantColumn.precision !== undefined) column.precision = dialect.instantColumn.precision;
}

/**
 * The library's UUID keys, and keys referring to them, as text where the dialect keeps them so (MySQL, MariaDB,
 * SQLite): `varchar(36)`, named here rather than left to the driver's mapping of `uuid`, which on MariaDB 10.7+
 * would be its UUID type (it reorders UUIDv1 groups and scatters UUIDv7 keys).
 */
function uuidAsText(column: { type: unknown; length: string }, dialect: Dialect): void {
  if (dialect.uuidTextLength === undefined) return;
  column.type = "varchar";
  column.length = String(dialect.uuidTextLength);
}

function adaptMetadata(dataSource: DataSource, dialect: Dialect): void {
  if (registeredDialect(dataSource)) return;
  const typeormRules = keepsTypeormRules(dataSource);
  for (const metadata of dataSource.entityMetadatas) {
    compileEmbeddedColumns(metadata);
    // the application's own entities keep TypeORM's column shapes where it asked for that (an adopted DataSource)
    const reshape = !typeormRules || isLibraryEntity(metadata.target, metadata.columns);
    for (const column of metadata.columns) {
      switch (columnKind(column.target, column.propertyName)) {
        case "smart-json":
          column.type = dialect.jsonColumnType as typeof column.type;
          column.transformer = new SmartJSON({
            entity: metadata.name,
            property: column.propertyPath,
            encoding: dialect.jsonEncoding,
          });
          break;
        case "uuid":
          column.transformer = new UuidTransformer({ entity: metadata.name, property: column.propertyPath });
          uuidAsText(column, dialect);
          break;
        case "instant":
          shapeInstant(column, dialect);
          break;
        case "json-index": {
          const spec = jsonIndexesOf(metadata.target).find((j) => j.generatedProperty === column.propertyName);
          const json = spec && metadata.findColumnWithPropertyPath(spec.property);
          if (!spec || !json || columnKind(json.target, json.propertyName) !== "smart-json") {
            throw new ConfigurationError(
              `@JsonIndex on ${metadata.name}: "${spec?.property ?? column.propertyName}" is not a SmartJSON property of the entity`,
            );
          }
          const shape = dialect.jsonIndexColumn(dialect.quoteIdentifier(json.databaseName), spec.path, spec.type);
          column.type = shape.type as typeof column.type;
          column.length = shape.length ?? "";
          column.asExpression = shape.expression;
          break;
        }
        default:
          if (activeTwin(column.target, column.propertyName)?.caseInsensitive) {
            const twin = activeTwin(column.target, column.propertyName)!;
            column.asExpression = twinExpression(twin.sourceColumn, (e) => dialect.foldAsciiCase(e));
          }
          // the application's own `Date` columns (no SQL type named) get the same instant storage; a default or
          // `onUpdate` of the database's clock is given the storage's precision (MySQL's datetime(6) wants
          // CURRENT_TIMESTAMP(6): with the bare one, TypeORM's schema diff never empties)
          if (column.type === Date && !column.relationMetadata) {
            if (!reshape) continue;
            shapeInstant(column, dialect);
            if (dialect.clockNamesPrecision) matchClockPrecision(column);
          }
          // a foreign key to a UUID key is as long as the key
          else if (
            column.referencedColumn &&
            columnKind(column.referencedColumn.target, column.referencedColumn.propertyName) === "uuid"
          ) {
            uuidAsText(column, dialect);
          }
          // text without a declared length: 255 on every dialect, as TypeORM gives it on MySQL
          else if (reshape && !column.relationMetadata && column.length === "") {
            const length = declaredLength(column.type, undefined);
            if (length !== undefined) column.length = String(length);
          }
          break;
      }
    }
  }
  applyExactCollations(dataSource, dialect);
  alignCollationsOnSynchronize(dataSource, dialect);
  dataSource.subscribers.push(new ModelSubscriber());
  translateConstraintViolations(dataSource, () => dialect);
  registerDialect(dataSource, dialect);
}

interface SchemaBuilder {
  queryRunner?: QueryRunner;
  executeSchemaSyncOperationsInProperOrder?(): Promise<void>;
}

/**
 * TypeORM's own synchronization (`synchronize: true`, `dataSource.synchronize()`, the schema log behind
 * `migration:generate`) also brings existing tables to the exact collations, after its own steps.
 */
function alignCollationsOnSynchronize(dataSource: DataSource, dialect: Dialect): void {
  const driver = dataSource.driver as unknown as { createSchemaBuilder(): SchemaBuilder };
  const create = driver.createSchemaBuilder.bind(driver);
  driver.createSchemaBuilder = () => {
    const builder = create();
    const run = builder.executeSchemaSyncOperationsInProperOrder;
    if (typeof run === "function")
      builder.executeSchemaSyncOperationsInProperOrder = async () => {
        await run.call(builder);
        if (builder.queryRunner) await alignCollations(dataSource, dialect, builder.queryRunner);
      };
    return builder;
  };
}
