import { TransformationType } from "class-transformer";
import { getMetadataArgsStorage } from "typeorm";
import type { ColumnMetadataArgs } from "typeorm/metadata-args/ColumnMetadataArgs";
import type { EmbeddedMetadataArgs } from "typeorm/metadata-args/EmbeddedMetadataArgs";
import type { RelationMetadataArgs } from "typeorm/metadata-args/RelationMetadataArgs";
import { columnKind, isManagedEmbeddable } from "../columns/column-kinds";
import { assertJsonValue, MAX_JSON_DEPTH } from "../columns/smart-json";
import { errorMessage, StaleEntityError, type ValidationIssue, type ValidationIssueCode } from "../errors";
import { isoString, parseIsoInstant } from "../util/iso-date";
import { canonicalUuid } from "../util/uuid";
import { decimalMisfit, DECIMAL_TYPES, integerRange, NOT_DECIMAL } from "../util/numeric";
import { characterCount, declaredLength, STRING_COLUMN_TYPES } from "../util/text";

/** Options of {@link ModelSerializer.fromDict}. */
export interface FromDictOptions {
  /** What to do with keys the entity does not have: report them (`"error"`) or leave them out (`"drop"`). Default: `"error"`. */
  readonly unknownKeys?: "error" | "drop";
  /**
   * What to do with keys the client may not set (`id`, `createdAt`, `updatedAt`, `deletedAt`, `isDeleted`, the audit
   * columns): report them as `read_only` issues (`"error"`), leave them out (`"ignore"`), or take them, for trusted
   * input such as imports or `fromDict(E, toDict(e))` (`"accept"`). Default: `"error"`.
   */
  readonly protectedKeys?: "error" | "ignore" | "accept";
  /**
   * Properties the model hides that a body may set anyway, as dotted paths without indexes (`["passwordHash"]`,
   * `["lines.costCents"]`). Hidden are the properties class-transformer's `plainToInstance` leaves out (`@Exclude()`,
   * `@Exclude({ toClassOnly: true })`, a class-level `@Exclude()` without `@Expose`) and `select: false` columns;
   * otherwise a body's value for one is treated as a key the entity does not have. Default: none.
   */
  readonly hiddenKeys?: readonly string[];
  /**
   * Which rows an object with an id inside a relation may stand for. `"held"` (the default): in a many-to-one or an
   * owning one-to-one, a reference to any row, given as its id alone; in a one-to-many or many-to-many collection, and
   * in an inverse one-to-one, only a row the entity already holds (loaded), which is then updated (a many-to-many
   * element that is its id alone links that row); any other id is an `unknown_reference` issue, so that a body never
   * moves, renames or deletes another parent's rows. `"any"`: ids are taken as given at every depth (the application
   * checked ownership itself). `protectedKeys: "accept"` implies `"any"`.
   */
  readonly references?: "held" | "any";
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
  | { readonly kind: "integer"; readonly type: string; readonly min: number; readonly max: number }
  | { readonly kind: "decimal"; readonly precision: number | undefined; readonly scale: number }
  | { readonly kind: "number" }
  | { readonly kind: "boolean" }
  | { readonly kind: "json" }
  | { readonly kind: "any" }
  | { readonly kind: "embedded"; readonly target: () => Constructor; readonly type: TypeMetadata | undefined }
  | {
      readonly kind: "relation";
      readonly many: boolean;
      /** A many-to-one or an owning one-to-one: the object stands for a row it refers to. */
      readonly reference: boolean;
      /** A many-to-many: an element given as its id alone links that row. */
      readonly links: boolean;
      readonly target: () => Constructor;
      readonly type: TypeMetadata | undefined;
    };

/** class-transformer's record of a `@Type` (read from its metadata storage; not in its typings). */
interface TypeMetadata {
  readonly typeFunction?: (options: { newObject: unknown; object: unknown; property: string }) => unknown;
  readonly options?: {
    readonly discriminator?: {
      readonly property: string;
      readonly subTypes: readonly { readonly name: string; readonly value: Function }[];
    };
    readonly keepDiscriminatorProperty?: boolean;
  };
}

interface TypeStorage {
  findTypeMetadata(target: Function, key: string): TypeMetadata | undefined;
  getExcludedProperties(target: Function, transformation: TransformationType): string[];
  getExposedProperties(target: Function, transformation: TransformationType): string[];
  getStrategy(target: Function): "excludeAll" | "exposeAll" | "none";
}
// class-transformer's metadata storage (the application's copy; a CommonJS module without typings)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const typeModule = require("class-transformer/cjs/storage") as { defaultMetadataStorage: TypeStorage };
const typeStorage = typeModule.defaultMetadataStorage;

interface Field {
  readonly rule: Rule;
  readonly nullable: boolean;
  /** A column the INSERT needs a value for: not nullable, no default, not generated, not filled by the library. */
  readonly required: boolean;
  /** Managed by the library or the database: `updateFromDict` refuses it. */
  readonly protected: boolean;
  /** Left out of input unless named in `hiddenKeys`: `@Exclude()`d for plainToInstance, or a `select: false` column. */
  readonly hidden: boolean;
  /** TypeORM's `@VersionColumn()`: on update, a body's value is the version the client read. */
  readonly version?: true;
}

interface EntityPlan {
  readonly name: string;
  readonly target: Constructor;
  readonly fields: ReadonlyMap<string, Field>;
  /** The property of the single primary column, if there is one. */
  readonly primary: string | undefined;
  /** The fields a new row needs: required columns, and embedded objects the client fills (which may hold some). */
  readonly needed: readonly (readonly [string, Field])[];
  /** Compiled readers by options (see {@link readerMode}): undefined until compiled, null when the plan has none. */
  readonly readers: (CompiledReader | null | undefined)[];
}

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * How deep related and embedded objects may nest in input (a SmartJSON value has its own limit,
 * {@link MAX_JSON_DEPTH}); deeper input is a `too_deep` issue rather than a stack overflow.
 */
export const MAX_INPUT_DEPTH = 32;
const NUMBER_TYPES = new Set(["float", "float4", "float8", "double", "double precision", "real"]);
const INSTANT_TYPES = new Set([
  "datetime",
  "timestamp",
  "timestamptz",
  "timestamp with time zone",
  "timestamp without time zone",
]);

const plans = new WeakMap<object, EntityPlan>();
const hasOwn = Object.prototype.hasOwnProperty;

function classChain(target: Function): Function[] {
  const chain: Function[] = [];
  for (let t: unknown = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t))
    chain.push(t as Function);
  return chain;
}

