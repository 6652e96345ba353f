/**
 * A three-node MariaDB Galera cluster started here (test/support/topology.ts): managers on different nodes, the
 * conflicts Galera reports when two nodes change the same row, and causal reads.
 */
import { Column, Entity, PrimaryColumn, QueryFailedError, VersionColumn, type EntityManager } from "typeorm";
import { DatabaseManager, FullAuditModel, StaleEntityError } from "../src";
import { DIALECTS } from "./support/dialects";
import { mariadbUnavailable, startGaleraCluster, topologyUnavailable, type GaleraCluster } from "./support/topology";

@Entity("galera_counters")
class Counter {
  @PrimaryColumn({ type: "varchar", length: 20 })
  name!: string;

  @Column({ type: "integer" })
  value!: number;
}

@Entity("galera_notes")
class Note {
  @PrimaryColumn({ type: "varchar", length: 20 })
  id!: string;

  @Column({ type: "varchar", length: 40 })
  text!: string;
}

/** A library model with optimistic concurrency: a stale save is refused on whichever node it reaches. */
@Entity("galera_versioned")
class Tally extends FullAuditModel {
  @VersionColumn()
  version!: number;

  @Column({ type: "integer" })
  value!: number;
}

/** One promise per round that opens once both nodes' sessions of that round have read the counter. */
function rounds(count: number): Array<() => Promise<void>> {
  return Array.from({ length: count }, () => {
    let arrived = 0;
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return () => {
      arrived += 1;
      if (arrived === 2) open();
      // a retried attempt runs alone: the other node's session of the round has committed already
      return Promise.race([opened, new Promise<void>((resolve) => setTimeout(resolve, 2_000))]);
    };
  });
}

/**
 * Reads the counter and writes it back plus one. The read must be a locking one (SERIALIZABLE makes InnoDB's plain
 * SELECT lock in share mode): a snapshot read may be stale on a Galera node (or, on any InnoDB server, older than
 * a concurrent commit), and certification only compares writes, so a stale read-modify-write would commit and
 * lose an update. A locking read sees the latest row, and Galera aborts it when another node's write arrives.
 */
function increment(name: string, wait: () => Promise<void>) {
  return async (manager: EntityManager): Promise<void> => {
    const counter = await manager.findOneByOrFail(Counter, { name });
    await wait();
    await manager.update(Counter, { name }, { value: counter.value + 1 });
  };
}

/**
 * Reads on `db`'s node once it has applied everything the cluster committed before (Galera applies a commit on the
 * other nodes after certifying it: a plain read right away can miss it). The tests' starting rows go through this
 * first, so that what they measure is the nodes' racing writes, not a setup row still on its way.
 */
function afterApplied(db: DatabaseManager, select: string, params: unknown[] = []): Promise<unknown[]> {
  return db.manager.query(`SET STATEMENT wsrep_sync_wait = 1 FOR ${select}`, params) as Promise<unknown[]>;
}

const available = DIALECTS.includes("mariadb");
const reason = available ? mariadbUnavailable(true) : "MariaDB is not among this run's dialects";

