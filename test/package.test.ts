import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DIALECTS, type TestDialect } from "./support/dialects";
import { adminQuery } from "./support/admin";
import { databaseUrl } from "./support/servers";

const ROOT = resolve(__dirname, "..");
/** The library's own checkout, packed by `npm pack` (npm run test:typeorm03 runs the tests from a copy). */
const PACKAGE_ROOT = process.env["INFERENCE_PACKAGE_ROOT"] ?? ROOT;
/**
 * The app supplies the peers; they come from this run's node_modules (TypeORM 1.x or 0.3, better-sqlite3 or
 * sqlite3), as an app would have installed them.
 */
const PEERS = [
  "typeorm",
  "reflect-metadata",
  "class-transformer",
  "pg",
  "mysql2",
  "better-sqlite3",
  "sqlite3",
  "@nestjs/common",
  "@nestjs/core",
  "@nestjs/typeorm",
  "@nestjs/terminus",
  "rxjs",
  "typescript",
  "@types/node",
].filter((peer) => existsSync(join(ROOT, "node_modules", peer)));
/** The peers as an app's package.json would name them: the versions this run installed. */
const PEER_VERSIONS = Object.fromEntries(
  PEERS.filter((peer) => !["typescript", "@types/node"].includes(peer)).map((peer) => [
    peer,
    (JSON.parse(readFileSync(join(ROOT, "node_modules", peer, "package.json"), "utf8")) as { version: string }).version,
  ]),
);

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
  const packed = execFileSync("npm", ["pack", "--pack-destination", app, "--silent"], {
    cwd: PACKAGE_ROOT,
    encoding: "utf8",
  })
    .trim()
    .split("\n")
    .pop()!;
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }));
  execFileSync(
    "npm",
    ["install", `./${packed}`, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--legacy-peer-deps"],
    {
      cwd: app,
      stdio: "pipe",
    },
  );
  mkdirSync(join(app, "node_modules", "@types"), { recursive: true });
  mkdirSync(join(app, "node_modules", "@nestjs"), { recursive: true });
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

/**
 * Every TypeScript block of the README and the guides in docs/, as a module of its own. A block's imports stay at
 * the top; the rest runs inside an async function (blocks use top-level await), after a prelude that declares what
 * the guides' fragments take as given (`db`, `order`, an `Order` entity, a request body, ...). A block that declares
 * one of those names shadows the prelude's.
 */
function documentationBlocks(): { name: string; source: string }[] {
  const prelude = readFileSync(join(ROOT, "test", "support", "docs-prelude.ts.txt"), "utf8");
  const blocks: { name: string; source: string }[] = [];
  const files = [
    "README.md",
    ...readdirSync(join(ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), "utf8");
    let index = 0;
    for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
      const code = match[1]!;
      const lines = code.split("\n");
      // the import statements at the top (one may span lines), then the rest
      let end = 0;
      for (let open = false, i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (open) {
          if (/from ".*";\s*$/.test(line)) open = false;
          end = i + 1;
        } else if (/^import\b/.test(line)) {
          open = !/;\s*$/.test(line);
          end = i + 1;
        } else if (line.trim() !== "" && !line.startsWith("//")) break;
      }
      const imports = lines.slice(0, end).join("\n");
      const rest = lines.slice(end).join("\n");
      // a block that is a whole program (it declares exports or calls main) stays at the top level
      const whole = /^export |^void main\(\)/m.test(rest);
      // the prelude's declarations of names the block imports itself are left out
      const given = prelude
        .split("\n")
        .filter((line) => {
          const name = /^declare (?:const|class) (\w+)/.exec(line)?.[1];
          return name === undefined || !new RegExp(`\\b${name}\\b`).test(imports);
        })
        .join("\n");
      const source = whole
        ? `${imports}\n${rest}\n`
        : `${imports}\n${given}\nexport async function documentationBlock(): Promise<void> {\n${rest}\n}\n`;
      blocks.push({ name: `${file.replace(/[/.]/g, "_")}_${index++}`, source });
    }
  }
  return blocks;
}

let app: string;

beforeAll(() => {
  app = buildConsumerApp();
}, 300_000);

