import { FindOperator } from "typeorm";
import { InvalidValueError } from "../errors";
import { assertJsonValue, type JsonValue } from "./smart-json";

/** A path inside a JSON document: `"customer.id"`, or keys and array indexes: `["items", 0, "sku"]`. */
export type JsonPathSpec = string | readonly (string | number)[];

/** A JSON scalar a path can be compared with. */
export type JsonScalar = string | number | boolean | null;

/**
 * What a JSON condition tests, normalised and checked; each dialect turns it into its own SQL.
 *
 * @internal
 */
export type JsonTest =
  | { readonly kind: "equals"; readonly path: readonly (string | number)[]; readonly value: JsonScalar }
  | {
      readonly kind: "compare";
      readonly path: readonly (string | number)[];
      readonly operator: ">" | ">=" | "<" | "<=";
      readonly value: number;
    }
  | { readonly kind: "like"; readonly path: readonly (string | number)[]; readonly pattern: string }
  | { readonly kind: "hasKey"; readonly path: readonly (string | number)[] }
  | { readonly kind: "contains"; readonly value: JsonValue }
  | { readonly kind: "any"; readonly tests: readonly JsonTest[] }
  | { readonly kind: "all"; readonly tests: readonly JsonTest[] }
  | { readonly kind: "not"; readonly test: JsonTest }
  /** SQL already written (a condition on a `@JsonIndex` column, put beside the test it narrows). */
  | { readonly kind: "sql"; readonly sql: string };

type Spec =
  | { readonly kind: "path"; readonly path: JsonPathSpec; readonly operand: unknown }
  | { readonly kind: "contains"; readonly value: unknown }
  | { readonly kind: "hasKey"; readonly path: JsonPathSpec };

/**
 * A condition on the JSON document of a SmartJSON property, for TypeORM `find*` `where` objects and QueryBuilder
 * `where` objects. Made by {@link JsonPath}, {@link JsonContains} and {@link JsonHasKey}; checked against the
 * column it is used on (a typed error names the entity and the property) and turned into the dialect's SQL, with
 * every key and value bound as a parameter.
 */
export class JsonCondition extends FindOperator<unknown> {
  /** @internal */
  readonly spec: Spec;
  /** @internal The checked test, once the condition is bound to a column. */
  test: JsonTest | undefined;
  /** @internal */
  entity: string | undefined;
  /** @internal */
  property: string | undefined;

  /** @internal */
  constructor(spec: Spec, bound?: { entity: string; property: string }) {
    super("raw", undefined, false, false, () => {
      throw new InvalidValueError(
        `A JSON condition (JsonPath, JsonContains, JsonHasKey) works on SmartJSON properties of entities on a ` +
          `DataSource of the library's DatabaseManager; it was used elsewhere`,
        bound?.entity ?? "unknown",
        bound?.property ?? "unknown",
        spec,
      );
    });
    this.spec = spec;
  }

  /**
   * @internal TypeORM 1.x hands a `where` operator its column's transformer here (0.3 calls the transformer's `to`):
   * the SmartJSON transformer binds the condition to its column.
   */
  override transformValue(transformer: unknown): void {
    for (const t of Array.isArray(transformer) ? transformer : [transformer]) {
      (t as { bindCondition?(condition: JsonCondition): void } | undefined)?.bindCondition?.(this);
    }
  }

  /**
   * @internal Checks the condition against the column it is used on (each query binds it again, synchronously,
   * while its SQL is built) and answers it.
   */
  bind(entity: string, property: string): JsonCondition {
    this.test = toTest(this.spec, entity, property);
    this.entity = entity;
    this.property = property;
    return this;
  }
}

/**
 * The value at `path` equals `value`, or satisfies a TypeORM operator: `MoreThan`, `MoreThanOrEqual`, `LessThan`,
 * `LessThanOrEqual`, `Between` (numbers), `In` (scalars), `Like` (strings, case-sensitive everywhere), `IsNull`
 * (a JSON `null` at the path, told apart from a missing key), `Equal`, `Not` (true where the inner condition is not,
 * a missing key included). Types are kept: `"1"` never equals `1`, a boolean only equals a boolean.
 *
 * @example
 * await repo.findBy({ payload: JsonPath("customer.id", customerId) });
 * await repo.findBy({ metadata: { json: JsonPath(["items", 0, "qty"], MoreThan(2)) } });
 */
export function JsonPath(path: JsonPathSpec, valueOrOperator: JsonScalar | FindOperator<unknown>): JsonCondition {
  return new JsonCondition({ kind: "path", path, operand: valueOrOperator });
}

/**
 * The document contains `partial` (PostgreSQL `@>` semantics: every key and value of an object, every element of an
 * array, recursively; an array contains a scalar element).
 *
 * @example
 * await repo.findBy({ payload: JsonContains({ tags: ["gift"], customer: { tier: "gold" } }) });
 */
export function JsonContains(partial: JsonValue): JsonCondition {
  return new JsonCondition({ kind: "contains", value: partial });
}

/** The document has a value (a JSON `null` counts) at `path`. */
export function JsonHasKey(path: JsonPathSpec): JsonCondition {
  return new JsonCondition({ kind: "hasKey", path });
}

/**
 * The most values (array elements and object members, at every depth) a {@link JsonContains} candidate may hold:
 * each becomes a condition of its own on SQLite and MySQL/MariaDB, and SQLite refuses an expression tree about
 * 1,000 deep. The same limit on every database, so a query that works on one works on all.
 */
export const MAX_CONTAINS_ELEMENTS = 256;

