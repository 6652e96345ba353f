import { Controller, Get } from "@nestjs/common";
import { HealthCheck, HealthCheckService, type HealthCheckResult } from "@nestjs/terminus";
import { DatabaseHealthIndicator } from "../../src/nestjs";

/** `GET /health` through @nestjs/terminus: 200 when the database answers, 503 when not. */
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
}
