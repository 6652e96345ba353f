import request from "supertest";
import { DatabaseManager } from "../src";
import { Product, User } from "../src/models";
import { Note } from "../examples/nestjs/note.entity";
import { DIALECTS, raw, urlFor, type TestDialect } from "./support/dialects";
import { startExample, type Example } from "./support/example-app";
import { TcpProxy } from "./support/tcp-proxy";

/** Waits (up to 5 s) until `done` answers true. */
async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(done()).toBe(true);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe.each(DIALECTS)("%s: the NestJS example over HTTP", (dialect: TestDialect) => {
  let example: Example;
  let db: DatabaseManager;
  const server = () => example.base;

  beforeAll(async () => {
    const url = urlFor(dialect);
    db = new DatabaseManager({ url, entities: [User, Product, Note] });
    await db.initialize();
    await db.reset({ confirm: true });
    // errors logged (the filter logs what a 500 hides from the client)
    example = await startExample(url, { NEST_LOGGER: "error" });
  }, 60_000);
  afterAll(async () => {
    if (example.child.exitCode === null) example.child.kill("SIGKILL");
    await db.close();
  });

  it("GET /health answers 200 through @nestjs/terminus with the database up", async () => {
    const response = await request(server()).get("/health").expect(200);
    // a public endpoint: nothing of the server's version or the driver's errors
    expect(response.body).toEqual({
      status: "ok",
      info: { database: { status: "up", latencyMs: expect.any(Number) } },
      error: {},
      details: { database: { status: "up", latencyMs: expect.any(Number) } },
    });
  });

  it("GET /health/details adds the dialect and the server's version, for operators", async () => {
    const response = await request(server()).get("/health/details").expect(200);
    expect(response.body.info).toEqual({
      database: {
        status: "up",
        latencyMs: expect.any(Number),
        dialect,
        serverVersion: expect.stringMatching(/^\d+\./),
      },
    });
  });

  it("a reference to a row that does not exist is a 422 naming the relation, with nothing of the database", async () => {
    const missing = "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e0f";
    const response = await request(server())
      .post("/products")
      .send({ name: "Orphan", sku: "OR-1", priceCents: 1, owner: { id: missing } })
      .expect(422);
    expect(response.body).toEqual({
      statusCode: 422,
      error: "ForeignKeyViolationError",
      message: "Product.owner: the User it refers to does not exist; refer to an existing User, or create it first",
    });
    expect(await raw(db, "SELECT id FROM products WHERE sku = ?", ["OR-1"])).toEqual([]);
  });

  it("hidden columns and integers past the column's range are 400s, not writes or 500s", async () => {
    const response = await request(server())
      .post("/products")
      .send({ name: "Cheap", sku: "CH-1", priceCents: 2 ** 31, costCents: 0 })
      .expect(400);
    expect(response.body.issues.map((i: { path: string; code: string }) => [i.path, i.code])).toEqual([
      ["priceCents", "out_of_range"],
      ["costCents", "unknown_key"],
    ]);
  });

  it("an actor the authentication layer got wrong is a 500 that echoes nothing, logged under the request id", async () => {
    const actor = "u".repeat(256);
    const response = await request(server())
      .post("/products")
      .set("x-user-id", actor)
      .set("x-request-id", "req-42")
      .send({ name: "Nobody", sku: "NB-1", priceCents: 1 })
      .expect(500);
    expect(response.body).toEqual({
      statusCode: 500,
      error: "InternalServerError",
      message: "Internal server error",
      requestId: "req-42",
    });
    expect(await raw(db, "SELECT id FROM products WHERE sku = ?", ["NB-1"])).toEqual([]);
    const generated = await request(server()).get("/products").set("x-user-id", actor).expect(500);
    expect(generated.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => example.output().includes("request req-42: InvalidActorError"));
  });

  it("creates, lists, gets, updates, soft-deletes and restores a product with the documented JSON", async () => {
    const created = await request(server())
      .post("/products")
      .send({
        name: "Teapot",
        sku: "TP-1",
        priceCents: 1999,
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

    expect((await request(server()).get("/products").expect(200)).body.map((p: { id: string }) => p.id)).toEqual([id]);
    expect((await request(server()).get(`/products/${id}`).expect(200)).body).toEqual(product);

    const updated = await request(server()).patch(`/products/${id}`).send({ name: "Big teapot" }).expect(200);
    expect(updated.body).toMatchObject({ id, name: "Big teapot", createdAt: product["createdAt"] });
    expect(updated.body).not.toHaveProperty("costCents");

    await request(server()).delete(`/products/${id}`).expect(204);
    expect((await request(server()).get("/products").expect(200)).body).toEqual([]);
    await request(server()).get(`/products/${id}`).expect(404);

    const restored = await request(server()).post(`/products/${id}/restore`).expect(200);
    expect(restored.body).toMatchObject({ id, isDeleted: false, deletedAt: null, name: "Big teapot" });
    expect((await request(server()).get("/products").expect(200)).body.map((p: { id: string }) => p.id)).toEqual([id]);
  });

  it("@SerializeOptions({ strategy: 'excludeAll', groups }) through the interceptor and toDict answer the same", async () => {
    const created = await request(server())
      .post("/products")
      .send({ name: "Kettle", sku: "K-1", priceCents: 2500, attributes: { colour: "red" } })
      .expect(201);
    const id = (created.body as { id: string }).id;
    const viaInterceptor = await request(server()).get(`/products/${id}/catalog`).expect(200);
    const viaToDict = await request(server()).get(`/products/${id}/catalog-dict`).expect(200);
    expect(viaInterceptor.body).toStrictEqual({ name: "Kettle", sku: "K-1", priceCents: 2500, label: "Kettle (K-1)" });
    expect(viaToDict.body).toStrictEqual(viaInterceptor.body);
    // the default view is unchanged: every column but costCents, and no catalog label
    const plain = await request(server()).get(`/products/${id}`).expect(200);
    expect(Object.keys(plain.body as object)).not.toContain("label");
    expect(plain.body).toMatchObject({ id, name: "Kettle", attributes: { colour: "red" } });
  });

  it("bad input is a 400 listing every issue, and nothing is written", async () => {
    const before = (await request(server()).get("/products").expect(200)).body.length as number;
    const response = await request(server())
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
    const created = (await request(server()).get("/products").expect(200)).body.length as number;
    expect(created).toBe(before);
    const id = ((await request(server()).get("/products")).body[0] as { id: string } | undefined)?.id;
    if (id) {
      const protectedChange = await request(server())
        .patch(`/products/${id}`)
        .send({ id: "01936f8e-7b1a-7c3d-8e4f-5a6b7c8d9e0f" })
        .expect(400);
      expect(protectedChange.body.issues).toEqual([
        { path: "id", code: "read_only", message: "Product.id is managed by the library and cannot be changed" },
      ]);
    }
    await request(server()).get("/products/not-a-uuid").expect(400);
  });

  it("a create without its required fields is a 400 naming each one, never a 500", async () => {
    const response = await request(server())
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
    const before = (await request(server()).get("/products").expect(200)).body.length as number;
    const response = await request(server())
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
    expect((await request(server()).get("/products").expect(200)).body.length).toBe(before);
  });

  it("a string column without a declared length takes 255 characters and refuses 256 with a 400", async () => {
    const ok = await request(server())
      .post("/products")
      .send({ name: "Kettle", sku: "KT-1", priceCents: 2500, brand: "b".repeat(255) })
      .expect(201);
    expect(ok.body.brand).toBe("b".repeat(255));
    const tooLong = await request(server())
      .post("/products")
      .send({ name: "Kettle", sku: "KT-2", priceCents: 2500, brand: "b".repeat(256) })
      .expect(400);
    expect(tooLong.body.issues).toEqual([
      { path: "brand", code: "too_long", message: "256 characters given, at most 255 allowed" },
    ]);
  });

  it("@InjectDataSource and @InjectRepository get the manager's DataSource", async () => {
    const counts = await request(server()).get("/products/count").expect(200);
    const rows = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM products WHERE deleted_at IS NULL");
    expect(counts.body).toEqual({ live: Number(rows[0]!.n), all: expect.any(Number), sameDataSource: true });
  });

  it("the acting user from the guard fills created_by and updated_by through the AuditInterceptor", async () => {
    const created = await request(server())
      .post("/products")
      .set("x-user-id", "user-7")
      .send({ name: "Mug", sku: "MG-1", priceCents: 900 })
      .expect(201);
    expect(created.body.audit).toEqual({ createdBy: "user-7", updatedBy: "user-7" });
    await request(server())
      .patch(`/products/${created.body.id}`)
      .set("x-user-id", "user-8")
      .send({ name: "Cup" })
      .expect(200);
    const rows = await raw<{ created_by: string; updated_by: string }>(
      db,
      "SELECT created_by, updated_by FROM products WHERE id = ?",
      [created.body.id],
    );
    expect(rows).toEqual([{ created_by: "user-7", updated_by: "user-8" }]);
  });

  it("a second live product with the same sku is a 409 from the error filter, and nothing is written", async () => {
    await request(server()).post("/products").send({ name: "Plate", sku: "PL-1", priceCents: 500 }).expect(201);
    const response = await request(server())
      .post("/products")
      .send({ name: "Plate again", sku: "PL-1", priceCents: 500 })
      .expect(409);
    expect(response.body).toMatchObject({ statusCode: 409, error: "UniqueConstraintError" });
    expect(response.body.message).toContain("Product");
    const rows = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM products WHERE sku = ?", ["PL-1"]);
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it("two injected repositories inside one session: an owner and products are stored together or not at all", async () => {
    const created = await request(server())
      .post("/products/with-owner")
      .send({
        owner: { email: "owner-1@example.com", displayName: "Owner One" },
        products: [
          { name: "Cup", sku: "OW-1", priceCents: 300 },
          { name: "Saucer", sku: "OW-2", priceCents: 200 },
        ],
      })
      .expect(201);
    expect(created.body.owner).toMatchObject({ email: "owner-1@example.com" });
    expect(created.body.products.map((p: { sku: string }) => p.sku)).toEqual(["OW-1", "OW-2"]);
    // the second product's sku is taken: the owner and the first product, written before it, are rolled back
    const refused = await request(server())
      .post("/products/with-owner")
      .send({
        owner: { email: "owner-2@example.com", displayName: "Owner Two" },
        products: [
          { name: "Bowl", sku: "OW-3", priceCents: 400 },
          { name: "Cup again", sku: "OW-1", priceCents: 300 },
        ],
      })
      .expect(409);
    expect(refused.body).toMatchObject({ statusCode: 409, error: "UniqueConstraintError" });
    expect(await raw(db, "SELECT email FROM users WHERE email = ?", ["owner-2@example.com"])).toEqual([]);
    expect(await raw(db, "SELECT sku FROM products WHERE sku = ?", ["OW-3"])).toEqual([]);
    const owners = await raw<{ n: unknown }>(db, "SELECT COUNT(*) AS n FROM users WHERE email = ?", [
      "owner-1@example.com",
    ]);
    expect(Number(owners[0]!.n)).toBe(1);
  });

  it("edits without lost updates: ETag from the version, If-Match 412, a stale body version 409", async () => {
    const noteRow = async (id: string) =>
      (await raw<{ version: unknown; title: unknown }>(db, "SELECT version, title FROM notes WHERE id = ?", [id])).map(
        (r) => ({ version: Number(r.version), title: r.title }),
      );
    const created = await request(server()).post("/notes").send({ title: "Agenda" }).expect(201);
    expect(created.headers["etag"]).toBe('"1"');
    const id = created.body.id as string;
    const read = await request(server()).get(`/notes/${id}`).expect(200);
    expect([read.headers["etag"], read.body.version]).toEqual(['"1"', 1]);
    // a client holding the current tag gets 304 on GET (Express's own freshness check on the ETag we set)
    await request(server()).get(`/notes/${id}`).set("If-None-Match", '"1"').expect(304);

    const first = await request(server())
      .patch(`/notes/${id}`)
      .set("If-Match", '"1"')
      .send({ title: "Agenda, v2" })
      .expect(200);
    expect([first.headers["etag"], first.body.version]).toEqual(['"2"', 2]);

    // a second client still holding "1": 412 naming the entity and both versions; nothing written
    const late = await request(server()).patch(`/notes/${id}`).set("If-Match", '"1"').send({ title: "Mine!" });
    expect(late.status).toBe(412);
    expect(late.body).toEqual({
      statusCode: 412,
      error: "PreconditionFailed",
      message: expect.stringContaining(`Note ${id}: changed since it was read`),
      entity: "Note",
      id,
      expectedVersion: 1,
      actualVersion: 2,
    });
    // a weak tag never matches (RFC 9110's strong comparison); a list matches by any member; * by existence
    await request(server()).patch(`/notes/${id}`).set("If-Match", 'W/"2"').send({ title: "Weak" }).expect(412);
    // the same check through the body's version (toDict's), without If-Match: the filter's 409
    const stale = await request(server()).patch(`/notes/${id}`).send({ title: "Mine!", version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ statusCode: 409, error: "StaleEntityError", entity: "Note", id });
    expect([stale.body.expectedVersion, stale.body.actualVersion]).toEqual([1, 2]);
    expect(await noteRow(id)).toEqual([{ version: 2, title: "Agenda, v2" }]);
    await request(server()).patch(`/notes/${id}`).set("If-Match", '"7", "2"').send({ text: "listed" }).expect(200);
    await request(server()).patch(`/notes/${id}`).set("If-Match", "*").send({ text: "any" }).expect(200);
    expect(await noteRow(id)).toEqual([{ version: 4, title: "Agenda, v2" }]);

    // eight clients that all read version 4 race their PATCHes: exactly one wins, the others get 412 or 409
    const racing = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        request(server())
          .patch(`/notes/${id}`)
          .set("If-Match", '"4"')
          .send({ title: `racer ${i}` }),
      ),
    );
    const winners = racing.filter((r) => r.status === 200);
    expect(winners.length).toBe(1);
    for (const r of racing) if (r.status !== 200) expect([409, 412]).toContain(r.status);
    expect(await noteRow(id)).toEqual([{ version: 5, title: winners[0]!.body.title }]);
  });

  (dialect === "sqlite" ? it.skip : it)(
    "starts while the database is down: health 503, requests 503 saying nothing of it; connects when it answers",
    async () => {
      const target = new URL(urlFor(dialect));
      const proxy = await TcpProxy.start(Number(target.port));
      await proxy.down();
      target.port = String(proxy.port);
      const down = await startExample(target.toString(), {
        NEST_LOGGER: "error,warn,log",
        DATABASE_RETRY_DELAY: "200",
      });
      try {
        expect(down.output()).toContain("does not answer; starting anyway, retrying every 200 ms");
        await request(down.base).get("/health").expect(503);
        const refused = await request(down.base).get("/products").expect(503);
        expect(refused.body).toEqual({
          statusCode: 503,
          error: "DatabaseUnavailableError",
          message: "The database is not reachable yet; try again shortly",
        });
        expect(JSON.stringify(refused.body)).not.toContain(String(proxy.port));
        await request(down.base).post("/products").send({ name: "Early", sku: "EA-1", priceCents: 1 }).expect(503);
        await proxy.up();
        let status = 0;
        for (let i = 0; i < 100 && status !== 200; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          status = (await request(down.base).get("/health")).status;
        }
        expect(status).toBe(200);
        const created = await request(down.base)
          .post("/products")
          .send({ name: "Late", sku: "LA-1", priceCents: 2 })
          .expect(201);
        expect(await raw(db, "SELECT sku FROM products WHERE id = ?", [created.body.id])).toEqual([{ sku: "LA-1" }]);
        expect(await raw(db, "SELECT sku FROM products WHERE sku = ?", ["EA-1"])).toEqual([]);
      } finally {
        down.child.kill("SIGTERM");
        await down.exited;
        await proxy.close();
      }
    },
    60_000,
  );

  it("SIGTERM shuts the application down and the process exits by itself (pool and health connection closed)", async () => {
    example.child.kill("SIGTERM");
    const code = await Promise.race([
      example.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve("still running after 20 s"), 20_000).unref()),
    ]);
    // errors this file provoked on purpose are logged by the filter; nothing else may be
    const unexpected = example
      .output()
      .split("\n")
      .filter(
        (line) => /Error/.test(line) && !/InvalidActorError|DatabaseErrorFilter/.test(line) && !/^\s+at /.test(line),
      );
    expect([code, unexpected]).toEqual([0, []]);
  }, 30_000);
});
