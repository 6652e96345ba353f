/**
 * `npm run bench:replicas`: what replicas and retries cost, on a PostgreSQL primary with a streaming replica started
 * here (the tests' topology helper, PostgreSQL 15's own binaries, ports 5443/5444), subjects alternated round by
 * round in one process. Writes bench/results-replicas.json and prints ratios:
 *
 * - a replica read (findById and findOneBy routed to the replica) against the same read on a manager without
 *   replicas (the primary), both servers on this machine: the routing's own cost;
 * - the same replica read with `readYourWrites` in a context that wrote (its position from a token), the replica
 *   caught up, against the replica read without it: the read-your-writes check's cost;
 * - a session with `retry` that meets no conflict, against a plain session: the retry wrapper's cost;
 * - a session that meets one conflict and runs again, against a plain session (the rerun plus the backoff).
 */
import "reflect-metadata";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Column, Entity } from "typeorm";
import { DatabaseManager, FullAuditModel } from "../src";
import { startPgReplicaPair } from "../test/support/topology";
import { measure, type Measurement } from "./measure";

@Entity("bench_replica_notes")
class Note extends FullAuditModel {
  @Column({ type: "varchar", length: 40 })
  text!: string;
}

const QUICK = process.argv.includes("--quick");
const ROUNDS = QUICK ? 5 : 11;
const OPS = QUICK ? 300 : 1000;

async function main(): Promise<void> {
  const pair = await startPgReplicaPair(5443, 5444);
  const primaryOnly = new DatabaseManager({ url: pair.primary.url, entities: [Note] });
  const replicated = new DatabaseManager({ url: pair.primary.url, replicas: [pair.replica.url], entities: [Note] });
  const consistent = new DatabaseManager({
    url: pair.primary.url,
    replicas: [pair.replica.url],
    entities: [Note],
    readYourWrites: true,
  });
  try {
    await primaryOnly.initialize();
    await primaryOnly.createTables();
    await replicated.initialize();
    await consistent.initialize();
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await primaryOnly.insertOne(Note, { text: `note ${i}` })).id);
    for (let i = 0; i < 100; i++) {
      const rows = await pair.query(pair.replica, "SELECT count(*)::int AS n FROM bench_replica_notes");
      if (rows[0]?.["n"] === ids.length) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // a context that wrote: its token, once the replica has applied the write
    const token = await consistent.withConsistency(undefined, async () => {
      await consistent.insertOne(Note, { text: "written" });
      return consistent.consistencyToken();
    });
    for (let i = 0; i < 100; i++) {
      const rows = await pair.query(pair.replica, "SELECT count(*)::int AS n FROM bench_replica_notes");
      if (rows[0]?.["n"] === ids.length + 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const reads = (db: DatabaseManager, how: "findById" | "findOneBy") => async () => {
      for (let i = 0; i < OPS; i++) {
        const id = ids[i % ids.length]!;
        const found = how === "findById" ? await db.findById(Note, id) : await db.getRepository(Note).findOneBy({ id });
        if (!found) throw new Error(`row ${id} not found`);
      }
    };
    const consistentReads = (how: "findById" | "findOneBy") => () =>
      consistent.withConsistency(token, reads(consistent, how));
    const results: Measurement[] = [];
    results.push(
      ...(await measure(
        "findById",
        ROUNDS,
        {
          primary: reads(primaryOnly, "findById"),
          replica: reads(replicated, "findById"),
          "replica, read-your-writes": consistentReads("findById"),
        },
        OPS,
        "postgres",
      )),
      ...(await measure(
        "findOneBy",
        ROUNDS,
        {
          primary: reads(primaryOnly, "findOneBy"),
          replica: reads(replicated, "findOneBy"),
          "replica, read-your-writes": consistentReads("findOneBy"),
        },
        OPS,
        "postgres",
      )),
    );
    const session =
      (options?: { retry: number }, conflictEvery = 0) =>
      async () => {
        for (let i = 0; i < OPS / 10; i++) {
          let attempt = 0;
          await primaryOnly.withSession(async (manager) => {
            attempt += 1;
            await manager.update(Note, { id: ids[i % ids.length]! }, { text: `session ${i}` });
            if (conflictEvery > 0 && attempt === 1 && i % conflictEvery === 0)
              throw Object.assign(new Error("could not serialize access"), { code: "40001" });
          }, options);
        }
      };
    results.push(
      ...(await measure(
        "session",
        ROUNDS,
        {
          plain: session(),
          "retry, no conflict": session({ retry: 3 }),
          "retry, one conflict each": session({ retry: 3 }, 1),
        },
        OPS / 10,
        "postgres",
      )),
    );
    const ratio = (scenario: string, subject: string, base: string) => {
      const of = (name: string) => results.find((r) => r.scenario === scenario && r.subject === name)!.medianMs;
      return Math.round((of(subject) / of(base)) * 100) / 100;
    };
    const summary = {
      "replica findById / primary findById": ratio("findById", "replica", "primary"),
      "replica findOneBy / primary findOneBy": ratio("findOneBy", "replica", "primary"),
      "read-your-writes findById / replica findById": ratio("findById", "replica, read-your-writes", "replica"),
      "read-your-writes findOneBy / replica findOneBy": ratio("findOneBy", "replica, read-your-writes", "replica"),
      "session with retry (no conflict) / plain session": ratio("session", "retry, no conflict", "plain"),
      "session retried once / plain session": ratio("session", "retry, one conflict each", "plain"),
    };
    console.table(results);
    console.table(summary);
    writeFileSync(
      join(__dirname, "results-replicas.json"),
      `${JSON.stringify({ quick: QUICK, rounds: ROUNDS, opsPerRound: OPS, results, summary }, null, 2)}\n`,
    );
  } finally {
    await consistent.close();
    await replicated.close();
    await primaryOnly.close();
    pair.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
