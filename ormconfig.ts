/**
 * The DataSource the TypeORM CLI uses (`typeorm-ts-node-commonjs -d ormconfig.ts ...`), built by the library from
 * DATABASE_URL (default: the embedded SQLite file ./data/app.db), with the example models and the library's dialect
 * handling (SmartJSON column types, instant columns, the model subscriber) applied when the CLI initializes it.
 */
import "reflect-metadata";
import { DatabaseManager, Product, User } from "./src";

export const databaseManager = new DatabaseManager({
  url: process.env["DATABASE_URL"] ?? "sqlite:./data/app.db",
  entities: [User, Product],
});

export default databaseManager.dataSource;
