import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { DIALECTS, urlFor, type TestDialect } from "./support/dialects";

const ROOT = join(__dirname, "..");

describe.each(DIALECTS)("%s: an app's date column in a process west of UTC", (dialect: TestDialect) => {
  it("reads back the day it wrote, through find, raw results, a stream, findById and a where, as plain TypeORM does", () => {
    // the process zone is fixed when a process starts: the probe runs in one of its own, at UTC-8 / UTC-7
    const output = execFileSync(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", join(ROOT, "test", "support", "date-probe.ts")],
      {
        cwd: ROOT,
        env: { ...process.env, TZ: "America/Los_Angeles", DATABASE_URL: urlFor(dialect) },
        encoding: "utf8",
      },
    );
    const answer = JSON.parse(output.trim().split("\n").pop()!) as Record<string, unknown>;
    expect(answer["offset"]).toBeGreaterThan(0);
    // a raw DATE is what the driver gives plain TypeORM: text on SQLite, the local midnight of that day on PostgreSQL
    // and MySQL/MariaDB (on the library's UTC mysql2 connections once the UTC midnight: the day before here); mysql2
    // gets the library's DATE conversion only for result sets with a DATE column, on every path checked here
    const day = (value: unknown) => (Array.isArray(value) ? value : String(value).slice(0, 10));
    const driverDay = dialect === "sqlite" ? "2026-03-01" : [2026, 3, 1];
    expect({
      ...answer,
      raw: day(answer["raw"]),
      streamed: answer["streamed"] === null ? null : (answer["streamed"] as unknown[]).map(day),
      prepared: answer["prepared"] === null ? null : day(answer["prepared"]),
    }).toEqual({
      offset: answer["offset"],
      found: "2026-03-01",
      raw: driverDay,
      streamed: dialect === "mariadb" ? [driverDay] : null,
      direct: "2026-03-01",
      prepared: dialect === "mariadb" ? [2026, 3, 1] : null,
      byDay: [true],
    });
  }, 60_000);
});
