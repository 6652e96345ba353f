import { Inject, Injectable } from "@nestjs/common";
import { DatabaseManager } from "../data-source/database-manager";
import type { HealthCheckOptions } from "../data-source/health";

/**
 * One database in a health answer. By default only `status` and `latencyMs`: a health endpoint is often public, and
 * the server's exact version or a driver's error (hosts, ports) tells an attacker more than a monitor needs.
 */
export interface DatabaseHealthDetails {
  /** `up` when the database answered within the timeout. */
  readonly status: "up" | "down";
  /** Milliseconds the check took. */
  readonly latencyMs: number;
  /** The dialect the manager talks to (with `details: true`). */
  readonly dialect?: string;
  /** The server's version string, when it answered (with `details: true`). */
  readonly serverVersion?: string;
  /** Why the check failed, when it did (with `details: true`). */
  readonly error?: string;
}

/** Options of {@link DatabaseHealthIndicator.isHealthy}. */
export interface DatabaseHealthOptions extends HealthCheckOptions {
  /** Add the dialect, the server's version and the failure's text: for an endpoint only operators reach. */
  readonly details?: boolean;
}

/** What `@nestjs/terminus` reads from an indicator: the key and its details. */
export type DatabaseHealthIndicatorResult = Record<string, DatabaseHealthDetails>;

/**
 * A health indicator for `@nestjs/terminus` 11 and 12, from the manager's `healthCheck()` (a connection of its own,
 * so a busy pool cannot delay it): `health.check([() => indicator.isHealthy("database")])`. It answers terminus's
 * result shape itself (`{ database: { status: "up" | "down", ... } }`), so importing it never loads terminus.
 */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(@Inject(DatabaseManager) private readonly db: DatabaseManager) {}

  /**
   * `up` when the database answers within the timeout (default 1000 ms), `down` otherwise, with the check's
   * latency; the dialect, the server's version and the error's text only with `details: true`.
   */
  async isHealthy(key = "database", options: DatabaseHealthOptions = {}): Promise<DatabaseHealthIndicatorResult> {
    const { details, ...check } = options;
    const report = await this.db.healthCheck(check);
    const status = report.ok ? "up" : "down";
    if (!details) return { [key]: { status, latencyMs: report.latencyMs } };
    return {
      [key]: {
        status,
        latencyMs: report.latencyMs,
        dialect: report.dialect,
        ...(report.serverVersion !== undefined ? { serverVersion: report.serverVersion } : {}),
        ...(report.error !== undefined ? { error: report.error } : {}),
      },
    };
  }
}