function resolveTarget(type: RelationMetadataArgs["type"]): () => Constructor {
  return () => {
    if (typeof type === "string") {
      const table = getMetadataArgsStorage().tables.find(
        (t) => typeof t.target === "function" && t.target.name === type,
      );
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
  if (
    kind === "instant" ||
    column.mode === "createDate" ||
    column.mode === "updateDate" ||
    column.mode === "deleteDate"
  )
    return { kind: "instant" };
  const declared = column.options.type;
  const type: unknown =
    typeof declared === "string"
      ? declared.toLowerCase()
      : (declared ??
        (Reflect.getMetadata("design:type", (column.target as Function).prototype, column.propertyName) as unknown));
  if (type === "uuid") return { kind: "uuid" };
  if (type === String || (typeof type === "string" && STRING_COLUMN_TYPES.has(type))) {
    return { kind: "string", max: declaredLength(type, column.options.length) };
  }
  // TypeORM makes an undeclared number column an integer column (`integer`, MySQL's `int`)
  const range = integerRange(type === Number ? "integer" : type, column.options.unsigned === true);
  if (range) return { kind: "integer", ...range };
  if (DECIMAL_TYPES.has(type))
    return { kind: "decimal", precision: column.options.precision ?? undefined, scale: column.options.scale ?? 0 };
  if (typeof type === "string" && NUMBER_TYPES.has(type)) return { kind: "number" };
  if (type === Boolean || type === "boolean" || type === "bool") return { kind: "boolean" };
  if (type === Date || (typeof type === "string" && INSTANT_TYPES.has(type))) return { kind: "instant" };
  if (type === "json" || type === "jsonb" || type === "simple-json") return { kind: "json" };
  return { kind: "any" };
}

/** The properties class-transformer's `plainToInstance` leaves out of a class (its `getKeys` for PLAIN_TO_CLASS). */
function excludedFromInput(target: Function): (property: string) => boolean {
  const excluded = new Set(typeStorage.getExcludedProperties(target, TransformationType.PLAIN_TO_CLASS));
  if (typeStorage.getStrategy(target) !== "excludeAll") return (property) => excluded.has(property);
  const exposed = new Set(typeStorage.getExposedProperties(target, TransformationType.PLAIN_TO_CLASS));
  return (property) => excluded.has(property) || !exposed.has(property);
}

/** Works out, once per class, how each property of input data is checked, from TypeORM's decorator metadata. */
function planOf(target: Constructor): EntityPlan {
  let plan = plans.get(target);
  if (plan) return plan;
  const storage = getMetadataArgsStorage();
  const chain = classChain(target);
  const excluded = excludedFromInput(target);
  const primaries: string[] = [];
  const fields = new Map<string, Field>();
  const add = (key: string, field: Field) => {
    if (!fields.has(key)) fields.set(key, field);
  };
  for (const t of chain) {
    for (const column of storage.columns.filter((c: ColumnMetadataArgs) => c.target === t)) {
      const generated = column.options.insert === false && column.options.update === false;
      const nullable = column.options.nullable === true || column.mode === "deleteDate";
      const isProtected =
        column.options.primary === true ||
        column.mode !== "regular" ||
        generated ||
        columnKind(column.target, column.propertyName) === "uuid";
      const hidden = !isProtected && (column.options.select === false || excluded(column.propertyName));
      if (column.options.primary === true && !primaries.includes(column.propertyName))
        primaries.push(column.propertyName);
      add(column.propertyName, {
        rule: columnRule(column),
        nullable,
        required:
          !nullable &&
          !isProtected &&
          !hidden &&
          column.options.default === undefined &&
          column.options.generatedType === undefined &&
          column.options.asExpression === undefined &&
          column.options.insert !== false &&
          columnKind(column.target, column.propertyName) !== "smart-json",
        protected: isProtected,
        hidden,
        ...(column.mode === "version" ? { version: true as const } : {}),
      });
    }
    for (const embedded of storage.embeddeds.filter((e: EmbeddedMetadataArgs) => e.target === t)) {
      const type = embedded.type as () => Constructor;
      add(embedded.propertyName, {
        rule: { kind: "embedded", target: type, type: typeStorage.findTypeMetadata(target, embedded.propertyName) },
        nullable: false,
        required: false,
        protected: isManagedEmbeddable(type()),
        hidden: !isManagedEmbeddable(type()) && excluded(embedded.propertyName),
      });
    }
    for (const relation of storage.relations.filter((r: RelationMetadataArgs) => r.target === t)) {
      const many = relation.relationType === "one-to-many" || relation.relationType === "many-to-many";
      const owner =
        relation.relationType === "one-to-one" &&
        storage.joinColumns.some((j) => j.target === t && j.propertyName === relation.propertyName);
      add(relation.propertyName, {
        rule: {
          kind: "relation",
          many,
          reference: relation.relationType === "many-to-one" || owner,
          links: relation.relationType === "many-to-many",
          target: resolveTarget(relation.type),
          type: typeStorage.findTypeMetadata(target, relation.propertyName),
        },
        nullable: !many && relation.options.nullable !== false,
        // the foreign key of a many-to-one that may not be null is a column the INSERT needs
        required: relation.relationType === "many-to-one" && relation.options.nullable === false,
        protected: false,
        hidden: excluded(relation.propertyName),
      });
    }
  }
  const needed = [...fields].filter(
    ([, f]) => !f.hidden && (f.required || (f.rule.kind === "embedded" && !f.protected)),
  );
  plan = {
    name: target.name,
    target,
    fields,
    primary: primaries.length === 1 ? primaries[0] : undefined,
    needed,
    readers: [],
  };
  plans.set(target, plan);
  return plan;
}

/**
 * The class a nested object is read into, as class-transformer's `plainToInstance` picks it: the `@Type` class
 * (a subclass of the declared one, say), or with a discriminator the subtype its name says (the base type when the
 * name is unknown), the discriminator property left out of the data unless `keepDiscriminatorProperty`.
 */
function typed(
  declared: Constructor,
  meta: TypeMetadata | undefined,
  key: string,
  data: unknown,
): [Constructor, unknown] {
  if (meta === undefined) return [declared, data];
  const fallback = (meta.typeFunction?.({ newObject: {}, object: data, property: key }) ?? declared) as Constructor;
  const discriminator = meta.options?.discriminator;
  if (!discriminator || !isPlainObject(data) || !(discriminator.property in data)) {
    return [typeof fallback === "function" ? fallback : declared, data];
  }
  const name = data[discriminator.property];
  const subType = discriminator.subTypes.find((s) => s.name === name);
  const target = (subType?.value ?? fallback) as Constructor;
  if (meta.options?.keepDiscriminatorProperty) return [target, data];
  const { [discriminator.property]: _name, ...rest } = data;
  return [target, rest];
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/** The element of `held` (the entity's related row, or its collection) whose key `pk` is `id`. */
function heldWithId(held: unknown, pk: string, id: unknown): Record<string, unknown> | undefined {
  const same = (row: unknown): row is Record<string, unknown> =>
    typeof row === "object" && row !== null && sameId((row as Record<string, unknown>)[pk], id);
  if (Array.isArray(held)) return held.find(same) as Record<string, unknown> | undefined;
  return same(held) ? held : undefined;
}

function sameId(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return false;
  return typeof a === "string" && typeof b === "string" ? a.toLowerCase() === b.toLowerCase() : String(a) === String(b);
}

/**
 * Whether a value given for a protected property is the one the entity holds, as toDict writes it: an instant as
 * its ISO string (or an equal Date), an id in any letter case, an embedded object key by key (keys not given are
 * not changes).
 */
function writtenEqual(current: unknown, given: unknown): boolean {
  if (current instanceof Date)
    return typeof given === "string"
      ? given === isoString(current)
      : given instanceof Date && given.getTime() === current.getTime();
  if (current === null || current === undefined) return given === null || given === undefined;
  if (typeof current === "object") {
    if (!isPlainObject(given)) return false;
    for (const key of Object.keys(given))
      if (!writtenEqual((current as Record<string, unknown>)[key], given[key])) return false;
    return true;
  }
  if (typeof current === "string" && typeof given === "string")
    return current === given || canonicalUuid(given) === current;
  return current === given;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Builds entities from untrusted input, collecting every problem as an issue instead of stopping at the first.
 * The path of the value being read is kept as a stack of segments and turned into text only for an issue.
 *
 * @internal
 */
export class PlainReader {
  readonly issues: ValidationIssue[] = [];
  /** A held entity whose version the input says was read before it moved on (the first one met). */
  stale: StaleEntityError | undefined;
  readonly #dropUnknown: boolean;
  readonly #protectedKeys: "error" | "ignore" | "accept";
  readonly #anyReference: boolean;
  readonly #hiddenKeys: ReadonlySet<string> | undefined;
  #checkRequired: boolean;
  readonly #path: (string | number)[] = [];
  /** How many related or embedded objects the value being read is inside. */
  #depth = 0;

  constructor(options: FromDictOptions = {}, mode: "create" | "update" = "create") {
    this.#dropUnknown = options.unknownKeys === "drop";
    this.#protectedKeys = options.protectedKeys ?? "error";
    this.#anyReference = options.references === "any" || this.#protectedKeys === "accept";
    this.#hiddenKeys = options.hiddenKeys && options.hiddenKeys.length > 0 ? new Set(options.hiddenKeys) : undefined;
    this.#checkRequired = mode === "create";
  }

  /**
   * A version sent with an update is the one the client read: another than the entity holds means the client's
   * copy is stale (the PATCH flow), answered with {@link StaleEntityError} before anything is applied.
   */
  #checkVersion(plan: EntityPlan, existing: Record<string, unknown>, key: string, given: unknown): void {
    if (!Number.isSafeInteger(given)) {
      this.#issue(
        "invalid_type",
        `expected the integer version ${plan.name}.${key} was read at, got ${describe(given)}`,
        key,
      );
      return;
    }
    const held = existing[key];
    this.stale ??= StaleEntityError.of(
      plan.name,
      plan.primary === undefined ? undefined : existing[plan.primary],
      given as number,
      typeof held === "number" ? held : null,
    );
  }

  /** Whether `hiddenKeys` names the hidden property `key` at the current path. */
  #hiddenAllowed(key: string): boolean {
    if (this.#hiddenKeys === undefined) return false;
    let path = "";
    for (const segment of this.#path) if (typeof segment === "string") path += `${segment}.`;
    return this.#hiddenKeys.has(path + key);
  }

  /** Records an issue at the current path, plus `leaf` (the key being read) when given. */
  #issue(code: ValidationIssueCode, message: string, leaf?: string): typeof SKIP {
    let path = "";
    const segments = leaf === undefined ? this.#path : [...this.#path, leaf];
    for (const segment of segments)
      path = typeof segment === "number" ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment;
    this.issues.push({ path, code, message });
    return SKIP;
  }

  /**
   * Reads `data` for `target` into `into` (a new instance, or a staging object for updates); `existing` holds the
   * current values that embedded objects are merged with (on update).
   */
  read(target: Constructor, data: unknown, into: Record<string, unknown>, existing?: Record<string, unknown>): void {
    const plan = planOf(target);
    if (!isPlainObject(data)) {
      this.#issue("invalid_type", `expected an object for ${plan.name}, got ${describe(data)}`);
      return;
    }
    if (this.#checkRequired) this.#requireFields(plan, data);
    for (const key in data) {
      if (!hasOwn.call(data, key)) continue;
      const field = plan.fields.get(key);
      // a hidden property is answered as one the entity does not have: a client learns nothing of it
      if (field === undefined || (field.hidden && !this.#hiddenAllowed(key))) {
        if (!this.#dropUnknown) {
          if (FORBIDDEN_KEYS.has(key)) this.#issue("forbidden_key", `the key "${key}" is not allowed`, key);
          else this.#issue("unknown_key", `${plan.name} has no property "${key}"`, key);
        }
      } else if (field.protected && this.#protectedKeys !== "accept") {
        // the value the entity holds, sent back as toDict wrote it (a PUT of a GET's body), changes nothing
        if (existing !== undefined && writtenEqual(existing[key], data[key])) continue;
        if (field.version && existing !== undefined) {
          this.#checkVersion(plan, existing, key, data[key]);
          continue;
        }
        if (this.#protectedKeys === "error")
          this.#issue("read_only", `${plan.name}.${key} is managed by the library and cannot be changed`, key);
      } else {
        const value = this.#field(
          plan,
          key,
          field,
          data[key],
          existing === undefined ? into[key] : existing[key],
          existing !== undefined,
        );
        if (value !== SKIP) into[key] = value;
      }
    }
  }

  /**
   * A new row needs a value for every required column: each one missing from `data` (absent or undefined) is a
   * `required` issue, inside embedded objects too.
   */
  #requireFields(plan: EntityPlan, data: Record<string, unknown>): void {
    for (const [key, field] of plan.needed) {
      const given = hasOwn.call(data, key) ? data[key] : undefined;
      if (field.required && given === undefined) {
        this.#issue("required", `${plan.name}.${key} is required`, key);
      } else if (field.rule.kind === "embedded" && given === undefined) {
        this.#path.push(key);
        this.#requireFields(planOf(field.rule.target()), {});
        this.#path.pop();
      }
    }
  }

  #field(
    plan: EntityPlan,
    key: string,
    field: Field,
    value: unknown,
    current: unknown,
    copyEmbedded: boolean,
  ): unknown {
    if (value === undefined) return SKIP;
    if (value === null) {
      if (field.nullable || field.rule.kind === "json") return null;
      return this.#issue("not_nullable", `${plan.name}.${key} cannot be null`, key);
    }
    const rule = field.rule;
    switch (rule.kind) {
      case "string":
        if (typeof value !== "string") return this.#wrongType("a string", value, key);
        if (value.includes("\u0000"))
          return this.#issue("invalid_type", "the string contains a NUL character (\\u0000)", key);
        if (rule.max !== undefined && value.length > rule.max) {
          const count = characterCount(value);
          if (count > rule.max)
            return this.#issue("too_long", `${count} characters given, at most ${rule.max} allowed`, key);
        }
        return value;
      case "uuid": {
        if (typeof value !== "string") return this.#wrongType("a UUID string", value, key);
        const canonical = canonicalUuid(value);
        return canonical ?? this.#issue("invalid_uuid", `${describe(value)} is not a UUID`, key);
      }
      case "instant":
        return this.#instant(value, key);
      case "integer":
        if (typeof value !== "number" || !Number.isFinite(value)) return this.#wrongType("a number", value, key);
        if (!Number.isSafeInteger(value)) return this.#issue("not_integer", `${value} is not a (safe) integer`, key);
        if (value < rule.min || value > rule.max)
          return this.#issue(
            "out_of_range",
            `${plan.name}.${key}: ${value} is outside the range of ${rule.type} (${rule.min} to ${rule.max})`,
            key,
          );
        return value;
      case "decimal": {
        if (typeof value !== "string" && (typeof value !== "number" || !Number.isFinite(value)))
          return this.#wrongType("a number or a decimal string", value, key);
        const misfit = decimalMisfit(value, rule.precision, rule.scale);
        if (misfit === NOT_DECIMAL) return this.#wrongType("a decimal number", value, key);
        if (misfit !== undefined)
          return this.#issue(
            "out_of_range",
            `${plan.name}.${key}: ${describe(value)} ${misfit} (decimal(${rule.precision}, ${rule.scale}))`,
            key,
          );
        return value;
      }
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value)) return this.#wrongType("a finite number", value, key);
        return value;
      case "boolean":
        if (typeof value !== "boolean") return this.#wrongType("a boolean", value, key);
        return value;
      case "json":
        try {
          assertJsonValue(value, plan.name, key);
        } catch (error) {
          return this.#issue("invalid_json", errorMessage(error), key);
        }
        // what the check lets through and cleanJson does not: a forbidden key somewhere, which the copy refuses
        if (cleanJson(value, 0)) return value;
        this.#path.push(key);
        const clean = this.#cloneJson(value);
        this.#path.pop();
        return clean;
      case "any":
        return value;
      case "embedded": {
        if (this.#depth >= MAX_INPUT_DEPTH) return this.#tooDeep(key);
        const [target, data] = typed(rule.target(), rule.type, key, value);
        value = data;
        let into: Record<string, unknown>;
        if (!copyEmbedded && current instanceof target) into = current as Record<string, unknown>;
        else {
          into = new target() as Record<string, unknown>;
          if (current && typeof current === "object") Object.assign(into, current);
        }
        this.#path.push(key);
        this.#depth++;
        // an embedded object's own values are what its protected keys are compared with
        const held = copyEmbedded && current && typeof current === "object" ? current : undefined;
        this.read(target, value, into, held as Record<string, unknown> | undefined);
        this.#depth--;
        this.#path.pop();
        return into;
      }
      case "relation": {
        if (this.#depth >= MAX_INPUT_DEPTH) return this.#tooDeep(key);
        const checkRequired = this.#checkRequired;
        this.#checkRequired = false; // a related row a cascade writes may leave columns to the database
        this.#path.push(key);
        this.#depth++;
        try {
          return this.#related(rule, value, key, current);
        } finally {
          this.#depth--;
          this.#path.pop();
          this.#checkRequired = checkRequired;
        }
      }
    }
  }

  #tooDeep(key: string): typeof SKIP {
    return this.#issue(
      "too_deep",
      `related and embedded objects nest deeper than ${MAX_INPUT_DEPTH} levels here; the input is not read further`,
      key,
    );
  }

  /** A relation's value: one related object, or an array of them; `held` is what the entity holds now. */
  #related(rule: Extract<Rule, { kind: "relation" }>, value: unknown, key: string, held: unknown): unknown {
    if (!rule.many) return this.#relatedOne(rule, key, value, held === null ? undefined : held);
    if (!Array.isArray(value)) return this.#wrongType("an array", value);
    const out = new Array<object>(value.length);
    for (let i = 0; i < value.length; i++) {
      this.#path.push(i);
      out[i] = this.#relatedOne(rule, key, value[i], held) as object;
      this.#path.pop();
    }
    return out;
  }

  /**
   * One related object. Without an id it is a new row (a cascade inserts it). With one, it is the row the entity
   * holds with that id (updated by what is given), a reference (`{ id }` alone) where the relation refers to rows,
   * or, unless ids are trusted, an `unknown_reference` issue: never another parent's row.
   */
  #relatedOne(rule: Extract<Rule, { kind: "relation" }>, key: string, value: unknown, held: unknown): unknown {
    const [target, data] = typed(rule.target(), rule.type, key, value);
    const plan = planOf(target);
    const pk = plan.primary;
    if (pk === undefined || !isPlainObject(data) || data[pk] === undefined || !hasOwn.call(data, pk))
      return this.entity(target, data);
    if (this.#protectedKeys === "accept") return this.entity(target, data);
    const { [pk]: given, ...rest } = data;
    const id = this.#field(plan, pk, { ...plan.fields.get(pk)!, protected: false }, given, undefined, false);
    if (id === SKIP) return new target();
    const match = heldWithId(held, pk, id);
    if (match !== undefined) {
      const into = new target() as Record<string, unknown>;
      Object.assign(into, match);
      this.read(target, rest, into, match);
      return into;
    }
    if (this.#anyReference) {
      const entity = this.entity(target, rest) as Record<string, unknown>;
      entity[pk] = id;
      return entity;
    }
    const alone = Object.keys(rest).length === 0;
    if (rule.reference || (rule.links && alone)) {
      // a reference: the row it names is not the entity's to change
      for (const other of Object.keys(rest))
        this.#issue(
          "read_only",
          `${plan.name}.${other} belongs to the referenced row; refer to a row the entity does not hold by { ${pk} } alone`,
          other,
        );
      const reference = new target() as Record<string, unknown>;
      reference[pk] = id;
      return reference;
    }
    this.#issue(
      "unknown_reference",
      `no ${plan.name} with ${pk} ${describe(id)} is held here; only rows the entity holds (loaded) can be changed, ` +
        `and a new row is given without ${pk}`,
      pk,
    );
    return new target();
  }

  /**
   * A new instance of `target` read from `data`: first by the reader compiled for the class and these options, which
   * takes valid input only and gives up (answering false) at the first value it does not take; then, when it gave
   * up, by the general path on a fresh instance, which reports every problem.
   */
  entity(target: Constructor, data: unknown): object {
    if (isPlainObject(data)) {
      const fast = this.#compiled(planOf(target));
      if (fast !== null) {
        const instance = new target() as Record<string, unknown>;
        const issues = this.issues.length;
        if (fast(data, instance, this.#bridge)) return instance;
        this.issues.length = issues; // a relation it read may have reported; the general path reports again
      }
    }
    const instance = new target() as Record<string, unknown>;
    this.read(target, data, instance);
    return instance;
  }

  /** What a compiled reader calls back into the reader for: a relation, read the general way. */
  readonly #bridge: ReaderBridge = {
    relation: (plan, key, field, value) => this.#field(plan, key, field, value, undefined, false),
    skip: SKIP,
  };

  /** The compiled reader of a plan under this reader's options (null when the plan has none). */
  #compiled(plan: EntityPlan): CompiledReader | null {
    const mode = readerMode(this.#protectedKeys, this.#dropUnknown, this.#checkRequired);
    let reader = plan.readers[mode];
    if (reader === undefined) {
      reader = compileReader(plan, this.#protectedKeys, this.#dropUnknown, this.#checkRequired, false);
      plan.readers[mode] = reader;
    }
    return reader;
  }

  #instant(value: unknown, key: string): unknown {
    if (value instanceof Date) {
      return Number.isNaN(value.getTime()) ? this.#issue("invalid_date", "the Date is invalid", key) : value;
    }
    if (typeof value !== "string") return this.#wrongType("an ISO 8601 date-time string", value, key);
    const time = parseIsoInstant(value);
    if (time !== undefined) return new Date(time);
    const withoutOffset = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value);
    return withoutOffset
      ? this.#issue(
          "date_without_offset",
          `${describe(value)} has no time zone offset; add "Z" or "+hh:mm" (a local time is not guessed)`,
          key,
        )
      : this.#issue("invalid_date", `${describe(value)} is not an ISO 8601 date-time with an offset`, key);
  }

  /**
   * A copy of a checked JSON value, made only when it holds forbidden keys. `__proto__`, `constructor` and `prototype` keys are refused inside it too (or
   * left out with `unknownKeys: "drop"`): code that later merges the value with `Object.assign` would otherwise
   * hand them to a prototype.
   */
  #cloneJson(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    const path = this.#path;
    if (Array.isArray(value)) {
      const out = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        out[i] = this.#cloneJson(value[i]);
        path.pop();
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const child = (value as Record<string, unknown>)[key];
      if (child === undefined) continue;
      path.push(key);
      if (!FORBIDDEN_KEYS.has(key)) out[key] = this.#cloneJson(child);
      else if (!this.#dropUnknown) this.#issue("forbidden_key", `the key "${key}" is not allowed`);
      path.pop();
    }
    return out;
  }

  #wrongType(expected: string, value: unknown, leaf?: string): typeof SKIP {
    return this.#issue("invalid_type", `expected ${expected}, got ${describe(value)}`, leaf);
  }
}