describe("mariadb: a three-node Galera cluster", () => {
  let cluster: GaleraCluster;
  let node1: DatabaseManager;
  let node2: DatabaseManager;
  let node3: DatabaseManager;

  beforeAll(async () => {
    if (reason !== undefined) return topologyUnavailable("Galera", reason);
    cluster = await startGaleraCluster(3351);
    const [a, b, c] = cluster.nodes.map((n) => n.url) as [string, string, string];
    node1 = new DatabaseManager({ url: a, entities: [Counter, Note, Tally] });
    node2 = new DatabaseManager({ url: b, entities: [Counter, Note, Tally] });
    node3 = new DatabaseManager({ url: c, entities: [Counter, Note, Tally], causalReads: true });
    await node1.initialize();
    await node1.createTables();
    await node2.initialize();
    await node3.initialize();
  }, 180_000);

  afterAll(async () => {
    for (const db of [node1, node2, node3]) await db?.close();
    await cluster?.stop();
  }, 120_000);

  beforeEach(async () => {
    if (reason !== undefined) return;
    await node1.manager.query("DELETE FROM galera_counters");
    await node1.manager.insert(Counter, { name: "c", value: 0 });
    for (const db of [node2, node3])
      expect(await afterApplied(db, "SELECT name FROM galera_counters WHERE name = 'c'")).toHaveLength(1);
  });

  const run = reason === undefined ? it : it.skip;

  run("healthCheck says the cluster's size and the node's state", async () => {
    for (const db of [node1, node2, node3]) {
      const report = await db.healthCheck();
      expect(report).toMatchObject({ ok: true, dialect: "mariadb", cluster: { size: 3, state: "Synced" } });
    }
  });

  run("tables created through one node are used through the others", async () => {
    await node2.manager.insert(Note, { id: "from-2", text: "written on node 2" });
    await node3.manager.insert(Note, { id: "from-3", text: "written on node 3" });
    expect(await afterApplied(node1, "SELECT id FROM galera_notes WHERE id LIKE 'from-%'")).toHaveLength(2);
    const rows = await node1.withSession((m) => m.find(Note, { order: { id: "ASC" } }), {
      isolation: "READ COMMITTED",
    });
    expect(rows.filter((r) => r.id.startsWith("from-")).map((r) => r.text)).toEqual([
      "written on node 2",
      "written on node 3",
    ]);
  });

  run(
    "two nodes incrementing the same row with retry lose no update",
    async () => {
      const count = 15;
      const waits = rounds(count);
      const loop = async (db: DatabaseManager) => {
        for (let i = 0; i < count; i++)
          await db.withSession(increment("c", waits[i]!), {
            isolation: "SERIALIZABLE",
            retry: { attempts: 30, baseDelayMs: 5 },
          });
      };
      await Promise.all([loop(node1), loop(node2)]);
      const [row] = (await node3.manager.query("SELECT value FROM galera_counters WHERE name = 'c'")) as {
        value: number;
      }[];
      expect(row!.value).toBe(2 * count);
    },
    120_000,
  );

  run(
    "without retry, the loser of each round gets Galera's certification failure (1213) and nothing of it lands",
    async () => {
      const count = 8;
      const waits = rounds(count);
      const failures: unknown[] = [];
      const loop = async (db: DatabaseManager) => {
        for (let i = 0; i < count; i++)
          await db
            .withSession(increment("c", waits[i]!), { isolation: "SERIALIZABLE" })
            .catch((error: unknown) => failures.push(error));
      };
      await Promise.all([loop(node1), loop(node2)]);
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        const driverError = (failure instanceof QueryFailedError ? failure.driverError : (failure as Error).cause) as {
          errno?: number;
        };
        expect(driverError.errno).toBe(1213);
      }
      const [row] = (await node3.manager.query("SELECT value FROM galera_counters WHERE name = 'c'")) as {
        value: number;
      }[];
      // every session that did not fail added one; the failed ones added nothing
      expect(row!.value).toBe(2 * count - failures.length);
    },
    120_000,
  );

  run(
    "@VersionColumn: two nodes' plain read-modify-write saves with retry end exact, no locking reads needed",
    async () => {
      const { id } = await node1.getRepository(Tally).save(Object.assign(new Tally(), { value: 0 }));
      // the starting row applied on node2 before its loop reads it there (Galera applies a commit on the other nodes
      // after certifying it: a read right away could miss the row, which is not what this test is about)
      expect(await afterApplied(node2, "SELECT id FROM galera_versioned WHERE id = ?", [id])).toHaveLength(1);
      const count = 15;
      const waits = rounds(count);
      // a snapshot read on a node may be stale; the save's UPDATE carries the version it read, so a stale one
      // either finds the row moved on (StaleEntityError) or loses certification to the write it missed (1213)
      const loop = async (db: DatabaseManager) => {
        for (let i = 0; i < count; i++)
          await db.withSession(
            async (manager) => {
              const tally = await manager.findOneByOrFail(Tally, { id });
              await waits[i]!();
              tally.value += 1;
              await manager.save(tally);
            },
            { retry: { attempts: 40, baseDelayMs: 5 } },
          );
      };
      await Promise.all([loop(node1), loop(node2)]);
      const [row] = (await node3.manager.query("SELECT value, version FROM galera_versioned WHERE id = ?", [id])) as {
        value: number;
        version: number;
      }[];
      expect([Number(row!.value), Number(row!.version)]).toEqual([2 * count, 2 * count + 1]);
    },
    120_000,
  );

  run("@VersionColumn: a copy loaded on one node and saved after another node's save is refused", async () => {
    const { id } = await node1.getRepository(Tally).save(Object.assign(new Tally(), { value: 1 }));
    const copy = await node3.getRepository(Tally).findOneByOrFail({ id });
    const fresh = await node1.getRepository(Tally).findOneByOrFail({ id });
    fresh.value = 2;
    await node1.getRepository(Tally).save(fresh);
    copy.value = 99;
    // node3 reads causally: TypeORM's read before the UPDATE sees node 1's write
    const error = await node3
      .getRepository(Tally)
      .save(copy)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StaleEntityError);
    expect([(error as StaleEntityError).expectedVersion, (error as StaleEntityError).actualVersion]).toEqual([1, 2]);
    const [row] = (await node3.manager.query("SELECT value FROM galera_versioned WHERE id = ?", [id])) as {
      value: number;
    }[];
    expect(Number(row!.value)).toBe(2);
  });

  run("causalReads: a read on one node right after a write on another sees it", async () => {
    const [setting] = (await node3.manager.query("SELECT @@session.wsrep_sync_wait AS w")) as { w: number }[];
    expect(Number(setting!.w)).toBe(1);
    const [plain] = (await node2.manager.query("SELECT @@session.wsrep_sync_wait AS w")) as { w: number }[];
    expect(Number(plain!.w)).toBe(0);
    for (let i = 0; i < 30; i++) {
      await node1.manager.update(Counter, { name: "c" }, { value: i + 1 });
      const seen = await node3.manager.findOneByOrFail(Counter, { name: "c" });
      expect(seen.value).toBe(i + 1);
    }
  });
});
