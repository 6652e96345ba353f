/**
 * Read replicas on real servers started here: a PostgreSQL primary with a streaming replica, a MariaDB primary with
 * a binlog replica (test/support/topology.ts). The same tests run on both.
 */
import { Column, DataSource, Entity, type DataSourceOptions } from "typeorm";
import { ConfigurationError, DatabaseManager, FullAuditModel, type HealthReport } from "../src";
import { DIALECTS } from "./support/dialects";
import { topologyUnavailable } from "./support/topology";
import { pairTopologies, pgPair, until, type Pair } from "./support/replica-pairs";

@Entity("replica_notes")
class Note extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  text!: string;
}

const TOPOLOGIES = pairTopologies(DIALECTS);

// each pair is started by its own describe; a missing package skips loudly, and fails under DB_REQUIRE=all
(TOPOLOGIES.length > 0
  ? describe.each(TOPOLOGIES)
  : describe.skip.each([{ dialect: "(no server dialect chosen)", unavailable: () => undefined, start: pgPair }]))(
  "$dialect: a primary and a read replica",
  ({ dialect, unavailable, start }) => {
    const reason = unavailable();
    let pair: Pair;
    let db: DatabaseManager;

    beforeAll(async () => {
      if (reason !== undefined) return topologyUnavailable(`${dialect} replicas`, reason);
      pair = await start();
      db = new DatabaseManager({
        url: pair.primaryUrl,
        replicas: [pair.replicaUrl],
        entities: [Note],
        replicaCheckIntervalMs: 100,
      });
      await db.initialize();
      await db.createTables();
      const table = new Note();
      table.text = "replicated";
      await db.getRepository(Note).save(table);
      await until("the replica has the table", () => pair.replicaHas(table.id));
    }, 120_000);

    afterAll(async () => {
      await db?.close();
      await pair?.stop();
    }, 60_000);

    const run = reason === undefined ? it : it.skip;

    /** A row written through the manager (the primary) while the replica holds its apply back. */
    async function writeWhilePaused(text: string): Promise<Note> {
      await pair.pause();
      const note = new Note();
      note.text = text;
      await db.getRepository(Note).save(note);
      return note;
    }

    run(
      "reads outside a session go to the replica, writes and sessions to the primary, findById picks either",
      async () => {
        const note = await writeWhilePaused("routing");
        try {
          // the write went to the primary; the replica has not applied it yet
          expect(await pair.replicaHas(note.id)).toBe(false);
          expect(await db.getRepository(Note).findOneBy({ id: note.id })).toBeNull();
          expect(await db.manager.findOneBy(Note, { id: note.id })).toBeNull();
          expect(await db.findById(Note, note.id)).toBeNull();
          expect((await db.findById(Note, note.id, { from: "primary" }))?.text).toBe("routing");
          // everything inside a session, savepoints included, runs on the primary
          await db.withSession(async (manager) => {
            expect((await manager.findOneBy(Note, { id: note.id }))?.text).toBe("routing");
            expect((await db.getRepository(Note).findOneBy({ id: note.id }))?.text).toBe("routing");
            expect((await db.findById(Note, note.id))?.text).toBe("routing");
            await db.withSession(async (inner) => {
              expect((await inner.findOneBy(Note, { id: note.id }))?.text).toBe("routing");
            });
          });
        } finally {
          await pair.resume();
        }
        await until("the replica applies the row", () => pair.replicaHas(note.id));
        expect((await db.getRepository(Note).findOneBy({ id: note.id }))?.text).toBe("routing");
        expect((await db.findById(Note, note.id))?.text).toBe("routing");
      },
      30_000,
    );

    run(
      "a paused replica's lag grows in the health report, and maxReplicaLagMs keeps reads off it",
      async () => {
        const strict = new DatabaseManager({
          url: pair.primaryUrl,
          replicas: [pair.replicaUrl],
          entities: [Note],
          maxReplicaLagMs: 300,
          replicaCheckIntervalMs: 50,
        });
        await strict.initialize();
        const note = await writeWhilePaused("lagging");
        try {
          const lag = (report: HealthReport) => report.nodes?.[1]?.lagMs;
          // the replica has received the row (MariaDB: the I/O thread fetched it) and says it is behind
          let first = await db.healthCheck();
          await until("the replica reports a lag", async () => (lag((first = await db.healthCheck())) ?? 0) > 0);
          await new Promise((resolve) => setTimeout(resolve, 600));
          const second = await db.healthCheck();
          expect(first.ok).toBe(true);
          expect(second.nodes?.[1]).toMatchObject({ role: "replica", ok: true, port: pair.replicaPort });
          expect(lag(second)).toBeGreaterThan(lag(first)!);
          expect(lag(second)! - lag(first)!).toBeGreaterThanOrEqual(500);
          // the strict manager sees the lag above its limit and reads from the primary
          await until("the strict manager sees the lag", async () => {
            await strict.healthCheck();
            return (await strict.findById(Note, note.id)) !== null;
          });
          expect((await strict.getRepository(Note).findOneBy({ id: note.id }))?.text).toBe("lagging");
          // the default manager, without a limit, still reads the lagging replica
          expect(await db.getRepository(Note).findOneBy({ id: note.id })).toBeNull();
        } finally {
          await pair.resume();
          await strict.close();
        }
        await until("the replica catches up", () => pair.replicaHas(note.id));
        await until("the lag is back to 0", async () => (await db.healthCheck()).nodes?.[1]?.lagMs === 0);
      },
      30_000,
    );

    run(
      "a stopped replica fails no read: it leaves rotation, the report names it, and it comes back",
      async () => {
        const note = new Note();
        note.text = "survivor";
        await db.getRepository(Note).save(note);
        await until("the replica has the row", () => pair.replicaHas(note.id));
        await pair.stopReplica();
        try {
          for (let i = 0; i < 10; i++) {
            expect((await db.getRepository(Note).findOneBy({ id: note.id }))?.text).toBe("survivor");
            expect((await db.findById(Note, note.id))?.text).toBe("survivor");
            expect(await db.getRepository(Note).count()).toBeGreaterThanOrEqual(2);
          }
          const report = await db.healthCheck({ timeoutMs: 500 });
          expect(report.ok).toBe(true);
          expect(report.nodes).toHaveLength(2);
          expect(report.nodes?.[0]).toMatchObject({ role: "primary", host: "127.0.0.1", ok: true });
          expect(report.nodes?.[1]).toMatchObject({
            role: "replica",
            host: "127.0.0.1",
            port: pair.replicaPort,
            ok: false,
          });
          expect(report.nodes?.[1]?.error).toEqual(expect.any(String));
        } finally {
          await pair.startReplica();
        }
        await until("the replica is back in the report", async () => (await db.healthCheck()).nodes?.[1]?.ok === true);
        // back in rotation: a row it has not applied is not found again, as before it stopped
        const paused = await writeWhilePaused("after restart");
        try {
          await until("reads reach the replica again", async () => (await db.findById(Note, paused.id)) === null);
        } finally {
          await pair.resume();
        }
      },
      60_000,
    );

    run("TypeORM's own replication options and an adopted DataSource route the same", async () => {
      const template = new DatabaseManager({ url: pair.primaryUrl, replicas: [pair.replicaUrl], entities: [Note] });
      const replication = (template.dataSource.options as { replication: unknown }).replication;
      const base = { type: dialect === "postgres" ? "postgres" : "mariadb", entities: [Note] };
      const fromOptions = new DatabaseManager({ options: { ...base, replication } as DataSourceOptions });
      const adopted = new DatabaseManager({
        dataSource: new DataSource({ ...base, replication } as DataSourceOptions),
      });
      await fromOptions.initialize();
      await adopted.initialize();
      const note = await writeWhilePaused("options");
      try {
        for (const manager of [fromOptions, adopted]) {
          expect(await manager.getRepository(Note).findOneBy({ id: note.id })).toBeNull();
          expect((await manager.findById(Note, note.id, { from: "primary" }))?.text).toBe("options");
          const report = await manager.healthCheck();
          expect(report.nodes?.map((n) => [n.role, n.port, n.ok])).toEqual([
            ["primary", Number(new URL(pair.primaryUrl).port), true],
            ["replica", pair.replicaPort, true],
          ]);
        }
      } finally {
        await pair.resume();
        await fromOptions.close();
        await adopted.close();
      }
    });
  },
);