const SKIP: unique symbol = Symbol("skip");

/** Reads valid input into `into` and answers true; answers false at the first value it does not take. */
type CompiledReader = (data: Record<string, unknown>, into: Record<string, unknown>, bridge: ReaderBridge) => boolean;

interface ReaderBridge {
  readonly relation: (plan: EntityPlan, key: string, field: Field, value: unknown) => unknown;
  readonly skip: typeof SKIP;
}

/** The index of a compiled reader among a plan's readers: one per combination of the options that shape it. */
function readerMode(
  protectedKeys: "error" | "ignore" | "accept",
  dropUnknown: boolean,
  checkRequired: boolean,
): number {
  return (
    (protectedKeys === "error" ? 0 : protectedKeys === "ignore" ? 4 : 8) +
    (dropUnknown ? 2 : 0) +
    (checkRequired ? 1 : 0)
  );
}

/** Whether reading a plan can report a `required` issue when its data is absent (its own or its embedded fields). */
function needsAnything(plan: EntityPlan): boolean {
  return plan.needed.some(
    ([, f]) => f.required || (f.rule.kind === "embedded" && needsAnything(planOf(f.rule.target()))),
  );
}

/**
 * A reader compiled for one entity or embedded class and the reader's options: a `switch` on each key of the data
 * with the field's checks written in, values written by name, required fields tracked in locals. It takes only what
 * the general path would take unchanged and without an issue (a too-long string, a JSON value with a forbidden key,
 * an unknown or protected key it may not drop, a `@Type`: it gives up), so the general path stays the one place
 * issues are made. Relations are read the general way; an embedded class by its own compiled reader.
 */
