import { spawn } from "node:child_process";
import { join } from "node:path";
import { DatabaseManager } from "../src";
import { raw, urlFor } from "./support/dialects";
import { Order } from "./support/entities";

// SQLite only: two processes sharing one database file is a SQLite concern (the servers have their own locking).
function writer(url: string, name: string, count: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        join(__dirname, "fixtures", "sqlite-writer.ts"),
        url,
        name,
        String(count),
      ],
      {
        cwd: join(__dirname, ".."),
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("sqlite: two processes writing the same WAL database", () => {
  let db: DatabaseManager;
  let url: string;

  beforeAll(async () => {
    url = urlFor("sqlite");
    db = new DatabaseManager({ url, entities: [Order] });
    await db.initialize();
    await db.reset({ confirm: true });
  });
  afterAll(() => db.close());

  it("both succeed: write transactions start with BEGIN IMMEDIATE and wait under the busy timeout", async () => {
    const [a, b] = await Promise.all([writer(url, "a", 150), writer(url, "b", 150)]);
    expect([a.code, a.stderr]).toEqual([0, ""]);
    expect([b.code, b.stderr]).toEqual([0, ""]);
    const rows = await raw<{ who: string; n: unknown }>(
      db,
      "SELECT substr(reference, 1, 1) AS who, COUNT(*) AS n FROM orders WHERE payload IS NOT NULL GROUP BY who ORDER BY who",
    );
    expect(rows.map((r) => [r.who, Number(r.n)])).toEqual([
      ["a", 150],
      ["b", 150],
    ]);
    expect(await raw(db, "PRAGMA journal_mode")).toEqual([{ journal_mode: "wal" }]);
  }, 120_000);
});
