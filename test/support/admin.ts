import { Client } from "pg";
import { createConnection } from "mysql2/promise";
import { PG_ADMIN_URL, databaseUrl } from "./servers";

/** Runs SQL on a connection of its own (outside the manager's pool), as an operator or another program would. */
export async function adminQuery(
  dialect: "postgres" | "mariadb",
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  if (dialect === "postgres") {
    const client = new Client({ connectionString: databaseUrl("postgres", undefined, PG_ADMIN_URL) });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }
  const url = new URL(databaseUrl("mariadb"));
  const connection = await createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1),
  });
  try {
    const [rows] = await connection.query(sql, params);
    return rows as Record<string, unknown>[];
  } finally {
    await connection.end();
  }
}

/** Ends the server-side sessions of the given backend ids (pg_terminate_backend / KILL). */
export async function killSessions(dialect: "postgres" | "mariadb", ids: readonly unknown[]): Promise<void> {
  for (const id of ids) {
    if (dialect === "postgres") await adminQuery(dialect, "SELECT pg_terminate_backend($1)", [id]);
    else await adminQuery(dialect, `KILL ${Number(id)}`);
  }
}

/** The server-side session ids of connections with the given application/program marker in the test database. */
export async function sessionIds(dialect: "postgres" | "mariadb", marker: string): Promise<unknown[]> {
  if (dialect === "postgres") {
    const rows = await adminQuery(dialect, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", [marker]);
    return rows.map((r) => r["pid"]);
  }
  const rows = await adminQuery(
    dialect,
    "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()",
  );
  return rows.map((r) => r["id"]);
}
