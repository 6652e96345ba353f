import {
  mariaQuery,
  startMariaReplicaPair,
  startPgReplicaPair,
  type MariaReplicaPair,
  type PgReplicaPair,
} from "./topology";

// A primary and a read replica on servers started here (test/support/topology.ts), the same shape for PostgreSQL
// and MariaDB; `replica_notes` is the table the topology tests write.

/** What a test needs of a primary/replica pair, the same for both servers. */
export interface Pair {
  readonly primaryUrl: string;
  readonly replicaUrl: string;
  readonly replicaPort: number;
  /** Holds back the replica's apply of new changes (PostgreSQL: replay; MariaDB: the SQL thread). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Whether the replica has applied the row. */
  replicaHas(id: string): Promise<boolean>;
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  stop(): Promise<void>;
}

export async function pgPair(): Promise<Pair> {
  const pair: PgReplicaPair = await startPgReplicaPair(5441, 5442);
  const database = (url: string) => url;
  return {
    primaryUrl: database(pair.primary.url),
    replicaUrl: database(pair.replica.url),
    replicaPort: pair.replica.port,
    pause: async () => void (await pair.query(pair.replica, "SELECT pg_wal_replay_pause()")),
    resume: async () => void (await pair.query(pair.replica, "SELECT pg_wal_replay_resume()")),
    replicaHas: async (id) =>
      (await pair.query(pair.replica, "SELECT 1 FROM replica_notes WHERE id = $1", [id])).length === 1,
    stopReplica: async () => pair.stopNode(pair.replica),
    startReplica: async () => pair.startNode(pair.replica),
    stop: async () => pair.stop(),
  };
}

export async function mariaPair(): Promise<Pair> {
  const pair: MariaReplicaPair = await startMariaReplicaPair(3341, 3342);
  return {
    primaryUrl: pair.primary.url,
    replicaUrl: pair.replica.url,
    replicaPort: pair.replica.port,
    pause: async () => void (await mariaQuery(pair.replica, "STOP SLAVE SQL_THREAD")),
    resume: async () => void (await mariaQuery(pair.replica, "START SLAVE SQL_THREAD")),
    replicaHas: async (id) =>
      ((await mariaQuery(pair.replica, "SELECT 1 FROM inference_test.replica_notes WHERE id = ?", [id])) as unknown[])
        .length === 1,
    stopReplica: () => pair.stopNode(pair.replica),
    startReplica: () => pair.startNode(pair.replica),
    stop: () => pair.stop(),
  };
}

export async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}
