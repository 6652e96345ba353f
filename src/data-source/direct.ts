import type { DataSource, EntityTarget, ObjectLiteral, QueryRunner } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { BulkLoadFailure, type Dialect } from "../dialects/dialect";
import { gateOf } from "../typeorm/connection-gate";
import {
  DatabaseOperationError,
  ForeignKeyViolationError,
  InvalidValueError,
  StaleEntityError,
  UniqueConstraintError,
} from "../errors";
import { columnAccess, type ColumnAccess } from "../typeorm/column-access";
import { AuditContext } from "../audit/audit-context";
import { uuidv7 } from "../util/uuid";
import {
  assertLoaded,
  filledColumns,
  isDeletedColumn,
  updatedByColumn,
  validateInsert,
} from "../typeorm/model-subscriber";
import { activeTwin } from "../columns/unique-while-active";
import { SmartJSON } from "../columns/smart-json";
import { translateConstraintViolation } from "../typeorm/constraint-errors";
import { compileHydrator, compileKeyWriter, TEXT_TYPES, type Hydrator } from "../typeorm/hydrate";

/** A string to ask a driver at plan time whether it writes a column's text as it is. */
const SAMPLE_TEXT = "it's :name $1 ? \\ ünï";
/** Instants to ask a driver at plan time whether it writes a column's instants as the dialect formats them. */
const SAMPLE_INSTANTS = [
  new Date("2026-12-05T21:55:04.123Z"),
  new Date("0999-01-02T03:04:05.006Z"),
  new Date("1969-12-31T23:59:59.999Z"),
];

/**
 * How an instant is written to `column` (no transformer): the dialect's text for the column where it has one
 * ({@link Dialect.columnInstantText}), or its own formatting where that answers what the driver's conversion does for
 * the sample instants; undefined otherwise (the driver converts it). An instant the dialect leaves out goes to the
 * driver.
 */
function instantWriter(
  column: ColumnMetadata,
  driver: DataSource["driver"],
  dialect: Dialect,
): ((date: Date) => unknown) | undefined {
  if (column.transformer !== undefined) return undefined;
  const parameter = dialect.columnInstantText(column);
  if (parameter) return (date) => parameter(date) ?? driver.preparePersistentValue(date, column);
  const format = dialect.formatStoredInstant;
  if (format === undefined) return undefined;
  for (const sample of SAMPLE_INSTANTS) {
    const text = format(sample);
    if (text === undefined || driver.preparePersistentValue(sample, column) !== text) return undefined;
  }
  return (date) => format(date) ?? driver.preparePersistentValue(date, column);
}

/** Values to ask a driver at plan time how it writes a SmartJSON column's value. */
const SAMPLE_JSON: readonly unknown[] = [
  { a: [1, "it's", null, true], "b.c": { "": -1.5e-7 } },
  ["ünï", 2],
  "$1",
  0,
  false,
];

/**
 * How a value is written to a SmartJSON `column`: its transformer's checks and encoding, then `JSON.stringify` where
 * the driver encodes JSON itself (its conversion of the samples is that), or the transformer's text as it is;
 * undefined when the driver's conversion answers neither (it converts the value).
 */
function jsonWriter(column: ColumnMetadata, driver: DataSource["driver"]): ((value: unknown) => unknown) | undefined {
  const transformer = column.transformer;
  if (!(transformer instanceof SmartJSON)) return undefined;
  const driverWrites = (expected: (sample: unknown) => unknown) =>
    SAMPLE_JSON.every((sample) => driver.preparePersistentValue(sample, column) === expected(sample));
  if (driverWrites((sample) => JSON.stringify(transformer.to(sample)))) {
    return (value) => {
      const checked = transformer.write(value);
      return checked == null ? checked : JSON.stringify(checked);
    };
  }
  if (driverWrites((sample) => transformer.to(sample))) return (value) => transformer.write(value);
  return undefined;
}

/** Options of {@link DatabaseManager.insertMany}. */
export interface InsertManyOptions {
  /** Most rows per INSERT statement. Default: as many as the dialect's bind-parameter limit allows. */
  readonly chunkSize?: number;
  /** Called as rows go in (after each statement, or each chunk of a bulk load), for long loads people watch. */
  readonly onProgress?: (progress: InsertProgress) => void;
}

/** How far an `insertMany` has got. */
export interface InsertProgress {
  /** Rows sent so far. */
  readonly done: number;
  /** Rows in the call. */
  readonly total: number;
}

/** A column the row leaves to the database's default. */
const DEFAULT = Symbol("default");

/** Options of {@link DatabaseManager.findById}. */
export interface FindByIdOptions {
  /** Find a soft-deleted row too. Default: false. */
  readonly withDeleted?: boolean;
  /**
   * With replicas, where the read goes outside a session: a replica (default; another one or the primary when it
   * fails), or the primary, for a read that must see the caller's own latest write. Inside a session: the session's.
   */
  readonly from?: "replica" | "primary";
}

/** Options of {@link DatabaseManager.updateById}. */
export interface UpdateByIdOptions {
  /**
   * The version (`@VersionColumn()`) the row must still be at: the UPDATE carries it, and a row at another version,
   * or gone, is a `StaleEntityError`. Without it the version is bumped unchecked, as TypeORM's `update()` does.
   */
  readonly expectedVersion?: number;
}

/** What updateById needs of an entity, worked out once. */
interface UpdatePlan {
  /** `UPDATE <table> SET ` */
  readonly prefix: string;
  /** Columns a caller may set, with their quoted names, accessors and the driver's conversion of a value. */
  readonly writable: readonly {
    readonly column: ColumnMetadata;
    readonly name: string;
    readonly access: ColumnAccess;
    readonly convert: (value: unknown) => unknown;
  }[];
  /** Columns the library or the database manages: a value for one is refused. */
  readonly managed: readonly { readonly column: ColumnMetadata; readonly access: ColumnAccess }[];
  readonly properties: ReadonlySet<string>;
  readonly updateDate: ColumnMetadata | undefined;
  /** The update instant as the driver takes it. */
  readonly writeUpdateDate: (date: Date) => unknown;
  readonly updatedBy: ColumnMetadata | undefined;
  readonly version: ColumnMetadata | undefined;
  readonly deleted: string;
  readonly id: string;
  /**
   * The statement per set of columns written (their positions in `writable`, the actor, the version check): keyed by
   * a number, their bits, where the writable columns fit in {@link MASK_COLUMNS}, by their positions' text otherwise.
   */
  readonly statements: Map<number | string, string>;
}

