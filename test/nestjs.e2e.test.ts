import type { INestApplication } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import request from "supertest";
import { AppModule } from "../examples/nestjs/app.module";
import { DatabaseManager } from "../src";
import { Product, User } from "../src/models";
import { DIALECTS, urlFor, type TestDialect } from "./support/dialects";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe.each(DIALECTS)("%s: the NestJS example over HTTP", (dialect: TestDialect) => {
  let app: INestApplication;

  beforeAll(async () => {
    const url = urlFor(dialect);
    const cleaner = new DatabaseManager({ url, entities: [User, Product] });
    await cleaner.initialize();
    await cleaner.reset({ confirm: true });
    await cleaner.close();
    app = await NestFactory.create(AppModule.forUrl(url), { logger: false });
    await app.init();
  });
  afterAll(() => app.close());

  it("GET /health answers 200 with the manager's report", async () => {
    const response = await request(app.getHttpServer()).get("/health").expect(200);
    expect(response.body).toMatchObject({ ok: true, dialect });
  });

  it("creates, lists, gets, updates, soft-deletes and restores a product with the documented JSON", async () => {
    const server = app.getHttpServer();
    const created = await request(server)
      .post("/products")
      .send({
        name: "Teapot",
        sku: "TP-1",
        priceCents: 1999,
        costCents: 700,
        attributes: { colour: "blue", sizes: ["S"] },
        metadata: { tags: "kitchen" },
      })
      .expect(201);
    const product = created.body as Record<string, unknown>;
    expect(product).toMatchObject({
      name: "Teapot",
      priceCents: 1999,
      attributes: { colour: "blue", sizes: ["S"] },
      audit: { createdBy: null, updatedBy: null },
      metadata: { json: null, tags: "kitchen" },
      isDeleted: false,
      deletedAt: null,
    });
    expect(product).not.toHaveProperty("costCents");
    expect([product["createdAt"], product["updatedAt"]]).toEqual([
      expect.stringMatching(ISO),
      expect.stringMatching(ISO),
    ]);
    const id = product["id"] as string;

    expect((await request(server).get("/products").expect(200)).body.map((p: { id: string }) => p.id)).toEqual([id]);
    expect((await request(server).get(`/products/${id}`).expect(200)).body).toEqual(product);

    const updated = await request(server).patch(`/products/${id}`).send({ name: "Big teapot" }).expect(200);
    expect(updated.body).toMatchObject({ id, name: "Big teapot", createdAt: product["createdAt"] });
    expect(updated.body).not.toHaveProperty("costCents");

    await request(server).delete(`/products/${id}`).expect(204);
    expect((await request(server).get("/products").expect(200)).body).toEqual([]);
    await request(server).get(`/products/${id}`).expect(404);

    const restored = await request(server).post(`/products/${id}/restore`).expect(200);
    expect(restored.body).toMatchObject({ id, isDeleted: false, deletedAt: null, name: "Big teapot" });
    expect((await request(server).get("/products").expect(200)).body.map((p: { id: string }) => p.id)).toEqual([id]);
  });

  it("bad input is a 400 listing every issue, and nothing is written", async () => {
    const server = app.getHttpServer();
    const before = (await request(server).get("/products").expect(200)).body.length as number;
    const response = await request(server)
      .post("/products")
      .send({ name: 42, priceCents: "12", sku: "x".repeat(65), surprise: true })
      .expect(400);
    expect(response.body.error).toBe("ValidationError");
    expect(response.body.issues.map((i: { path: string; code: string }) => [i.path, i.code])).toEqual([
      ["name", "invalid_type"],
      ["priceCents", "invalid_type"],
      ["sku", "too_long"],
      ["surprise", "unknown_key"],
    ]);
    const created = (await request(server).get("/products").expect(200)).body.length as number;
    expect(created).toBe(before);
    const id = ((await request(server).get("/products")).body[0] as { id: string } | undefined)?.id;
    if (id) {
      const protectedChange = await request(server)
        .patch(`/products/${id}`)
        .send({ id: "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e0f" })
        .expect(400);
      expect(protectedChange.body.issues).toEqual([
        { path: "id", code: "read_only", message: "Product.id is managed by the library and cannot be changed" },
      ]);
    }
    await request(server).get("/products/not-a-uuid").expect(400);
  });

  it("a create without its required fields is a 400 naming each one, never a 500", async () => {
    const server = app.getHttpServer();
    const response = await request(server)
      .post("/products")
      .send({ attributes: { colour: "red" } })
      .expect(400);
    expect(response.body.issues).toEqual([
      { path: "name", code: "required", message: "Product.name is required" },
      { path: "sku", code: "required", message: "Product.sku is required" },
      { path: "priceCents", code: "required", message: "Product.priceCents is required" },
    ]);
  });

  it("a create that sets the library's columns is a 400 listing each, and nothing is written", async () => {
    const server = app.getHttpServer();
    const before = (await request(server).get("/products").expect(200)).body.length as number;
    const response = await request(server)
      .post("/products")
      .send({
        name: "Backdated",
        sku: "BD-1",
        priceCents: 1,
        id: "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e0f",
        createdAt: "2000-01-01T00:00:00.000Z",
        updatedAt: "2000-01-01T00:00:00.000Z",
        deletedAt: "2000-01-01T00:00:00.000Z",
        audit: { createdBy: "admin" },
      })
      .expect(400);
    expect(response.body.issues.map((i: { path: string; code: string }) => [i.path, i.code])).toEqual([
      ["id", "read_only"],
      ["createdAt", "read_only"],
      ["updatedAt", "read_only"],
      ["deletedAt", "read_only"],
      ["audit", "read_only"],
    ]);
    expect((await request(server).get("/products").expect(200)).body.length).toBe(before);
  });

  it("a string column without a declared length takes 255 characters and refuses 256 with a 400", async () => {
    const server = app.getHttpServer();
    const ok = await request(server)
      .post("/products")
      .send({ name: "Kettle", sku: "KT-1", priceCents: 2500, brand: "b".repeat(255) })
      .expect(201);
    expect(ok.body.brand).toBe("b".repeat(255));
    const tooLong = await request(server)
      .post("/products")
      .send({ name: "Kettle", sku: "KT-2", priceCents: 2500, brand: "b".repeat(256) })
      .expect(400);
    expect(tooLong.body.issues).toEqual([
      { path: "brand", code: "too_long", message: "256 characters given, at most 255 allowed" },
    ]);
  });
});
