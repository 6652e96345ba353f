import { ConfigurationError } from "../src";
import { parseDatabaseUrl } from "../src/data-source/url";

// Parsing a URL touches no database, so these run once rather than per dialect.
describe("database URLs", () => {
  it.each([
    ["sqlite:./data/app.db", "sqlite", { type: "better-sqlite3", database: "./data/app.db" }],
    ["sqlite::memory:", "sqlite", { type: "better-sqlite3", database: ":memory:" }],
    ["sqlite:///var/lib/app.db", "sqlite", { type: "better-sqlite3", database: "/var/lib/app.db" }],
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
    ["mysql://root@db", /names no database/],
    ["postgres://u@db/app?poolSize=0", /poolSize=0 is not a positive integer/],
  ])("refuses %s with a ConfigurationError", (url, message) => {
    expect(() => parseDatabaseUrl(url)).toThrow(ConfigurationError);
    expect(() => parseDatabaseUrl(url)).toThrow(message);
  });

  it("keeps passwords out of error messages", () => {
    expect(() => parseDatabaseUrl("oracle://user:secret@db/x")).toThrow(/user:\*\*\*@db/);
  });
});
