import { runCli } from "../src/cli/run-cli";
import { DIALECTS, urlFor, type TestDialect } from "./support/dialects";

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, env, { out: (l) => (out += `${l}\n`), err: (l) => (err += `${l}\n`) });
  return { code, out, err };
}

describe.each(DIALECTS)("%s: the inference-db command line", (dialect: TestDialect) => {
  const url = urlFor(dialect);

  it("health exits 0 with the report when the database answers (URL from DATABASE_URL)", async () => {
    const { code, out } = await cli(["health"], { DATABASE_URL: url });
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, dialect });
  });

  it("health exits 1 with ok: false when it does not", async () => {
    const bad = dialect === "sqlite" ? "sqlite:/etc/passwd/x.db" : url.replace(/:\d+\//, ":1/");
    const { code, out } = await cli(["health", "--url", bad, "--timeout", "300"]);
    expect(code).toBe(1);
    expect(JSON.parse(out)).toMatchObject({ ok: false });
  });

  it("create-tables and reset --confirm work on the example models; reset without --confirm is refused", async () => {
    const created = await cli(["create-tables", "--url", url, "--entities", "src/models/index.ts"]);
    expect([created.code, created.out.trim()]).toEqual([0, `tables ready for 2 entities on ${dialect}`]);
    const refused = await cli(["reset", "--url", url, "--entities", "src/models/index.ts"]);
    expect([refused.code, refused.err.trim()]).toEqual([
      2,
      "reset drops every table of the entities: run it again with --confirm",
    ]);
    const reset = await cli(["reset", "--confirm", "--url", url, "--entities", "src/models/index.ts"]);
    expect([reset.code, reset.out.trim()]).toEqual([0, `reset 2 entities' tables on ${dialect}`]);
  });

  it("reset under NODE_ENV=production needs --allow-production", async () => {
    const saved = process.env["NODE_ENV"];
    process.env["NODE_ENV"] = "production";
    try {
      const refused = await cli(["reset", "--confirm", "--url", url, "--entities", "src/models/index.ts"]);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain("NODE_ENV is production");
      const allowed = await cli([
        "reset",
        "--confirm",
        "--allow-production",
        "--url",
        url,
        "--entities",
        "src/models/index.ts",
      ]);
      expect(allowed.code).toBe(0);
    } finally {
      process.env["NODE_ENV"] = saved;
    }
  });
});

describe("the inference-db command line's usage errors", () => {
  it.each([
    [[], 2],
    [["frobnicate"], 2],
    [["create-tables"], 2],
    [["--help"], 0],
  ])("%j exits %i", async (args, expected) => {
    expect((await cli(args as string[])).code).toBe(expected);
  });
});
