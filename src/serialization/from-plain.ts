import { getMetadataArgsStorage } from "typeorm";
import type { ColumnMetadataArgs } from "typeorm/metadata-args/ColumnMetadataArgs";
import type { EmbeddedMetadataArgs } from "typeorm/metadata-args/EmbeddedMetadataArgs";
import type { RelationMetadataArgs } from "typeorm/metadata-args/RelationMetadataArgs";
import { columnKind, isManagedEmbeddable } from "../columns/column-kinds";
import { assertJsonValue } from "../columns/smart-json";
import { errorMessage, type ValidationIssue, type ValidationIssueCode } from "../errors";
import { isUuid } from "../util/uuid";

/** Options of {@link ModelSerializer.fromDict}. */
export interface FromDictOptions {
  /** What to do with keys the entity does not have: report them (`"error"`) or leave them out (`"drop"`). Default: `"error"`. */
  readonly unknownKeys?: "error" | "drop";
}

/** Options of {@link BaseModel.updateFromDict}. */
export interface UpdateFromDictOptions extends FromDictOptions {
  /**
   * What to do with keys the application may not change (`id`, `createdAt`, `updatedAt`, `deletedAt`, `isDeleted`,
   * the audit columns): report them (`"error"`) or leave them out (`"ignore"`). Default: `"error"`.
   */
  readonly protectedKeys?: "error" | "ignore";
}

type Constructor = new () => object;

/** How one property of input data is checked and converted. */
type Rule =
  | { readonly kind: "string"; readonly max: number | undefined }
  | { readonly kind: "uuid" }
  | { readonly kind: "instant" }
  | { readonly kind: "integer" }
  | { readonly kind: "number" }
  | { readonly kind: "boolean" }
  | { readonly kind: "json" }
  | { readonly kind: "any" }
  | { readonly kind: "embedded"; readonly target: () => Constructor }
  | { readonly kind: "relation"; readonly many: boolean; readonly target: () => Constructor };

interface Field {
  readonly rule: Rule;
  readonly nullable: boolean;
  /** Managed by the library or the database: `updateFromDict` refuses it. */
  readonly protected: boolean;
}

interface EntityPlan {
  readonly name: string;
  readonly target: Constructor;
  readonly fields: ReadonlyMap<string, Field>;
}

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const STRING_TYPES = new Set(["varchar", "character varying", "char", "character", "nvarchar", "nchar", "text", "tinytext", "mediumtext", "longtext", "string"]);
const INTEGER_TYPES = new Set(["int", "integer", "int2", "int4", "int8", "smallint", "tinyint", "mediumint", "bigint"]);
const NUMBER_TYPES = new Set(["float", "float4", "float8", "double", "double precision", "real"]);
const INSTANT_TYPES = new Set(["datetime", "timestamp", "timestamptz", "timestamp with time zone", "timestamp without time zone"]);
/** ISO 8601 date and time with an explicit offset (`Z` or `+hh:mm`). */
const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)$/;

const plans = new WeakMap<object, EntityPlan>();

function classChain(target: Function): Function[] {
  const chain: Function[] = [];
  for (let t: unknown = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t)) chain.push(t as Function);
  return chain;
}

function resolveTarget(type: RelationMetadataArgs["type"]): () => Constructor {
  return () => {
    if (typeof type === "string") {
      const table = getMetadataArgsStorage().tables.find((t) => typeof t.target === "function" && t.target.name === type);
      if (!table) throw new TypeError(`entity ${type} is not declared`);
      return table.target as Constructor;
    }
    return (type as () => Constructor)();
  };
}

function columnRule(column: ColumnMetadataArgs): Rule {
  const kind = columnKind(column.target, column.propertyName);
  if (kind === "smart-json") return { kind: "json" };
  if (kind === "uuid") return { kind: "uuid" };
  if (kind === "instant" || column.mode === "createDate" || column.mode === "updateDate" || column.mode === "deleteDate") return { kind: "instant" };
  const declared = column.options.type;
  const type: unknown =
    typeof declared === "string"
      ? declared.toLowerCase()
      : (declared ?? (Reflect.getMetadata("design:type", (column.target as Function).prototype, column.propertyName) as unknown));
  if (type === "uuid") return { kind: "uuid" };
  if (type === String || (typeof type === "string" && STRING_TYPES.has(type))) {
    return { kind: "string", max: column.options.length === undefined ? undefined : Number(column.options.length) };
  }
  if (typeof type === "string" && INTEGER_TYPES.has(type)) return { kind: "integer" };
  if (type === Number || (typeof type === "string" && NUMBER_TYPES.has(type))) return { kind: "number" };
  if (type === Boolean || type === "boolean" || type === "bool") return { kind: "boolean" };
  if (type === Date || (typeof type === "string" && INSTANT_TYPES.has(type))) return { kind: "instant" };
  if (type === "json" || type === "jsonb" || type === "simple-json") return { kind: "json" };
  return { kind: "any" };
}

