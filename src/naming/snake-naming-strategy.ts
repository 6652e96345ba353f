import { DefaultNamingStrategy, type NamingStrategyInterface } from "typeorm";
import { snakeCase } from "typeorm/util/StringUtils";

/**
 * snake_case table, column, foreign-key and join-table names for the application's own properties, so that they
 * match the base models' columns (`created_at`, `updated_by`, ...). Names given explicitly (`name: "..."`, which the
 * base models use) are kept as they are.
 *
 * @example
 * new DatabaseManager({ url, entities: [User], namingStrategy: new SnakeNamingStrategy() });
 * // @Column() firstName: string  ->  column first_name
 */
export class SnakeNamingStrategy extends DefaultNamingStrategy implements NamingStrategyInterface {
  /** `OrderLine` -> `order_line`, unless the entity names its table. */
  override tableName(targetName: string, userSpecifiedName: string | undefined): string {
    return userSpecifiedName ? userSpecifiedName : snakeCase(targetName);
  }

  /** `firstName` -> `first_name`; inside an embedded object with a prefix, `prefix_first_name`. */
  override columnName(propertyName: string, customName: string | undefined, embeddedPrefixes: string[]): string {
    const prefix = embeddedPrefixes.length > 0 ? `${snakeCase(embeddedPrefixes.join("_"))}_` : "";
    return prefix + (customName ? customName : snakeCase(propertyName));
  }

  /** `billingAddress` -> `billing_address`. */
  override relationName(propertyName: string): string {
    return snakeCase(propertyName);
  }

  /** `customer` + `id` -> `customer_id`. */
  override joinColumnName(relationName: string, referencedColumnName: string): string {
    return snakeCase(`${relationName}_${referencedColumnName}`);
  }

  /** `post` + `tags` -> `post_tags_tag`. */
  override joinTableName(
    firstTableName: string,
    secondTableName: string,
    firstPropertyName: string,
    _secondPropertyName: string,
  ): string {
    return snakeCase(`${firstTableName}_${firstPropertyName.replaceAll(".", "_")}_${secondTableName}`);
  }

  /** `post` + `id` -> `post_id`. */
  override joinTableColumnName(tableName: string, propertyName: string, columnName?: string): string {
    return snakeCase(`${tableName}_${columnName ? columnName : propertyName}`);
  }
}
