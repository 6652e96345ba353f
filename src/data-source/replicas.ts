import type { DataSource, DataSourceOptions } from "typeorm";
import type { Dialect, HealthProbe } from "../dialects/dialect";
import { errorMessage } from "../errors";

/** One server in {@link HealthReport.nodes}: the primary or a replica, as last checked. */
export interface NodeReport {
  /** The primary (writes, sessions) or a replica (reads outside sessions). */
  readonly role: "primary" | "replica";
  /** The node's host, as configured. */
  readonly host: string;
  /** The node's port, as configured (the dialect's default when the URL names none). */
  readonly port: number;
  /** The node answered within the timeout (a replica: and is in rotation for reads). */
  readonly ok: boolean;
  /** Milliseconds the node took to answer. */
  readonly latencyMs: number;
  /**
   * A replica's lag, from the server: PostgreSQL, how long ago the last transaction it replayed committed on the
   * primary while it has WAL it has not replayed (0 when caught up); MySQL/MariaDB, `Seconds_Behind_Master`, or
   * while its SQL thread is stopped with events waiting, how long it has been seen behind.
   */
  readonly lagMs?: number;
  /** Why the node is out (the driver's message; never a password). */
  readonly error?: string;
}

/** Options of the replica set, from the manager's config. */
export interface ReplicaOptions {
  /** Reads stay off a replica whose lag is above this. Default: no limit. */
  readonly maxReplicaLagMs?: number;
  /** How often a replica's health and lag are read again, in milliseconds, at most. Default: 1000. */
  readonly replicaCheckIntervalMs?: number;
  /**
   * Read-your-writes: after an async context (a request under `AuditContext`, or `db.withConsistency()`) wrote,
   * its reads go only to replicas that have applied that write (PostgreSQL: WAL position; MariaDB/MySQL: GTIDs),
   * else to the primary; never a wait. Contexts that wrote nothing read replicas as before. Default: false.
   */
  readonly readYourWrites?: boolean;
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

interface ReplicaState extends Endpoint {
  readonly index: number;
  /** Answered its last check (or has not been checked yet) and no read has found it gone since. */
  alive: boolean;
  lagMs: number | undefined;
  error: string | undefined;
  latencyMs: number;
  checkedAt: number;
  behindSince: number | undefined;
  checking: Promise<NodeReport> | undefined;
  probe: Promise<HealthProbe> | undefined;
  /** How far the replica had applied the primary's log when last asked (read-your-writes). */
  applied: string | undefined;
}

/** Host and port of a TypeORM credentials object (`url` or `host`/`port`), for reports. */
function endpoint(credentials: Record<string, unknown>, defaultPort: number): Endpoint {
  const url = credentials["url"];
  if (typeof url === "string") {
    try {
      const parsed = new URL(url);
      return { host: parsed.hostname || "localhost", port: parsed.port ? Number(parsed.port) : defaultPort };
    } catch {
      // reported as configured; TypeORM refuses it when connecting
    }
  }
  const host = credentials["host"];
  const port = credentials["port"];
  return { host: typeof host === "string" ? host : "localhost", port: port === undefined ? defaultPort : Number(port) };
}

/** The primary and replicas of TypeORM options with `replication`; undefined without it. @internal */
export function replicationNodes(
  options: DataSourceOptions,
): { primary: Endpoint; replicas: readonly Endpoint[] } | undefined {
  const replication = (options as { replication?: { master: object; slaves: readonly object[] } }).replication;
  if (!replication || replication.slaves.length === 0) return undefined;
  const defaultPort = options.type === "postgres" ? 5432 : 3306;
  return {
    primary: endpoint(replication.master as Record<string, unknown>, defaultPort),
    replicas: replication.slaves.map((slave) => endpoint(slave as Record<string, unknown>, defaultPort)),
  };
}

/**
 * Which replica a read goes to. A replica is in rotation while it answers its checks, no read has just found it
 * gone, and its lag is within `maxReplicaLagMs`. Checks run lazily: a pick that finds a replica's last check older
 * than the interval starts a new one in the background (no timers, nothing when there are no replicas), so a replica
 * that comes back returns to rotation, and lag stays current. With no replica in rotation, reads go to the primary.
 *
 * @internal
 */
export class ReplicaSet {
  readonly #dataSource: DataSource;
  readonly #dialect: () => Dialect;
  readonly #replicas: ReplicaState[];
  readonly #maxLagMs: number | undefined;
  readonly #intervalMs: number;
  #next = 0;
  #closed = false;

