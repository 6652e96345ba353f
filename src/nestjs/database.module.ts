import {
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from "@nestjs/common";
import { getDataSourceToken, TypeOrmModule, type TypeOrmModuleOptions } from "@nestjs/typeorm";
import type { DataSource, DataSourceOptions } from "typeorm";
import { DatabaseManager, type EntityList } from "../data-source/database-manager";
import { DatabaseHealthIndicator } from "./database-health.indicator";
import type { DatabaseModuleAsyncOptions, DatabaseModuleOptions } from "./database-module-options";

/** The module's options ride along with the options `@nestjs/typeorm` copies (spreads keep symbol keys). */
const CONFIG = Symbol("inference-core.database-module-options");

/** The manager behind each DataSource the module built. */
const managers = new WeakMap<DataSource, DatabaseManager>();

/**
 * The injection token of the `DatabaseManager` of a named DataSource; without a name it is the `DatabaseManager`
 * class itself.
 */
export function getDatabaseManagerToken(name?: string): string | typeof DatabaseManager {
  return name === undefined || name === "default" ? DatabaseManager : `DatabaseManager:${name}`;
}

function entitiesOf(options: DatabaseModuleOptions): EntityList {
  return "url" in options ? (options.entities ?? []) : (options.options.entities ?? []);
}

/** What `@nestjs/typeorm` gets: only what it reads itself (entities for autoLoadEntities, retries, the name). */
function typeormOptions(options: DatabaseModuleOptions): TypeOrmModuleOptions {
  return {
    entities: entitiesOf(options),
    autoLoadEntities: options.autoLoadEntities ?? false,
    retryAttempts: options.retryAttempts ?? 10,
    retryDelay: options.retryDelay ?? 3000,
    // a lazy start hands over a DataSource that is not connected yet: the manager connects it, not @nestjs/typeorm
    ...(options.lazyConnect === true ? { manualInitialization: true } : {}),
    [CONFIG]: options,
  } as unknown as TypeOrmModuleOptions;
}

/** Builds and connects the manager when `@nestjs/typeorm` asks for the DataSource, with the final entity list. */
async function createDataSource(given: TypeOrmModuleOptions | undefined): Promise<DataSource> {
  const options = (given as unknown as Record<typeof CONFIG, DatabaseModuleOptions>)[CONFIG];
  const entities = (given as { entities?: EntityList }).entities ?? entitiesOf(options);
  const manager =
    "url" in options
      ? new DatabaseManager({ ...options, entities })
      : new DatabaseManager({ ...options, options: { ...options.options, entities } as DataSourceOptions });
  const createTables = async () => {
    if (options.createTables === true) await manager.createTables();
  };
  try {
    if (options.lazyConnect === true) {
      const retryDelayMs = options.retryDelay ?? 3000;
      const logger = new Logger("DatabaseModule");
      await manager.initialize({
        lazy: {
          retryDelayMs,
          onConnected: async () => {
            await createTables();
            logger.log(`connected to the ${manager.dialect} database`);
          },
          onError: (error) => logger.error(`${(error as Error).name}: ${(error as Error).message}`),
        },
      });
      if (!manager.isInitialized)
        logger.warn(
          `the ${manager.dialect} database does not answer; starting anyway, retrying every ${retryDelayMs} ms`,
        );
      else await createTables();
    } else {
      await manager.initialize();
      await createTables();
    }
  } catch (error) {
    // @nestjs/typeorm calls this again on its next attempt: this attempt's manager lets go of what it opened
    await manager.close().catch(() => undefined);
    throw error;
  }
  managers.set(manager.dataSource, manager);
  return manager.dataSource;
}

/** Closes the manager (its health-check connection and the DataSource) when the application shuts down. @internal */
@Injectable()
export class DatabaseManagerCloser implements OnApplicationShutdown {
  constructor(@Inject(DatabaseManager) private readonly manager: DatabaseManager) {}

  async onApplicationShutdown(): Promise<void> {
    await this.manager.close();
  }
}

/**
 * The library in a NestJS application: builds the `DatabaseManager` from a URL or TypeORM options, registers its
 * DataSource with `@nestjs/typeorm` (so `TypeOrmModule.forFeature`, `@InjectRepository` and `@InjectDataSource` work
 * as usual), makes the manager (and, for the default DataSource, a `DatabaseHealthIndicator`) injectable everywhere,
 * and closes the manager when the application shuts down.
 *
 * @example
 * @Module({
 *   imports: [
 *     DatabaseModule.forRoot({ url: process.env.DATABASE_URL!, entities: [Order], createTables: true }),
 *     TypeOrmModule.forFeature([Order]),
 *   ],
 * })
 * export class AppModule {}
 */
@Global()
@Module({})
export class DatabaseModule {
  /** The module with options known now. */
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
    return DatabaseModule.forRootAsync({
      useFactory: () => options,
      ...(options.name !== undefined ? { name: options.name } : {}),
    });
  }

  /** The module with options from a factory (configuration services, secrets). */
  static forRootAsync(options: DatabaseModuleAsyncOptions): DynamicModule {
    const name = options.name;
    const typeorm = TypeOrmModule.forRootAsync({
      ...(name !== undefined ? { name } : {}),
      imports: options.imports ?? [],
      inject: options.inject ?? [],
      useFactory: async (...args: unknown[]) => typeormOptions(await options.useFactory(...args)),
      dataSourceFactory: createDataSource,
    });
    const token = getDatabaseManagerToken(name);
    const managerProvider = {
      provide: token,
      useFactory: (dataSource: DataSource) => managers.get(dataSource)!,
      inject: [getDataSourceToken(name)],
    };
    const providers =
      token === DatabaseManager
        ? [managerProvider, DatabaseManagerCloser, DatabaseHealthIndicator]
        : [
            managerProvider,
            {
              provide: `${String(token)}:closer`,
              useFactory: (manager: DatabaseManager) => new DatabaseManagerCloser(manager),
              inject: [token],
            },
          ];
    return {
      module: DatabaseModule,
      global: true,
      imports: [typeorm],
      providers,
      exports: token === DatabaseManager ? [token, DatabaseHealthIndicator] : [token],
    };
  }
}
