import type { DataSource } from "typeorm";
import type { Dialect, DialectName } from "../dialects/dialect";
import { errorMessage } from "../errors";

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
  /** Why the check failed, when it did. */
  readonly error?: string;
}

/** Options of {@link DatabaseManager.healthCheck}. */
export interface HealthCheckOptions {
  /** Give up after this many milliseconds. Default: 1000. */
  readonly timeoutMs?: number;
}

/** @internal */
export async function checkHealth(dataSource: DataSource, dialect: Dialect, timeoutMs: number): Promise<HealthReport> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const rows = (await Promise.race([dataSource.query(dialect.versionQuery), timeout])) as { version?: unknown }[];
    const version = rows[0]?.version;
    return { ok: true, dialect: dialect.name, latencyMs: elapsed(), serverVersion: version === undefined ? undefined : String(version) };
  } catch (error) {
    return { ok: false, dialect: dialect.name, latencyMs: elapsed(), error: errorMessage(error) };
  } finally {
    clearTimeout(timer);
  }
}