  constructor(dataSource: DataSource, dialect: () => Dialect, replicas: readonly Endpoint[], options: ReplicaOptions) {
    this.#dataSource = dataSource;
    this.#dialect = dialect;
    this.#maxLagMs = options.maxReplicaLagMs;
    this.#intervalMs = options.replicaCheckIntervalMs ?? 1_000;
    this.#replicas = replicas.map((node, index) => ({
      ...node,
      index,
      alive: true,
      lagMs: undefined,
      error: undefined,
      latencyMs: 0,
      checkedAt: 0,
      behindSince: undefined,
      checking: undefined,
      probe: undefined,
      applied: undefined,
    }));
  }

  get size(): number {
    return this.#replicas.length;
  }

  /** The replica the next read should use, round robin over those in rotation; undefined for the primary. */
  pick(exclude?: ReadonlySet<number>): number | undefined {
    const now = Date.now();
    const count = this.#replicas.length;
    let chosen: number | undefined;
    for (let step = 0; step < count; step++) {
      const state = this.#replicas[(this.#next + step) % count]!;
      if (now - state.checkedAt >= this.#intervalMs && state.checking === undefined) void this.check(state.index);
      if (chosen === undefined && this.#inRotation(state) && !exclude?.has(state.index)) chosen = state.index;
    }
    if (chosen !== undefined) this.#next = (chosen + 1) % count;
    return chosen;
  }

  /** A read found the replica gone: out of rotation until a check finds it answering again. */
  markDown(index: number, error: unknown): void {
    const state = this.#replicas[index];
    if (!state) return;
    state.alive = false;
    state.error = errorMessage(error);
    state.checkedAt = Date.now();
    this.#dropProbe(state);
    this.#dataSource.logger.log(
      "warn",
      `Replica ${state.host}:${state.port} taken out of rotation: ${state.error}; reads go to the other nodes`,
    );
  }

  /** Checks every replica now (health check, start-up). */
  checkAll(timeoutMs?: number): Promise<NodeReport[]> {
    return Promise.all(this.#replicas.map((state) => this.check(state.index, timeoutMs)));
  }

  /** Asks one replica whether it answers and how far behind it is; one check per replica at a time. */
  check(index: number, timeoutMs = Math.max(1_000, this.#intervalMs)): Promise<NodeReport> {
    const state = this.#replicas[index]!;
    state.checking ??= this.#check(state, timeoutMs).finally(() => (state.checking = undefined));
    return state.checking;
  }

  /**
   * Whether replica `index` has applied the primary's log up to `needed`: at once when it had when last asked, else
   * asked now over its check connection (one round trip, never a wait for it to catch up). A replica that does not
   * answer has not.
   */
  async hasApplied(index: number, needed: string, timeoutMs = 1_000): Promise<boolean> {
    const state = this.#replicas[index];
    if (!state) return false;
    const dialect = this.#dialect();
    if (state.applied !== undefined && dialect.positionReached(state.applied, needed)) return true;
    const probe = (state.probe ??= dialect.openHealthProbe(this.#dataSource, timeoutMs, state.index));
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      const rows = await Promise.race([probe.then((p) => p.query(dialect.replicaPositionQuery)), timeout]);
      const applied = rows[0]?.["position"];
      if (typeof applied !== "string") return false;
      state.applied = applied;
      return dialect.positionReached(applied, needed);
    } catch {
      if (state.probe === probe) this.#dropProbe(state);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#closed = true;
    for (const state of this.#replicas) this.#dropProbe(state);
  }

  #inRotation(state: ReplicaState): boolean {
    if (!state.alive) return false;
    return this.#maxLagMs === undefined || (state.lagMs !== undefined && state.lagMs <= this.#maxLagMs);
  }

  async #check(state: ReplicaState, timeoutMs: number): Promise<NodeReport> {
    const dialect = this.#dialect();
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const probe = (state.probe ??= dialect.openHealthProbe(this.#dataSource, timeoutMs, state.index));
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      const rows = await Promise.race([probe.then((p) => p.query(dialect.replicaStatusQuery)), timeout]);
      const status = dialect.replicaStatus(rows);
      const now = Date.now();
      if (!status.behind) state.behindSince = undefined;
      else state.behindSince ??= now;
      state.lagMs = status.lagMs ?? (status.behind ? now - state.behindSince! : 0);
      if (!state.alive)
        this.#dataSource.logger.log("info", `Replica ${state.host}:${state.port} answers again; back in rotation`);
      state.alive = true;
      state.error = undefined;
    } catch (error) {
      if (state.probe === probe) this.#dropProbe(state);
      state.alive = false;
      state.error = errorMessage(error);
      state.lagMs = undefined;
    } finally {
      clearTimeout(timer);
      state.checkedAt = Date.now();
      state.latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
      if (this.#closed) this.#dropProbe(state);
    }
    return this.#report(state);
  }

  #report(state: ReplicaState): NodeReport {
    return {
      role: "replica",
      host: state.host,
      port: state.port,
      ok: state.alive,
      latencyMs: state.latencyMs,
      ...(state.lagMs !== undefined ? { lagMs: state.lagMs } : {}),
      ...(state.error !== undefined ? { error: state.error } : {}),
    };
  }

  #dropProbe(state: ReplicaState): void {
    const probe = state.probe;
    state.probe = undefined;
    probe?.then(
      (p) => p.destroy(),
      () => undefined,
    );
  }
}