describe("the packed library", () => {
  it("ships dist with type declarations, the guides, and no sources or tests", () => {
    const installed = join(app, "node_modules", "@inference-core", "database");
    const files = readdirSync(installed);
    expect(files.sort()).toEqual(["CHANGELOG.md", "LICENSE", "README.md", "dist", "docs", "package.json"]);
    expect(readdirSync(join(installed, "dist"))).toEqual(expect.arrayContaining(["index.js", "index.d.ts"]));
  });

  it("serves the example models from @inference-core/database/models, not from the root", () => {
    const script =
      'require("reflect-metadata"); const models = require("@inference-core/database/models");' +
      'const root = require("@inference-core/database");' +
      "console.log(JSON.stringify([typeof models.User, typeof models.Product, 'User' in root, 'Product' in root]))";
    const output = execFileSync(process.execPath, ["-e", script], { cwd: app, encoding: "utf8" });
    expect(JSON.parse(output)).toEqual(["function", "function", false, false]);
  });

  it("the package root never loads NestJS; @inference-core/database/nestjs serves the module", () => {
    // every require() of a @nestjs package is recorded while the root loads (NestJS 12 is ESM: require.cache misses it)
    const script =
      'require("reflect-metadata"); const Module = require("node:module"); const resolve = Module._resolveFilename;' +
      "const asked = []; Module._resolveFilename = function (request, ...rest) {" +
      "  if (request.startsWith('@nestjs/')) asked.push(request); return resolve.call(this, request, ...rest); };" +
      'require("@inference-core/database"); const byRoot = asked.length;' +
      "const nest = require('@inference-core/database/nestjs');" +
      "console.log(JSON.stringify([byRoot, asked.length > 0, typeof nest.DatabaseModule, typeof nest.DatabaseErrorFilter]))";
    const output = execFileSync(process.execPath, ["-e", script], { cwd: app, encoding: "utf8" });
    expect(JSON.parse(output)).toEqual([0, true, "function", "function"]);
  });
});

describe("the documentation", () => {
  it("every TypeScript block of README.md and docs/*.md compiles against the packed library", () => {
    const blocks = documentationBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(14);
    const dir = join(app, "documentation");
    mkdirSync(dir, { recursive: true });
    for (const block of blocks) writeFileSync(join(dir, `${block.name}.ts`), block.source);
    writeFileSync(
      join(app, "tsconfig.docs.json"),
      JSON.stringify({
        extends: "./tsconfig.json",
        compilerOptions: { noEmit: true },
        files: blocks.map((block) => `documentation/${block.name}.ts`),
      }),
    );
    let output = "";
    try {
      execFileSync(
        process.execPath,
        [join(app, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.docs.json"],
        {
          cwd: app,
          encoding: "utf8",
          stdio: "pipe",
        },
      );
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe("");
  });
});

describe("an app with this run's TypeORM line and drivers", () => {
  it("resolves the packed library's peer ranges without --legacy-peer-deps or --force", () => {
    const check = mkdtempSync(join(tmpdir(), "inference-peers-"));
    const tarball = readdirSync(app).find((file) => file.endsWith(".tgz"))!;
    writeFileSync(
      join(check, "package.json"),
      JSON.stringify({
        name: "peer-check",
        version: "1.0.0",
        private: true,
        dependencies: { "@inference-core/database": `file:${join(app, tarball)}`, ...PEER_VERSIONS },
      }),
    );
    // npm refuses (ERESOLVE) when a peer range of the library does not take a version the app has
    execFileSync("npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"], {
      cwd: check,
      stdio: "pipe",
    });
    const lock = JSON.parse(readFileSync(join(check, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string }>;
    };
    expect(lock.packages["node_modules/typeorm"]?.version).toBe(PEER_VERSIONS["typeorm"]);
  });
});

describe.each(DIALECTS)("%s: a fresh app runs the README's quick start from the tarball", (dialect: TestDialect) => {
  it("saves, soft-deletes and serializes an Order extends FullAuditModel", async () => {
    // a fresh app: the test database's `orders` (another test's entity, with other columns) is not its table, and
    // createTables() would refuse to drop the column the README's Order lacks
    if (dialect !== "sqlite")
      await adminQuery(dialect, `DROP TABLE IF EXISTS orders${dialect === "postgres" ? " CASCADE" : ""}`);
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