/** Writable columns up to which updateById keys its statements by a number (a bit a column, two for the options). */
const MASK_COLUMNS = 28;

/** A compiled INSERT and SELECT for one entity on one DataSource. */
interface StatementPlan {
  readonly metadata: EntityMetadata;
  /** Columns written by an INSERT (generated and read-only columns left out). */
  readonly insertColumns: readonly ColumnMetadata[];
  readonly insertPrefix: string;
  /** Columns read back, in SELECT order. */
  readonly selectColumns: readonly ColumnMetadata[];
  /** Hydrate a row of the SELECT: answered as an object keyed by the columns' aliases, or as an array of values. */
  readonly hydrateObject: Hydrator;
  readonly hydrateArray: Hydrator;
  readonly selectById: string;
  readonly selectByIdWithDeleted: string;
  /** SELECT of every row's columns, for a WHERE to follow. */
  readonly selectAll: string;
  readonly idColumn: ColumnMetadata;
  /** How a by-id SELECT writes its key (the driver's conversion, without its cost for a canonical UUID). */
  readonly writeKey: (id: unknown) => unknown;
  /** How a row's values go into the INSERT: each insert column's accessor, and what the library fills. */
  readonly row: RowLayout;
  /** insertOne's plan, made on first use. */
  one?: OneRowPlan;
  /** updateById's plan, made on first use. */
  update?: UpdatePlan;
}

function updatePlan(metadata: EntityMetadata, dialect: Dialect, driver: DataSource["driver"]): UpdatePlan {
  const q = (name: string) => dialect.quoteIdentifier(name);
  const filled = filledColumns(metadata);
  const isDeleted = isDeletedColumn(metadata);
  const managed = new Set<ColumnMetadata>(
    [
      ...metadata.primaryColumns,
      ...filled.stamps,
      ...filled.actors,
      metadata.deleteDateColumn,
      isDeleted,
      metadata.versionColumn,
      ...metadata.columns.filter(
        (c) =>
          c.generatedType !== undefined ||
          c.asExpression !== undefined ||
          !c.isUpdate ||
          activeTwin(c.target, c.propertyName) !== undefined,
      ),
    ].filter((c): c is ColumnMetadata => c !== undefined),
  );
  const writable = metadata.columns
    .filter((c) => !managed.has(c) && !c.isVirtual && c.relationMetadata === undefined)
    .map((column) => {
      const general = (value: unknown) => driver.preparePersistentValue(value, column) ?? null;
      // text without a transformer the driver takes as it is, as the insert paths' row writer does
      const text =
        column.transformer === undefined &&
        TEXT_TYPES.has(column.type) &&
        driver.preparePersistentValue(SAMPLE_TEXT, column) === SAMPLE_TEXT;
      const convert = text ? (value: unknown) => (typeof value === "string" ? value : general(value)) : general;
      return { column, name: q(column.databaseName), access: columnAccess(column), convert };
    });
  const idColumn = metadata.primaryColumns[0]!;
  const updateDate = metadata.updateDateColumn;
  return {
    prefix: `UPDATE ${dialect.quoteTable(metadata.tablePath)} SET `,
    writable,
    managed: [...managed].map((column) => ({ column, access: columnAccess(column) })),
    properties: new Set([
      ...metadata.columns.map((c) => c.propertyPath.split(".")[0]!),
      ...metadata.embeddeds.map((e) => e.propertyName),
    ]),
    updateDate,
    writeUpdateDate:
      (updateDate && instantWriter(updateDate, driver, dialect)) ??
      ((date) => driver.preparePersistentValue(date, updateDate!)),
    updatedBy: updatedByColumn(metadata),
    version: metadata.versionColumn,
    deleted: metadata.deleteDateColumn ? ` AND ${q(metadata.deleteDateColumn.databaseName)} IS NULL` : "",
    id: q(idColumn.databaseName),
    statements: new Map(),
  };
}

/**
 * updateById's statement for a key of {@link UpdatePlan.statements} (the columns given, the actor, the version check),
 * kept in the plan (up to 256 of them): the given columns' placeholders in `writable` order, as their values are bound.
 */
function updateStatement(update: UpdatePlan, dialect: Dialect, key: number | string): string {
  const q = (name: string) => dialect.quoteIdentifier(name);
  const flags = typeof key === "number" ? key % 4 : Number(key.slice(key.lastIndexOf(",") + 1));
  const given =
    typeof key === "number"
      ? (c: number) => Math.floor(key / 4 / 2 ** c) % 2 === 1
      : (c: number) => key.split(",").slice(0, -1).includes(String(c));
  let set = "";
  let n = 0;
  update.writable.forEach(({ name }, c) => {
    if (given(c)) set += `${name} = ${dialect.placeholder(n++)}, `;
  });
  if (update.updateDate) set += `${q(update.updateDate.databaseName)} = ${dialect.placeholder(n++)}, `;
  if (flags & 2) set += `${q(update.updatedBy!.databaseName)} = ${dialect.placeholder(n++)}, `;
  if (update.version) {
    const version = q(update.version.databaseName);
    set += `${version} = ${version} + 1, `;
  }
  let sql = `${update.prefix}${set.slice(0, -2)} WHERE ${update.id} = ${dialect.placeholder(n++)}${update.deleted}`;
  if (flags & 1) sql += ` AND ${q(update.version!.databaseName)} = ${dialect.placeholder(n++)}`;
  if (update.statements.size < 256) update.statements.set(key, sql);
  return sql;
}

/** How every insert path reads a row's values, in insert-column order. */
interface RowLayout {
  readonly access: readonly ColumnAccess[];
  /** The filled UUID key's position, or -1. */
  readonly idIndex: number;
  /** Writes a row's INSERT values (see {@link compileRowWriter}). */
  readonly write: RowWriter;
}

/**
 * Writes one row's INSERT values into `values`, in insert-column order, and answers how many columns take their
 * default: the key `id` (as it is where `idIsNew`: a key the library just made), the clock's `now` for a missing
 * instant the library fills, the acting user for a missing audit column, {@link DEFAULT} where a column takes its
 * default, the driver's conversion of every other value. `dates` keeps the last Date converted per column (the rows
 * of one call share their instants).
 */
