import { resolve } from "node:path";
import { getMetadataArgsStorage } from "typeorm";
import { DatabaseManager, type EntityList } from "../data-source/database-manager";
import { errorMessage } from "../errors";

/** Where the command line writes. @internal */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `usage: inference-db <command> [options]

commands:
  health            check that the database answers; exit status 0 when it does, 1 when not (container probes)
  create-tables     create the entities' tables, indexes and constraints (idempotent)
  reset --confirm   drop and recreate the entities' tables (refused without --confirm, and under
                    NODE_ENV=production without --allow-production)

options:
  --url <url>           database URL (default: $DATABASE_URL, else sqlite:./data/app.db)
  --entities <module>   a module exporting the entity classes (or an \`entities\` array); needed by
                        create-tables and reset
  --timeout <ms>        health check timeout (default 1000)`;

interface Parsed {
  readonly command: string | undefined;
  readonly flags: ReadonlySet<string>;
  readonly values: ReadonlyMap<string, string>;
}

function parse(argv: readonly string[]): Parsed {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (["--url", "--entities", "--timeout"].includes(arg)) values.set(arg, argv[++i] ?? "");
    else if (arg.startsWith("--")) flags.add(arg);
    else command ??= arg;
  }
  return { command, flags, values };
}

/** The entity classes a module exports: its `entities` array, or every exported class TypeORM knows as an entity. */
function loadEntities(modulePath: string): EntityList {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exported = require(resolve(process.cwd(), modulePath)) as Record<string, unknown>;
  if (Array.isArray(exported["entities"])) return exported["entities"] as EntityList;
  const tables = new Set(getMetadataArgsStorage().tables.map((t) => t.target));
  const found = Object.values(exported).filter((value) => typeof value === "function" && tables.has(value as Function));
  if (found.length === 0) throw new Error(`${modulePath} exports no entity classes`);
  return found as EntityList;
}

/**
 * The operators' command line, as a function: answers the exit status. `bin.ts` wires it to the process.
 *
 * @internal
 */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const { command, flags, values } = parse(argv);
  if (flags.has("--help")) {
    io.out(USAGE);
    return 0;
  }
  if (!command) {
    io.err(USAGE);
    return 2;
  }
  if (!["health", "create-tables", "reset"].includes(command)) {
    io.err(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  if (command === "reset" && !flags.has("--confirm")) {
    io.err("reset drops every table of the entities: run it again with --confirm");
    return 2;
  }
  const url = values.get("--url") ?? env["DATABASE_URL"] ?? "sqlite:./data/app.db";
  let db: DatabaseManager | undefined;
  try {
    const modulePath = values.get("--entities");
    if (command !== "health" && !modulePath) {
      io.err(`${command} needs --entities <module>`);
      return 2;
    }
    const entities = modulePath ? loadEntities(modulePath) : [];
    db = new DatabaseManager({ url, entities });
    if (command === "health") {
      const timeoutMs = Number(values.get("--timeout") ?? 1000);
      try {
        await db.initialize();
      } catch (error) {
        io.out(JSON.stringify({ ok: false, dialect: db.dialect, latencyMs: 0, error: errorMessage(error) }));
        return 1;
      }
      const report = await db.healthCheck({ timeoutMs });
      io.out(JSON.stringify(report));
      return report.ok ? 0 : 1;
    }
    await db.initialize();
    if (command === "create-tables") {
      await db.createTables();
      io.out(`tables ready for ${db.dataSource.entityMetadatas.length} entities on ${db.dialect}`);
    } else {
      await db.reset({ confirm: true, allowProduction: flags.has("--allow-production") });
      io.out(`reset ${db.dataSource.entityMetadatas.length} entities' tables on ${db.dialect}`);
    }
    return 0;
  } catch (error) {
    io.err(`${command} failed: ${errorMessage(error)}`);
    return 1;
  } finally {
    await db?.close().catch(() => undefined);
  }
}
