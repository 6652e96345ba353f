import { isDeepStrictEqual } from "node:util";
import {
  Column,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  type DataSource,
  type EntityManager,
  type ObjectLiteral,
} from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import { BulkLoadFailure, type Dialect } from "../dialects/dialect";
import { AuditContext } from "../audit/audit-context";
import { SmartJsonColumn, type JsonValue } from "../columns/smart-json";
import { ConfigurationError } from "../errors";
import { ModelSerializer } from "../serialization/model-serializer";
import { registeredDialect } from "../typeorm/registry";
import { dataSourceOf } from "../typeorm/typeorm-line";

/**
 * What a history entry records. `baseline`: the row's state where {@link DatabaseManager.pruneHistory} cut its older
 * entries (every property, `before` null), so that `asOf` still rebuilds the row from then on.
 */
export type HistoryOperation = "insert" | "update" | "soft_delete" | "restore" | "delete" | "baseline";

/** One change of a row, as {@link DatabaseManager.history} answers it. */
export interface HistoryRecord {
  /** What happened to the row. */
  readonly op: HistoryOperation;
  /** The acting user of `AuditContext` when it happened, or null outside one. */
  readonly actor: string | null;
  /** When it happened (the change's own update instant where the entity has one). */
  readonly at: Date;
  /**
   * Per property path (`amountCents`, `metadata.json`): `[before, after]`, values as `toDict` writes them. An insert
   * holds every property (before `null`), a delete every property (after `null`), an update only those that changed,
   * a baseline every property (before `null`).
   */
  readonly changes: Readonly<Record<string, readonly [JsonValue, JsonValue]>>;
}

const tracked = new WeakSet<object>();
/** {@link hasHistory}'s answers per class (it runs on every write); emptied whenever a class is marked. */
let answers = new WeakMap<object, boolean>();

/**
 * Records the history of an entity's rows: every insert, update, soft delete, restore and delete, with the acting
 * user, the instant and the values before and after, written in the same transaction as the change. Read it with
 * `db.history(Entity, id)`, rebuild a row as it was with `db.asOf(Entity, id, instant)`, trim it with
 * `db.pruneHistory(Entity, { before })`. Every write path of TypeORM and the library records: `save`, `insert`,
 * `update`/`delete`/`softDelete`/`restore` by criteria and their QueryBuilders, `upsert`, `softRemove`/`recover`/
 * `remove`, cascading soft deletes, `db.insertOne`/`insertMany`/`updateById`. Raw SQL (`query()`) and other
 * programs' writes are not recorded.
 *
 * @example
 * @Entity("invoices")
 * @History()
 * class Invoice extends FullAuditModel {}
 */
export function History(): ClassDecorator {
  return (target) => {
    tracked.add(target);
    answers = new WeakMap();
  };
}

/** Whether the class (or a class it extends) has `@History()`. @internal */
export function hasHistory(target: unknown): boolean {
  if (typeof target !== "function") return false;
  let answer = answers.get(target);
  if (answer === undefined) {
    answer = false;
    for (let t: unknown = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t))
      if (tracked.has(t)) {
        answer = true;
        break;
      }
    answers.set(target, answer);
  }
  return answer;
}

/**
 * The rows of an upsert (or an insert that ignores conflicts) of a `@History()` entity: the statement records them
 * itself, as inserts or updates, and the subscriber's after-insert leaves them alone.
 *
 * @internal
 */
export const recordedByStatement = new WeakSet<object>();

/** The table the history of every `@History()` entity is kept in. @internal */
@Entity("inference_history")
@Index("ix_inference_history_row", ["entity", "entityId", "seq"])
export class HistoryEntry {
  /** Order of the entries (a row's changes are serialized by its lock, so its entries are in order). */
  @PrimaryGeneratedColumn("increment", { name: "seq" })
  seq!: number;

  /** The entity's table. */
  @Column({ name: "entity", type: "varchar", length: 128 })
  entity!: string;

  /** The row's key, as text. */
  @Column({ name: "entity_id", type: "varchar", length: 255 })
  entityId!: string;

  /** What happened. */
  @Column({ name: "op", type: "varchar", length: 16 })
  op!: HistoryOperation;

  /** The acting user, or null. */
  @Column({ name: "actor", type: "varchar", length: 255, nullable: true })
  actor!: string | null;

