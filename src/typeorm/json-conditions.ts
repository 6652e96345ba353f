import { QueryBuilder } from "typeorm/query-builder/QueryBuilder";
import { jsonIndexesOf, type JsonIndexSpec } from "../columns/json-index";
import { JsonCondition, type JsonTest } from "../columns/json-query";
import { FindOperator } from "typeorm";
import { InvalidValueError, describeValue } from "../errors";
import { registeredDialect } from "./registry";
import { dataSourceOf } from "./typeorm-line";

interface PredicateBuilder {
  getWherePredicateCondition(aliasPath: string, parameterValue: unknown): unknown;
  createParameter(value: unknown): string;
  escape(name: string): string;
}

/** Longest string the `@JsonIndex` columns hold whole on every dialect (MySQL keeps 255 characters). */
const INDEXED_STRING_LENGTH = 255;

/**
 * The test with a condition on the `@JsonIndex` column beside each equality and comparison on an indexed path and
 * type, so the database can use the index; the test itself stays, so the answer is exact either way.
 */
function useIndexes(
  test: JsonTest,
  indexes: readonly JsonIndexSpec[],
  column: (spec: JsonIndexSpec) => string,
  bind: (value: unknown) => string,
): JsonTest {
  switch (test.kind) {
    case "any":
    case "all":
      return { kind: test.kind, tests: test.tests.map((t) => useIndexes(t, indexes, column, bind)) };
    case "not":
      return { kind: "not", test: useIndexes(test.test, indexes, column, bind) };
    case "equals":
    case "compare": {
      const value = test.value;
      const type = typeof value === "number" ? "number" : typeof value === "string" ? "string" : undefined;
      if (type === undefined || (type === "string" && (value as string).length > INDEXED_STRING_LENGTH)) return test;
      const spec = indexes.find(
        (s) => s.type === type && s.path.length === test.path.length && s.path.every((p, i) => p === test.path[i]),
      );
      if (!spec) return test;
      const operator = test.kind === "equals" ? "=" : test.operator;
      return { kind: "all", tests: [{ kind: "sql", sql: `${column(spec)} ${operator} ${bind(value)}` }, test] };
    }
    default:
      return test;
  }
}

let installed = false;

/**
 * Where TypeORM turns a `where` value into a condition, a {@link JsonCondition} becomes its dialect's SQL, with every
 * key and value bound as a parameter of the query being built. The SmartJSON transformer has bound the condition to
 * its entity and property before this runs (TypeORM passes `where` values through column transformers).
 *
 * @internal
 */
export function installJsonConditions(): void {
  if (installed) return;
  installed = true;
  const proto = QueryBuilder.prototype as unknown as PredicateBuilder;
  const original = proto.getWherePredicateCondition;
  proto.getWherePredicateCondition = function (this: PredicateBuilder, aliasPath: string, parameterValue: unknown) {
    if (!(parameterValue instanceof JsonCondition)) {
      checkLikePattern(this, aliasPath, parameterValue);
      return original.call(this, aliasPath, parameterValue);
    }
    const dataSource = dataSourceOf(this);
    const dialect = registeredDialect(dataSource);
    const test = parameterValue.test;
    if (!dialect || !test) {
      throw new InvalidValueError(
        `${aliasPath}: JsonPath, JsonContains and JsonHasKey work on SmartJSON properties of entities on a ` +
          `DataSource of the library's DatabaseManager`,
        parameterValue.entity ?? "unknown",
        parameterValue.property ?? aliasPath,
        parameterValue.spec,
      );
    }
    const bind = (value: unknown) => this.createParameter(value);
    const metadata = dataSource.hasMetadata(parameterValue.entity!)
      ? dataSource.getMetadata(parameterValue.entity!)
      : undefined;
    const indexes = jsonIndexesOf(metadata?.target).filter((spec) => spec.property === parameterValue.property);
    // aliasPath is `alias.propertyPath`: the generated column sits beside the JSON column under the same alias
    const alias = aliasPath.slice(0, aliasPath.length - parameterValue.property!.length - 1);
    const indexed =
      indexes.length === 0
        ? test
        : useIndexes(test, indexes, (spec) => `${this.escape(alias)}.${this.escape(spec.generatedColumn)}`, bind);
    return dialect.jsonCondition(aliasPath, indexed, bind);
  };
}

/**
 * A `Like`/`ILike` pattern that ends in a lone backslash has no meaning: PostgreSQL refuses it with an untyped driver
 * error, MySQL takes the backslash as a literal, SQLite has no escape character. It is refused on every dialect, as
 * is a pattern holding a lone UTF-16 surrogate or a NUL character, with an error naming the entity and property.
 */
function checkLikePattern(builder: PredicateBuilder, aliasPath: string, operator: unknown): void {
  if (!(operator instanceof FindOperator)) return;
  const type = operator.type as string;
  if (type === "not") return checkLikePattern(builder, aliasPath, operator.value);
  if (type !== "like" && type !== "ilike") return;
  const pattern: unknown = operator.value;
  if (typeof pattern !== "string") return;
  const why = /(^|[^\\])(\\\\)*\\$/.test(pattern)
    ? "ends in a lone backslash, which escapes nothing; write \\\\ for a literal backslash"
    : !pattern.isWellFormed()
      ? "holds a lone UTF-16 surrogate"
      : pattern.includes("\u0000")
        ? "contains a NUL character"
        : undefined;
  if (why === undefined) return;
  const metadata = (
    builder as unknown as { expressionMap?: { mainAlias?: { hasMetadata?: boolean; metadata?: { name: string } } } }
  ).expressionMap?.mainAlias;
  const entity = metadata?.hasMetadata ? (metadata.metadata?.name ?? "unknown") : "unknown";
  const property = aliasPath.includes(".") ? aliasPath.slice(aliasPath.indexOf(".") + 1) : aliasPath;
  throw new InvalidValueError(
    `${entity}.${property}: the ${type === "ilike" ? "ILike" : "Like"} pattern ${describeValue(pattern)} ${why}`,
    entity,
    property,
    pattern,
  );
}
