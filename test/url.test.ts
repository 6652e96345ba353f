import { DataSource } from "typeorm";
import { ConfigurationError, DatabaseManager } from "../src";
import { parseDatabaseUrl } from "../src/data-source/url";
import { TYPEORM_LINE } from "../src/typeorm/typeorm-line";

/**
 * The SQLite driver package this run installed (npm run test:typeorm03 says which; npm test has better-sqlite3),
 * and the TypeORM driver type a plain sqlite: URL must then choose.
 */
const SQLITE_PACKAGE = process.env["INFERENCE_SQLITE_DRIVER"] === "sqlite3" ? "sqlite3" : "better-sqlite3";
const SQLITE_TYPE = SQLITE_PACKAGE === "sqlite3" ? "sqlite" : "better-sqlite3";
const OTHER_PACKAGE = SQLITE_PACKAGE === "sqlite3" ? "better-sqlite3" : "sqlite3";

// Parsing a URL touches no database, so these run once rather than per dialect.
describe("database URLs", () => {
  it.each([
    ["sqlite:./data/app.db", "sqlite", { type: SQLITE_TYPE, database: "./data/app.db" }],
    ["sqlite::memory:", "sqlite", { type: SQLITE_TYPE, database: ":memory:" }],
    ["sqlite:///var/lib/app.db", "sqlite", { type: SQLITE_TYPE, database: "/var/lib/app.db" }],
    [`sqlite:./app.db?driver=${SQLITE_PACKAGE}`, "sqlite", { type: SQLITE_TYPE, database: "./app.db" }],
    ["postgres://u:p@db:5433/app", "postgres", { type: "postgres", url: "postgres://u:p@db:5433/app" }],
    [
      "postgresql://u@db/app?sslmode=require&poolSize=7",
      "postgres",
      { type: "postgres", url: "postgresql://u@db/app?sslmode=require", poolSize: 7 },
    ],
    [
      "mysql://us%40r:p%3Ass@db:3307/shop?ssl=true&connection_limit=4",
      "mysql",
      {
        type: "mysql",
        host: "db",
        port: 3307,
        username: "us@r",
        password: "p:ss",
        database: "shop",
        ssl: {},
        poolSize: 4,
      },
    ],
    [
      "mariadb://root@127.0.0.1/test",
      "mariadb",
      { type: "mariadb", host: "127.0.0.1", port: 3306, username: "root", password: "", database: "test" },
    ],
  ])("%s", (url, dialect, options) => {
    expect(parseDatabaseUrl(url)).toEqual({ dialect, options });
  });

  it.each([
    ["oracle://x/y", /unsupported scheme/],
    ["sqlite:", /names no file/],
    ["sqlite:./app.db?driver=sql.js", /driver=sql.js is not a SQLite driver/],
    ["sqlite:./app.db?mode=ro", /parameter mode is not known/],
    ["mysql://root@db", /names no database/],
    ["postgres://u@db/app?poolSize=0", /poolSize=0 is not a positive integer/],
  ])("refuses %s with a ConfigurationError", (url, message) => {
    expect(() => parseDatabaseUrl(url)).toThrow(ConfigurationError);
    expect(() => parseDatabaseUrl(url)).toThrow(message);
  });

  it.each([
    "oracle://user:secret@db/x",
    "oracle://user:Sup3r@Secret!@db/x",
    "mysql://root:Sup3r@Secret!@db/x?bogus=1",
    "mysql://root:a@b@c@db/x?ssl=maybe",
    "postgres://user:p@ss@db/x?useSSL=true",
  ])("keeps the password of %s out of error messages", (url) => {
    let message = "";
    try {
      parseDatabaseUrl(url);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/:\*\*\*@db\//);
    for (const secret of ["secret", "Sup3r", "Secret", "a@b", "b@c", "p@ss"]) expect(message).not.toContain(secret);
  });

  const verifyCa = { rejectUnauthorized: true, checkServerIdentity: expect.any(Function) };
  it.each([
    ["ssl=true", {}],
    ["ssl=1", {}],
    ["ssl=required", { rejectUnauthorized: false }],
    ["ssl=REQUIRED", { rejectUnauthorized: false }],
    ["ssl-mode=REQUIRED", { rejectUnauthorized: false }],
    ["ssl-mode=required", { rejectUnauthorized: false }],
    ["ssl_mode=VERIFY_CA", verifyCa],
    ["sslMode=VERIFY_IDENTITY", {}],
    ["sslmode=require", { rejectUnauthorized: false }],
    ["sslmode=verify-ca", verifyCa],
    ["sslmode=verify-full", {}],
    ["useSSL=true", {}],
    ["requireSSL=true", { rejectUnauthorized: false }],
    ["sslaccept=strict", {}],
    ["sslaccept=accept_invalid_certs", { rejectUnauthorized: false }],
    ["useSSL=true&sslmode=verify-full", {}],
    [`ssl=${encodeURIComponent('{"rejectUnauthorized":true,"ca":"PEM"}')}`, { rejectUnauthorized: true, ca: "PEM" }],
    ["ssl=false", undefined],
    ["ssl-mode=DISABLED", undefined],
    ["sslmode=disable", undefined],
    ["useSSL=false", undefined],
  ])("a MySQL URL with ?%s asks the driver for TLS as it says", (query, ssl) => {
    for (const scheme of ["mysql", "mariadb"]) {
      const { options } = parseDatabaseUrl(`${scheme}://u:p@db/app?${query}`);
      expect((options as { ssl?: unknown }).ssl).toEqual(ssl);
    }
  });

  it.each([
    ["ssl-mode=PREFERRED", /plaintext otherwise/],
    ["sslmode=prefer", /plaintext otherwise/],
    ["sslmode=allow", /plaintext otherwise/],
    ["ssl=maybe", /ssl=maybe is not one of/],
    ["useSSL=yes", /useSSL=yes is not one of/],
    ["ssl=%7Bnot-json", /is not valid JSON/],
    ["ssl=true&ssl-mode=DISABLED", /disagrees with another TLS parameter/],
    ["sslcert=/etc/client.pem", /parameter sslcert is not known/],
    ["charset=latin1", /parameter charset is not known/],
  ])("a MySQL URL with ?%s is refused, never a plaintext connection", (query, message) => {
    expect(() => parseDatabaseUrl(`mysql://u:p@db/app?${query}`)).toThrow(ConfigurationError);
    expect(() => parseDatabaseUrl(`mysql://u:p@db/app?${query}`)).toThrow(message);
  });

  it.each(["useSSL=true", "ssl-mode=REQUIRED", "sslaccept=strict", "requireSSL=true"])(
    "a PostgreSQL URL with the MySQL/JDBC spelling ?%s is refused (node-postgres would ignore it)",
    (query) => {
      expect(() => parseDatabaseUrl(`postgres://u@db/app?${query}`)).toThrow(/say sslmode=require/);
    },
  );

  it(`a sqlite: URL forcing the package this run does not use (${OTHER_PACKAGE}) says what to install`, () => {
    const url = `sqlite:./app.db?driver=${OTHER_PACKAGE}`;
    expect(() => new DatabaseManager({ url, entities: [] })).toThrow(ConfigurationError);
    // node-sqlite3 is installed beside better-sqlite3 in the 1.x run (the bench's Sequelize runs on it), where
    // TypeORM 1.x cannot use it; where it is missing, the error says to install it
    const installed = (() => {
      try {
        require.resolve(OTHER_PACKAGE);
        return true;
      } catch {
        return false;
      }
    })();
    expect(() => new DatabaseManager({ url, entities: [] })).toThrow(
      installed && TYPEORM_LINE === "1.x"
        ? /TypeORM 1\.x dropped it.*npm install better-sqlite3/
        : `npm install ${OTHER_PACKAGE}`,
    );
  });

  it(`type: "sqlite" is ${TYPEORM_LINE === "1.x" ? "refused on TypeORM 1.x with what to install" : "taken on TypeORM 0.3"}`, () => {
    const options = { type: "sqlite", database: ":memory:", entities: [] } as never;
    if (TYPEORM_LINE === "1.x") {
      expect(() => new DatabaseManager({ options })).toThrow(ConfigurationError);
      expect(() => new DatabaseManager({ options })).toThrow(/install better-sqlite3/);
    } else if (SQLITE_PACKAGE === "sqlite3") {
      expect(new DatabaseManager({ options }).dataSource.options.type).toBe("sqlite");
    } else {
      // 0.3 with better-sqlite3 only: TypeORM's untyped DriverPackageNotInstalledError becomes a typed error
      expect(() => new DatabaseManager({ options })).toThrow(ConfigurationError);
      expect(() => new DatabaseManager({ options })).toThrow(/npm install sqlite3/);
    }
  });

  it("an adopted DataSource of the installed SQLite driver type is taken", () => {
    const dataSource = new DataSource({ type: SQLITE_TYPE, database: ":memory:", entities: [] } as never);
    expect(new DatabaseManager({ dataSource }).dialect).toBe("sqlite");
  });
});
