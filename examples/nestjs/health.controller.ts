import { Controller, Get, Res } from "@nestjs/common";
import type { Response } from "express";
import { DatabaseManager, type HealthReport } from "../../src";

/** `GET /health`: the manager's health check; 200 when the database answers, 503 when not. */
@Controller("health")
export class HealthController {
  constructor(private readonly db: DatabaseManager) {}

  @Get()
  async health(@Res({ passthrough: true }) response: Response): Promise<HealthReport> {
    const report = await this.db.healthCheck({ timeoutMs: 1000 });
    response.status(report.ok ? 200 : 503);
    return report;
  }
}
