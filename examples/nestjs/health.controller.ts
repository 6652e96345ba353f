import { Controller, Get } from "@nestjs/common";
import { HealthCheck, HealthCheckService, type HealthCheckResult } from "@nestjs/terminus";
import { DatabaseHealthIndicator } from "../../src/nestjs";

/**
 * `GET /health` through @nestjs/terminus: 200 when the database answers, 503 when not; status and latency only.
 */
@Controller("health")
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.isHealthy("database", { timeoutMs: 1000 })]);
  }

  /** The same with the dialect, the server's version and any error's text: behind an operators' guard in a real app. */
  @Get("details")
  @HealthCheck()
  details(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.isHealthy("database", { timeoutMs: 1000, details: true })]);
  }
}
