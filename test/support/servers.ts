/** The test servers and how to reach them; shared by the global setup and the test helpers. */
export type TestDialect = "sqlite" | "postgres" | "mariadb";

export const ALL_DIALECTS: readonly TestDialect[] = ["sqlite", "postgres", "mariadb"];

export const TEST_DATABASE = process.env["INFERENCE_TEST_DATABASE"] ?? "inference_test";

/** Server URLs (without the database), overridable from the environment. */
export const SERVER_URLS: Readonly<Record<"postgres" | "mariadb", string>> = {
  postgres: process.env["PG_URL"] ?? "postgres://postgres@127.0.0.1:5432",
  mariadb: process.env["MARIADB_URL"] ?? "mariadb://root@127.0.0.1:3306",
};

/**
 * Where operator work (killing sessions, reading pg_stat_activity) reaches PostgreSQL: the server itself, even when
 * the tests' URL goes through a pooler (PG_ADMIN_URL; PG_URL when unset).
 */
export const PG_ADMIN_URL = process.env["PG_ADMIN_URL"] ?? SERVER_URLS.postgres;

/** The URL of the test database on a server. */
export function databaseUrl(dialect: "postgres" | "mariadb", scheme?: string, server = SERVER_URLS[dialect]): string {
  const url = new URL(server);
  url.pathname = `/${TEST_DATABASE}`;
  const text = url.toString();
  return scheme ? text.replace(/^[a-z]+:/, `${scheme}:`) : text;
}
