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
    const foreign = FOREIGN_TLS_PARAMS.find((name) => parsed.searchParams.has(name));
    if (foreign !== undefined)
      throw new ConfigurationError(
        `Database URL ${JSON.stringify(redact(url))}: ${foreign} is a MySQL/JDBC/Prisma TLS parameter that node-postgres ` +
          `ignores; say sslmode=require (or verify-ca, verify-full, disable)`,
      );
    return {
      dialect,
      options: { type: "postgres", url: parsed.toString(), ...(poolSize !== undefined ? { poolSize } : {}) },
    };
  }
  const ssl = mysqlTls(parsed, redact(url));
  const unknown = [...parsed.searchParams.keys()].find((key) => !MYSQL_PARAMS.has(key));
  if (unknown !== undefined)
    throw new ConfigurationError(
      `Database URL ${JSON.stringify(redact(url))}: parameter ${unknown} is not known; a MySQL/MariaDB URL takes ` +
        `${[...MYSQL_PARAMS].join(", ")} and the pool size (${POOL_PARAMS.join(", ")}); other driver settings go in { options }`,
    );
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
      ...(ssl !== undefined ? { ssl } : {}),
      ...(poolSize !== undefined ? { poolSize } : {}),
    },
  };
}

/** The TLS parameters of a MySQL/MariaDB URL, in the spellings of MySQL's client, libpq, JDBC and Prisma. */
const MYSQL_TLS_PARAMS = ["ssl", "ssl-mode", "ssl_mode", "sslmode", "sslMode", "useSSL", "requireSSL", "sslaccept"];
const MYSQL_PARAMS: ReadonlySet<string> = new Set(MYSQL_TLS_PARAMS);
/** The TLS spellings node-postgres does not read (it reads `ssl` and `sslmode`): refused on a PostgreSQL URL. */
const FOREIGN_TLS_PARAMS = ["ssl-mode", "ssl_mode", "sslMode", "useSSL", "requireSSL", "sslaccept"];

/** What a TLS parameter asks for: no TLS, TLS without checking the certificate, with the CA only, or in full. */
type TlsMode = "disabled" | "required" | "verify-ca" | "verify-identity";

/** Each spelling's values, case-insensitive; a value not listed is refused rather than read as "no TLS". */
const TLS_VALUES: Readonly<Record<string, Readonly<Record<string, TlsMode>>>> = {
  ssl: { true: "verify-identity", "1": "verify-identity", false: "disabled", "0": "disabled", required: "required" },
  "ssl-mode": {
    disabled: "disabled",
    required: "required",
    verify_ca: "verify-ca",
    verify_identity: "verify-identity",
  },
  sslmode: { disable: "disabled", require: "required", "verify-ca": "verify-ca", "verify-full": "verify-identity" },
  useSSL: { true: "verify-identity", false: "disabled" },
  requireSSL: { true: "required", false: "disabled" },
  sslaccept: { strict: "verify-identity", accept_invalid_certs: "required" },
};

/**
 * Reads a MySQL/MariaDB URL's TLS parameters into mysql2's `ssl` option, or refuses them: mysql2 has no mode that
 * tries TLS and falls back to plaintext (`PREFERRED`, `prefer`, `allow`), so such a value, an unknown value and two
 * parameters that disagree are a {@link ConfigurationError} instead of a silent plaintext connection. `ssl` may also
 * be a JSON object (mysql2's own URL form), passed as it is.
 */
function mysqlTls(url: URL, shown: string): Record<string, unknown> | undefined {
  let mode: TlsMode | undefined;
  let custom: Record<string, unknown> | undefined;
  for (const name of MYSQL_TLS_PARAMS) {
    const value = url.searchParams.get(name);
    if (value === null) continue;
    const refuse = (why: string) =>
      new ConfigurationError(`Database URL ${JSON.stringify(shown)}: ${name}=${value} ${why}`);
    if (name === "ssl" && value.trimStart().startsWith("{")) {
      try {
        custom = JSON.parse(value) as Record<string, unknown>;
      } catch (cause) {
        throw new ConfigurationError(`Database URL ${JSON.stringify(shown)}: ssl=${value} is not valid JSON`, {
          cause,
        });
      }
      if (typeof custom !== "object" || custom === null || Array.isArray(custom)) throw refuse("is not a JSON object");
      continue;
    }
    const spelling = name === "ssl_mode" || name === "sslMode" ? "ssl-mode" : name;
    const table = TLS_VALUES[spelling]!;
    const key = Object.keys(table).find((k) => k.toLowerCase() === value.toLowerCase());
    if (key === undefined) {
      const fallback = /^(preferred|prefer|allow)$/i.test(value);
      throw refuse(
        fallback
          ? "asks for TLS when the server offers it and plaintext otherwise, which the MySQL driver (mysql2) cannot do; " +
              "say REQUIRED (or VERIFY_IDENTITY) or DISABLED"
          : `is not one of ${Object.keys(table).join(", ")}`,
      );
    }
    if (mode !== undefined && mode !== table[key]) throw refuse(`disagrees with another TLS parameter of the URL`);
    mode = table[key];
  }
  if (custom !== undefined) {
    if (mode === "disabled")
      throw new ConfigurationError(`Database URL ${JSON.stringify(shown)}: ssl is both an object and disabled`);
    return custom;
  }
  switch (mode) {
    case undefined:
    case "disabled":
      return undefined;
    case "required":
      return { rejectUnauthorized: false };
    case "verify-ca":
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-identity":
      return {};
  }
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

/**
 * The URL with its password replaced, for messages. The password runs to the last `@` of the URL, not the first: one
 * written unencoded may hold `@` itself (`mysql://root:Sup3r@Secret!@host/db`). A query parameter holding `@` hides
 * the host as well, which errs on the safe side.
 *
 * @internal
 */
export function redact(url: string): string {
  const credentials = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:/i.exec(url);
  const end = url.lastIndexOf("@");
  if (!credentials || end < credentials[0].length) return url;
  return `${credentials[0]}***${url.slice(end)}`;
}
