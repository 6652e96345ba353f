import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { DIALECTS, urlFor, type TestDialect } from "./support/dialects";

const ROOT = join(__dirname, "..");

describe.each(DIALECTS)("%s: an app's date column in a process west of UTC", (dialect: TestDialect) => {
  it("reads back the day it wrote, through find, raw results and a where, as plain TypeORM does", () => {
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
    // a raw DATE is what the driver gives plain TypeORM: text on PostgreSQL and SQLite, on MySQL/MariaDB the local
    // midnight of that day (before, on the library's UTC connections, the UTC midnight: the day before here)
    const raw = Array.isArray(answer["raw"]) ? answer["raw"] : String(answer["raw"]).slice(0, 10);
    expect({ ...answer, raw }).toEqual({
      offset: answer["offset"],
      found: "2026-03-01",
      raw: Array.isArray(answer["raw"]) ? [2026, 3, 1] : "2026-03-01",
      byDay: [true],
    });
  }, 60_000);
});
