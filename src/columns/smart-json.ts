import { JsonCondition } from "./json-query";
import { Column, type ValueTransformer } from "typeorm";
import { InvalidJsonValueError } from "../errors";
import { markColumn } from "./column-kinds";

/**
 * Any value that JSON can carry with its type intact. Nested levels are `unknown` to the compiler: TypeORM's
 * `DeepPartial` (behind `save()`) and `FindOptionsWhere` recurse without end into a recursive type and fail with
 * TS2589. Every level is checked at run time instead ({@link assertJsonValue}). An entity may declare a SmartJSON
 * property with its own precise, non-recursive type.
 */
export type JsonValue = string | number | boolean | null | JsonArray | JsonObject;
/** A JSON object (its values are checked at run time). */
export type JsonObject = { [key: string]: unknown };
/** A JSON array (its items are checked at run time). */
export type JsonArray = unknown[];

/**
 * The deepest nesting of arrays and objects SmartJSON accepts. MariaDB's `JSON_VALID` (the CHECK behind its JSON
 * type) refuses documents nested 32 deep, so a deeper value would be stored on PostgreSQL and refused on MariaDB;
 * the limit is applied on every database instead.
 */
export const MAX_JSON_DEPTH = 31;

/** How a SmartJSON column's value travels: as text the library encodes, or as a value TypeORM's driver encodes. */
export type JsonEncoding = "text" | "driver";

/** Options of {@link SmartJSON}. */
export interface SmartJsonOptions {
  /** Entity class name, for error messages. */
  readonly entity: string;
  /** Property path, for error messages. */
  readonly property: string;
  /** `"text"`: the column is TEXT and the library encodes and parses; `"driver"`: a native JSON type. Default: `"text"`. */
  readonly encoding?: JsonEncoding;
}

/**
 * Marks a stored SmartJSON value that could not be parsed; the model subscriber turns it into an
 * {@link InvalidStoredJsonError} naming the row as soon as the entity is loaded.
 *
 * @internal
 */
export class UnparseableJson {
  constructor(
    readonly raw: string,
    readonly cause: unknown,
  ) {
    Object.freeze(this);
  }
}

/** {@link findJsonProblem}'s two stacks, kept between calls: a valid value then allocates nothing at all. */
let spareStacks: { path: (string | number)[]; ancestors: object[] } | undefined = { path: [], ancestors: [] };

/**
 * Checks that `value` is JSON that every supported database stores and gives back with its type: plain objects,
 * arrays, strings, finite numbers, booleans, null; no cycles, no NUL characters or lone surrogates (PostgreSQL's
 * jsonb refuses them), nesting at most {@link MAX_JSON_DEPTH}. Object properties that are `undefined` are allowed
 * and left out, as `JSON.stringify` does; `undefined` inside an array is refused (it would come back as null).
 *
 * @throws InvalidJsonValueError naming the entity, the property and the JSON path of the first problem.
 */
export function assertJsonValue(value: unknown, entity: string, property: string): asserts value is JsonValue {
  // the stacks of the last call, emptied, unless a call is under way (a getter in a value may check JSON itself)
  const own = spareStacks ?? { path: [], ancestors: [] };
  spareStacks = undefined;
  try {
    const problem = findJsonProblem(value, 0, own.path, own.ancestors);
    if (problem !== undefined) {
      let path = "$";
      for (const segment of problem.path) path += typeof segment === "number" ? `[${segment}]` : `.${segment}`;
      throw InvalidJsonValueError.at(entity, property, path, problem.value, problem.reason);
    }
  } finally {
    // a valid value leaves both empty (every push was popped)
    if (own.path.length !== 0) own.path.length = 0;
    if (own.ancestors.length !== 0) own.ancestors.length = 0;
    spareStacks = own;
  }
}

/** Why a function as a SmartJSON property's value is refused. @internal */
export const FUNCTION_AS_SQL = "a function is not a JSON value (TypeORM would run it as raw SQL)";

interface JsonProblem {
  readonly path: readonly (string | number)[];
  readonly value: unknown;
  readonly reason: string;
}

/**
 * The first problem in a value, or undefined. `path` is a stack of segments turned into text only for a problem, and
 * `ancestors` the objects above the current one (for cycles): nothing is allocated on the way for a valid value. A
 * string, number or boolean inside an object or array is checked in place, without a call or a path segment of its
 * own (most of a document's values are).
 */