describe("replica configuration", () => {
  it("a malformed replica URL is a ConfigurationError naming it without its password", () => {
    const attempt = () =>
      new DatabaseManager({
        url: "postgres://app:secret@127.0.0.1:5432/app",
        replicas: ["postgres://app:hunter2@[bad/app"],
        entities: [Note],
      });
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(/^Replica URL "postgres:\/\/app:\*\*\*@\[bad\/app" is not valid/);
    expect(attempt).not.toThrow(/hunter2/);
  });

  it("a replica of another dialect than the primary is a ConfigurationError", () => {
    expect(
      () =>
        new DatabaseManager({
          url: "postgres://app:secret@127.0.0.1:5432/app",
          replicas: ["mysql://app:hunter2@127.0.0.1:3306/app"],
          entities: [Note],
        }),
    ).toThrow(
      new ConfigurationError(
        'Replica URL "mysql://app:***@127.0.0.1:3306/app" is mysql, but the primary "postgres://app:***@127.0.0.1:5432/app" is postgres',
      ),
    );
    // mysql:// and mariadb:// are one family
    expect(
      () =>
        new DatabaseManager({
          url: "mariadb://root@127.0.0.1:3306/app",
          replicas: ["mysql://root@127.0.0.1:3307/app"],
          entities: [Note],
        }),
    ).not.toThrow();
  });

  it("causalReads on a manager for another database than MariaDB/MySQL is a ConfigurationError", () => {
    expect(
      () => new DatabaseManager({ url: "postgres://app@127.0.0.1:5432/app", entities: [Note], causalReads: true }),
    ).toThrow(
      new ConfigurationError(
        "causalReads is for MariaDB Galera clusters (mariadb:// or mysql:// URLs); this manager is for postgres",
      ),
    );
    expect(
      () => new DatabaseManager({ url: "mariadb://root@127.0.0.1:3306/app", entities: [Note], causalReads: true }),
    ).not.toThrow();
  });
});
