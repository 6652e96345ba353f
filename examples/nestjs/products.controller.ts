import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, SerializeOptions } from "@nestjs/common";
import { ModelSerializer, type Dict, type ToDictOptions } from "../../src";
import type { Product, User } from "../../src/models";

/** The catalogue view: only what the model exposes, with the `catalog` group's extras. */
const CATALOG_VIEW = { strategy: "excludeAll", groups: ["catalog"] } as const satisfies ToDictOptions;
import { ProductsService } from "./products.service";

/** Create, list, get, update, soft delete and restore products; entities go out through ClassSerializerInterceptor. */
@Controller("products")
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  create(@Body() body: unknown): Promise<Product> {
    return this.products.create(body);
  }

  /** An owner with their products, all or nothing: two injected repositories inside one session. */
  @Post("with-owner")
  createWithOwner(@Body() body: unknown): Promise<{ owner: User; products: Product[] }> {
    return this.products.createWithOwner(body);
  }

  @Get()
  list(): Promise<Product[]> {
    return this.products.list();
  }

  @Get("count")
  count(): Promise<{ live: number; all: number; sameDataSource: boolean }> {
    return this.products.count();
  }

  /** The catalogue view through ClassSerializerInterceptor, configured by @SerializeOptions. */
  @Get(":id/catalog")
  @SerializeOptions({ ...CATALOG_VIEW, groups: [...CATALOG_VIEW.groups] })
  catalog(@Param("id") id: string): Promise<Product> {
    return this.products.get(id);
  }

  /** The same view through toDict (the interceptor passes the plain object through as it is). */
  @Get(":id/catalog-dict")
  async catalogDict(@Param("id") id: string): Promise<Dict> {
    return ModelSerializer.toDict(await this.products.get(id), CATALOG_VIEW);
  }

  @Get(":id")
  get(@Param("id") id: string): Promise<Product> {
    return this.products.get(id);
  }

  @Patch(":id")
  update(@Param("id") id: string, @Body() body: unknown): Promise<Product> {
    return this.products.update(id, body);
  }

  @Delete(":id")
  @HttpCode(204)
  remove(@Param("id") id: string): Promise<void> {
    return this.products.remove(id);
  }

  @Post(":id/restore")
  @HttpCode(200)
  restore(@Param("id") id: string): Promise<Product> {
    return this.products.restore(id);
  }
}
