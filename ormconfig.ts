/**
 * The DataSource the TypeORM CLI uses (`npm run migration:generate -- <name>`, `migration:run`,
 * `migration:revert`), built by the library from DATABASE_URL (default: the embedded SQLite file ./data/app.db) with
 * the example models and the library's dialect handling (SmartJSON column types, instant columns, the generated
 * `is_deleted` column, the model subscriber), applied when the CLI initializes it. Migrations live in
 * `src/migrations` (or MIGRATIONS_DIR). For MariaDB, use a `mariadb://` URL here: the CLI connects the DataSource
 * itself, without the manager's detection of a MariaDB server behind `mysql://`.
 */
import "reflect-metadata";
import { join } from "node:path";
import { DatabaseManager } from "./src";
import { Product, User } from "./src/models";

export const databaseManager = new DatabaseManager({
  url: process.env["DATABASE_URL"] ?? "sqlite:./data/app.db",
  entities: [User, Product],
  migrations: [join(process.env["MIGRATIONS_DIR"] ?? join(__dirname, "src", "migrations"), "*.{ts,js}")],
});

export default databaseManager.dataSource;
