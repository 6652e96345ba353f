import { Inject, Injectable } from "@nestjs/common";
import { DatabaseManager } from "../data-source/database-manager";
import type { HealthCheckOptions } from "../data-source/health";

/** The details of one database in a health answer. */
export interface DatabaseHealthDetails {
  /** `up` when the database answered within the timeout. */
  readonly status: "up" | "down";
  /** The dialect the manager talks to. */
  readonly dialect: string;
  /** Milliseconds the check took. */
  readonly latencyMs: number;
  /** The server's version string, when it answered. */
  readonly serverVersion?: string;
  /** Why the check failed, when it did. */
  readonly error?: string;
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

  /** `up` when the database answers within the timeout (default 1000 ms), `down` with the error otherwise. */
  async isHealthy(key = "database", options: HealthCheckOptions = {}): Promise<DatabaseHealthIndicatorResult> {
    const report = await this.db.healthCheck(options);
    return {
      [key]: {
        status: report.ok ? "up" : "down",
        dialect: report.dialect,
        latencyMs: report.latencyMs,
        ...(report.serverVersion !== undefined ? { serverVersion: report.serverVersion } : {}),
        ...(report.error !== undefined ? { error: report.error } : {}),
      },
    };
  }
}
