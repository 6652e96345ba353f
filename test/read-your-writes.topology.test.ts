/**
 * Read-your-writes on real primary/replica pairs (test/support/replica-pairs.ts): with the replica's apply paused, a
 * context that wrote reads its write (from the primary), another context reads the replica's older state, a token
 * carries the position to another context, and once the replica caught up the writer's reads go back to it.
 */
import request from "supertest";
import { Column, Entity } from "typeorm";
import { AuditContext, DatabaseManager, FullAuditModel, InvalidValueError } from "../src";
import { DIALECTS } from "./support/dialects";
import { startExample } from "./support/example-app";
import { pairTopologies, pgPair, until, type Pair } from "./support/replica-pairs";
import { topologyUnavailable } from "./support/topology";

@Entity("replica_notes")
class Note extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  text!: string;
}

const TOPOLOGIES = pairTopologies(DIALECTS);

(TOPOLOGIES.length > 0
  ? describe.each(TOPOLOGIES)
  : describe.skip.each([{ dialect: "(no server dialect chosen)", unavailable: () => undefined, start: pgPair }]))(
  "$dialect: read-your-writes with a replica that lags",
  ({ dialect, unavailable, start }) => {
    const reason = unavailable();
    let pair: Pair;
    let db: DatabaseManager;
    let plain: DatabaseManager;

    beforeAll(async () => {
      if (reason !== undefined) return topologyUnavailable(`${dialect} replicas`, reason);
      pair = await start();
      const config = {
        url: pair.primaryUrl,
        replicas: [pair.replicaUrl],
        entities: [Note],
        replicaCheckIntervalMs: 100,
      };
      db = new DatabaseManager({ ...config, readYourWrites: true });
      plain = new DatabaseManager(config);
      await db.initialize();
      await plain.initialize();
      await db.createTables();
      const first = await db.insertOne(Note, { text: "replicated" });
      await until("the replica has the table", () => pair.replicaHas(first.id));
    }, 120_000);

    afterAll(async () => {
      await pair?.resume().catch(() => undefined);
      await db?.close();
      await plain?.close();
      await pair?.stop();
    }, 60_000);

    const run = reason === undefined ? it : it.skip;

    run(
      "the writer reads its write while the replica is paused; another context reads the replica's older state",
      async () => {
        await pair.pause();
        try {
          const written = await AuditContext.run("writer", async () => {
            const note = await db.insertOne(Note, { text: "mine" });
            const byId = await db.findById(Note, note.id);
            const found = await db.getRepository(Note).findOneBy({ id: note.id });
            return { note, byId, found };
          });
          expect(written.byId?.text).toBe("mine");
          expect(written.found?.text).toBe("mine");
          // a context that wrote nothing reads the replica, which has not applied the write
          const other = await AuditContext.run("reader", () => db.findById(Note, written.note.id));
          expect(other).toBeNull();
          // without read-your-writes the writer itself would read the replica's older state
          const stale = await AuditContext.run("writer", async () => {
            const note = await plain.insertOne(Note, { text: "plain" });
            return plain.findById(Note, note.id);
          });
          expect(stale).toBeNull();
        } finally {
          await pair.resume();
        }
      },
    );

    run("a save() through a repository and a session's commit count as writes too", async () => {
      await pair.pause();
      try {
        const ids = await AuditContext.run("writer", async () => {
          const saved = await db.getRepository(Note).save(Object.assign(new Note(), { text: "saved" }));
          const inSession = await db.withSession((m) => m.save(Object.assign(new Note(), { text: "in-session" })));
          return [saved.id, inSession.id];
        });
        const seen = await AuditContext.run("writer-2", async () => {
          await db.withSession((m) => m.save(Object.assign(new Note(), { text: "another" })));
          return Promise.all(ids.map((id) => db.findById(Note, id)));
        });
        // writer-2 wrote too, after ids committed: its reads also come from a node that has them
        expect(seen.map((n) => n?.text)).toEqual(["saved", "in-session"]);
      } finally {
        await pair.resume();
      }
    });

    run("a token carries the writer's position to another context (the next request)", async () => {
      await pair.pause();
      try {
        const { id, token } = await AuditContext.run("writer", async () => {
          const note = await db.insertOne(Note, { text: "tokened" });
          return { id: note.id, token: await db.consistencyToken() };
        });
        expect(token).toEqual(expect.stringMatching(/^rw1\./));
        expect(await db.withConsistency(token, () => db.findById(Note, id))).toMatchObject({ text: "tokened" });
        // no token: a fresh context that wrote nothing reads the replica
        expect(await db.withConsistency(undefined, () => db.findById(Note, id))).toBeNull();
      } finally {
        await pair.resume();
      }
    });

    run("a context that wrote nothing has no token", async () => {
      expect(await AuditContext.run("reader", () => db.consistencyToken())).toBeUndefined();
    });

    run("a malformed token or one of another database is an InvalidValueError", async () => {
      const foreign = `rw1.${Buffer.from(JSON.stringify({ d: dialect, db: "another_db", p: "0/1" })).toString("base64url")}`;
      for (const token of ["nonsense", "rw1.!!!", foreign]) {
        await expect(db.withConsistency(token, () => 1)).rejects.toBeInstanceOf(InvalidValueError);
      }
    });

    run(
      "the NestJS example: a client that sends back the token it got reads its own write; without it, the replica's state",
      async () => {
        const example = await startExample(pair.primaryUrl, { REPLICA_URLS: pair.replicaUrl });
        try {
          // the example created its tables on the primary at start-up: wait until the replica has them
          await until("the replica has the example's tables", async () => {
            const list = await request(example.base).get("/products");
            return list.status === 200;
          });
          await pair.pause();
          const created = await request(example.base)
            .post("/products")
            .send({ name: "Fresh", sku: `RYW-${dialect}`, priceCents: 100 })
            .expect(201);
          const token = String(created.headers["x-consistency-token"]);
          expect(token).toEqual(expect.stringMatching(/^rw1\./));
          // the next request without the token wrote nothing: it reads the replica, which has not applied the insert
          await request(example.base).get(`/products/${created.body.id}`).expect(404);
          const mine = await request(example.base)
            .get(`/products/${created.body.id}`)
            .set("x-consistency-token", token)
            .expect(200);
          expect(mine.body).toMatchObject({ id: created.body.id, sku: `RYW-${dialect}` });
          const bad = await request(example.base)
            .get(`/products/${created.body.id}`)
            .set("x-consistency-token", "forged");
          expect(bad.status).toBe(400);
          expect(bad.body).toMatchObject({ statusCode: 400, error: "InvalidValueError" });
        } finally {
          await pair.resume();
          example.child.kill("SIGTERM");
          await example.exited;
        }
      },
      60_000,
    );

    run("once the replica caught up, the writer's reads are served by the replica again; nothing waits", async () => {
      const id = await AuditContext.run("writer", async () => {
        const note = await db.insertOne(Note, { text: "caught-up" });
        await until("the replica has it", () => pair.replicaHas(note.id));
        const mark = await pair.replicaMark();
        for (let i = 0; i < 200; i++) expect((await db.findById(Note, note.id))?.text).toBe("caught-up");
        // the replica answered them (the primary would have, had the check passed the replica over)
        expect(await pair.replicaServedSince(mark, 200)).toBe(true);
        return note.id;
      });
      expect(await AuditContext.run("reader", () => db.findById(Note, id))).toMatchObject({ text: "caught-up" });
    });
  },
);
