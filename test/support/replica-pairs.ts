import {
  mariadbUnavailable,
  mariaQuery,
  pgReplicaUnavailable,
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
  /** A mark of the replica's activity now, for {@link replicaServedSince}. */
  replicaMark(): Promise<unknown>;
  /** Whether the replica answered `reads` reads of replica_notes after `mark` (connections of the pools). */
  replicaServedSince(mark: unknown, reads: number): Promise<boolean>;
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
    // PostgreSQL reports statistics lazily (a busy backend's may wait a while): the pools' connections on the
    // replica whose last statement, a read of replica_notes, started after the mark answer the question instead
    replicaMark: async () => (await pair.query(pair.replica, "SELECT clock_timestamp()::text AS t"))[0]?.["t"],
    replicaServedSince: async (mark) => {
      const rows = await pair.query(
        pair.replica,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%replica_notes%' AND query_start >= $1::timestamptz",
        [mark],
      );
      return Number(rows[0]?.["n"] ?? 0) > 0;
    },
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
    replicaMark: async () => {
      const rows = (await mariaQuery(pair.replica, "SHOW GLOBAL STATUS LIKE 'Com_select'")) as { Value: string }[];
      return Number(rows[0]?.Value ?? 0);
    },
    replicaServedSince: async (mark, reads) => {
      const rows = (await mariaQuery(pair.replica, "SHOW GLOBAL STATUS LIKE 'Com_select'")) as { Value: string }[];
      return Number(rows[0]?.Value ?? 0) >= Number(mark) + reads;
    },
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

/** The primary/replica pairs of the dialects this run tests, each with why it cannot start here (if it cannot). */
export function pairTopologies(dialects: readonly string[]) {
  return [
    { dialect: "postgres", unavailable: pgReplicaUnavailable, start: pgPair },
    { dialect: "mariadb", unavailable: () => mariadbUnavailable(), start: mariaPair },
  ].filter((t) => dialects.includes(t.dialect));
}
