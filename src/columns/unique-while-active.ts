import { Exclude } from "class-transformer";
import { Column, Index, getMetadataArgsStorage } from "typeorm";
import { ConfigurationError } from "../errors";

/** One soft-delete-aware unique key. @internal */
export interface ActiveUniqueKey {
  /** Index name. */
  readonly name: string;
  /** The key's properties, as the application named them. */
  readonly properties: readonly string[];
  /** The database columns of the twins the index covers. */
  readonly twinColumns: readonly string[];
  /** The entity properties of those twins. */
  readonly twinProperties: readonly string[];
}

/** What a twin column mirrors: its source column, and whether ASCII case is folded. @internal */
export interface ActiveTwin {
  readonly sourceColumn: string;
  readonly caseInsensitive: boolean;
}

const twinsByClass = new WeakMap<object, Map<string, ActiveTwin>>();

/** The twin a column is, when it is one (`target` is the declaring class, as TypeORM's column metadata has it). @internal */
export function activeTwin(target: unknown, propertyName: string): ActiveTwin | undefined {
  return typeof target === "function" ? twinsByClass.get(target)?.get(propertyName) : undefined;
}

/** A twin's value: the source column while the row is live, NULL once it is soft-deleted. @internal */
export function twinExpression(sourceColumn: string, fold: (expression: string) => string = (e) => e): string {
  return `CASE WHEN deleted_at IS NULL THEN ${fold(sourceColumn)} END`;
}

const keysByClass = new WeakMap<object, ActiveUniqueKey[]>();
const SIMPLE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The soft-delete-aware unique keys declared on a class and its ancestors. @internal */
export function activeUniqueKeys(target: unknown): readonly ActiveUniqueKey[] {
  const keys: ActiveUniqueKey[] = [];
  for (let t = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    keys.push(...(keysByClass.get(t) ?? []));
  }
  return keys;
}

/** Options of {@link UniqueWhileActive}. */
export interface UniqueWhileActiveOptions {
  /**
   * Index name. Default: `uq_active_<class>_<columns>` (`uq_active_ci_...` when case-insensitive) in lower case,
   * cut to 60 characters.
   */
  readonly name?: string;
  /**
   * Values that differ only in the case of ASCII letters (A-Z, a-z) collide: `Ann@X.io` and `ann@x.io` are one key.
   * Every other character compares exactly (`Ä` and `ä`, `é` and `e`, `a` and `a ` are different keys), the same on
   * every database: the twin holds the value with A-Z lower-cased, by an expression that means the same everywhere.
   * The column keeps the value as written. Default false: keys compare exactly, byte for byte.
   */
  readonly caseInsensitive?: boolean;
}

/**
 * Makes `properties` unique among the rows that are not soft-deleted, the same way on every dialect: each column
 * gets a stored generated twin, `CASE WHEN deleted_at IS NULL THEN <column> END` (NULL once the row is deleted), and a
 * unique index covers the twins. Keys compare exactly, byte for byte, on every database (on MySQL/MariaDB the twins
 * have a binary NO PAD collation, whatever the table's); `{ caseInsensitive: true }` folds ASCII case. Deleted rows never collide, since unique indexes let NULLs repeat; two live rows, or a
 * restore whose key is taken meanwhile, are refused with a {@link UniqueConstraintError} naming the entity and the
 * properties. MySQL and MariaDB have no partial indexes, so this is the design that holds on all three, and the
 * schema diff stays empty. Several per entity, and composite keys, are allowed.
 *
 * @example
 * @Entity("users")
 * @UniqueWhileActive(["email"])
 * @UniqueWhileActive(["tenantId", "handle"])
 * class User extends FullAuditModel { ... }
 */
export function UniqueWhileActive(
  properties: readonly string[],
  options: UniqueWhileActiveOptions = {},
): ClassDecorator {
  return (target) => {
    if (properties.length === 0) throw new ConfigurationError(`@UniqueWhileActive on ${target.name} names no property`);
    const storage = getMetadataArgsStorage();
    const caseInsensitive = options.caseInsensitive === true;
    const prefix = caseInsensitive ? "active_ci_" : "active_";
    const twins: string[] = [];
    const twinColumns: string[] = [];
    for (const property of properties) {
      const column = findColumn(target, property);
      if (!column) {
        throw new ConfigurationError(
          `@UniqueWhileActive on ${target.name}: "${property}" is not a column of the entity`,
        );
      }
      const columnName = column.options.name ?? property;
      if (!SIMPLE_IDENTIFIER.test(columnName)) {
        throw new ConfigurationError(`@UniqueWhileActive on ${target.name}: column "${columnName}" needs a plain name`);
      }
      const twinProperty = `__${prefix}${property}`;
      const twinColumn = `${prefix}${columnName}`;
      if (!storage.columns.some((c) => c.target === target && c.propertyName === twinProperty)) {
        // a case-insensitive twin's expression is the dialect's (set when the DataSource's metadata is built)
        Column({
          name: twinColumn,
          type: column.options.type,
          length: column.options.length,
          nullable: true,
          generatedType: "STORED",
          asExpression: twinExpression(columnName),
          insert: false,
          update: false,
          select: false,
        })(target.prototype as object, twinProperty);
        // TypeORM writes the generated value onto the entity after an insert; class-transformer (NestJS's
        // ClassSerializerInterceptor) must not send it, as toDict does not
        Exclude()(target.prototype as object, twinProperty);
        const byProperty = twinsByClass.get(target) ?? new Map<string, ActiveTwin>();
        byProperty.set(twinProperty, { sourceColumn: columnName, caseInsensitive });
        twinsByClass.set(target, byProperty);
      }
      twins.push(twinProperty);
      twinColumns.push(twinColumn);
    }
    // @Entity runs after this decorator, so the name comes from the class, not the table
    const name =
      options.name ??
      `uq_${prefix}${target.name.toLowerCase()}_${twinColumns.map((c) => c.slice(prefix.length)).join("_")}`.slice(
        0,
        60,
      );
    Index(name, twins, { unique: true })(target);
    const keys = keysByClass.get(target) ?? [];
    keys.push({ name, properties: [...properties], twinColumns, twinProperties: twins });
    keysByClass.set(target, keys);
  };
}

function findColumn(target: Function, property: string) {
  const storage = getMetadataArgsStorage();
  for (let t: unknown = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    const column = storage.columns.find((c) => c.target === t && c.propertyName === property);
    if (column) return column;
  }
  return undefined;
}
