import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import type { DataSource, EntityMetadata, QueryRunner, Table, TableColumn } from "typeorm";
import { Query } from "typeorm/driver/Query";
import { activeTwin } from "../columns/unique-while-active";
import { isLibraryModel } from "../columns/column-kinds";
import type { Dialect } from "../dialects/dialect";
import { STRING_COLUMN_TYPES } from "../util/text";

/** The columns each DataSource's metadata gave the exact collation (so a server version read later can correct it). */
const exactColumns = new WeakMap<DataSource, Set<ColumnMetadata>>();

interface VersionedDriver {
  version?: string;
  afterConnect(): Promise<void>;
}

/**
 * Text compares exactly on the library's tables: on MySQL/MariaDB, whose default collations fold case, accents and
 * trailing spaces, the library models' text columns and every `@UniqueWhileActive` twin get the dialect's binary NO
 * PAD collation, unless the entity names a collation or charset of its own. A foreign key to such a column gets the
 * same (MySQL requires it). The app's own entities are left as they are. Runs on the built metadata; MySQL's version
 * (5.7 has no NO PAD binary collation) is known only once the driver has connected, so the choice is revisited then.
 *
 * @internal
 */
export function applyExactCollations(dataSource: DataSource, dialect: Dialect): void {
  const driver = dataSource.driver as unknown as VersionedDriver;
  const collation = dialect.exactCollation(driver.version);
  if (collation === undefined) return;
  const chosen = new Set<ColumnMetadata>();
  for (const metadata of dataSource.entityMetadatas) {
    const library = isLibraryModel(metadata.target);
    for (const column of metadata.columns) {
      if (column.collation || column.charset || column.referencedColumn) continue;
      const twin = activeTwin(column.target, column.propertyName);
      const text = twin
        ? STRING_COLUMN_TYPES.has(sourceOf(metadata, twin.sourceColumn)?.type)
        : STRING_COLUMN_TYPES.has(column.type);
      if (text && (library || twin)) chosen.add(column);
    }
  }
  for (const metadata of dataSource.entityMetadatas)
    for (const column of metadata.columns)
      if (!column.collation && !column.charset && column.referencedColumn && chosen.has(column.referencedColumn))
        chosen.add(column);
  for (const column of chosen) column.collation = collation;
  exactColumns.set(dataSource, chosen);
  if (driver.version === undefined) {
    const afterConnect = driver.afterConnect.bind(driver);
    driver.afterConnect = async () => {
      await afterConnect();
      const known = dialect.exactCollation(driver.version);
      if (known !== undefined) for (const column of chosen) column.collation = known;
    };
  }
}

function sourceOf(metadata: EntityMetadata, databaseName: string): ColumnMetadata | undefined {
  return metadata.columns.find((c) => c.databaseName === databaseName);
}

interface CollationRow {
  TABLE_NAME: string;
  COLUMN_NAME: string;
  COLLATION_NAME: string | null;
}

type ColumnSqlBuilder = QueryRunner & {
  buildCreateColumnSql(column: TableColumn, skipPrimary: boolean): string;
  executeQueries(up: Query[], down: Query[]): Promise<void>;
};

/**
 * Brings existing tables to the collations the metadata asks for: TypeORM's schema diff does not compare
 * collations, so a table created before (or by another tool) keeps the server's folding one. Each table's changed
 * columns are restated in one `ALTER TABLE ... CHANGE`, definition as loaded with only the collation changed, which
 * converts no value (the collations share utf8mb4; a binary one tells apart what a folding one merged, so no unique
 * key can start to clash). A column whose loaded definition differs from the entity in anything else is left to the
 * schema builder. Through `executeQueries`, so `migration:generate` (the query runner's SQL memory) writes the same
 * statements, with their reverse.
 *
 * @internal
 */
export async function alignCollations(
  dataSource: DataSource,
  dialect: Dialect,
  queryRunner: QueryRunner,
): Promise<void> {
  const chosen = exactColumns.get(dataSource);
  if (!chosen || chosen.size === 0) return;
  const byTable = new Map<string, { metadata: EntityMetadata; columns: ColumnMetadata[] }>();
  for (const column of chosen) {
    const metadata = column.entityMetadata;
    if (metadata.tableType === "view" || metadata.synchronize === false) continue;
    const entry = byTable.get(metadata.tableName) ?? { metadata, columns: [] };
    entry.columns.push(column);
    byTable.set(metadata.tableName, entry);
  }
  const names = [...byTable.keys()];
  if (names.length === 0) return;
  const rows = (await queryRunner.query(
    `SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS ` +
      `WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${names.map(() => "?").join(", ")})`,
    names,
  )) as CollationRow[];
  const actual = new Map(rows.map((r) => [`${r.TABLE_NAME}\u0000${r.COLUMN_NAME}`, r.COLLATION_NAME]));
  const runner = queryRunner as ColumnSqlBuilder;
  for (const [name, { metadata, columns }] of byTable) {
    const stale = columns.filter((c) => {
      const found = actual.get(`${name}\u0000${c.databaseName}`);
      return found !== undefined && found !== null && found !== c.collation;
    });
    if (stale.length === 0) continue;
    const table: Table | undefined = await queryRunner.getTable(metadata.tablePath);
    if (!table) continue;
    const up: string[] = [];
    const down: string[] = [];
    for (const column of stale) {
      const loaded = table.findColumnByName(column.databaseName);
      if (!loaded || !sameDefinition(loaded, column)) continue;
      const next = loaded.clone();
      next.charset = undefined;
      next.collation = column.collation;
      const before = loaded.clone();
      before.charset = undefined;
      before.collation = actual.get(`${name}\u0000${column.databaseName}`) ?? undefined;
      up.push(`CHANGE \`${loaded.name}\` ${runner.buildCreateColumnSql(next, true)}`);
      down.push(`CHANGE \`${loaded.name}\` ${runner.buildCreateColumnSql(before, true)}`);
    }
    if (up.length === 0) continue;
    const quoted = dialect.quoteTable(metadata.tablePath);
    dataSource.logger.log(
      "info",
      `schema: ${name}: ${stale.map((c) => c.databaseName).join(", ")} now compare exactly (collation ${stale[0]!.collation})`,
    );
    await runner.executeQueries(
      [new Query(`ALTER TABLE ${quoted} ${up.join(", ")}`)],
      [new Query(`ALTER TABLE ${quoted} ${down.join(", ")}`)],
    );
  }
}

/**
 * The loaded column restated keeps what the column is: a generated column only when the expression TypeORM loaded
 * is the entity's (restated without one it would become a plain column).
 */
function sameDefinition(loaded: TableColumn, column: ColumnMetadata): boolean {
  return column.asExpression === undefined || loaded.asExpression === column.asExpression;
}