type RowWriter = (
  row: object,
  id: unknown,
  now: Date,
  actor: string | undefined,
  values: unknown[],
  dates: { readonly last: unknown[]; readonly prepared: unknown[] } | undefined,
  idIsNew: boolean,
) => number;

/** What insertOne needs of an entity beyond the {@link RowLayout}, worked out once. */
interface OneRowPlan {
  /** The INSERT of one row with every insert column bound. */
  readonly sql: string;
  /** Filled on the answered entity: the key, the instants, the actor columns; a missing deletion instant as null. */
  readonly idAccess: ColumnAccess | undefined;
  readonly stampAccess: readonly ColumnAccess[];
  readonly actorAccess: readonly ColumnAccess[];
  readonly deleteDate: readonly ColumnAccess[];
  /** The stored generated `isDeleted` flag, false on a new row. */
  readonly isDeleted: readonly ColumnAccess[];
  /** The `@VersionColumn()`, 1 on a new row. */
  readonly version: ColumnAccess | undefined;
  /** The other columns read back that a value left unset wrote as NULL: set to null on the answered entity. */
  readonly nulls: readonly ColumnAccess[];
  /** A column read back that the database fills (generated, not written): the row is read back after the INSERT. */
  readonly reread: boolean;
  /** The top-level properties values may have (columns, embedded objects, relations). */
  readonly properties: ReadonlySet<string>;
  /**
   * The entity's class where `metadata.create()` would do nothing but construct it (no lazy relation to wire, no
   * `typename` property to write): the new entity is made with `new` directly.
   */
  readonly construct: (new () => object) | undefined;
}

function rowLayout(
  metadata: EntityMetadata,
  columns: readonly ColumnMetadata[],
  driver: DataSource["driver"],
  dialect: Dialect,
): RowLayout {
  const filled = filledColumns(metadata);
  const idIndex = filled.id ? columns.indexOf(filled.id) : -1;
  const access = columns.map(columnAccess);
  return { access, idIndex, write: compileRowWriter(metadata, filled, columns, access, idIndex, driver, dialect) };
}

/**
 * The {@link RowWriter} of an entity's insert columns, compiled once: a block of code a column, with what is known of
 * the column written in (whether the library fills it, its default, whether the driver takes its text, its NULL
 * and its instants as they are, its SmartJSON writer). A loop over the columns did the same through per-column tables
 * and one accessor call for every column from one call site, which saw every column's accessor and converter: on
 * SQLite, between other code, `insertOne`'s JavaScript beyond the raw caller's went from 0.93-1.16 µs to 0.80-0.96 µs
 * with this alone. The creation and update instants of a new row are the same Date, converted once for the columns
 * that convert an instant alike (TypeORM's formatting of an instant takes about 0.3 µs on SQLite).
 */
function compileRowWriter(
  metadata: EntityMetadata,
  filled: ReturnType<typeof filledColumns>,
  columns: readonly ColumnMetadata[],
  access: readonly ColumnAccess[],
  idIndex: number,
  driver: DataSource["driver"],
  dialect: Dialect,
): RowWriter {
  const instants = columns.map((column) => instantWriter(column, driver, dialect));
  const json = columns.map((column) => jsonWriter(column, driver));
  const lines = ["let raw, value, lastDate, lastGroup = -1, lastValue, defaults = 0;"];
  columns.forEach((column, c) => {
    const noTransformer = column.transformer === undefined;
    // the first column that converts an instant exactly as this one (neither has a transformer), or -1
    const group = columns.findIndex((other) => convertsInstantsAlike(other, column));
    const block: string[] = [];
    // text without a transformer the driver takes as it is
    if (
      noTransformer &&
      TEXT_TYPES.has(column.type) &&
      driver.preparePersistentValue(SAMPLE_TEXT, column) === SAMPLE_TEXT
    )
      block.push(`if (typeof raw === "string") { values[${c}] = raw; break c${c}; }`);
    if (column === metadata.versionColumn) block.push(`raw = firstVersion(C[${c}], raw);`);
    if (filled.stamps.includes(column)) block.push("if (raw == null) raw = now;");
    else if (filled.actors.includes(column)) block.push("if (raw === undefined) raw = actor;");
    if (column.default !== undefined)
      block.push(`if (raw === undefined) { values[${c}] = DEFAULT; defaults++; break c${c}; }`);
    // a missing value the driver writes as NULL
    if (
      noTransformer &&
      driver.preparePersistentValue(null, column) === null &&
      driver.preparePersistentValue(undefined, column) == null
    )
      block.push(`if (raw == null) { values[${c}] = null; break c${c}; }`);
    const instant = instants[c] ? `I[${c}](raw)` : `D.preparePersistentValue(raw, C[${c}])`;
    const given = "raw === undefined ? null : raw";
    const other = json[c] ? `J[${c}](${given})` : `D.preparePersistentValue(${given}, C[${c}])`;
    block.push(
      "if (raw instanceof Date) {",
      group >= 0 ? `if (raw === lastDate && lastGroup === ${group}) value = lastValue; else` : "",
      `if (dates !== undefined && raw === dates.last[${c}]) value = dates.prepared[${c}];`,
      `else { value = ${instant}; if (dates !== undefined) { dates.last[${c}] = raw; dates.prepared[${c}] = value; } }`,
      `lastDate = raw; lastGroup = ${group}; lastValue = value;`,
      `} else value = ${other};`,
      `values[${c}] = value === undefined ? null : value;`,
    );
    const body = `c${c}: { ${block.join(" ")} }`;
    // a key the library made is canonical already: the column's checks have nothing to say about it
    if (c === idIndex) lines.push(`if (idIsNew) values[${c}] = id; else { raw = id; ${body} }`);
    else {
      // a plain property read by name; inside embedded objects and for relations, the column's accessor
      const plain = column.relationMetadata === undefined && column.embeddedMetadata === undefined;
      lines.push(`raw = ${plain ? `row[${JSON.stringify(column.propertyName)}]` : `A[${c}].get(row)`}; ${body}`);
    }
  });
  lines.push("return defaults;");
  return new Function(
    "A",
    "C",
    "D",
    "I",
    "J",
    "DEFAULT",
    "firstVersion",
    `return function writeRow(row, id, now, actor, values, dates, idIsNew) {\n${lines.join("\n")}\n};`,
  )(access, columns, driver, instants, json, DEFAULT, (column: ColumnMetadata, given: unknown) =>
    firstVersion(metadata, column, given),
  ) as RowWriter;
}