/** How many values a JSON value holds below its top (array elements and object members, recursively). */
function valuesIn(value: JsonValue): number {
  if (value === null || typeof value !== "object") return 0;
  let count = 0;
  for (const item of Array.isArray(value) ? value : Object.values(value)) count += 1 + valuesIn(item as JsonValue);
  return count;
}

function fail(entity: string, property: string, value: unknown, why: string): never {
  throw new InvalidValueError(`${entity}.${property}: ${why}`, entity, property, value);
}

/** A path as keys and indexes: a dotted string is split on the dots; an array is taken as it is. */
function pathOf(spec: JsonPathSpec, entity: string, property: string): (string | number)[] {
  const parts = typeof spec === "string" ? spec.split(".") : [...spec];
  if (parts.length === 0 || (typeof spec === "string" && spec === ""))
    fail(entity, property, spec, "a JSON path needs at least one key");
  for (const part of parts) {
    if (typeof part === "number") {
      if (!Number.isSafeInteger(part) || part < 0)
        fail(entity, property, spec, `the array index ${String(part)} in a JSON path is not a whole number >= 0`);
    } else if (typeof part !== "string") {
      fail(entity, property, spec, "a JSON path holds strings (keys) and numbers (array indexes) only");
    } else if (part.includes("\u0000")) {
      fail(entity, property, spec, "a key in a JSON path contains a NUL character");
    } else if (!part.isWellFormed()) {
      fail(entity, property, spec, "a key in a JSON path holds a lone UTF-16 surrogate");
    }
  }
  return parts;
}

function scalar(value: unknown, entity: string, property: string, where: string): JsonScalar {
  if (value === null || typeof value === "string" || typeof value === "boolean") {
    if (typeof value === "string" && value.includes("\u0000"))
      fail(entity, property, value, `${where}: the string contains a NUL character`);
    if (typeof value === "string" && !value.isWellFormed())
      fail(entity, property, value, `${where}: the string holds a lone UTF-16 surrogate`);
    return value;
  }
  if (typeof value === "number" && Number.isFinite(value)) return value;
  return fail(
    entity,
    property,
    value,
    `${where}: expected a JSON scalar (string, finite number, boolean or null); use JsonContains for objects and arrays`,
  );
}

function number(value: unknown, entity: string, property: string, where: string): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  return fail(entity, property, value, `${where} compares numbers only; got ${JSON.stringify(value) ?? String(value)}`);
}

const COMPARISONS: Readonly<Record<string, ">" | ">=" | "<" | "<=">> = {
  moreThan: ">",
  moreThanOrEqual: ">=",
  lessThan: "<",
  lessThanOrEqual: "<=",
};

/** The operand of JsonPath as a test, every value checked. */
function operandTest(path: readonly (string | number)[], operand: unknown, entity: string, property: string): JsonTest {
  if (!(operand instanceof FindOperator)) {
    return { kind: "equals", path, value: scalar(operand, entity, property, "JsonPath") };
  }
  const type = operand.type as string;
  const value: unknown = operand.value;
  const child = (operand as unknown as { child?: FindOperator<unknown> }).child;
  if (type in COMPARISONS)
    return { kind: "compare", path, operator: COMPARISONS[type]!, value: number(value, entity, property, type) };
  switch (type) {
    case "equal":
      return operandTest(path, value, entity, property);
    case "isNull":
      return { kind: "equals", path, value: null };
    case "between": {
      const [from, to] = value as unknown[];
      return {
        kind: "all",
        tests: [
          { kind: "compare", path, operator: ">=", value: number(from, entity, property, "Between") },
          { kind: "compare", path, operator: "<=", value: number(to, entity, property, "Between") },
        ],
      };
    }
    case "in":
      if (!Array.isArray(value) || value.length === 0) fail(entity, property, value, "In needs a non-empty array");
      return {
        kind: "any",
        tests: (value as unknown[]).map((v) => ({
          kind: "equals" as const,
          path,
          value: scalar(v, entity, property, "In"),
        })),
      };
    case "like":
      if (typeof value !== "string") fail(entity, property, value, "Like needs a string pattern");
      return { kind: "like", path, pattern: scalar(value, entity, property, "Like") as string };
    case "not":
      return { kind: "not", test: operandTest(path, child ?? value, entity, property) };
    default:
      return fail(
        entity,
        property,
        operand,
        `JsonPath does not take TypeORM's ${type} operator; use a value, Equal, Not, MoreThan, MoreThanOrEqual, ` +
          `LessThan, LessThanOrEqual, Between, In, Like or IsNull`,
      );
  }
}

function toTest(spec: Spec, entity: string, property: string): JsonTest {
  switch (spec.kind) {
    case "path":
      return operandTest(pathOf(spec.path, entity, property), spec.operand, entity, property);
    case "hasKey":
      return { kind: "hasKey", path: pathOf(spec.path, entity, property) };
    case "contains":
      try {
        assertJsonValue(spec.value, entity, property);
      } catch (error) {
        return fail(entity, property, spec.value, `JsonContains: ${(error as Error).message}`);
      }
      if (valuesIn(spec.value as JsonValue) > MAX_CONTAINS_ELEMENTS)
        fail(
          entity,
          property,
          spec.value,
          `JsonContains takes at most ${MAX_CONTAINS_ELEMENTS} values (array elements and object members, counted ` +
            `at every depth); the candidate holds ${valuesIn(spec.value as JsonValue)}. Split the query, or keep ` +
            `the list in a table and join it`,
        );
      return { kind: "contains", value: spec.value as JsonValue };
  }
}
