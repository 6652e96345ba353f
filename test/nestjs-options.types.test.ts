import type { DatabaseModuleOptions } from "../src/nestjs";
import { Product } from "../src/models";

/** Compile-time checks of the module's options (jest cannot load NestJS 12, which is ESM-only; ts-jest type-checks). */
function options<T extends DatabaseModuleOptions>(value: T): T {
  return value;
}

describe("DatabaseModule.forRoot options, as TypeScript sees them", () => {
  it("takes a URL without entities when autoLoadEntities is true (they come from TypeOrmModule.forFeature)", () => {
    const auto = options({ url: "sqlite::memory:", autoLoadEntities: true });
    expect(auto.autoLoadEntities).toBe(true);
    expect(options({ url: "sqlite::memory:", entities: [Product], autoLoadEntities: true }).entities).toEqual([
      Product,
    ]);
  });

  it("still asks for entities when nothing else supplies them", () => {
    // @ts-expect-error: no entities and no autoLoadEntities
    const none: DatabaseModuleOptions = { url: "sqlite::memory:" };
    // @ts-expect-error: autoLoadEntities false is no source of entities
    const off: DatabaseModuleOptions = { url: "sqlite::memory:", autoLoadEntities: false };
    expect([none, off].map((o) => "url" in o && o.url)).toEqual(["sqlite::memory:", "sqlite::memory:"]);
  });
});
