import { ClassSerializerInterceptor, Module, type DynamicModule } from "@nestjs/common";
import { APP_FILTER, APP_INTERCEPTOR, Reflector } from "@nestjs/core";
import { TypeOrmModule } from "@nestjs/typeorm";
import { DatabaseManager } from "../../src";
import { Product, User } from "../../src/models";
import { DatabaseErrorFilter } from "./database-error.filter";
import { HealthController } from "./health.controller";
import { ProductsController } from "./products.controller";
import { ProductsService } from "./products.service";

/**
 * The example application: its DataSource comes from a DatabaseManager (per-dialect settings, SmartJSON types,
 * instants), handed to @nestjs/typeorm, and the manager itself is injectable for health checks and sessions.
 */
@Module({})
export class AppModule {
  static forUrl(url: string): DynamicModule {
    const manager = new DatabaseManager({ url, entities: [User, Product] });
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({}),
          dataSourceFactory: async () => {
            await manager.initialize();
            await manager.createTables();
            return manager.dataSource;
          },
        }),
        TypeOrmModule.forFeature([Product]),
      ],
      controllers: [ProductsController, HealthController],
      providers: [
        { provide: DatabaseManager, useValue: manager },
        ProductsService,
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
