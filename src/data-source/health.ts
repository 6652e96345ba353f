import type { DataSource } from "typeorm";
import type { Dialect, DialectName, HealthProbe, PoolStats } from "../dialects/dialect";
import { errorMessage } from "../errors";
import type { NodeReport } from "./replicas";

/** What {@link DatabaseManager.healthCheck} reports. */
export interface HealthReport {
  /** True when the database answered a query within the timeout. */
  readonly ok: boolean;
  /** The dialect the manager talks to. */
  readonly dialect: DialectName;
  /** Milliseconds the check took. */
  readonly latencyMs: number;
  /** The server's version string, when it answered. */
  readonly serverVersion?: string;
  /** The pool's connection counts (busy connections = total - idle). */
  readonly pool?: PoolStats;
  /** Why the check failed, when it did. */
  readonly error?: string;
  /**
   * With replicas: the primary and each replica (`ok` of the report is the primary's; a replica that is down is
   * `ok: false` here and reads go around it).
   */
  readonly nodes?: readonly NodeReport[];
  /** On a MariaDB Galera node: the cluster's size and this node's state (`Synced` when it serves). */
  readonly cluster?: {
    /** `wsrep_cluster_size`: nodes in the cluster this node is part of. */
    readonly size: number;
    /** `wsrep_local_state_comment`: `Synced` when the node serves; `Donor/Desynced`, `Joining` and so on otherwise. */
    readonly state: string;
  };
}

/** Options of {@link DatabaseManager.healthCheck}. */
export interface HealthCheckOptions {
  /** Give up after this many milliseconds. Default: 1000. */
  readonly timeoutMs?: number;
}

/**
 * Health checks over a connection of their own, kept open between checks (one round trip per check) and outside the
 * pool, so that a pool whose connections are all busy cannot delay the answer. A check that fails or times out
 * destroys that connection at once; the next check opens a new one.
 *
 * @internal
 */
export class HealthMonitor {
  readonly #dataSource: DataSource;
  readonly #dialect: () => Dialect;
  readonly #primary: { host: string; port: number } | undefined;
  #probe: Promise<HealthProbe> | undefined;

  /** `primary`: the primary's endpoint, for the `nodes` of a report when there are replicas. */
  constructor(dataSource: DataSource, dialect: () => Dialect, primary?: { host: string; port: number }) {
    this.#dataSource = dataSource;
    this.#dialect = dialect;
    this.#primary = primary;
  }

  /** The primary's line in a report's `nodes`. */
  primaryNode(report: HealthReport): NodeReport {
    return {
      role: "primary",
      host: this.#primary?.host ?? "",
      port: this.#primary?.port ?? 0,
      ok: report.ok,
      latencyMs: report.latencyMs,
      ...(report.error !== undefined ? { error: report.error } : {}),
    };
  }

  async check(timeoutMs: number): Promise<HealthReport> {
    const dialect = this.#dialect();
    const started = performance.now();
    const report = (fields: {
      ok: boolean;
      serverVersion?: string;
      error?: string;
      cluster?: HealthReport["cluster"];
    }): HealthReport => ({
      ...fields,
      dialect: dialect.name,
      latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
      pool: dialect.poolStats(this.#dataSource),
    });
    let timer: NodeJS.Timeout | undefined;
    const probe = (this.#probe ??= dialect.openHealthProbe(this.#dataSource, timeoutMs));
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      // one round trip: the version, and a cluster node's size and state in the same row
      const ask = async (p: HealthProbe) => {
        const row = (await p.query(dialect.versionQuery))[0];
        return { version: row?.["version"], cluster: row };
      };
      const { version, cluster } = await Promise.race([probe.then(ask), timeout]);
      const size = Number(cluster?.["size"] ?? 0);
      return report({
        ok: true,
        serverVersion: version === undefined ? undefined : String(version),
        ...(size > 0 ? { cluster: { size, state: String(cluster?.["state"]) } } : {}),
      });
    } catch (error) {
      this.#drop(probe);
      return report({ ok: false, error: errorMessage(error) });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the probe connection. */
  close(): void {
    if (this.#probe) this.#drop(this.#probe);
  }

  #drop(probe: Promise<HealthProbe>): void {
    if (this.#probe === probe) this.#probe = undefined;
    probe.then(
      (p) => p.destroy(),
      () => undefined,
    );
  }
}
