import { ClassSerializerInterceptor, Module, type DynamicModule } from "@nestjs/common";
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, Reflector } from "@nestjs/core";
import { TerminusModule } from "@nestjs/terminus";
import { TypeOrmModule } from "@nestjs/typeorm";
import { AuditInterceptor, DatabaseErrorFilter, DatabaseModule } from "../../src/nestjs";
import { Product, User } from "../../src/models";
import { HeaderUserGuard } from "./header-user.guard";
import { HealthController } from "./health.controller";
import { ProductsController } from "./products.controller";
import { ProductsService } from "./products.service";

/**
 * The example application: `DatabaseModule` builds the DatabaseManager and hands its DataSource to @nestjs/typeorm
 * (so forFeature and @InjectRepository work as usual); the audit interceptor, the error filter and the serializer are
 * registered globally; health goes through @nestjs/terminus.
 */
/** Where a real app would use @nestjs/config: the database URL as a provider. */
const DATABASE_URL = "DATABASE_URL";

@Module({})
export class AppModule {
  static forUrl(url: string): DynamicModule {
    const config: DynamicModule = {
      module: class ExampleConfigModule {},
      providers: [{ provide: DATABASE_URL, useValue: url }],
      exports: [DATABASE_URL],
    };
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRootAsync({
          imports: [config],
          inject: [DATABASE_URL],
          useFactory: (databaseUrl: string) => ({ url: databaseUrl, entities: [User, Product], createTables: true }),
        }),
        TypeOrmModule.forFeature([Product, User]),
        TerminusModule,
      ],
      controllers: [ProductsController, HealthController],
      providers: [
        ProductsService,
        { provide: APP_GUARD, useClass: HeaderUserGuard },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
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