/** True when the driver's conversion of an instant is the same for both columns (its inputs are these options). */
function convertsInstantsAlike(a: ColumnMetadata, b: ColumnMetadata): boolean {
  const options = (c: ColumnMetadata) => c as unknown as Record<string, unknown>;
  return (
    a.transformer === undefined &&
    b.transformer === undefined &&
    a.type === b.type &&
    a.precision === b.precision &&
    a.scale === b.scale &&
    a.length === b.length &&
    a.isArray === b.isArray &&
    options(a)["utc"] === options(b)["utc"]
  );
}

function oneRowPlan(
  metadata: EntityMetadata,
  plan: StatementPlan,
  dialect: Dialect,
  options: DataSource["options"],
): OneRowPlan {
  const filled = filledColumns(metadata);
  const isDeleted = metadata.columns.filter(
    (c) => !c.isDeleteDate && c.generatedType !== undefined && c.propertyName === "isDeleted",
  );
  const own = new Set([
    filled.id,
    ...filled.stamps,
    ...filled.actors,
    ...metadata.columns.filter((c) => c.isDeleteDate),
    metadata.versionColumn,
  ]);
  return {
    sql: `${plan.insertPrefix}(${plan.insertColumns.map((_, c) => dialect.placeholder(c)).join(", ")})`,
    idAccess: filled.id && columnAccess(filled.id),
    stampAccess: filled.stamps.map(columnAccess),
    actorAccess: filled.actors.map(columnAccess),
    deleteDate: metadata.columns.filter((c) => c.isDeleteDate).map(columnAccess),
    isDeleted: isDeleted.map(columnAccess),
    version: metadata.versionColumn && columnAccess(metadata.versionColumn),
    nulls: plan.selectColumns
      .filter((c) => plan.insertColumns.includes(c) && !own.has(c) && !c.relationMetadata)
      .map(columnAccess),
    reread: plan.selectColumns.some((c) => !plan.insertColumns.includes(c) && !isDeleted.includes(c)),
    properties: new Set([
      ...metadata.columns.map((c) => c.propertyPath.split(".")[0]!),
      ...metadata.embeddeds.map((e) => e.propertyName),
      ...metadata.relations.map((r) => r.propertyName),
    ]),
    construct:
      typeof metadata.target === "function" && metadata.lazyRelations.length === 0 && !options.typename
        ? (metadata.target as new () => object)
        : undefined,
  };
}

/** The key of a new row: the one given (lower case), or a new UUIDv7. */
function newId(given: unknown): string | undefined {
  if (given == null) return uuidv7();
  return typeof given === "string" ? given.toLowerCase() : (given as string);
}

/** The inserted entity as the row now holds it: what the library filled, written onto the caller's values. */
function completeInserted<T extends object>(
  one: OneRowPlan,
  entity: T,
  id: string | undefined,
  now: Date,
  actor: string | undefined,
): T {
  if (one.idAccess) one.idAccess.set(entity, id);
  for (const access of one.stampAccess) if (access.get(entity) == null) access.set(entity, now);
  // outside an AuditContext the row holds NULL there, and the answer says so, as findById would
  for (const access of one.actorAccess) if (access.get(entity) === undefined) access.set(entity, actor ?? null);
  for (const access of one.deleteDate) if (access.get(entity) === undefined) access.set(entity, null);
  for (const access of one.isDeleted) access.set(entity, false);
  if (one.version) one.version.set(entity, 1);
  const nulls = one.nulls;
  for (let i = 0; i < nulls.length; i++) if (nulls[i]!.get(entity) === undefined) nulls[i]!.set(entity, null);
  return entity;
}

/** A new row's version: 1; another given one is refused (it would claim a history the row does not have). */
function firstVersion(metadata: EntityMetadata, column: ColumnMetadata, given: unknown): number {
  if (given == null || given === 1) return 1;
  throw new InvalidValueError(
    `${metadata.name}.${column.propertyPath}: a new row starts at version 1, got ${JSON.stringify(given) ?? String(given)}; leave it out`,
    metadata.name,
    column.propertyPath,
    given,
  );
}

/** Refuses a key of the values that is no property of the entity, before any SQL (as fromDict does). */
function refuseUnknownKeys(properties: ReadonlySet<string>, metadata: EntityMetadata, values: object): void {
  for (const key in values) {
    if (!properties.has(key) && Object.prototype.hasOwnProperty.call(values, key))
      throw new InvalidValueError(
        `${metadata.name}.${key}: ${metadata.name} has no property "${key}"; leave it out`,
        metadata.name,
        key,
        (values as Record<string, unknown>)[key],
      );
  }
}