  /** When. */
  @Column({ name: "at" })
  at!: Date;

  /** `{ [propertyPath]: [before, after] }`. */
  @SmartJsonColumn({ name: "changes" })
  changes!: JsonValue | null;
}

/** The key of a row as the history stores it. */
export function historyKey(metadata: EntityMetadata, source: ObjectLiteral): string | undefined {
  const values = metadata.primaryColumns.map((column) => column.getEntityValue(source) as unknown);
  if (values.some((v) => v === undefined || v === null)) return undefined;
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}

/**
 * An entity's properties as `toDict` writes them, flattened one level for embedded objects (`metadata.json`),
 * without relations.
 */
function flatProperties(metadata: EntityMetadata, entity: ObjectLiteral): Record<string, JsonValue> {
  const dict = ModelSerializer.toDict(entity) as Record<string, JsonValue>;
  const embedded = new Set(metadata.embeddeds.map((e) => e.propertyName));
  const relations = new Set(metadata.relations.map((r) => r.propertyName));
  const flat: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(dict)) {
    if (relations.has(key)) continue;
    if (embedded.has(key) && value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, innerValue] of Object.entries(value as Record<string, JsonValue>))
        flat[`${key}.${inner}`] = innerValue ?? null;
    } else flat[key] = value ?? null;
  }
  return flat;
}

/** The changes between two states of a row (either may be absent: an insert, a delete). */
function changesBetween(
  metadata: EntityMetadata,
  before: ObjectLiteral | undefined,
  after: ObjectLiteral | undefined,
): Record<string, [JsonValue, JsonValue]> {
  const a = before ? flatProperties(metadata, before) : {};
  const b = after ? flatProperties(metadata, after) : {};
  const changes: Record<string, [JsonValue, JsonValue]> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const was = key in a ? a[key]! : null;
    const now = key in b ? b[key]! : null;
    if (!before || !after || !isDeepStrictEqual(was, now)) changes[key] = [was, now];
  }
  return changes;
}

/** One change of a row: its state before (absent for an insert) and after (absent for a delete). */
export type RowChange = readonly [before: ObjectLiteral | undefined, after: ObjectLiteral | undefined];

/** Entries per INSERT: six bound values each, well under every dialect's limit (SQLite's 32,766). */
const ENTRIES_PER_STATEMENT = 500;

/** The history table's INSERT for a number of entries, and the columns it binds, per DataSource. */
interface EntryWriter {
  readonly columns: readonly ColumnMetadata[];
  readonly statements: Map<number, string>;
  readonly driver: DataSource["driver"];
  readonly dialect: Dialect;
  readonly prefix: string;
  readonly table: string;
  readonly quotedColumns: readonly string[];
}

const writers = new WeakMap<DataSource, EntryWriter>();

/** The dialect history's own statements are written in: a DataSource a DatabaseManager built or adopted has one. */
function historyDialect(dataSource: DataSource): Dialect {
  const dialect = registeredDialect(dataSource);
  if (!dialect) throw new ConfigurationError("history is recorded on DataSources a DatabaseManager built or adopted");
  return dialect;
}

function writerOf(manager: EntityManager): EntryWriter {
  const dataSource = dataSourceOf(manager);
  let writer = writers.get(dataSource);
  if (writer) return writer;
  const dialect = historyDialect(dataSource);
  const metadata = dataSource.getMetadata(HistoryEntry);
  const columns = ENTRY_PROPERTIES.map((property) => metadata.findColumnWithPropertyName(property)!);
  const q = (name: string) => dialect.quoteIdentifier(name);
  writer = {
    columns,
    statements: new Map(),
    driver: dataSource.driver,
    dialect,
    table: dialect.quoteTable(metadata.tablePath),
    quotedColumns: columns.map((c) => q(c.databaseName)),
    prefix: `INSERT INTO ${dialect.quoteTable(metadata.tablePath)} (${columns.map((c) => q(c.databaseName)).join(", ")}) VALUES `,
  };
  writers.set(dataSource, writer);
  return writer;
}

const ENTRY_PROPERTIES = ["entity", "entityId", "op", "actor", "at", "changes"] as const;

