import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from "@nestjs/common";
import type { Product } from "../../src/models";
import { ProductsService } from "./products.service";

/** Create, list, get, update, soft delete and restore products; entities go out through ClassSerializerInterceptor. */
@Controller("products")
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  create(@Body() body: unknown): Promise<Product> {
    return this.products.create(body);
  }

  @Get()
  list(): Promise<Product[]> {
    return this.products.list();
  }

  @Get("count")
  count(): Promise<{ live: number; all: number; sameDataSource: boolean }> {
    return this.products.count();
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
