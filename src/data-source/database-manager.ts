import {
  DataSource,
  type DataSourceOptions,
  type EntityManager,
  type EntityTarget,
  type ObjectLiteral,
  type ReplicationMode,
  type Repository,
  TypeORMError,
} from "typeorm";
import type { EntityMetadata } from "typeorm/metadata/EntityMetadata";
import {
  hasHistory,
  HistoryEntry,
  loadRows,
  nestState,
  pruneEntries,
  recordChange,
  recordChanges,
  stateAt,
  type HistoryRecord,
} from "../history/history";
import { ModelSerializer } from "../serialization/model-serializer";
import { isUuid } from "../util/uuid";
import { setAppEntityRules, setSessionSettings } from "../typeorm/registry";
import type { Dialect, DialectName, SessionSettings } from "../dialects/dialect";
import { probeServerVersion } from "../dialects/mysql";
import { dialectForType, explainDriverError, isMariaDbVersion } from "../dialects/resolve-dialect";
import {
  ConfigurationError,
  DatabaseError,
  DatabaseOperationError,
  DatabaseUnavailableError,
  errorMessage,
  InvalidValueError,
  NotInitializedError,
  UnsafeResetError,
} from "../errors";
import { synchronizeAdding } from "../typeorm/additive-schema";
import { attachDialect, buildMetadataAhead } from "../typeorm/apply-dialect";
import { ReadYourWrites } from "./consistency";
import { DirectStatements, type FindByIdOptions, type InsertManyOptions, type UpdateByIdOptions } from "./direct";
import { HealthMonitor, type HealthCheckOptions, type HealthReport } from "./health";
import { ReplicaSet, replicationNodes, type ReplicaOptions } from "./replicas";
import { routeReplicaReads } from "../typeorm/replication";
import { installSessionReach } from "../typeorm/session-scope";
import { SessionRunner, type SessionOptions, type SessionWork } from "./sessions";
import { parseDatabaseUrl, replicationFromUrls } from "./url";

/** What {@link DatabaseManager.initialize} does when the database does not answer at start. */
export interface LazyStartOptions {
  /** Milliseconds between attempts. Default: 3000. */
  readonly retryDelayMs?: number;
  /** Runs once connected (creating tables, say). */
  readonly onConnected?: () => unknown;
  /** Told of a failure of `onConnected`, or of an attempt that failed for another reason than the connection. */
  readonly onError?: (error: unknown) => void;
}

/** Options of {@link DatabaseManager.initialize}. */
export interface InitializeOptions {
  /** Start even when the database does not answer, and keep connecting in the background. */
  readonly lazy?: LazyStartOptions;
}

/** Entity classes (or TypeORM entity schemas, or glob paths) the DataSource manages. */
export type EntityList = NonNullable<DataSourceOptions["entities"]>;

/** Settings for servers beyond one: replicas and Galera (every way of building the manager takes them). */
export interface ClusterConfig extends ReplicaOptions {
  /**
   * MariaDB Galera: every connection waits, before each read, until its node has applied what the cluster
   * committed (`wsrep_sync_wait = 1`), so a read right after a write through another node sees it. Costs a round
   * of the cluster per read. Default: false (Galera's own default: reads may be stale for a moment).
   */
  readonly causalReads?: boolean;
}

/**
 * Which rules the application's own entities (those that neither extend a library model nor use its column
 * decorators) follow: `"typeorm"` leaves them exactly as TypeORM makes them (column types and lengths, no checks
 * before writing); `"library"` gives them the library's (instant storage for `Date` columns, `varchar(255)` for a
 * string without a length, lengths, NUL and UUIDs checked before any SQL). The library's own models always follow
 * the library's rules.
 */
export type AppEntityRules = "typeorm" | "library";

/** What every way of building the manager takes. */
export interface ManagerConfigBase extends ClusterConfig {
  /**
   * The rules the application's own entities follow (see {@link AppEntityRules}). Default: `"typeorm"` for an
   * adopted DataSource (adoption changes nothing the app did not ask for), `"library"` for one the manager builds.
   */
  readonly appEntities?: AppEntityRules;
  /**
   * Whose session settings MySQL/MariaDB connections run with. `"library"` (the default): mysql2 `timezone: "Z"`,
   * `time_zone = '+00:00'`, a strict `sql_mode`, utf8mb4 on every session, so instants are stored in UTC and too-long
   * values refused on every path. `"app"`: the DataSource's own `timezone`, `charset` and the server's `sql_mode`
   * stay as they are (an adopted app's `DATETIME` values read back as they were written); the library's own instant
   * columns are then written and read in the connection's zone, as TypeORM writes the app's. mysql2's `jsonStrings`
   * is set under `"library"` and left as the app has it under `"app"`: the library then asks once, on connecting,
   * how JSON values arrive, and reads its own JSON columns either way (a document that is the string `"123"` stays
   * a string). PostgreSQL and SQLite connections are the same either way.
   */
  readonly sessionSettings?: SessionSettings;
}