/** Writes entries with one compiled multi-row INSERT each {@link ENTRIES_PER_STATEMENT}, every value bound. */
async function writeEntries(manager: EntityManager, entries: readonly unknown[][]): Promise<void> {
  const writer = writerOf(manager);
  const width = writer.columns.length;
  // many entries (a bulk insert's, a criteria write's): through the database's loader (COPY, LOAD DATA) where it
  // has one, on the change's own connection
  const runner = manager.queryRunner;
  if (runner && entries.length >= writer.dialect.bulkLoadThreshold) {
    const rows = entries.map((values) =>
      values.map((value, c) => writer.driver.preparePersistentValue(value, writer.columns[c]!) as unknown),
    );
    try {
      if (await writer.dialect.bulkLoad(runner, writer.table, writer.quotedColumns, rows, () => undefined)) return;
    } catch (failure) {
      throw failure instanceof BulkLoadFailure ? failure.error : failure;
    }
  }
  for (let start = 0; start < entries.length; start += ENTRIES_PER_STATEMENT) {
    const count = Math.min(ENTRIES_PER_STATEMENT, entries.length - start);
    let sql = writer.statements.get(count);
    if (sql === undefined) {
      const tuples: string[] = [];
      for (let r = 0; r < count; r++)
        tuples.push(`(${writer.columns.map((_, c) => writer.dialect.placeholder(r * width + c)).join(", ")})`);
      sql = writer.prefix + tuples.join(", ");
      if (writer.statements.size < 16) writer.statements.set(count, sql);
    }
    const params = new Array<unknown>(count * width);
    for (let r = 0; r < count; r++) {
      const values = entries[start + r]!;
      for (let c = 0; c < width; c++)
        params[r * width + c] = writer.driver.preparePersistentValue(values[c], writer.columns[c]!);
    }
    await manager.query(sql, params);
  }
}

/**
 * Writes the history entries of changes of one kind, on the change's own connection (its transaction), in as few
 * statements as the dialect allows. An update that changed nothing writes none.
 *
 * @internal
 */
export async function recordChanges(
  manager: EntityManager,
  metadata: EntityMetadata,
  op: HistoryOperation,
  rows: readonly RowChange[],
): Promise<void> {
  const actor = AuditContext.currentActor() ?? null;
  const entries: unknown[][] = [];
  const now = new Date();
  for (const [before, after] of rows) {
    const key = historyKey(metadata, (after ?? before)!);
    if (key === undefined) throw new ConfigurationError(`${metadata.name}: a history entry needs the row's key`);
    const changes = changesBetween(metadata, before, after);
    if (op === "update" && Object.keys(changes).length === 0) continue;
    const stamp = metadata.updateDateColumn?.getEntityValue(after ?? before ?? {}) as unknown;
    const at = op !== "delete" && stamp instanceof Date ? stamp : now;
    entries.push([metadata.tablePath, key, op, actor, at, changes]);
  }
  if (entries.length > 0) await inTurn(manager, () => writeEntries(manager, entries));
}

/** The last history write started on each connection (query runner), which the next one waits for. */
const turns = new WeakMap<object, Promise<unknown>>();

/**
 * Runs `write` after the history writes started before it on the same connection: TypeORM calls the subscribers of
 * a save of several entities at once (its after-insert and after-update events in a `Promise.all`), and their
 * entries would go to one connection as overlapping queries, which pg queues with a deprecation warning (pg 9 will
 * refuse them).
 */
function inTurn<T>(manager: EntityManager, write: () => Promise<T>): Promise<T> {
  // without a query runner each statement takes a pool connection of its own: nothing to wait for
  const connection = manager.queryRunner;
  if (connection === undefined) return write();
  const before = turns.get(connection);
  const mine = before ? before.then(write, write) : write();
  turns.set(
    connection,
    mine.catch(() => undefined),
  );
  return mine;
}

/**
 * Writes the history entry of one change (see {@link recordChanges}).
 *
 * @internal
 */
export function recordChange(
  manager: EntityManager,
  metadata: EntityMetadata,
  op: HistoryOperation,
  before: ObjectLiteral | undefined,
  after: ObjectLiteral | undefined,
): Promise<void> {
  return recordChanges(manager, metadata, op, [[before, after]]);
}

/** Keys per SELECT when rows are loaded by key. */
const KEYS_PER_STATEMENT = 500;