function compileReader(
  plan: EntityPlan,
  protectedKeys: "error" | "ignore" | "accept",
  dropUnknown: boolean,
  checkRequired: boolean,
  embedded: boolean,
): CompiledReader | null {
  const constants: unknown[] = [];
  const constant = (value: unknown) => `C[${constants.push(value) - 1}]`;
  const cases: string[] = [];
  const required: string[] = [];
  let n = 0;
  for (const [key, field] of plan.fields) {
    const at = `into[${JSON.stringify(key)}]`;
    const seen = field.required && checkRequired ? `s${n++}` : undefined;
    if (seen) required.push(seen);
    const body: string[] = [];
    if (field.protected && protectedKeys !== "accept") {
      cases.push(`case ${JSON.stringify(key)}: ${protectedKeys === "ignore" ? "continue;" : "return false;"}`);
      continue;
    }
    if (field.hidden) {
      // taken only where hiddenKeys names it, dropped or reported otherwise: the general path decides
      cases.push(`case ${JSON.stringify(key)}: return false;`);
      continue;
    }
    body.push("if (v === undefined) continue;");
    if (seen) body.push(`${seen} = true;`);
    const rule = field.rule;
    body.push(
      `if (v === null) { ${field.nullable || rule.kind === "json" ? `${at} = null; continue; }` : "return false; }"}`,
    );
    switch (rule.kind) {
      case "string":
        body.push(
          `if (typeof v !== "string" || v.indexOf("\\u0000") !== -1${rule.max === undefined ? "" : ` || v.length > ${rule.max}`}) return false;`,
          `${at} = v;`,
        );
        break;
      case "uuid":
        body.push(`if (typeof v !== "string" || (r = uuid(v)) === undefined) return false;`, `${at} = r;`);
        break;
      case "instant":
        body.push(
          `if (typeof v === "string") { if ((r = instant(v)) === undefined) return false; ${at} = new Date(r); }`,
          `else if (v instanceof Date && v.getTime() === v.getTime()) ${at} = v; else return false;`,
        );
        break;
      case "integer":
        body.push(
          `if (typeof v !== "number" || !Number.isSafeInteger(v) || v < ${rule.min} || v > ${rule.max}) return false;`,
          `${at} = v;`,
        );
        break;
      case "decimal":
        body.push(
          `if ((typeof v !== "string" && (typeof v !== "number" || !Number.isFinite(v))) || ` +
            `${constant(decimalMisfit)}(v, ${rule.precision}, ${rule.scale}) !== undefined) return false;`,
        );
        body.push(`${at} = v;`);
        break;
      case "number":
        body.push(`if (typeof v !== "number" || !Number.isFinite(v)) return false;`, `${at} = v;`);
        break;
      case "boolean":
        body.push(`if (typeof v !== "boolean") return false;`, `${at} = v;`);
        break;
      case "json":
        body.push(`if (!json(v, 0)) return false;`, `${at} = v;`);
        break;
      case "any":
        body.push(`${at} = v;`);
        break;
      case "embedded": {
        if (rule.type !== undefined) return null;
        const target = rule.target();
        const inner = compileReader(planOf(target), protectedKeys, dropUnknown, checkRequired, true);
        if (inner === null) return null;
        body.push(
          `if (!plain(v)) return false;`,
          `r = ${at};`,
          `if (r === undefined || r === null) r = new (${constant(target)})(); else if (!(r instanceof ${constant(target)})) return false;`,
          `if (!${constant(inner)}(v, r, b)) return false;`,
          `${at} = r;`,
        );
        if (!field.protected && checkRequired && needsAnything(planOf(target))) {
          const given = `s${n++}`;
          required.push(given);
          body.splice(1, 0, `${given} = true;`);
        }
        break;
      }
      case "relation":
        // relations inside an embedded class would report issues at the wrong path: the general path reads those
        if (embedded) return null;
        body.push(`r = b.relation(P, ${JSON.stringify(key)}, ${constant(field)}, v);`, `if (r !== b.skip) ${at} = r;`);
        break;
    }
    cases.push(`case ${JSON.stringify(key)}: {\n${body.join("\n")}\ncontinue;\n}`);
  }
  const lines = [
    "var v, r;",
    ...required.map((flag) => `var ${flag} = false;`),
    "for (var k in d) {",
    "if (!hasOwn.call(d, k)) continue;",
    "v = d[k];",
    "switch (k) {",
    ...cases,
    `default: ${dropUnknown ? "continue;" : "return false;"}`,
    "}",
    "}",
    ...required.map((flag) => `if (!${flag}) return false;`),
    "return true;",
  ];
  // compiled once per class and options; keys are written as JSON string literals
  const make = new Function(
    "C",
    "P",
    "uuid",
    "instant",
    "json",
    "plain",
    "hasOwn",
    `return function (d, into, b) {\n${lines.join("\n")}\n};`,
  );
  return make(constants, plan, canonicalUuid, parseIsoInstant, cleanJson, isPlainObject, hasOwn) as CompiledReader;
}

/**
 * Whether a SmartJSON value is one the general path takes unchanged: JSON types only, finite numbers, strings and
 * keys without NUL or lone surrogates, plain objects, no `undefined` array items, no `__proto__`, `constructor` or
 * `prototype` key, nesting within {@link MAX_JSON_DEPTH} (which also ends a cycle). Anything else: false, and the
 * general path reports it.
 */
function cleanJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
      return value.indexOf("\u0000") === -1 && value.isWellFormed();
    case "number":
      return Number.isFinite(value);
    case "boolean":
      return true;
    case "object": {
      if (value === null) return true;
      if (depth >= MAX_JSON_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined || !cleanJson(item, depth + 1)) return false;
        }
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        if (!hasOwn.call(value, key)) continue;
        if (FORBIDDEN_KEYS.has(key) || key.indexOf("\u0000") !== -1 || !key.isWellFormed()) return false;
        const item = (value as Record<string, unknown>)[key];
        if (item !== undefined && !cleanJson(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
