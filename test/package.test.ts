import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DIALECTS, type TestDialect } from "./support/dialects";
import { databaseUrl } from "./support/servers";

const ROOT = resolve(__dirname, "..");
/** The app supplies the peers; they come from this checkout's node_modules, as an app would have installed them. */
const PEERS = [
  "typeorm",
  "reflect-metadata",
  "class-transformer",
  "pg",
  "mysql2",
  "better-sqlite3",
  "typescript",
  "@types/node",
];

function quickStart(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const match = /<!-- quick-start[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!match?.[1]) throw new Error("README.md has no quick-start block");
  return match[1];
}

/**
 * Packs the library with `npm pack`, installs the tarball into a new app (with the peers it declares) and compiles
 * the README's quick start there with strict TypeScript, against the package's published `.d.ts`.
 */
function buildConsumerApp(): string {
  const app = mkdtempSync(join(tmpdir(), "inference-consumer-"));
  const packed = execFileSync("npm", ["pack", "--pack-destination", app, "--silent"], { cwd: ROOT, encoding: "utf8" })
    .trim()
    .split("\n")
    .pop()!;
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }));
  execFileSync(
    "npm",
    ["install", `./${packed}`, "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--legacy-peer-deps"],
    {
      cwd: app,
      stdio: "pipe",
    },
  );
  mkdirSync(join(app, "node_modules", "@types"), { recursive: true });
  for (const peer of PEERS) symlinkSync(join(ROOT, "node_modules", peer), join(app, "node_modules", peer));
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "commonjs",
        moduleResolution: "node",
        strict: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        outDir: "out",
        types: ["node"],
      },
      files: ["main.ts"],
    }),
  );
  writeFileSync(join(app, "main.ts"), quickStart());
  execFileSync(process.execPath, [join(app, "node_modules", "typescript", "bin", "tsc"), "-p", app], {
    cwd: app,
    stdio: "pipe",
  });
  return app;
}

let app: string;

beforeAll(() => {
  app = buildConsumerApp();
}, 300_000);

describe("the packed library", () => {
  it("ships dist with type declarations and no sources or tests", () => {
    const installed = join(app, "node_modules", "@inference-core", "database");
    const files = readdirSync(installed);
    expect(files.sort()).toEqual(["README.md", "dist", "package.json"]);
    expect(readdirSync(join(installed, "dist"))).toEqual(expect.arrayContaining(["index.js", "index.d.ts"]));
  });
});

describe.each(DIALECTS)("%s: a fresh app runs the README's quick start from the tarball", (dialect: TestDialect) => {
  it("saves, soft-deletes and serializes an Order extends FullAuditModel", () => {
    const url = dialect === "sqlite" ? `sqlite:${join(app, "data", "app.db")}` : databaseUrl(dialect);
    const output = execFileSync(process.execPath, [join(app, "out", "main.js")], {
      cwd: app,
      env: { ...process.env, DATABASE_URL: url },
      encoding: "utf8",
    });
    const { hidden, kept } = JSON.parse(output.trim().split("\n").pop()!) as {
      hidden: unknown;
      kept: Record<string, unknown>;
    };
    expect(hidden).toBeNull();
    expect(kept).toMatchObject({
      reference: "A-1001",
      isDeleted: true,
      audit: { createdBy: "user-42", updatedBy: null },
      metadata: { json: { channel: "web", items: [{ sku: "TP-1", qty: 2 }] }, tags: null },
    });
    expect(kept["id"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (const key of ["createdAt", "updatedAt", "deletedAt"])
      expect(kept[key]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("the installed inference-db command answers health with exit status 0", () => {
    const url = dialect === "sqlite" ? `sqlite:${join(app, "data", "app.db")}` : databaseUrl(dialect);
    const output = execFileSync(join(app, "node_modules", ".bin", "inference-db"), ["health"], {
      cwd: app,
      env: { ...process.env, DATABASE_URL: url },
      encoding: "utf8",
    });
    expect(JSON.parse(output)).toMatchObject({ ok: true, dialect });
  });
});