/** Runs a statement: on the session's connection inside a session, straight on the driver's pool outside one. */
type Executor = (sql: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * The library's direct statements: an INSERT and a SELECT compiled once per entity, run without TypeORM's query
 * builder, its per-row reload after an insert, or its result transformer. Rows get exactly what the TypeORM paths
 * give them (the same subscriber logic fills ids and instants and validates; the driver's own value conversions
 * and the column transformers prepare and hydrate values).
 *
 * @internal
 */
export class DirectStatements {
  readonly #dataSource: DataSource;
  readonly #dialect: () => Dialect;
  readonly #session: () => QueryRunner | undefined;
  readonly #plans = new Map<EntityMetadata, StatementPlan>();
  readonly #replicated: boolean;

  constructor(
    dataSource: DataSource,
    dialect: () => Dialect,
    session: () => QueryRunner | undefined,
    replicated = false,
  ) {
    this.#dataSource = dataSource;
    this.#dialect = dialect;
    this.#session = session;
    this.#replicated = replicated;
  }

  /** A read on a replica, through TypeORM's replica query runner (routed and retried by the replica set). */
  #replicaRead: Executor = async (sql, params) => {
    const runner = this.#dataSource.createQueryRunner("slave");
    try {
      return (await runner.query(sql, params as unknown[])) as Record<string, unknown>[];
    } finally {
      await runner.release();
    }
  };

  /** A statement on the pool, a constraint violation translated into the library's typed error. */
  #execute: Executor = (sql, params) => {
    const dialect = this.#dialect();
    return dialect.execute(this.#dataSource, sql, params).catch((error: unknown) => {
      throw translateConstraintViolation(this.#dataSource, dialect, error, sql);
    });
  };

  #executor(): Executor {
    const dialect = this.#dialect();
    const session = this.#session();
    // one connection (SQLite): the session's transaction is open on it, and the dialect keeps prepared statements
    if (session && !dialect.singleConnection) {
      return (sql, params) => session.query(sql, params as unknown[]) as Promise<Record<string, unknown>[]>;
    }
    const execute = this.#execute;
    // one connection: the statement takes its turn behind another caller's open transaction
    const gate = gateOf(this.#dataSource);
    if (!gate) return execute;
    const owner = session ?? {};
    return (sql, params) => gate.run(owner, () => execute(sql, params));
  }

  /** Runs an UPDATE or DELETE where {@link #executor} would run a statement, answering the rows it matched. */
  #write(sql: string, params: readonly unknown[]): number | Promise<number> {
    const dialect = this.#dialect();
    const session = this.#session();
    if (session && !dialect.singleConnection) {
      return session
        .query(sql, params as unknown[], true)
        .then((result: { affected?: number | null }) => Number(result.affected ?? 0));
    }
    const sync = this.#syncDialect();
    if (sync?.executeSyncWrite) return sync.executeSyncWrite(this.#dataSource, sql, params);
    const gate = gateOf(this.#dataSource);
    const run = () => dialect.executeWrite(this.#dataSource, sql, params);
    return gate ? gate.run(session ?? {}, run) : run();
  }

  /** The dialect when its driver answers statements at once and the statement would go straight to it. */
  #syncDialect(): Dialect | undefined {
    const dialect = this.#dialect();
    if (dialect.executeSync === undefined) return undefined;
    const session = this.#session();
    // at once only when no other caller's transaction is open on the one connection
    const gate = gateOf(this.#dataSource);
    if (gate && !gate.admits(session)) return undefined;
    return dialect.singleConnection || session === undefined ? dialect : undefined;
  }

  /** {@link Dialect.executeSync}, with a unique violation translated as the asynchronous path does. */
  #runSync(dialect: Dialect, sql: string, params: readonly unknown[]): unknown[][] {
    try {
      return dialect.executeSync!(this.#dataSource, sql, params);
    } catch (error) {
      throw translateConstraintViolation(this.#dataSource, dialect, error, sql);
    }
  }

  /** The one row (or undefined) a SELECT answers at once: {@link Dialect.executeSyncFirst} where the dialect has it. */
  #readFirstSync(dialect: Dialect, sql: string, params: readonly unknown[]): unknown[] | undefined {
    return dialect.executeSyncFirst
      ? dialect.executeSyncFirst(this.#dataSource, sql, params)
      : dialect.executeSync!(this.#dataSource, sql, params)[0];
  }

  #plan(metadata: EntityMetadata): StatementPlan {
    let plan = this.#plans.get(metadata);
    if (plan) return plan;
    const dialect = this.#dialect();
    const q = (name: string) => dialect.quoteIdentifier(name);
    const table = dialect.quoteTable(metadata.tablePath);
    const idColumn = metadata.primaryColumns[0];
    if (!idColumn || metadata.primaryColumns.length !== 1) {
      throw new TypeError(`${metadata.name} needs exactly one primary column for the direct statements`);
    }
    const insertColumns = metadata.columns.filter(
      (c) =>
        c.isInsert &&
        (!c.isVirtual || c.relationMetadata !== undefined) &&
        c.generatedType === undefined &&
        !c.isGenerated,
    );
    const selectColumns = metadata.columns.filter((c) => c.isSelect && !c.isVirtual);
    const aliases = selectColumns.map((_, i) => `c${i}`);
    const selectAll = `SELECT ${selectColumns.map((c, i) => `${q(c.databaseName)} AS ${q(aliases[i]!)}`).join(", ")} FROM ${table}`;
    const select = `${selectAll} WHERE ${q(idColumn.databaseName)} = ${dialect.placeholder(0)}`;
    const deleted = metadata.deleteDateColumn ? ` AND ${q(metadata.deleteDateColumn.databaseName)} IS NULL` : "";
    plan = {
      metadata,
      insertColumns,
      insertPrefix: `INSERT INTO ${table} (${insertColumns.map((c) => q(c.databaseName)).join(", ")}) VALUES `,
      selectColumns,
      hydrateObject: compileHydrator(this.#dataSource, selectColumns, aliases, false, dialect.parseStoredInstant),
      hydrateArray: compileHydrator(this.#dataSource, selectColumns, aliases, true, dialect.parseStoredInstant),
      selectById: `${select}${deleted}`,
      selectByIdWithDeleted: select,
      selectAll,
      idColumn,
      writeKey: compileKeyWriter(this.#dataSource, idColumn),
      row: rowLayout(metadata, insertColumns, this.#dataSource.driver, dialect),
    };
    this.#plans.set(metadata, plan);
    return plan;
  }

  /**
   * Updates the given columns of one live row by its key with a single statement: the update instant and the
   * acting user stamped, every value checked as `save()` checks it, the version bumped (and checked with
   * `expectedVersion`). Answers whether a live row had that key: at once (not a promise) where the driver answers
   * statements synchronously.
   */
  updateById<T extends ObjectLiteral>(
    target: EntityTarget<T>,
    id: unknown,
    values: Partial<T>,
    options: UpdateByIdOptions,
  ): boolean | Promise<boolean> {
    const metadata = this.#dataSource.getMetadata(target);
    const plan = this.#plan(metadata);
    const dialect = this.#dialect();
    const update = (plan.update ??= updatePlan(metadata, dialect, this.#dataSource.driver));
    refuseUnknownKeys(update.properties, metadata, values);
    for (const { column, access } of update.managed) {
      const value = access.get(values);
      if (value !== undefined)
        throw new InvalidValueError(
          `${metadata.name}.${column.propertyPath}: managed by the library or the database, an update cannot set it; leave it out`,
          metadata.name,
          column.propertyPath,
          value,
        );
    }
    validateInsert(values, metadata);
    const params: unknown[] = [];
    const writable = update.writable;
    // the statement's key: the given columns' bits (or positions), then the actor and the version check
    const small = writable.length <= MASK_COLUMNS;
    let mask = 0;
    let positions = "";
    for (let c = 0; c < writable.length; c++) {
      const column = writable[c]!;
      const value = column.access.get(values);
      if (value === undefined) continue;
      if (small) mask |= 1 << c;
      else positions += `${c},`;
      params.push(column.convert(value));
    }
    if (params.length === 0)
      throw new InvalidValueError(
        `${metadata.name}: updateById was given no column to change`,
        metadata.name,
        "",
        values,
      );
    const actor = update.updatedBy ? AuditContext.currentActor() : undefined;
    const expected = options.expectedVersion;
    if (expected !== undefined && (update.version === undefined || !Number.isSafeInteger(expected)))
      throw new InvalidValueError(
        `${metadata.name}.${update.version?.propertyPath ?? "version"}: expectedVersion ${String(expected)} needs ` +
          `an integer and a @VersionColumn() on the entity`,
        metadata.name,
        update.version?.propertyPath ?? "version",
        expected,
      );
    const flags = (actor !== undefined ? 2 : 0) + (expected !== undefined ? 1 : 0);
    const key = small ? mask * 4 + flags : `${positions}${flags}`;
    const sql = update.statements.get(key) ?? updateStatement(update, dialect, key);
    if (update.updateDate) params.push(update.writeUpdateDate(new Date()));
    if (actor !== undefined) params.push(actor);
    params.push(plan.writeKey(id));
    if (expected !== undefined) params.push(expected);
    let written: number | Promise<number>;
    try {
      written = this.#write(sql, params);
    } catch (error) {
      throw translateConstraintViolation(this.#dataSource, dialect, error, sql);
    }
    if (typeof written === "number")
      return written === 0 && expected !== undefined ? this.#stale(metadata, plan, update, id, expected) : written > 0;
    return written.then(
      (affected) =>
        affected === 0 && expected !== undefined ? this.#stale(metadata, plan, update, id, expected) : affected > 0,
      (error: unknown) => {
        throw translateConstraintViolation(this.#dataSource, dialect, error, sql);
      },
    );
  }

  /** The {@link StaleEntityError} of an update whose expected version the row no longer has (or that is gone). */
  async #stale(
    metadata: EntityMetadata,
    plan: StatementPlan,
    update: UpdatePlan,
    id: unknown,
    expected: number,
  ): Promise<never> {
    const dialect = this.#dialect();
    const rows = await this.#executor()(
      `SELECT ${dialect.quoteIdentifier(update.version!.databaseName)} AS v FROM ${dialect.quoteTable(metadata.tablePath)} WHERE ${update.id} = ${dialect.placeholder(0)}`,
      [plan.writeKey(id)],
    );
    throw StaleEntityError.of(metadata.name, id, expected, rows[0] === undefined ? null : Number(rows[0]["v"]));
  }

  /** Inserts rows in as few statements as the dialect's limits allow; answers their ids in order. */
  insertMany<T extends ObjectLiteral>(
    target: EntityTarget<T>,
    rows: readonly Partial<T>[],
    options: InsertManyOptions,
    inTransaction: <R>(work: () => Promise<R>) => Promise<R>,
  ): Promise<string[]> {
    const metadata = this.#dataSource.getMetadata(target);
    return this.#insert(metadata, rows as readonly object[], options, inTransaction).then((r) => r.ids);
  }

  /**
   * Inserts one row and answers it as an entity, with the values the database now holds: at once (not a promise)
   * where the driver answers statements synchronously. A row whose columns all have values goes through a one-row
   * plan kept per entity; one that leaves a column to its default takes the general path of {@link insertMany}.
   */
  insertOne<T extends ObjectLiteral>(
    metadata: EntityMetadata,
    values: Partial<T>,
    inTransaction: <R>(work: () => Promise<R>) => Promise<R>,
  ): T | Promise<T> {
    const plan = this.#plan(metadata);
    const one = (plan.one ??= oneRowPlan(metadata, plan, this.#dialect(), this.#dataSource.options));
    refuseUnknownKeys(one.properties, metadata, values);
    const entity = Object.assign((one.construct ? new one.construct() : metadata.create()) as T, values);
    const now = new Date();
    const actor = AuditContext.currentActor();
    const layout = plan.row;
    const givenId = layout.idIndex >= 0 ? layout.access[layout.idIndex]!.get(entity) : undefined;
    const id = layout.idIndex >= 0 ? newId(givenId) : undefined;
    const params = new Array<unknown>(plan.insertColumns.length);
    const idIsNew = layout.idIndex >= 0 && givenId == null;
    if (this.#prepareRow(plan, entity, id, now, actor, params, undefined, idIsNew) > 0 || one.reread) {
      // a column takes its default, or the database fills one: the general path writes DEFAULT (or leaves the
      // column out), then the row is read back, so the answer holds what findById would
      return this.#insert(metadata, [entity], {}, inTransaction).then(({ ids }) =>
        this.#executor()(plan.selectByIdWithDeleted, [plan.writeKey(ids[0])]).then((rows) =>
          entityFrom<T>(metadata, plan.hydrateObject, rows[0])!,
        ),
      );
    }
    const sync = this.#syncDialect();
    if (sync) {
      this.#runSync(sync, one.sql, params);
      return completeInserted(one, entity, id, now, actor);
    }
    return this.#executor()(one.sql, params).then(() => completeInserted(one, entity, id, now, actor));
  }

  /** Checks `row`, then writes its INSERT values into `values` ({@link RowWriter}): how many take a default. */
  #prepareRow(
    plan: StatementPlan,
    row: object,
    id: unknown,
    now: Date,
    actor: string | undefined,
    values: unknown[],
    dates?: { readonly last: unknown[]; readonly prepared: unknown[] },
    idIsNew = false,
  ): number {
    validateInsert(row, plan.metadata);
    return plan.row.write(row, id, now, actor, values, dates, idIsNew);
  }

  /**
   * Prepares every row (ids, instants, checks, the driver's value conversions) before anything is sent, so a bad row
   * writes nothing; then sends them through the dialect's bulk loader (COPY, LOAD DATA) from its
   * threshold on, or as multi-row INSERTs.
   */
  async #insert(
    metadata: EntityMetadata,
    rows: readonly object[],
    options: InsertManyOptions,
    inTransaction: <R>(work: () => Promise<R>) => Promise<R>,
  ): Promise<{ ids: string[]; now: Date }> {
    const now = new Date();
    if (rows.length === 0) return { ids: [], now };
    const plan = this.#plan(metadata);
    const driver = this.#dataSource.driver;
    const perRow = plan.insertColumns.length;
    const ids = new Array<string>(rows.length);
    const dialect = this.#dialect();
    // a batch the bulk loader may take keeps each row's values; otherwise they go straight into the INSERTs
    const prepared: unknown[][] = [];
    const inserts =
      rows.length >= dialect.bulkLoadThreshold
        ? undefined
        : new InsertBuilder(plan, dialect, driver, options, rows.length);
    const idAccess = columnAccess(plan.idColumn);
    // the caller's rows are read, never written: the id and the instants the library fills go straight to the SQL
    const idIndex = plan.row.idIndex;
    const actor = AuditContext.currentActor();
    // how often each column takes its default: all rows (the bulk loaders leave it out), some, or none
    const defaults = new Array<number>(perRow).fill(0);
    const values = new Array<unknown>(perRow);
    const dates = { last: new Array<unknown>(perRow), prepared: new Array<unknown>(perRow) };
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      const givenId = idAccess.get(row);
      const idIsNew = givenId == null && idIndex >= 0;
      const id = idIsNew ? uuidv7() : givenId;
      if (this.#prepareRow(plan, row, id, now, actor, values, dates, idIsNew) > 0)
        for (let c = 0; c < perRow; c++) if (values[c] === DEFAULT) defaults[c]! += 1;
      ids[r] = idIsNew || typeof id !== "string" ? (id as string) : id.toLowerCase();
      if (inserts) inserts.add(values);
      else prepared.push(values.slice());
    }
    const progress = (done: number) => options.onProgress?.({ done, total: rows.length });
    if (!inserts && defaults.every((n) => n === 0 || n === rows.length)) {
      return inTransaction(async () => {
        if (!(await this.#bulkLoad(metadata, plan, prepared, defaults, progress))) {
          await this.#run(InsertBuilder.all(plan, dialect, driver, options, prepared), progress);
        }
        return { ids, now };
      });
    }
    const statements = inserts ? inserts.finish() : InsertBuilder.all(plan, dialect, driver, options, prepared);
    const run = async () => {
      await this.#run(statements, progress);
      return { ids, now };
    };
    // one statement is atomic by itself; several run in one transaction
    return statements.length === 1 ? run() : inTransaction(run);
  }

  /** Streams prepared rows through the dialect's bulk loader; false when the server cannot take them that way. */
  async #bulkLoad(
    metadata: EntityMetadata,
    plan: StatementPlan,
    prepared: readonly unknown[][],
    defaults: readonly number[],
    progress: (done: number) => void,
  ): Promise<boolean> {
    const dialect = this.#dialect();
    const session = this.#session();
    if (!session) throw new TypeError("insertMany's bulk load runs inside a session");
    // a column every row leaves to its default is left out: the database fills it
    const keep = plan.insertColumns.map((_, c) => defaults[c] === 0);
    const rows = keep.every(Boolean) ? prepared : prepared.map((row) => row.filter((_, c) => keep[c]));
    const columns = plan.insertColumns.filter((_, c) => keep[c]).map((c) => dialect.quoteIdentifier(c.databaseName));
    try {
      return await dialect.bulkLoad(session, dialect.quoteTable(metadata.tablePath), columns, rows, progress);
    } catch (failure) {
      if (!(failure instanceof BulkLoadFailure)) throw failure;
      const error = translateConstraintViolation(
        this.#dataSource,
        dialect,
        failure.error,
        "INSERT INTO " + dialect.quoteTable(metadata.tablePath),
      );
      if (error instanceof UniqueConstraintError) throw failure.row === undefined ? error : error.atRow(failure.row);
      if (error instanceof ForeignKeyViolationError) throw error;
      const where = failure.row === undefined ? "" : ` at row ${failure.row} of the input`;
      throw DatabaseOperationError.wrap(`Loading ${metadata.name} rows${where}`, failure.error);
    }
  }

  async #run(statements: readonly InsertStatement[], progress: (done: number) => void): Promise<void> {
    // a synchronous driver runs each statement at once; others through the (session's or pool's) executor
    const sync = this.#syncDialect();
    const execute = sync ? undefined : this.#executor();
    let done = 0;
    for (const statement of statements) {
      if (sync) this.#runSync(sync, statement.sql, statement.params);
      else await execute!(statement.sql, statement.params);
      done += statement.rows;
      progress(done);
    }
  }

  /**
   * Reads rows by key, soft-deleted ones too, as entities (in no particular order), on the session's connection
   * inside one: 500 keys a statement.
   *
   * @internal
   */
  async findByIds<T extends ObjectLiteral>(target: EntityTarget<T>, ids: readonly unknown[]): Promise<T[]> {
    const metadata = this.#dataSource.getMetadata(target);
    const plan = this.#plan(metadata);
    const dialect = this.#dialect();
    const execute = this.#executor();
    const where = ` WHERE ${dialect.quoteIdentifier(plan.idColumn.databaseName)} IN (`;
    const found: T[] = [];
    let sql = "";
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500).map(plan.writeKey);
      if (i === 0 || chunk.length < 500)
        sql = `${plan.selectAll}${where}${chunk.map((_, j) => dialect.placeholder(j)).join(", ")})`;
      for (const row of await execute(sql, chunk)) found.push(entityFrom<T>(metadata, plan.hydrateObject, row)!);
    }
    return found;
  }

  /**
   * Finds one row by its primary key, hiding soft-deleted rows unless asked: at once (not a promise) where the
   * driver answers statements synchronously, so the caller's one `await` is the only promise turn.
   */
  findById<T extends ObjectLiteral>(
    target: EntityTarget<T>,
    id: unknown,
    options: FindByIdOptions,
  ): T | null | Promise<T | null> {
    const metadata = this.#dataSource.getMetadata(target);
    const plan = this.#plan(metadata);
    const key = plan.writeKey(id);
    const sql = options.withDeleted ? plan.selectByIdWithDeleted : plan.selectById;
    const replica = this.#replicated && options.from !== "primary" && this.#session() === undefined;
    const sync = replica ? undefined : this.#syncDialect();
    if (sync) return entityFrom<T>(metadata, plan.hydrateArray, this.#readFirstSync(sync, sql, [key]));
    return (replica ? this.#replicaRead : this.#executor())(sql, [key]).then((rows) =>
      entityFrom<T>(metadata, plan.hydrateObject, rows[0]),
    );
  }
}

/** The entity of the row a by-id SELECT answered, hydrated as TypeORM would; null without a row. */
function entityFrom<T extends ObjectLiteral>(metadata: EntityMetadata, hydrate: Hydrator, row: unknown): T | null {
  if (row === undefined) return null;
  const entity = metadata.create() as T;
  // stored text that is not JSON: reported with the table, column and row
  if (hydrate(row, entity)) assertLoaded(entity, metadata);
  return entity;
}

/** One multi-row INSERT: its SQL, its parameters and how many rows it holds. */
interface InsertStatement {
  readonly sql: string;
  readonly params: unknown[];
  readonly rows: number;
}

/**
 * The SQL of a multi-row INSERT of `rows` rows that all have a value for every column, where placeholders carry no
 * position (`?`): the same text for every full chunk, built once per plan and row count.
 */
const plainInsertSql = new WeakMap<StatementPlan, Map<number, string>>();

function plainInsert(plan: StatementPlan, tuple: string, rows: number): string {
  let byRows = plainInsertSql.get(plan);
  if (!byRows) plainInsertSql.set(plan, (byRows = new Map()));
  let sql = byRows.get(rows);
  if (sql === undefined) {
    sql = plan.insertPrefix + `${tuple}, `.repeat(rows - 1) + tuple;
    if (byRows.size >= 8) byRows.clear();
    byRows.set(rows, sql);
  }
  return sql;
}

/** Builds multi-row INSERTs row by row, cut to the dialect's bind-parameter limit and statement size. */
class InsertBuilder {
  readonly #plan: StatementPlan;
  readonly #dialect: Dialect;
  readonly #limit: number;
  readonly #defaults: readonly (string | undefined)[];
  /** A row's `(?, ?, ...)` where placeholders carry no position, so rows without a default share it. */
  readonly #plainTuple: string | undefined;
  readonly #statements: InsertStatement[] = [];
  /** The current statement's parameters, allocated for the rows it will hold; `#used` of them written. */
  #params: unknown[] = [];
  #used = 0;
  /** Rows still to come, as the caller announced them (to size each statement's parameters once). */
  #remaining: number;
  /** Each row's tuple, or undefined for {@link #plainTuple}; kept only once a row needs its own. */
  #tuples: (string | undefined)[] | undefined;
  #rows = 0;
  #bytes = 0;

  constructor(
    plan: StatementPlan,
    dialect: Dialect,
    driver: DataSource["driver"],
    options: InsertManyOptions,
    rows: number,
  ) {
    this.#plan = plan;
    this.#remaining = rows;
    this.#dialect = dialect;
    const perRow = plan.insertColumns.length;
    this.#limit = Math.max(
      1,
      Math.min(options.chunkSize ?? Number.POSITIVE_INFINITY, Math.floor(dialect.maxBindParameters / perRow)),
    );
    this.#defaults = plan.insertColumns.map((column) =>
      column.default === undefined
        ? undefined
        : dialect.defaultInValues
          ? "DEFAULT"
          : String(driver.normalizeDefault(column)),
    );
    this.#plainTuple =
      dialect.placeholder(0) === dialect.placeholder(1)
        ? `(${plan.insertColumns.map(() => dialect.placeholder(0)).join(", ")})`
        : undefined;
    this.#params = this.#nextParams();
  }

  /** The INSERTs for rows already prepared. */
  static all(
    plan: StatementPlan,
    dialect: Dialect,
    driver: DataSource["driver"],
    options: InsertManyOptions,
    rows: readonly (readonly unknown[])[],
  ): InsertStatement[] {
    const builder = new InsertBuilder(plan, dialect, driver, options, rows.length);
    for (const row of rows) builder.add(row);
    return builder.finish();
  }

  /** Adds one row of prepared values ({@link DEFAULT} where the column takes its default). */
  add(values: readonly unknown[]): void {
    const perRow = values.length;
    let rowBytes = 0;
    let plain = this.#plainTuple !== undefined;
    for (let c = 0; c < perRow; c++) {
      const value = values[c];
      if (typeof value === "string") rowBytes += value.length * 4 + 8;
      else {
        rowBytes += 16;
        if (value === DEFAULT) plain = false;
      }
    }
    if (this.#rows >= this.#limit || (this.#rows > 0 && this.#bytes + rowBytes > this.#dialect.maxStatementBytes))
      this.#cut();
    const params = this.#params;
    let used = this.#used;
    if (plain) {
      for (let c = 0; c < perRow; c++) params[used++] = values[c];
      this.#tuples?.push(undefined);
    } else {
      let tuple = "(";
      for (let c = 0; c < perRow; c++) {
        if (c > 0) tuple += ", ";
        const value = values[c];
        if (value === DEFAULT) tuple += this.#defaults[c]!;
        else {
          tuple += this.#dialect.placeholder(used);
          params[used++] = value;
        }
      }
      (this.#tuples ??= new Array<string | undefined>(this.#rows).fill(undefined)).push(`${tuple})`);
    }
    this.#used = used;
    this.#rows += 1;
    this.#remaining -= 1;
    this.#bytes += rowBytes;
  }

  /** The statements, the last one included. */
  finish(): InsertStatement[] {
    if (this.#rows > 0) this.#cut();
    return this.#statements;
  }

  /** Parameters for the next statement: as many as its rows can bind (written by index, not grown push by push). */
  #nextParams(): unknown[] {
    const rows = Math.max(1, Math.min(this.#limit, this.#remaining));
    return new Array<unknown>(rows * this.#plan.insertColumns.length);
  }

  #cut(): void {
    const tuples = this.#tuples;
    // a statement cut short (its size in bytes, defaults) binds fewer
    this.#params.length = this.#used;
    const plainTuple = this.#plainTuple;
    this.#statements.push({
      sql: tuples
        ? this.#plan.insertPrefix + tuples.map((tuple) => tuple ?? plainTuple).join(", ")
        : plainInsert(this.#plan, plainTuple!, this.#rows),
      params: this.#params,
      rows: this.#rows,
    });
    this.#params = this.#nextParams();
    this.#used = 0;
    this.#tuples = undefined;
    this.#rows = 0;
    this.#bytes = 0;
  }
}
