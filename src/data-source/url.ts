import type { DataSourceOptions } from "typeorm";
import type { DialectName } from "../dialects/dialect";
import { sqliteDriverType } from "../dialects/resolve-dialect";
import { ConfigurationError, errorMessage } from "../errors";

/** What a database URL resolves to: a dialect (as the URL names it) and TypeORM connection options. @internal */
export interface ParsedUrl {
  readonly dialect: DialectName;
  readonly options: DataSourceOptions;
}

const SCHEMES: Readonly<Record<string, DialectName>> = {
  "sqlite:": "sqlite",
  "postgres:": "postgres",
  "postgresql:": "postgres",
  "mysql:": "mysql",
  "mariadb:": "mariadb",
};

/** Query parameters the library reads itself and removes before the URL reaches a driver. */
const POOL_PARAMS = ["poolSize", "pool_size", "connection_limit"];

/**
 * Turns a database URL into TypeORM options.
 *
 * - `sqlite:<path>`, `sqlite:///absolute/path`, `sqlite::memory:`; better-sqlite3 when installed, otherwise sqlite3
 *   (TypeORM 0.3); `?driver=better-sqlite3` or `?driver=sqlite3` picks one
 * - `postgres://user:pass@host:5432/db?sslmode=require` (`postgresql://` too; every parameter node-postgres knows)
 * - `mysql://user:pass@host:3306/db?ssl=true`, `mariadb://...` (a `mysql://` URL that reaches MariaDB is detected)
 * - on the server URLs, `poolSize=N` (or `pool_size`, `connection_limit`) sets the pool size.
 *
 * @internal
 */
export function parseDatabaseUrl(url: string): ParsedUrl {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0]?.toLowerCase();
  const dialect = scheme === undefined ? undefined : SCHEMES[scheme];
  if (dialect === undefined) {
    throw new ConfigurationError(
      `Database URL ${JSON.stringify(redact(url))} has an unsupported scheme; ` +
        `use postgres://, postgresql://, mysql://, mariadb://, sqlite:<path> or sqlite::memory:`,
    );
  }
  if (dialect === "sqlite") return { dialect, options: sqliteOptions(url.slice("sqlite:".length)) };

  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigurationError(`Database URL ${JSON.stringify(redact(url))} cannot be parsed`, { cause });
  }
  const poolSize = takePoolSize(parsed);
  if (dialect === "postgres") {
    return {
      dialect,
      options: { type: "postgres", url: parsed.toString(), ...(poolSize !== undefined ? { poolSize } : {}) },
    };
  }
  const ssl = parsed.searchParams.get("ssl");
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (database === "") throw new ConfigurationError(`Database URL ${JSON.stringify(redact(url))} names no database`);
  return {
    dialect,
    options: {
      type: dialect,
      host: parsed.hostname || "localhost",
      port: parsed.port ? Number(parsed.port) : 3306,
      username: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      database,
      ...(ssl === "true" || ssl === "1" ? { ssl: {} } : {}),
      ...(poolSize !== undefined ? { poolSize } : {}),
    },
  };
}

/** The connection fields of a parsed server URL, as a TypeORM `replication` node. */
function credentials(options: DataSourceOptions): Record<string, unknown> {
  if (options.type === "postgres") return { url: options.url };
  const { host, port, username, password, database, ssl } = options as unknown as Record<string, unknown>;
  return { host, port, username, password, database, ...(ssl !== undefined ? { ssl } : {}) };
}

/**
 * TypeORM options with `replication` for a primary URL and replica URLs: each replica URL is parsed like the
 * primary's and must name the same kind of server (mysql:// and mariadb:// go together).
 *
 * @internal
 */
export function replicationFromUrls(
  primaryUrl: string,
  primary: ParsedUrl,
  replicas: readonly string[],
): DataSourceOptions {
  if (primary.dialect === "sqlite")
    throw new ConfigurationError(`SQLite has no replicas; replicas are for postgres://, mysql:// and mariadb:// URLs`);
  const family = (dialect: DialectName) => (dialect === "mariadb" ? "mysql" : dialect);
  const slaves = replicas.map((url) => {
    let parsed: ParsedUrl;
    try {
      parsed = parseDatabaseUrl(url);
    } catch (cause) {
      throw new ConfigurationError(`Replica URL ${JSON.stringify(redact(url))} is not valid: ${errorMessage(cause)}`, {
        cause,
      });
    }
    if (family(parsed.dialect) !== family(primary.dialect)) {
      throw new ConfigurationError(
        `Replica URL ${JSON.stringify(redact(url))} is ${parsed.dialect}, but the primary ${JSON.stringify(redact(primaryUrl))} is ${primary.dialect}`,
      );
    }
    return credentials(parsed.options);
  });
  const { poolSize } = primary.options as { poolSize?: number };
  return {
    type: primary.options.type,
    ...(primary.options.type === "postgres" ? {} : { database: (primary.options as { database?: string }).database }),
    replication: { master: credentials(primary.options), slaves },
    ...(poolSize !== undefined ? { poolSize } : {}),
  } as DataSourceOptions;
}

function sqliteOptions(path: string): DataSourceOptions {
  const query = /\?(.*)$/.exec(path);
  const params = new URLSearchParams(query?.[1] ?? "");
  const rest = query ? path.slice(0, query.index) : path;
  const unknown = [...params.keys()].filter((key) => key !== "driver");
  if (unknown.length > 0)
    throw new ConfigurationError(`SQLite URL parameter ${unknown[0]} is not known; the one parameter is driver=`);
  const type = sqliteDriverType(params.get("driver") ?? undefined);
  const database = rest === ":memory:" ? ":memory:" : rest.startsWith("//") ? rest.slice(2) : rest;
  if (database === "")
    throw new ConfigurationError(`SQLite URL "sqlite:" names no file; use sqlite:<path> or sqlite::memory:`);
  return { type, database } as DataSourceOptions;
}

function takePoolSize(url: URL): number | undefined {
  let size: number | undefined;
  for (const name of POOL_PARAMS) {
    const value = url.searchParams.get(name);
    if (value === null) continue;
    url.searchParams.delete(name);
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new ConfigurationError(`Database URL parameter ${name}=${value} is not a positive integer`);
    size = n;
  }
  return size;
}

/** The URL with its password replaced, for messages. @internal */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, "$1***@");
}