/** Works out, once per class, how each property of input data is checked, from TypeORM's decorator metadata. */
function planOf(target: Constructor): EntityPlan {
  let plan = plans.get(target);
  if (plan) return plan;
  const storage = getMetadataArgsStorage();
  const chain = classChain(target);
  const fields = new Map<string, Field>();
  const add = (key: string, field: Field) => {
    if (!fields.has(key)) fields.set(key, field);
  };
  for (const t of chain) {
    for (const column of storage.columns.filter((c: ColumnMetadataArgs) => c.target === t)) {
      const generated = column.options.insert === false && column.options.update === false;
      add(column.propertyName, {
        rule: columnRule(column),
        nullable: column.options.nullable === true || column.mode === "deleteDate",
        protected: column.options.primary === true || column.mode !== "regular" || generated || columnKind(column.target, column.propertyName) === "uuid",
      });
    }
    for (const embedded of storage.embeddeds.filter((e: EmbeddedMetadataArgs) => e.target === t)) {
      const type = embedded.type as () => Constructor;
      add(embedded.propertyName, { rule: { kind: "embedded", target: type }, nullable: false, protected: isManagedEmbeddable(type()) });
    }
    for (const relation of storage.relations.filter((r: RelationMetadataArgs) => r.target === t)) {
      const many = relation.relationType === "one-to-many" || relation.relationType === "many-to-many";
      add(relation.propertyName, {
        rule: { kind: "relation", many, target: resolveTarget(relation.type) },
        nullable: !many && relation.options.nullable !== false,
        protected: false,
      });
    }
  }
  plan = { name: target.name, target, fields };
  plans.set(target, plan);
  return plan;
}