/** The `code` of the process warning an adoption that changes connection settings emits. */
export const ADOPTION_WARNING = "INFERENCE_DB_ADOPTION";

/** Build the manager from a database URL. */
export interface DatabaseManagerUrlConfig extends ManagerConfigBase {
  /**
   * Read replicas of the primary `url` (same dialect): reads outside sessions go to them, writes and sessions to
   * the primary. TypeORM's `replication` option, built for you.
   */
  readonly replicas?: readonly string[];
  /** `postgres://`, `postgresql://`, `mysql://`, `mariadb://`, `sqlite:<path>` or `sqlite::memory:`. */
  readonly url: string;
  /** The application's entities. */
  readonly entities: EntityList;
  /** Pool size for PostgreSQL and MySQL/MariaDB. Default: the driver's (10). */
  readonly poolSize?: number;
  /** TypeORM logging. Default: off. */
  readonly logging?: DataSourceOptions["logging"];
  /** Migration classes or glob paths, for `migration:run` / `migration:revert` and `dataSource.runMigrations()`. */
  readonly migrations?: DataSourceOptions["migrations"];
  /** Name of the migrations table. Default: TypeORM's (`migrations`). */
  readonly migrationsTableName?: string;
  /**
   * TypeORM's naming strategy for the application's own columns and tables; `SnakeNamingStrategy` gives
   * snake_case throughout. The base models' columns keep their names. Default: TypeORM's (the property name).
   */
  readonly namingStrategy?: DataSourceOptions["namingStrategy"];
}

/** Build the manager from TypeORM options; the library adds its per-dialect connection settings. */
export interface DatabaseManagerOptionsConfig extends ManagerConfigBase {
  /** TypeORM options (better-sqlite3, postgres, mysql or mariadb). */
  readonly options: DataSourceOptions;
}

/** Adopt a DataSource the application built (NestJS and other DI containers). */
export interface DatabaseManagerDataSourceConfig extends ManagerConfigBase {
  /** The application's DataSource; best handed over before `initialize()`, so every connection gets the settings. */
  readonly dataSource: DataSource;
}

/** One of the three ways to build a {@link DatabaseManager}. */
export type DatabaseManagerConfig =
  DatabaseManagerUrlConfig | DatabaseManagerOptionsConfig | DatabaseManagerDataSourceConfig;

/** Options of {@link DatabaseManager.reset}. */
export interface ResetOptions {
  /** Must be `true`: reset drops every table the application's entities own. */
  readonly confirm: boolean;
  /** Needed as well when `NODE_ENV` is `production`. Default: false. */
  readonly allowProduction?: boolean;
}

/**
 * One per application: owns (or adopts) the TypeORM DataSource, applies the dialect's connection settings and
 * column types, and offers table creation, health checks, reset and transactional sessions.
 *
 * @example
 * const db = new DatabaseManager({ url: "sqlite:./data/app.db", entities: [Order] });
 * await db.initialize();
 * await db.createTables();
 * const order = await db.withSession((manager) => manager.save(Order, { reference: "A-1" }));
 * await db.close();
 */
export class DatabaseManager {
  readonly #config: Readonly<DatabaseManagerConfig>;
  readonly #owned: boolean;
  #dataSource: DataSource;
  #dialect: Dialect;
  #sessions!: SessionRunner;
  #health!: HealthMonitor;
  #direct!: DirectStatements;
  #replicas: ReplicaSet | undefined;
  #readYourWrites: ReadYourWrites | undefined;
  #closed = false;
  /** Started with `lazy` while the database did not answer: why, and the next attempt. */
  #offline: { error: DatabaseOperationError; timer: NodeJS.Timeout | undefined } | undefined;

