import type { FactoryProvider, ModuleMetadata } from "@nestjs/common";
import type {
  DatabaseManagerOptionsConfig,
  DatabaseManagerUrlConfig,
  EntityList,
} from "../data-source/database-manager";

/** What the module does beside building the manager. */
export interface DatabaseModuleExtras {
  /**
   * Create the entities' tables at start-up (`DatabaseManager.createTables()`, idempotent). Leave it off when
   * migrations create them. Default: false.
   */
  readonly createTables?: boolean;
  /**
   * Add the entities registered with `TypeOrmModule.forFeature([...])` to the manager's list, as `@nestjs/typeorm`'s
   * own option does. Default: false.
   */
  readonly autoLoadEntities?: boolean;
  /** Attempts to connect at start-up before giving up, as in `@nestjs/typeorm`. Default: 10, as there. */
  readonly retryAttempts?: number;
  /** Milliseconds between connection attempts. Default: 3000, as in `@nestjs/typeorm`. */
  readonly retryDelay?: number;
  /**
   * Start even when the database does not answer: the application comes up, `DatabaseHealthIndicator` reports down,
   * requests that reach the database get 503 (`DatabaseUnavailableError` through `DatabaseErrorFilter`), and the
   * manager tries again every `retryDelay` ms until it connects (then creates the tables, with `createTables`).
   * `retryAttempts` is not used. With MariaDB, give a `mariadb://` URL (a `mysql://` one cannot switch drivers
   * after the DataSource was handed out). Default: false.
   */
  readonly lazyConnect?: boolean;
}

/**
 * A URL config; with `autoLoadEntities: true` the entities may come from `TypeOrmModule.forFeature` alone, so the
 * list may be left out.
 */
export type DatabaseModuleUrlConfig =
  | DatabaseManagerUrlConfig
  | (Omit<DatabaseManagerUrlConfig, "entities"> & {
      /** Entities beside those of `TypeOrmModule.forFeature`; may be left out. */
      readonly entities?: EntityList;
      /** The entities come from `TypeOrmModule.forFeature([...])`. */
      readonly autoLoadEntities: true;
    });

/**
 * Options of {@link DatabaseModule.forRoot}: a `DatabaseManager` config (a URL with entities, or TypeORM options)
 * and what the module does at start-up.
 */
export type DatabaseModuleOptions = (DatabaseModuleUrlConfig | DatabaseManagerOptionsConfig) &
  DatabaseModuleExtras & {
    /** The DataSource name, for several databases (`@InjectRepository(Entity, name)`). Default: TypeORM's. */
    readonly name?: string;
  };

/** Options of {@link DatabaseModule.forRootAsync}: the options come from a factory with injected dependencies. */
export interface DatabaseModuleAsyncOptions {
  /** Modules whose providers the factory injects (a `ConfigModule`, say). */
  readonly imports?: ModuleMetadata["imports"];
  /** The providers handed to `useFactory`, in order. */
  readonly inject?: FactoryProvider["inject"];
  /** Builds the options (a `name` given here is not read: give it beside the factory). */
  readonly useFactory: (
    ...args: any[] // eslint-disable-line @typescript-eslint/no-explicit-any -- Nest's own factory signature
  ) => DatabaseModuleOptions | Promise<DatabaseModuleOptions>;
  /** The DataSource name, for several databases. Default: TypeORM's. */
  readonly name?: string;
}