/** Characters as the databases count them (code points). */
function characterCount(value: string): number {
  let count = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Builds entities from untrusted input, collecting every problem as an issue instead of stopping at the first.
 *
 * @internal
 */
export class PlainReader {
  readonly issues: ValidationIssue[] = [];
  readonly #dropUnknown: boolean;
  readonly #protectedKeys: "error" | "ignore" | "allow";

  constructor(options: UpdateFromDictOptions = {}, mode: "create" | "update" = "create") {
    this.#dropUnknown = options.unknownKeys === "drop";
    this.#protectedKeys = mode === "create" ? "allow" : options.protectedKeys ?? "error";
  }

  #issue(path: string, code: ValidationIssueCode, message: string): void {
    this.issues.push({ path, code, message });
  }

  /**
   * Reads `data` for `target` into `into` (a new instance, or a staging object for updates); `existing` holds the
   * current values embedded objects are merged with.
   */
  read(target: Constructor, data: unknown, path: string, into: Record<string, unknown>, existing: Record<string, unknown> = into): void {
    const plan = planOf(target);
    if (!isPlainObject(data)) {
      this.#issue(path, "invalid_type", `expected an object for ${plan.name}, got ${describe(data)}`);
      return;
    }
    for (const key of Object.keys(data)) {
      const keyPath = path ? `${path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key)) {
        if (!this.#dropUnknown) this.#issue(keyPath, "forbidden_key", `the key "${key}" is not allowed`);
        continue;
      }
      const field = plan.fields.get(key);
      if (!field) {
        if (!this.#dropUnknown) this.#issue(keyPath, "unknown_key", `${plan.name} has no property "${key}"`);
        continue;
      }
      if (field.protected && this.#protectedKeys !== "allow") {
        if (this.#protectedKeys === "error") this.#issue(keyPath, "read_only", `${plan.name}.${key} is managed by the library and cannot be changed`);
        continue;
      }
      const value = this.#field(plan, key, field, data[key], keyPath, existing[key]);
      if (value !== SKIP) into[key] = value;
    }
  }

  #field(plan: EntityPlan, key: string, field: Field, value: unknown, path: string, current: unknown): unknown {
    if (value === undefined) return SKIP;
    if (value === null) {
      if (field.nullable || field.rule.kind === "json") return null;
      this.#issue(path, "not_nullable", `${plan.name}.${key} cannot be null`);
      return SKIP;
    }
    const rule = field.rule;
    switch (rule.kind) {
      case "string":
        if (typeof value !== "string") return this.#wrongType(path, "a string", value);
        if (value.includes("\u0000")) {
          this.#issue(path, "invalid_type", "the string contains a NUL character (\\u0000)");
          return SKIP;
        }
        if (rule.max !== undefined && value.length > rule.max) {
          const count = characterCount(value);
          if (count > rule.max) {
            this.#issue(path, "too_long", `${count} characters given, at most ${rule.max} allowed`);
            return SKIP;
          }
        }
        return value;
      case "uuid":
        if (typeof value !== "string") return this.#wrongType(path, "a UUID string", value);
        if (!isUuid(value)) {
          this.#issue(path, "invalid_uuid", `${describe(value)} is not a UUID`);
          return SKIP;
        }
        return value.toLowerCase();
      case "instant":
        return this.#instant(path, value);
      case "integer":
        if (typeof value !== "number" || !Number.isFinite(value)) return this.#wrongType(path, "a number", value);
        if (!Number.isSafeInteger(value)) {
          this.#issue(path, "not_integer", `${value} is not a (safe) integer`);
          return SKIP;
        }
        return value;
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value)) return this.#wrongType(path, "a finite number", value);
        return value;
      case "boolean":
        if (typeof value !== "boolean") return this.#wrongType(path, "a boolean", value);
        return value;
      case "json":
        try {
          assertJsonValue(value, plan.name, key);
        } catch (error) {
          this.#issue(path, "invalid_json", errorMessage(error));
          return SKIP;
        }
        return this.#cloneJson(value, path);
      case "any":
        return value;
      case "embedded": {
        const target = rule.target();
        const into = new target() as Record<string, unknown>;
        if (current && typeof current === "object") Object.assign(into, current);
        this.read(target, value, path, into);
        return into;
      }
      case "relation":
        return this.#relation(rule, value, path);
    }
  }

  #relation(rule: Extract<Rule, { kind: "relation" }>, value: unknown, path: string): unknown {
    const target = rule.target();
    if (!rule.many) return this.entity(target, value, path);
    if (!Array.isArray(value)) return this.#wrongType(path, "an array", value);
    return value.map((item, index) => this.entity(target, item, `${path}[${index}]`));
  }

  /** A new instance of `target` read from `data`. */
  entity(target: Constructor, data: unknown, path: string): object {
    const instance = new target() as Record<string, unknown>;
    this.read(target, data, path, instance);
    return instance;
  }

  #instant(path: string, value: unknown): unknown {
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) {
        this.#issue(path, "invalid_date", "the Date is invalid");
        return SKIP;
      }
      return value;
    }
    if (typeof value !== "string") return this.#wrongType(path, "an ISO 8601 date-time string", value);
    if (!ISO_INSTANT.test(value)) {
      const withoutOffset = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value);
      this.#issue(
        path,
        withoutOffset ? "date_without_offset" : "invalid_date",
        withoutOffset
          ? `${describe(value)} has no time zone offset; add "Z" or "+hh:mm" (a local time is not guessed)`
          : `${describe(value)} is not an ISO 8601 date-time`,
      );
      return SKIP;
    }
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) {
      this.#issue(path, "invalid_date", `${describe(value)} is not a valid date`);
      return SKIP;
    }
    return date;
  }

  /**
   * A copy of a checked JSON value. `__proto__`, `constructor` and `prototype` keys are refused inside it too (or
   * left out with `unknownKeys: "drop"`): code that later merges the value with `Object.assign` would otherwise
   * hand them to a prototype.
   */
  #cloneJson(value: unknown, path: string): unknown {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((item, index) => this.#cloneJson(item, `${path}[${index}]`));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const child = (value as Record<string, unknown>)[key];
      if (FORBIDDEN_KEYS.has(key)) {
        if (!this.#dropUnknown) this.#issue(`${path}.${key}`, "forbidden_key", `the key "${key}" is not allowed`);
        continue;
      }
      if (child !== undefined) out[key] = this.#cloneJson(child, `${path}.${key}`);
    }
    return out;
  }

  #wrongType(path: string, expected: string, value: unknown): typeof SKIP {
    this.#issue(path, "invalid_type", `expected ${expected}, got ${describe(value)}`);
    return SKIP;
  }
}

const SKIP: unique symbol = Symbol("skip");