  constructor(config: DatabaseManagerConfig) {
    this.#config = Object.freeze({ ...config });
    const sessionSettings = config.sessionSettings;
    if (sessionSettings !== undefined && sessionSettings !== "library" && sessionSettings !== "app")
      throw new ConfigurationError(
        `sessionSettings must be "library" or "app", got ${JSON.stringify(sessionSettings)}`,
      );
    const appEntities = config.appEntities;
    if (appEntities !== undefined && appEntities !== "typeorm" && appEntities !== "library")
      throw new ConfigurationError(`appEntities must be "typeorm" or "library", got ${JSON.stringify(appEntities)}`);
    if ("dataSource" in config) {
      this.#owned = false;
      this.#dataSource = config.dataSource;
      this.#dialect = dialectForType(config.dataSource.options.type);
      if (!config.dataSource.isInitialized) this.#prepareAdopted(config.dataSource);
      else {
        const problem = this.#dialect.adoptionProblem(config.dataSource.options, this.#sessionSettings);
        if (problem !== undefined) throw new ConfigurationError(problem);
      }
    } else {
      this.#owned = true;
      const { dialect, options } =
        "url" in config
          ? this.#fromUrl(config)
          : { dialect: dialectForType(config.options.type), options: config.options };
      this.#dialect = dialect;
      this.#dataSource = this.#build(options);
    }
    if (config.causalReads === true) {
      const name = this.#dialect.name;
      if (name !== "mysql" && name !== "mariadb")
        throw new ConfigurationError(
          `causalReads is for MariaDB Galera clusters (mariadb:// or mysql:// URLs); this manager is for ${name}`,
        );
      // read by the MySQL dialect when the DataSource connects (TypeORM ignores a key it does not know)
      Object.assign(this.#dataSource.options, { causalReads: true });
    }
    this.#wire();
  }

  /** The TypeORM DataSource. For a `mysql://` URL it is final once `initialize()` has detected the server. */
  get dataSource(): DataSource {
    return this.#dataSource;
  }

  /** The dialect: `sqlite`, `postgres`, `mysql` or `mariadb` (a MySQL URL reaching MariaDB says `mariadb` after `initialize()`). */
  get dialect(): DialectName {
    return this.#dialect.name;
  }

  /** Inside a session, the session's entity manager (its transaction); outside one, the DataSource's (the pool). */
  get manager(): EntityManager {
    return this.#sessions.current()?.manager ?? this.#dataSource.manager;
  }

  /** Whether the DataSource is connected. */
  get isInitialized(): boolean {
    return this.#dataSource.isInitialized;
  }

  /** A repository for an entity: inside a session it works in the session's transaction, outside on the pool. */
  getRepository<Entity extends ObjectLiteral>(target: EntityTarget<Entity>): Repository<Entity> {
    // TypeORM hands out a repository for any class and fails at its first query; the mistake is said here instead
    if (this.#dataSource.isInitialized && !this.#dataSource.hasMetadata(target)) throw unknownEntity(target);
    const session = this.#sessions.current();
    return session ? session.manager.getRepository(target) : this.#dataSource.getRepository(target);
  }

  /**
   * Connects. For a `mysql://` URL or `type: "mysql"` options, first asks the server whether it is MariaDB and, if
   * so, uses TypeORM's `mariadb` driver. Calling it again on a connected manager does nothing.
   *
   * With `lazy`, a database that does not answer does not stop the start: the manager resolves at once, not
   * connected; its repositories exist (TypeORM's metadata is built), every statement fails with
   * {@link DatabaseUnavailableError}, `healthCheck()` reports down, and it tries again every `retryDelayMs` until
   * it connects, then runs `onConnected`. Errors other than a failed connection (bad configuration) still throw.
   */
  async initialize(options: InitializeOptions = {}): Promise<this> {
    // a SQLite file does not come up later: its failure is the caller's at once
    if (options.lazy === undefined || this.#dataSource.isInitialized || this.#dialect.name === "sqlite")
      return this.#connect();
    try {
      return await this.#connect();
    } catch (error) {
      if (!(error instanceof DatabaseOperationError) || this.#closed) throw error;
      await this.#startOffline(error, options.lazy);
      return this;
    }
  }

  async #connect(): Promise<this> {
    if (this.#closed) throw new NotInitializedError("This DatabaseManager was closed; create a new one");
    if (this.#dataSource.isInitialized) return this;
    if (this.#owned && this.#dataSource.options.type === "mysql") {
      let version: string;
      try {
        version = await probeServerVersion(this.#dataSource.options);
      } catch (cause) {
        throw DatabaseOperationError.wrap("Connecting to the MySQL server", cause);
      }
      if (isMariaDbVersion(version)) {
        if (this.#offline)
          throw new ConfigurationError(
            "lazy start: the mysql:// URL reaches MariaDB, which needs TypeORM's mariadb driver, and the " +
              "DataSource was already handed out; use a mariadb:// URL (or type: 'mariadb')",
          );
        this.#rebuild({ ...this.#dataSource.options, type: "mariadb" } as DataSourceOptions);
      } else if (this.#config.causalReads === true)
        throw new ConfigurationError(
          `causalReads sets MariaDB Galera's wsrep_sync_wait, which MySQL ${version} does not have`,
        );
    }
    try {
      this.#dialect.beforeConnect(this.#dataSource);
      await this.#dataSource.initialize();
    } catch (cause) {
      // TypeORM's own refusals (an entity it cannot map, an isolation level the driver lacks) reach the app as
      // TypeORM throws them, as on a plain DataSource; what the connection itself answered is wrapped
      if (cause instanceof TypeORMError || cause instanceof ConfigurationError) throw cause;
      throw DatabaseOperationError.wrap(`Connecting to the ${this.#dialect.name} database`, cause);
    }
    // a replica that does not answer at start-up is out of rotation from the first read
    await this.#replicas?.checkAll();
    return this;
  }

  /**
   * The lazy start's offline state: TypeORM's metadata built (repositories can be handed out), every query runner
   * refused with {@link DatabaseUnavailableError}, and attempts every `retryDelayMs` until one connects.
   */
  async #startOffline(error: DatabaseOperationError, lazy: LazyStartOptions): Promise<void> {
    const dataSource = this.#dataSource;
    await buildMetadataAhead(dataSource);
    const offline: { error: DatabaseOperationError; timer: NodeJS.Timeout | undefined } = { error, timer: undefined };
    this.#offline = offline;
    const create = dataSource.createQueryRunner.bind(dataSource);
    dataSource.createQueryRunner = (mode?: ReplicationMode) => {
      if (this.#offline) throw this.#unavailable();
      return create(mode);
    };
    const delay = lazy.retryDelayMs ?? 3000;
    const attempt = () => {
      offline.timer = undefined;
      if (this.#closed) return;
      this.#connect().then(
        async () => {
          this.#offline = undefined;
          try {
            await lazy.onConnected?.();
          } catch (failure) {
            lazy.onError?.(failure);
          }
        },
        (failure: unknown) => {
          if (failure instanceof DatabaseOperationError) offline.error = failure;
          else lazy.onError?.(failure);
          if (!this.#closed && failure instanceof DatabaseOperationError) {
            offline.timer = setTimeout(attempt, delay);
            offline.timer.unref();
          }
        },
      );
    };
    offline.timer = setTimeout(attempt, delay);
    offline.timer.unref();
  }

  #unavailable(): DatabaseUnavailableError {
    return new DatabaseUnavailableError(
      `The ${this.#dialect.name} database is not reachable yet (${errorMessage(this.#offline?.error.cause ?? this.#offline?.error)}); ` +
        `the manager keeps trying to connect`,
    );
  }

  /**
   * Creates what the entities need and the database lacks: tables, columns, indexes, constraints, views. It only
   * adds: a difference that would drop, retype, rename or re-key something (a column removed, renamed, widened or
   * retyped in an entity, an index or constraint changed) is a {@link SchemaDriftError} listing each table and
   * column, and nothing is changed; a migration applies those. Safe at every start-up, and from any number of
   * instances at once (a schema lock serializes them).
   */
  async createTables(): Promise<void> {
    this.#requireInitialized("createTables");
    try {
      await synchronizeAdding(this.#dataSource, this.#dialect);
    } catch (cause) {
      throw driverError("Creating tables", cause);
    }
  }

  /**
   * Drops what the application's entities own (their tables with indexes and constraints, their views, and the
   * migrations table when the configuration names one or has migrations) and creates the tables again. Tables of
   * other programs in the same database are not touched; a view or foreign key of theirs that depends on these tables
   * makes reset refuse before anything is dropped.
   *
   * @throws UnsafeResetError without `confirm: true`, under `NODE_ENV=production` without `allowProduction`, or
   * when another program's object depends on the tables (it is named).
   */
  async reset(options: ResetOptions): Promise<void> {
    if (options?.confirm !== true) {
      throw new UnsafeResetError(
        "reset() drops every table of the application's entities; call reset({ confirm: true })",
      );
    }
    if (process.env["NODE_ENV"] === "production" && options.allowProduction !== true) {
      throw new UnsafeResetError(
        "reset() refused: NODE_ENV is production; pass allowProduction: true as well to reset anyway",
      );
    }
    this.#requireInitialized("reset");
    const tables = this.#ownedTables();
    const views = this.#dataSource.entityMetadatas.filter((m) => m.tableType === "view").map((m) => m.tablePath);
    const queryRunner = this.#dataSource.createQueryRunner();
    try {
      // another program's view on these tables, or its foreign key into them, would go with a DROP ... CASCADE or
      // break: refused before anything is dropped
      const ownViews = new Set(views.map((v) => `view ${v}`));
      const dependents = (await this.#dialect.dependentsOf(queryRunner, tables)).filter((d) => !ownViews.has(d));
      if (dependents.length > 0) {
        throw new UnsafeResetError(
          `reset() refused: objects outside this manager's entities depend on its tables (${dependents.join("; ")}); ` +
            `drop them first, or keep them and run migrations instead; nothing was dropped`,
        );
      }
      for (const view of views) await queryRunner.query(`DROP VIEW IF EXISTS ${this.#dialect.quoteTable(view)}`);
      await this.#dialect.dropTables(queryRunner, tables);
      if (await queryRunner.hasTable("typeorm_metadata")) {
        const q = (name: string) => this.#dialect.quoteIdentifier(name);
        await queryRunner.manager
          .createQueryBuilder()
          .delete()
          .from("typeorm_metadata")
          .where(`${q("table")} IN (:...tables)`, { tables })
          .execute();
      }
    } catch (cause) {
      throw driverError("Dropping the application's tables", cause);
    } finally {
      await queryRunner.release();
    }
    await this.createTables();
  }

  /**
   * Runs `work` in one transaction: commits when it returns, rolls back and rethrows the original error when it
   * throws, and always releases the connection. On SQLite sessions queue behind each other.
   *
   * `options.isolation` sets the isolation level; `options.retry` runs the whole work again, with jittered backoff,
   * when the transaction fails on a conflict (serialization failure, deadlock, Galera certification failure, SQLite
   * busy), and throws {@link TransactionConflictError} when the attempts run out. A session inside a session is a
   * savepoint: it never retries by itself, the outermost session does.
   *
   * @example
   * await db.withSession(async (manager) => {
   *   const order = await manager.save(Order, { reference: "A-1" });
   *   await manager.softRemove(order);
   * });
   * await db.withSession(async (manager) => increment(manager), { isolation: "SERIALIZABLE", retry: 5 });
   */
  withSession<T>(work: SessionWork<T>, options?: SessionOptions): Promise<T> {
    this.#requireInitialized("withSession");
    return this.#sessions.run(work, options);
  }

  /**
   * Inserts any number of rows fast: ids, creation and update instants are filled in the application, every row is
   * checked (lengths, ids, SmartJSON) before anything is written, rows go in multi-row INSERTs cut to the dialect's
   * bind-parameter limit (SQLite 32,766, PostgreSQL and MySQL 65,535) and MySQL's packet size, in one transaction
   * (the session's, inside one), with no reload of the rows. Answers the ids in order. Subscribers of your own do not
   * run on this path; use `save()` / `insert()` where they must.
   *
   * @example
   * const ids = await db.insertMany(Order, rows.map((r) => ({ reference: r.ref })));
   */
  async insertMany<T extends ObjectLiteral>(
    target: EntityTarget<T>,
    rows: readonly Partial<T>[],
    options: InsertManyOptions = {},
  ): Promise<string[]> {
    this.#requireInitialized("insertMany");
    this.#readYourWrites?.wrote();
    const insert = () => this.#direct.insertMany(target, rows, options, (work) => this.#sessions.run(() => work()));
    const tracked = this.#tracked(target);
    const answer = tracked
      ? this.#sessions.run(async (manager) => {
          const ids = await insert();
          const inserted = await this.#direct.findByIds(target, ids);
          await recordChanges(
            manager,
            tracked,
            "insert",
            inserted.map((row) => [undefined, row]),
          );
          return ids;
        })
      : insert();
    return answer.catch(wrapDriverError("Inserting rows"));
  }

  /**
   * Inserts one row with a single statement (no transaction, no reload) and answers it as an entity: the fastest way
   * to create a row, with the same ids, instants and checks as `save()`.
   */
  insertOne<T extends ObjectLiteral>(target: EntityTarget<T>, values: Partial<T>): Promise<T> {
    this.#readYourWrites?.wrote();
    return this.#fastPath("insertOne", "Inserting a row", () => {
      const metadata = this.#dataSource.getMetadata(target);
      if (!hasHistory(metadata.target)) return this.#direct.insertOne<T>(metadata, values, this.#inSession);
      return this.#sessions.run(async (manager) => {
        const entity = await this.#direct.insertOne<T>(metadata, values, this.#inSession);
        await recordChange(manager, metadata, "insert", undefined, entity);
        return entity;
      });
    });
  }

  /** Runs `work` in the current session, or in a session of its own (the direct statements' transactions). */
  readonly #inSession = <R>(work: () => Promise<R>): Promise<R> => this.#sessions.run(() => work());

  /**
   * Updates the given columns of one live (not soft-deleted) row by id with a single statement, no read before and
   * none after: `updatedAt` and the acting user stamped, each value checked as `save()` checks it (lengths, JSON,
   * ranges, ids), the library's own columns refused, a `@VersionColumn()` bumped, and with `expectedVersion` checked
   * in the UPDATE (`StaleEntityError` otherwise). Answers whether a live row had that id.
   */
  updateById<T extends ObjectLiteral>(
    target: EntityTarget<T>,
    id: string,
    values: Partial<T>,
    options: UpdateByIdOptions = {},
  ): Promise<boolean> {
    this.#readYourWrites?.wrote();
    const update = () => this.#direct.updateById(target, id, values, options);
    return this.#fastPath("updateById", "Updating a row", () => {
      const tracked = this.#tracked(target);
      // an id that is no UUID is refused by the update itself, before any statement
      if (!tracked || !isUuid(id)) return update();
      return this.#sessions.run(async (manager) => {
        const [before] = await loadRows(manager, tracked, [id], true);
        const done = await update();
        if (done) {
          const [after] = await loadRows(manager, tracked, [id], false);
          await recordChange(manager, tracked, "update", before, after);
        }
        return done;
      });
    });
  }

  /**
   * Finds one row by id with a single compiled SELECT; soft-deleted rows are hidden unless `withDeleted`. With
   * replicas, outside a session it reads a replica, or the primary with `{ from: "primary" }`.
   */
  findById<T extends ObjectLiteral>(
    target: EntityTarget<T>,
    id: string,
    options: FindByIdOptions = {},
  ): Promise<T | null> {
    return this.#fastPath("findById", "Finding a row by id", () => this.#direct.findById(target, id, options));
  }

  /**
   * The history of one row of a `@History()` entity, oldest first: each insert, update, soft delete, restore and
   * delete with the acting user, the instant and the changed properties' `[before, after]` values.
   *
   * @throws ConfigurationError for an entity without `@History()`.
   */
  async history<T extends ObjectLiteral>(target: EntityTarget<T>, id: unknown): Promise<HistoryRecord[]> {
    const entries = await this.#historyOf(target, id, "history");
    return entries.map((entry) => ({
      op: entry.op,
      actor: entry.actor,
      at: entry.at,
      changes: (entry.changes ?? {}) as HistoryRecord["changes"],
    }));
  }

  /**
   * A row of a `@History()` entity as it was at `instant`, rebuilt from its history alone (so also after the row was
   * deleted): an instance of the entity class, soft-deleted state included; null when the row did not exist then.
   *
   * @throws InvalidValueError when `instant` is not a valid Date.
   */
  async asOf<T extends ObjectLiteral>(target: EntityTarget<T>, id: unknown, instant: Date): Promise<T | null> {
    if (!(instant instanceof Date) || Number.isNaN(instant.getTime()))
      throw new InvalidValueError(
        `asOf() needs a valid Date for the instant, got ${String(instant)}`,
        this.#dataSource.getMetadata(target).name,
        "instant",
        instant,
      );
    const entries = await this.#historyOf(target, id, "asOf");
    const first = entries[0];
    if (first?.op === "baseline" && instant.getTime() < first.at.getTime()) {
      const name = this.#dataSource.getMetadata(target).name;
      throw new InvalidValueError(
        `asOf(): the history of ${name} ${String(id)} before ${first.at.toISOString()} was pruned; ` +
          `it rebuilds the row from then on`,
        name,
        "instant",
        instant,
      );
    }
    const state = stateAt(entries, instant);
    if (state === null) return null;
    const metadata = this.#dataSource.getMetadata(target);
    const entity = ModelSerializer.fromDict(metadata.target as new () => T, nestState(state), {
      protectedKeys: "accept",
      unknownKeys: "drop",
    });
    return entity;
  }

  /**
   * Trims the history of a `@History()` entity to what `asOf` needs from `before` on: each row's entries older than
   * `before` are folded into one `baseline` entry holding the row's state at the last of them (in that entry's place),
   * the others deleted; a row deleted before then keeps none. Answers how many entries went. `asOf` of an instant
   * before a row's baseline is refused (that part of its history is gone).
   */
  async pruneHistory<T extends ObjectLiteral>(target: EntityTarget<T>, options: { before: Date }): Promise<number> {
    const metadata = this.#historyMetadata(target, "pruneHistory");
    if (!(options?.before instanceof Date) || Number.isNaN(options.before.getTime()))
      throw new InvalidValueError(
        `pruneHistory() needs a valid Date for before, got ${String(options?.before)}`,
        metadata.name,
        "before",
        options?.before,
      );
    // a few hundred rows a transaction: each row's old entries folded into a baseline, the rest deleted
    let removed = 0;
    let after: string | undefined;
    for (;;) {
      const step = await this.withSession((manager) => pruneEntries(manager, metadata, options.before, after));
      removed += step.removed;
      if (step.last === undefined) return removed;
      after = step.last;
    }
  }

  #historyMetadata(target: EntityTarget<ObjectLiteral>, method: string): EntityMetadata {
    this.#requireInitialized(method);
    const metadata = this.#dataSource.getMetadata(target);
    if (!hasHistory(metadata.target))
      throw new ConfigurationError(
        `${metadata.name} has no history: add @History() to the entity to record its changes, then ${method}() reads them`,
      );
    if (!this.#dataSource.hasMetadata(HistoryEntry))
      throw new ConfigurationError(
        `${metadata.name} has @History(), but this DataSource has no history table: hand it to the DatabaseManager ` +
          `before initialize(), or list the entities as classes`,
      );
    return metadata;
  }

  async #historyOf(target: EntityTarget<ObjectLiteral>, id: unknown, method: string): Promise<HistoryEntry[]> {
    const metadata = this.#historyMetadata(target, method);
    return this.manager.getRepository(HistoryEntry).find({
      // keys are stored as the row holds them: UUIDs in lower case
      where: {
        entity: metadata.tablePath,
        entityId: typeof id === "string" && isUuid(id) ? id.toLowerCase() : String(id),
      },
      order: { seq: "ASC" },
    });
  }

  /**
   * Runs a direct statement's `work` (which answers at once on a synchronous driver), its errors as the library's:
   * not async, so a synchronous answer is handed over in one promise turn, not two.
   */
  /** The metadata of a `@History()` entity, whose fast-path writes record their changes in a session. */
  #tracked(target: EntityTarget<ObjectLiteral>): EntityMetadata | undefined {
    this.#requireInitialized("a write");
    const metadata = this.#dataSource.getMetadata(target);
    return hasHistory(metadata.target) ? metadata : undefined;
  }

  #fastPath<R>(method: string, operation: string, work: () => R | Promise<R>): Promise<R> {
    try {
      this.#requireInitialized(method);
      const answer = work();
      return answer instanceof Promise ? answer.catch(wrapDriverError(operation)) : Promise.resolve(answer);
    } catch (error) {
      return Promise.reject(driverError(operation, error));
    }
  }

  /**
   * Read-your-writes across requests: the current async context's last write position as an opaque token (for a
   * cookie or a header), or undefined when it wrote nothing or `readYourWrites` is off. Hand it to
   * {@link withConsistency} in the next request.
   */
  consistencyToken(): Promise<string | undefined> {
    this.#requireInitialized("consistencyToken");
    return this.#readYourWrites?.token() ?? Promise.resolve(undefined);
  }

  /**
   * Runs `work` as an async context of its own whose reads see at least what `token` (from
   * {@link consistencyToken}) had written, and its own writes after that; without a token, only its own writes.
   * With `readYourWrites` off it just runs `work`.
   *
   * @throws InvalidValueError (rejected) for a malformed token or one of another database.
   *
   * @example
   * await db.withConsistency(request.headers["x-consistency-token"], () => handle(request));
   */
  withConsistency<T>(token: string | null | undefined, work: () => Promise<T> | T): Promise<T> {
    this.#requireInitialized("withConsistency");
    const run = async () => work();
    return this.#readYourWrites ? this.#readYourWrites.withToken(token, run) : run();
  }

  /**
   * Checks that the database answers, within `timeoutMs` (default 1000) plus a small margin, over a connection of
   * its own (a pool whose connections are all busy cannot delay it). Never throws: a failure is `ok: false` with an
   * `error`.
   */
  async healthCheck(options: HealthCheckOptions = {}): Promise<HealthReport> {
    if (!this.#dataSource.isInitialized) {
      const error = this.#offline ? `connecting: ${errorMessage(this.#offline.error)}` : "not initialized";
      return { ok: false, dialect: this.#dialect.name, latencyMs: 0, error };
    }
    try {
      const timeoutMs = options.timeoutMs ?? 1000;
      if (!this.#replicas) return await this.#health.check(timeoutMs);
      const [primary, replicas] = await Promise.all([
        this.#health.check(timeoutMs),
        this.#replicas.checkAll(timeoutMs),
      ]);
      return { ...primary, nodes: [this.#health.primaryNode(primary), ...replicas] };
    } catch (error) {
      return { ok: false, dialect: this.#dialect.name, latencyMs: 0, error: errorMessage(error) };
    }
  }

  /** Closes the pool (or the SQLite file). An adopted DataSource is closed too. Calling it twice is harmless. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#offline?.timer) clearTimeout(this.#offline.timer);
    this.#health.close();
    this.#replicas?.close();
    if (this.#dataSource.isInitialized) await this.#dataSource.destroy();
  }

  /** Whoever destroys the DataSource (a DI container on shutdown, say) closes the health check's connection too. */
  #closeHealthWithDataSource(): void {
    const dataSource = this.#dataSource;
    const health = this.#health;
    const replicas = this.#replicas;
    const destroy = dataSource.destroy.bind(dataSource);
    dataSource.destroy = async () => {
      health.close();
      replicas?.close();
      return destroy();
    };
  }

  /** Sessions, health checks and direct statements over the current DataSource, and its dialect handling. */
  #wire(): void {
    const dialect = () => this.#dialect;
    const nodes = replicationNodes(this.#dataSource.options);
    this.#readYourWrites =
      nodes && this.#config.readYourWrites === true ? new ReadYourWrites(this.#dataSource, dialect) : undefined;
    const readYourWrites = this.#readYourWrites;
    this.#sessions = new SessionRunner(this.#dataSource, dialect, readYourWrites && (() => readYourWrites.wrote()));
    this.#health = new HealthMonitor(this.#dataSource, dialect, nodes?.primary);
    this.#replicas = nodes && new ReplicaSet(this.#dataSource, dialect, nodes.replicas, this.#config);
    if (this.#replicas) routeReplicaReads(this.#dataSource, dialect, this.#replicas, readYourWrites);
    // outermost: inside a session every query runner of the DataSource is the session's
    installSessionReach(this.#dataSource);
    this.#direct = new DirectStatements(
      this.#dataSource,
      dialect,
      () => this.#sessions.current(),
      this.#replicas !== undefined,
    );
    this.#closeHealthWithDataSource();
    setAppEntityRules(this.#dataSource, this.#config.appEntities ?? (this.#owned ? "library" : "typeorm"));
    setSessionSettings(this.#dataSource, this.#sessionSettings);
    attachDialect(this.#dataSource, (resolved) => (this.#dialect = resolved));
  }

  #fromUrl(config: DatabaseManagerUrlConfig): { dialect: Dialect; options: DataSourceOptions } {
    const parsed = parseDatabaseUrl(config.url);
    const options = {
      ...(config.replicas && config.replicas.length > 0
        ? replicationFromUrls(config.url, parsed, config.replicas)
        : parsed.options),
      entities: config.entities,
      logging: config.logging ?? false,
      ...(config.migrations !== undefined ? { migrations: config.migrations } : {}),
      ...(config.migrationsTableName !== undefined ? { migrationsTableName: config.migrationsTableName } : {}),
      ...(config.poolSize !== undefined ? { poolSize: config.poolSize } : {}),
      ...(config.namingStrategy !== undefined ? { namingStrategy: config.namingStrategy } : {}),
    } as DataSourceOptions;
    return { dialect: dialectForType(options.type), options };
  }

  #build(options: DataSourceOptions): DataSource {
    try {
      return new DataSource(this.#dialect.prepareOptions(options, this.#sessionSettings));
    } catch (error) {
      throw explainDriverError(options.type, error);
    }
  }

  #rebuild(options: DataSourceOptions): void {
    this.#dialect = dialectForType(options.type, "MariaDB");
    this.#dataSource = this.#build(options);
    this.#wire();
  }

  /** The MySQL/MariaDB session settings this manager's connections run with. */
  get #sessionSettings(): SessionSettings {
    return this.#config.sessionSettings ?? "library";
  }

  /** An adopted, not yet connected DataSource gets the same connection settings as one the manager builds. */
  #prepareAdopted(dataSource: DataSource): void {
    // said before anything connects: what the library changes for every connection, which it cannot do per entity
    const changes = this.#dialect.adoptionChanges(dataSource.options, this.#sessionSettings);
    if (changes.length > 0)
      process.emitWarning(
        `Adopting this ${dataSource.options.type} DataSource changes its connections: ${changes.join("; ")}. ` +
          `See docs/adoption.md of @inference-core/database.`,
        { code: ADOPTION_WARNING },
      );
    const prepared = this.#dialect.prepareOptions(dataSource.options, this.#sessionSettings);
    Object.assign(dataSource.options as object, prepared);
    const driverOptions = (dataSource.driver as unknown as { options?: object }).options;
    if (driverOptions && driverOptions !== dataSource.options) Object.assign(driverOptions, prepared);
  }

  /**
   * The entity tables, and the migrations table when this manager's configuration names one (`migrationsTableName`)
   * or has migrations: a table called `migrations` in the same database may be another program's.
   */
  #ownedTables(): string[] {
    const tables = this.#dataSource.entityMetadatas.filter((m) => m.tableType !== "view").map((m) => m.tablePath);
    const { migrationsTableName, migrations } = this.#dataSource.options;
    const hasMigrations = Array.isArray(migrations) ? migrations.length > 0 : migrations !== undefined;
    if (migrationsTableName === undefined && !hasMigrations) return [...new Set(tables)];
    return [...new Set([...tables, migrationsTableName ?? "migrations"])];
  }

  #requireInitialized(operation: string): void {
    if (this.#offline) throw this.#unavailable();
    if (!this.#dataSource.isInitialized) {
      throw new NotInitializedError(`${operation}() needs a connected DatabaseManager; call initialize() first`);
    }
  }
}

/**
 * An entity the manager was not given, as a ConfigurationError that says what to do (TypeORM would throw its
 * EntityMetadataNotFoundError at the first query).
 */
function unknownEntity(target: EntityTarget<ObjectLiteral>): ConfigurationError {
  const name = typeof target === "function" ? target.name : typeof target === "string" ? target : "the entity";
  return new ConfigurationError(
    `${name} is not one of this DatabaseManager's entities: add it to the entities list given to new DatabaseManager({ entities: [...] }) ` +
      `(with NestJS, the manager's list counts; TypeOrmModule's autoLoadEntities does not reach a DataSource built by dataSourceFactory)`,
  );
}

/** Errors of the library's own checks pass as they are; a driver's error is wrapped with it as the cause. */
function wrapDriverError(operation: string): (error: unknown) => never {
  return (error: unknown) => {
    throw driverError(operation, error);
  };
}

/** A driver's error as the library's: its own errors as they are, any other wrapped naming the operation. */
function driverError(operation: string, error: unknown): DatabaseError {
  return error instanceof DatabaseError ? error : DatabaseOperationError.wrap(operation, error);
}