/**
 * Loads rows by key, soft-deleted ones included, as entities: locked for the rest of the transaction where the
 * database has row locks (PostgreSQL, MySQL, MariaDB; SQLite's transaction holds the whole database).
 *
 * @internal
 */
export async function loadRows(
  manager: EntityManager,
  metadata: EntityMetadata,
  keys: readonly unknown[],
  lock: boolean,
): Promise<ObjectLiteral[]> {
  const rows: ObjectLiteral[] = [];
  // SQLite has no row locks: its write transaction holds the whole database
  const locks = lock && registeredDialect(dataSourceOf(manager))?.singleConnection !== true;
  for (let i = 0; i < keys.length; i += KEYS_PER_STATEMENT) {
    const select = manager
      .createQueryBuilder(metadata.target, "row")
      .withDeleted()
      .whereInIds(keys.slice(i, i + KEYS_PER_STATEMENT));
    if (locks) select.setLock("pessimistic_write");
    rows.push(...(await select.getMany()));
  }
  return rows;
}

/** Rows paired by key: before and after a change of many rows. */
export function pairByKey(
  metadata: EntityMetadata,
  before: readonly ObjectLiteral[],
  after: readonly ObjectLiteral[],
): RowChange[] {
  const found = new Map(after.map((row) => [historyKey(metadata, row), row]));
  return before.map((row) => [row, found.get(historyKey(metadata, row))]);
}

/** A row's state at an instant, folded from its history entries (oldest first); null when it did not exist. */
export function stateAt(entries: readonly HistoryEntry[], instant: Date): Record<string, JsonValue> | null {
  let state: Record<string, JsonValue> | null = null;
  for (const entry of entries) {
    if (entry.at.getTime() > instant.getTime()) break;
    if (entry.op === "delete") {
      state = null;
      continue;
    }
    const changes = (entry.changes ?? {}) as Record<string, [JsonValue, JsonValue]>;
    state = entry.op === "insert" || entry.op === "baseline" ? {} : { ...(state ?? {}) };
    for (const [key, [, after]] of Object.entries(changes)) state[key] = after;
  }
  return state;
}

/** Later than every instant: folds all of a row's entries. */
const END_OF_TIME = new Date(8.64e15);

/** Rows whose old entries one step of {@link pruneEntries} folds. */
const ROWS_PER_PRUNE = 500;

/**
 * One step of `pruneHistory`: the entries older than `before` of up to {@link ROWS_PER_PRUNE} rows whose key sorts
 * after `after`, read and locked, folded per row into its last one (rewritten as a `baseline` holding the row's state
 * then, in its place in the row's order), the others deleted; a row deleted by then keeps none. Answers how many
 * entries went and the last key seen (undefined when no row was left).
 *
 * @internal
 */
export async function pruneEntries(
  manager: EntityManager,
  metadata: EntityMetadata,
  before: Date,
  after: string | undefined,
): Promise<{ removed: number; last: string | undefined }> {
  // the instant as the driver writes the column (TypeORM leaves a QueryBuilder's parameters as given)
  const dataSource = dataSourceOf(manager);
  const atColumn = dataSource.getMetadata(HistoryEntry).findColumnWithPropertyName("at")!;
  before = dataSource.driver.preparePersistentValue(before, atColumn) as Date;
  const keys = manager
    .createQueryBuilder(HistoryEntry, "h")
    .select("h.entityId", "k")
    .where("h.entity = :entity AND h.at < :before", { entity: metadata.tablePath, before })
    .groupBy("h.entityId")
    .orderBy("h.entityId", "ASC")
    .limit(ROWS_PER_PRUNE);
  if (after !== undefined) keys.andWhere("h.entityId > :after", { after });
  const page = ((await keys.getRawMany()) as { k: string }[]).map((row) => row.k);
  if (page.length === 0) return { removed: 0, last: undefined };
  const select = manager
    .createQueryBuilder(HistoryEntry, "h")
    .where("h.entity = :entity AND h.at < :before AND h.entityId IN (:...page)", {
      entity: metadata.tablePath,
      before,
      page,
    })
    .orderBy("h.entityId", "ASC")
    .addOrderBy("h.seq", "ASC");
  if (registeredDialect(dataSource)?.singleConnection !== true) select.setLock("pessimistic_write");
  const entries = await select.getMany();
  const byRow = new Map<string, HistoryEntry[]>();
  for (const entry of entries) {
    const list = byRow.get(entry.entityId);
    if (list) list.push(entry);
    else byRow.set(entry.entityId, [entry]);
  }
  const gone: number[] = [];
  const baselines: { seq: number; changes: Record<string, [JsonValue, JsonValue]> }[] = [];
  for (const list of byRow.values()) {
    const last = list[list.length - 1]!;
    // a row's lone baseline is what this step would write again: a later prune leaves it as it is
    if (list.length === 1 && last.op === "baseline") continue;
    const state = stateAt(list, END_OF_TIME);
    const folded = state === null ? list : list.slice(0, -1);
    for (const entry of folded) gone.push(entry.seq);
    if (state === null) continue;
    const changes: Record<string, [JsonValue, JsonValue]> = {};
    for (const [key, value] of Object.entries(state)) changes[key] = [null, value];
    baselines.push({ seq: last.seq, changes });
  }
  await writeBaselines(manager, baselines);
  const repository = manager.getRepository(HistoryEntry);
  for (let i = 0; i < gone.length; i += KEYS_PER_STATEMENT)
    await repository.delete(gone.slice(i, i + KEYS_PER_STATEMENT));
  return { removed: gone.length, last: page[page.length - 1] };
}