function findJsonProblem(
  v: unknown,
  depth: number,
  path: (string | number)[],
  ancestors: object[],
): JsonProblem | undefined {
  if (typeof v !== "object") {
    const reason = scalarProblem(v, depth);
    return reason === undefined ? undefined : { path, value: v, reason };
  }
  if (v === null) return undefined;
  if (depth >= MAX_JSON_DEPTH) return { path, value: v, reason: `nesting deeper than ${MAX_JSON_DEPTH} levels` };
  if (ancestors.includes(v)) return { path, value: v, reason: "a circular reference" };
  ancestors.push(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      if (item === null) continue;
      if (typeof item === "object") {
        path.push(i);
        const problem = findJsonProblem(item, depth + 1, path, ancestors);
        if (problem) return problem;
        path.pop();
        continue;
      }
      const reason = item === undefined ? "an array element is undefined" : scalarProblem(item, depth + 1);
      if (reason !== undefined) {
        path.push(i);
        return { path, value: item, reason };
      }
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null)
      return { path, value: v, reason: "an object is not a plain object" };
    for (const key in v) {
      if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
      if (key.includes("\u0000") || !key.isWellFormed()) {
        return { path, value: key, reason: "an object key holds a NUL character or a lone surrogate" };
      }
      const child = (v as Record<string, unknown>)[key];
      if (child === undefined || child === null) continue;
      if (typeof child === "object") {
        path.push(key);
        const problem = findJsonProblem(child, depth + 1, path, ancestors);
        if (problem) return problem;
        path.pop();
        continue;
      }
      const reason = scalarProblem(child, depth + 1);
      if (reason !== undefined) {
        path.push(key);
        return { path, value: child, reason };
      }
    }
  }
  ancestors.pop();
  return undefined;
}

/** Why a value that is no object (nor null) is not JSON every database keeps with its type, or undefined. */
function scalarProblem(v: unknown, depth: number): string | undefined {
  switch (typeof v) {
    case "string":
      if (v.includes("\u0000")) return "a string holds a NUL character (\\u0000)";
      return v.isWellFormed() ? undefined : "a string holds a lone UTF-16 surrogate";
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(v) ? undefined : "a number is not finite";
    default:
      // bigint, function, symbol, undefined at the top; TypeORM runs a function property as raw SQL
      return typeof v === "function" && depth === 0 ? FUNCTION_AS_SQL : `a ${typeof v} is not a JSON value`;
  }
}

/**
 * The SmartJSON value transformer: validates on the way in, and on the way out parses text columns. On PostgreSQL
 * and MySQL the database's own JSON type is used and TypeORM's driver encodes; on SQLite the column is TEXT and
 * this transformer encodes. A DataSource opened through {@link DatabaseManager} gets the right one per column.
 */
export class SmartJSON implements ValueTransformer {
  readonly #entity: string;
  readonly #property: string;
  readonly #encoding: JsonEncoding;

  constructor(options: SmartJsonOptions) {
    this.#entity = options.entity;
    this.#property = options.property;
    this.#encoding = options.encoding ?? "text";
  }

  /** Entity value to database value. `null` and `undefined` stay as they are (SQL NULL / not set). */
  to(value: unknown): unknown {
    // a JSON condition in a `where` is checked against this column, and names it in its errors
    if (value instanceof JsonCondition) return value.bind(this.#entity, this.#property);
    if (typeof value === "object" && value !== null && isFindOperatorLike(value)) return value;
    return this.write(value);
  }

  /**
   * `to` for a value being written (an insert's or an update's, never a `where`'s), where a condition or an operator
   * is not JSON and is refused as any other non-JSON value.
   *
   * @internal
   */
  write(value: unknown): unknown {
    if (value === undefined || value === null) return value;
    assertJsonValue(value, this.#entity, this.#property);
    return this.#encoding === "text" ? JSON.stringify(value) : value;
  }

  /** @internal Binds a `where` condition on this column to the entity and property (TypeORM 1.x path). */
  bindCondition(condition: JsonCondition): void {
    condition.bind(this.#entity, this.#property);
  }

  /** Database value to entity value. Text that is not JSON becomes a marker the model subscriber reports. */
  from(value: unknown): unknown {
    if (value === null || value === undefined) return null;
    if (this.#encoding === "driver" || typeof value !== "string") return value;
    try {
      return JSON.parse(value) as JsonValue;
    } catch (cause) {
      return new UnparseableJson(value, cause);
    }
  }
}

function isFindOperatorLike(value: object): boolean {
  return "@instanceof" in value || value.constructor?.name === "FindOperator";
}

/** Options of {@link SmartJsonColumn}. */
export interface SmartJsonColumnOptions {
  /** Column name. Default: TypeORM's naming strategy applied to the property name. */
  readonly name?: string;
  /** Whether the column accepts NULL. Default: `true`. */
  readonly nullable?: boolean;
  /** Column comment. */
  readonly comment?: string;
}

/**
 * A JSON column that works on every dialect: `jsonb` on PostgreSQL, `json` on MySQL and MariaDB (LONGTEXT with a
 * JSON_VALID check), `text` on SQLite. The type is chosen per DataSource, so one entity class serves DataSources
 * of different dialects in the same process.
 *
 * @example
 * class Order extends FullAuditModel {
 *   @SmartJsonColumn({ name: "shipping" })
 *   shipping!: { street: string; city: string } | null;
 * }
 */
export function SmartJsonColumn(options: SmartJsonColumnOptions = {}): PropertyDecorator {
  return (target: object, propertyKey: string | symbol) => {
    const property = String(propertyKey);
    const owner = target.constructor;
    markColumn(owner, property, "smart-json");
    Column({
      type: "text",
      name: options.name,
      nullable: options.nullable ?? true,
      comment: options.comment,
      transformer: new SmartJSON({ entity: owner.name, property }),
    })(target, propertyKey);
  };
}
