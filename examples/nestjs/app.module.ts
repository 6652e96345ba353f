import { ClassSerializerInterceptor, Module, type DynamicModule } from "@nestjs/common";
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, Reflector } from "@nestjs/core";
import { TerminusModule } from "@nestjs/terminus";
import { TypeOrmModule } from "@nestjs/typeorm";
import { AuditInterceptor, ConsistencyInterceptor, DatabaseErrorFilter, DatabaseModule } from "../../src/nestjs";
import { Product, User } from "../../src/models";
import { HeaderUserGuard } from "./header-user.guard";
import { HealthController } from "./health.controller";
import { Note } from "./note.entity";
import { NotesController } from "./notes.controller";
import { ProductsController } from "./products.controller";
import { ProductsService } from "./products.service";

/**
 * The example application: `DatabaseModule` builds the DatabaseManager and hands its DataSource to @nestjs/typeorm
 * (so forFeature and @InjectRepository work as usual); the audit interceptor, the error filter and the serializer are
 * registered globally; health goes through @nestjs/terminus.
 */
/** Where a real app would use @nestjs/config: the database URL as a provider. */
const DATABASE_URL = "DATABASE_URL";
const REPLICA_URLS = "REPLICA_URLS";

@Module({})
export class AppModule {
  static forUrl(url: string, replicas: readonly string[] = []): DynamicModule {
    const config: DynamicModule = {
      module: class ExampleConfigModule {},
      providers: [
        { provide: DATABASE_URL, useValue: url },
        { provide: REPLICA_URLS, useValue: replicas },
      ],
      exports: [DATABASE_URL, REPLICA_URLS],
    };
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRootAsync({
          imports: [config],
          inject: [DATABASE_URL, REPLICA_URLS],
          // with replicas, each request reads its own writes (ConsistencyInterceptor carries them across requests)
          useFactory: (databaseUrl: string, replicaUrls: string[]) => ({
            url: databaseUrl,
            entities: [User, Product, Note],
            createTables: true,
            // the app starts while the database is down (health says so, requests get 503) and connects when it
            // answers; DATABASE_RETRY_DELAY (ms) sets how often it tries
            lazyConnect: true,
            retryDelay: Number(process.env["DATABASE_RETRY_DELAY"] ?? 3000),
            ...(replicaUrls.length > 0 ? { replicas: replicaUrls, readYourWrites: true } : {}),
          }),
        }),
        TypeOrmModule.forFeature([Product, User, Note]),
        TerminusModule,
      ],
      controllers: [ProductsController, NotesController, HealthController],
      providers: [
        ProductsService,
        { provide: APP_GUARD, useClass: HeaderUserGuard },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
        { provide: APP_INTERCEPTOR, useClass: ConsistencyInterceptor },
        {
          provide: APP_INTERCEPTOR,
          useFactory: (reflector: Reflector) => new ClassSerializerInterceptor(reflector),
          inject: [Reflector],
        },
        { provide: APP_FILTER, useClass: DatabaseErrorFilter },
      ],
    };
  }
}