/**
 * Rewrites the given entries as baselines holding `changes`: one UPDATE for a whole step's rows, the entries' keys
 * and contents bound as parameters (`changes` = CASE on the key), each content as the driver writes the column.
 */
async function writeBaselines(
  manager: EntityManager,
  baselines: readonly { readonly seq: number; readonly changes: Record<string, [JsonValue, JsonValue]> }[],
): Promise<void> {
  if (baselines.length === 0) return;
  const dataSource = dataSourceOf(manager);
  const dialect = historyDialect(dataSource);
  const metadata = dataSource.getMetadata(HistoryEntry);
  const column = (property: keyof HistoryEntry) =>
    dialect.quoteIdentifier(metadata.findColumnWithPropertyName(property)!.databaseName);
  const changesColumn = metadata.findColumnWithPropertyName("changes")!;
  const [seq, op, changes] = [column("seq"), column("op"), column("changes")];
  // three parameters a row (the key twice, the content), within every dialect's limit, and the statement's text
  // within MySQL's packet (mysql2 writes the values into it): a content's characters counted as four bytes each
  const perStatement = Math.min(ROWS_PER_PRUNE, Math.floor((dialect.maxBindParameters - 1) / 3));
  let chunk: { seq: number; content: unknown }[] = [];
  let bytes = 0;
  const flush = async () => {
    const params: unknown[] = ["baseline"];
    let cases = "";
    for (const entry of chunk) {
      cases += ` WHEN ${dialect.placeholder(params.length)}`;
      params.push(entry.seq);
      cases += ` THEN ${dialect.jsonParameter(dialect.placeholder(params.length))}`;
      params.push(entry.content);
    }
    const keys = chunk.map((entry) => {
      params.push(entry.seq);
      return dialect.placeholder(params.length - 1);
    });
    await manager.query(
      `UPDATE ${dialect.quoteTable(metadata.tablePath)} SET ${op} = ${dialect.placeholder(0)}, ` +
        `${changes} = CASE ${seq}${cases} END WHERE ${seq} IN (${keys.join(", ")})`,
      params,
    );
    chunk = [];
    bytes = 0;
  };
  for (const entry of baselines) {
    const content = dataSource.driver.preparePersistentValue(entry.changes, changesColumn);
    const size = (typeof content === "string" ? content.length * 4 : 0) + 64;
    if (chunk.length >= perStatement || (chunk.length > 0 && bytes + size > dialect.maxStatementBytes)) await flush();
    chunk.push({ seq: entry.seq, content });
    bytes += size;
  }
  await flush();
}

/** A flat state (`metadata.json` keys) as the nested object `fromDict` reads. */
export function nestState(state: Record<string, JsonValue>): Record<string, unknown> {
  const nested: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state)) {
    const dot = key.indexOf(".");
    if (dot === -1) nested[key] = value;
    else {
      const outer = key.slice(0, dot);
      const inner = (nested[outer] ??= {}) as Record<string, unknown>;
      inner[key.slice(dot + 1)] = value;
    }
  }
  return nested;
}
