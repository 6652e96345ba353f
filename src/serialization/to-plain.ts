import { TransformationType, type ClassTransformOptions } from "class-transformer";
import { isoString } from "../util/iso-date";

interface ExposeOptions {
  readonly name?: string;
  readonly groups?: string[];
  readonly since?: number;
  readonly until?: number;
}
interface TransformMetadata {
  readonly transformFn: TransformFn;
  readonly options?: { readonly groups?: string[]; readonly since?: number; readonly until?: number };
}
interface Discriminator {
  readonly property: string;
  readonly subTypes: readonly { readonly name: string; readonly value: Function }[];
}
/** class-transformer's record of one `@Type`. */
interface TypeMetadata {
  readonly reflectedType?: unknown;
  readonly typeFunction?: (options: { newObject: unknown; object: unknown; property: string }) => Function;
  readonly options?: { readonly discriminator?: Discriminator };
}
/** The part of class-transformer's metadata storage the serializer reads (it is not in the package's typings). */
interface MetadataStorageLike {
  getExposedProperties(target: object, type: TransformationType): string[];
  getExcludedProperties(target: object, type: TransformationType): string[];
  findExposeMetadata(target: object, key: string): { options?: ExposeOptions } | undefined;
  findTransformMetadatas(target: object, key: string, type: TransformationType): TransformMetadata[];
  findTypeMetadata(target: object, key: string): TypeMetadata | undefined;
  getStrategy(target: object | undefined): "excludeAll" | "exposeAll" | "none";
}

// The application's class-transformer (a peer dependency) holds the decorators' metadata; this is its storage
// (a CommonJS module without typings, hence require).
const storageModule = // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("class-transformer/cjs/storage") as { defaultMetadataStorage: MetadataStorageLike };
const storage = storageModule.defaultMetadataStorage;
const TO_PLAIN = TransformationType.CLASS_TO_PLAIN;

/** class-transformer's defaults, which `instanceToPlain` merges under the caller's options (transforms see them). */
const DEFAULT_OPTIONS: ClassTransformOptions = {
  enableCircularCheck: false,
  enableImplicitConversion: false,
  excludeExtraneousValues: false,
  excludePrefixes: undefined,
  exposeDefaultValues: false,
  exposeUnsetFields: true,
  groups: undefined,
  ignoreDecorators: false,
  strategy: undefined,
  targetMaps: undefined,
  version: undefined,
};

/**
 * Options of {@link ModelSerializer.toDict}: class-transformer's own `ClassTransformOptions` (the ones NestJS's
 * `ClassSerializerInterceptor` and `@SerializeOptions` take: `groups`, `strategy`, `excludeExtraneousValues`,
 * `version`, `excludePrefixes`, `exposeUnsetFields`, `ignoreDecorators`, `targetMaps`), plus the library's
 * `exclude` paths.
 */
export interface ToDictOptions extends Omit<ClassTransformOptions, "groups" | "excludePrefixes"> {
  /** Property paths to leave out: `"metadata.json"`, `"audit"`, `"items.price"` (applies to every item). */
  readonly exclude?: readonly string[];
  /** class-transformer groups: properties `@Expose({ groups })`d for one of them are included. Default: none. */
  readonly groups?: readonly string[];
  /** Leave out properties whose names start with one of these. */
  readonly excludePrefixes?: readonly string[];
}

type TransformFn = (params: {
  value: unknown;
  key: string;
  obj: object;
  type: TransformationType;
  options: ClassTransformOptions;
}) => unknown;

/** What to do with one property of a class: leave it out, or write it under `out` after `transforms`. */
interface KeyAction {
  readonly skip: boolean;
  readonly out: string;
  readonly transforms: readonly TransformFn[] | undefined;
  readonly type: TypeMetadata | undefined;
  /** Neither transforms nor a type: the value alone decides. */
  readonly plain: boolean;
  /** `out` can be assigned directly (it is not `__proto__`). */
  readonly safeOut: boolean;
}

/** The keys class-transformer gives a class (its `getKeys`), worked out once per class and options. */
interface ClassPlan {
  /** Own keys of an instance are taken (strategy exposeAll); otherwise only `exposed`. */
  ownKeys: boolean;
  /** Keys @Expose adds after the own keys (getters, methods, properties not set), already filtered. */
  exposed: readonly string[];
  /** Per property, filled as properties are met. */
  readonly actions: Map<string, KeyAction>;
  readonly target: Function | undefined;
  /**
   * Writers compiled for the key orders seen on instances (TypeORM builds every loaded entity of a class with the
   * same keys in the same order), at most {@link MAX_SHAPES}; `undefined` once an instance showed an inherited
   * enumerable key (those take the general path).
   */
  shapes: ShapeWriter[] | undefined;
}

/**
 * Writes the own keys of an object whose `for...in` order is exactly the one the writer was compiled for, and
 * answers true; answers false, writing nothing, for any other object.
 */
type ShapeWriter = (object: Record<string, unknown>, out: Record<string, unknown>, bridge: Bridge) => boolean;

/** What a compiled writer calls back into the converter for (values that are not strings, numbers or dates). */
interface Bridge {
  /** A plain action's value that is not a string, boolean, number, Date, null or undefined. */
  readonly value: (object: Record<string, unknown>, value: unknown) => unknown;
  /** A property with transforms or a type, converted the general way. */
  readonly property: (
    object: Record<string, unknown>,
    key: string,
    plan: ClassPlan,
    out: Record<string, unknown>,
  ) => void;
}

/** Key orders compiled per class and options; past this, instances take the general path. */
const MAX_SHAPES = 8;

/** A tree of excluded paths: `true` leaves the property out, a subtree excludes inside it. */
type ExcludeTree = ReadonlyMap<string, ExcludeTree | true>;

const EMPTY_TREE: ExcludeTree = new Map();
const hasOwn = Object.prototype.hasOwnProperty;
/** Plans per class, per options key; `undefined` stands for plain objects (no class). */
const plans = new Map<Function | undefined, Map<string, ClassPlan>>();

function buildExcludeTree(paths: readonly string[] | undefined): ExcludeTree {
  if (!paths || paths.length === 0) return EMPTY_TREE;
  const root = new Map<string, ExcludeTree | true>();
  for (const path of paths) {
    const parts = path.split(".");
    let node = root;
    parts.forEach((part, index) => {
      if (index === parts.length - 1) {
        node.set(part, true);
        return;
      }
      const next = node.get(part);
      if (next === true) return;
      const child = (next as Map<string, ExcludeTree | true> | undefined) ?? new Map<string, ExcludeTree | true>();
      node.set(part, child);
      node = child;
    });
  }
  return root;
}

/** A key that says which options change a plan (the others only reach transforms). */
function optionsKey(options: ClassTransformOptions): string {
  return JSON.stringify([
    options.strategy ?? null,
    options.excludeExtraneousValues === true,
    options.groups ?? null,
    options.version ?? null,
    options.excludePrefixes ?? null,
    options.ignoreDecorators === true,
    targetMapsKey(options.targetMaps),
  ]);
}

/** A number per class or function met in `targetMaps`, so that maps naming the same classes share a key. */
const functionIds = new WeakMap<Function, number>();
let functionCount = 0;

function functionId(fn: unknown): number {
  if (typeof fn !== "function") return -1;
  let id = functionIds.get(fn);
  if (id === undefined) {
    id = functionCount++;
    functionIds.set(fn, id);
  }
  return id;
}

/** `targetMaps` as text: each map's target and its properties' types, by identity. */
function targetMapsKey(maps: ClassTransformOptions["targetMaps"]): unknown {
  if (!maps || maps.length === 0) return null;
  return (maps as { target: Function; properties: Record<string, Function> }[]).map((map) => [
    functionId(map.target),
    Object.entries(map.properties ?? {}).map(([key, type]) => [key, functionId(type)]),
  ]);
}

/**
 * class-transformer's conversion to plain (its `TransformOperationExecutor` for CLASS_TO_PLAIN) followed by what
 * `JSON.stringify` + `JSON.parse` does to the result, in one pass, with the decisions about each class compiled once
 * per class and options. Differences on purpose: cycles are cut (an object already on the current path appears as
 * `{ id }`, where class-transformer would recurse without end), the discriminator of a `@Type` is written to the
 * output instead of onto the caller's objects, and `exclude` paths leave properties out.
 *
 * @internal
 */
export class PlainConverter {
  readonly #options: ClassTransformOptions;
  readonly #key: string;
  readonly #exclude: ExcludeTree;
  readonly #path: object[] = [];
  readonly #plans = new Map<Function | undefined, ClassPlan>();
  #plainPlan: ClassPlan | undefined;
  readonly #bridge: Bridge = {
    value: (object, value) =>
      this.#value(
        typeof value === "function" ? (value as () => unknown).call(object) : value,
        undefined,
        false,
        EMPTY_TREE,
      ),
    property: (object, key, plan, out) => this.#property(object, key, plan, EMPTY_TREE, out, undefined),
  };

  constructor(options: ToDictOptions = {}) {
    const { exclude, ...transformOptions } = options;
    this.#options = { ...DEFAULT_OPTIONS, ...(transformOptions as ClassTransformOptions) };
    this.#key = optionsKey(this.#options);
    this.#exclude = buildExcludeTree(exclude);
  }

  convert(value: unknown): unknown {
    this.#path.length = 0;
    return this.#value(value, undefined, false, this.#exclude);
  }

  /** One value, as class-transformer's `transform(value, targetType, isMap)` and then JSON would give it. */
  #value(value: unknown, type: Function | TypeMetadata | undefined, isMap: boolean, exclude: ExcludeTree): unknown {
    if (type === undefined) {
      // the common case: no @Type, the value decides (a Map is one by what it is)
      switch (typeof value) {
        case "string":
        case "boolean":
          return value;
        case "number":
          return Number.isFinite(value) ? value : null;
        case "object":
          if (value === null) return null;
          if (value instanceof Date) return isoString(value);
          if (Array.isArray(value)) return this.#list(value, undefined, exclude);
          return this.#object(value as Record<string, unknown>, undefined, isMap || value instanceof Map, exclude);
        default:
          return undefined; // functions, symbols, bigint and undefined do not appear in JSON
      }
    }
    if (Array.isArray(value) || value instanceof Set) return this.#list(value, type, exclude);
    if (!isMap && typeof type === "function") {
      if (type === String) return value === null || value === undefined ? value : String(value);
      if (type === Number) return value === null || value === undefined ? value : json(Number(value));
      if (type === Boolean) return value === null || value === undefined ? value : Boolean(value);
    }
    if (!isMap && (type === Date || value instanceof Date)) {
      if (value === null || value === undefined) return value;
      return isoString(value instanceof Date ? value : new Date(value as string));
    }
    if (typeof value !== "object" || value === null) {
      if (!isMap && type === Buffer && value !== null && value !== undefined)
        return Buffer.from(value as string).toJSON();
      return primitive(value);
    }
    return this.#object(
      value as Record<string, unknown>,
      typeof type === "function" ? type : undefined,
      isMap,
      exclude,
    );
  }

  /**
   * An object: a Set as an array, a Buffer as its JSON, a Promise as `{}` (what JSON makes of them), a cycle cut,
   * otherwise its keys by its class (the `@Type` class when there is one).
   */
  #object(object: Record<string, unknown>, type: Function | undefined, isMap: boolean, exclude: ExcludeTree): unknown {
    // the class itself, not an own "constructor" key of a JSON value (which class-transformer trips over)
    const own = object.constructor;
    const ctor = typeof own === "function" && !hasOwn.call(object, "constructor") ? own : classOf(object);
    if (!isMap && ctor !== Object && ctor !== undefined && specialKind(ctor) !== 0) {
      if (object instanceof Set) return this.#list(object, type, exclude);
      if (Buffer.isBuffer(object)) return Buffer.from(object as unknown as Uint8Array).toJSON();
      if (object instanceof Promise) return {};
    }
    if (type === Buffer && !isMap) return Buffer.from(object as unknown as Uint8Array).toJSON();
    const path = this.#path;
    if (path.includes(object)) {
      // a cycle: an object already on the current path appears as its id only
      return object["id"] === undefined ? undefined : { id: primitive(object["id"]) };
    }
    const target = type ?? (ctor === Object || ctor === Array ? undefined : ctor);
    path.push(object);
    const out =
      target === undefined && !isMap
        ? this.#plainFields(object, exclude)
        : this.#fields(object, target, isMap, exclude, undefined);
    path.pop();
    return out;
  }

  /** A plain object (no class, no @Type): its own keys, as class-transformer's getKeys gives them for no target. */
  #plainFields(object: Record<string, unknown>, exclude: ExcludeTree): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const plan = this.#plainPlan ?? (this.#plainPlan = this.#planOf(undefined));
    if (!plan.ownKeys) return out;
    const prefixes = this.#options.excludePrefixes !== undefined;
    const keys = Object.keys(object);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (key === "__proto__" || key === "constructor") continue;
      if (prefixes && (plan.actions.get(key) ?? compileAction(plan, key, this.#options)).skip) continue;
      const rule = exclude === EMPTY_TREE ? undefined : exclude.get(key);
      if (rule === true) continue;
      let value = object[key];
      if (typeof value === "function") value = (value as () => unknown).call(object);
      const converted =
        value === null || typeof value === "string" || typeof value === "boolean"
          ? value
          : this.#value(value, undefined, false, rule ?? EMPTY_TREE);
      if (converted !== undefined) assign(out, key, converted);
    }
    return out;
  }

  /** Arrays and Sets become arrays; a discriminated `@Type` writes each item's subtype name into it. */
  #list(list: unknown[] | Set<unknown>, type: Function | TypeMetadata | undefined, exclude: ExcludeTree): unknown[] {
    const items = Array.isArray(list) ? list : [...list];
    const out = new Array<unknown>(items.length);
    if (type === undefined) {
      for (let i = 0; i < items.length; i++) {
        const converted = this.#value(items[i], undefined, false, exclude);
        out[i] = converted === undefined ? null : converted;
      }
      return out;
    }
    const discriminator = typeof type === "object" ? type.options?.discriminator : undefined;
    const itemType = discriminator ? undefined : type;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const converted =
        discriminator && typeof item === "object" && item !== null
          ? this.#discriminated(item as Record<string, unknown>, discriminator, exclude)
          : this.#value(item, itemType, itemType !== undefined && item instanceof Map, exclude);
      out[i] = converted === undefined ? null : converted;
    }
    return out;
  }

  /** An object whose `@Type` has a discriminator: converted by its own class, with the subtype's name added. */
  #discriminated(object: Record<string, unknown>, discriminator: Discriminator, exclude: ExcludeTree): unknown {
    const ctor = classOf(object);
    const subType = discriminator.subTypes.find((s) => s.value === ctor);
    if (subType === undefined) {
      throw new TypeError(
        `${ctor?.name ?? "A value"} is not among the subTypes of the @Type discriminator on "${discriminator.property}"`,
      );
    }
    const path = this.#path;
    if (path.includes(object)) return object["id"] === undefined ? undefined : { id: primitive(object["id"]) };
    path.push(object);
    const out = this.#fields(object, ctor, false, exclude, { key: discriminator.property, value: subType.name });
    path.pop();
    return out;
  }

  #planOf(target: Function | undefined): ClassPlan {
    let plan = this.#plans.get(target);
    if (plan === undefined) {
      let byOptions = plans.get(target);
      if (!byOptions) {
        byOptions = new Map();
        plans.set(target, byOptions);
      }
      plan = byOptions.get(this.#key);
      if (plan === undefined) {
        plan = compilePlan(target, this.#options);
        byOptions.set(this.#key, plan);
      }
      this.#plans.set(target, plan);
    }
    return plan;
  }

  #fields(
    object: Record<string, unknown>,
    target: Function | undefined,
    isMap: boolean,
    exclude: ExcludeTree,
    added: { key: string; value: string } | undefined,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (isMap) {
      // a Map (or an object typed as one): every key, no decorators; values typed by the Map's @Type
      const entries: Iterable<[unknown, unknown]> =
        object instanceof Map ? object : Object.entries(object as Record<string, unknown>);
      for (const [key, item] of entries) {
        const name = String(key);
        if (name === "__proto__" || name === "constructor") continue;
        const rule = exclude === EMPTY_TREE ? undefined : exclude.get(name);
        if (rule === true) continue;
        const converted = this.#value(
          typeof item === "function" && !(object instanceof Map) ? (item as () => unknown).call(object) : item,
          target,
          item instanceof Map,
          rule ?? EMPTY_TREE,
        );
        if (converted !== undefined) assign(out, name, converted);
      }
      return out;
    }
    const plan = this.#planOf(target);
    if (plan.ownKeys && added === undefined && exclude === EMPTY_TREE && plan.shapes !== undefined) {
      // the common case: a writer compiled for this key order
      const shapes = plan.shapes;
      for (let i = 0; i < shapes.length; i++) if (shapes[i]!(object, out, this.#bridge)) return out;
      const writer = shapes.length < MAX_SHAPES ? compileShape(plan, object, this.#options) : undefined;
      if (writer !== undefined && writer(object, out, this.#bridge)) return out;
    }
    if (plan.ownKeys) {
      for (const key in object) if (hasOwn.call(object, key)) this.#property(object, key, plan, exclude, out, added);
      if (added && !hasOwn.call(object, added.key)) this.#property(object, added.key, plan, exclude, out, added);
    }
    const exposed = plan.exposed;
    for (let i = 0; i < exposed.length; i++) {
      const key = exposed[i]!;
      if (plan.ownKeys && (hasOwn.call(object, key) || key === added?.key)) continue;
      this.#property(object, key, plan, exclude, out, added);
    }
    return out;
  }

  #property(
    object: Record<string, unknown>,
    key: string,
    plan: ClassPlan,
    exclude: ExcludeTree,
    out: Record<string, unknown>,
    added: { key: string; value: string } | undefined,
  ): void {
    const action = plan.actions.get(key) ?? compileAction(plan, key, this.#options);
    if (action.skip) return;
    let rule: ExcludeTree | undefined;
    if (exclude !== EMPTY_TREE) {
      const found = exclude.get(key);
      if (found === true) return;
      rule = found;
    }
    const original = added === undefined || key !== added.key ? object[key] : added.value;
    if (action.plain) {
      // no @Transform, no @Type: the value decides
      let converted: unknown;
      if (original === null || typeof original === "string" || typeof original === "boolean") converted = original;
      else if (original === undefined) return;
      else if (typeof original === "function") {
        converted = this.#value((original as () => unknown).call(object), undefined, false, rule ?? EMPTY_TREE);
      } else converted = this.#value(original, undefined, false, rule ?? EMPTY_TREE);
      if (converted === undefined) return;
      if (action.safeOut) out[action.out] = converted;
      else assign(out, action.out, converted);
      return;
    }
    let value = typeof original === "function" ? (original as () => unknown).call(object) : original;
    if (action.transforms !== undefined) {
      let transformed = original;
      for (const fn of action.transforms)
        transformed = fn({ value: transformed, key, obj: object, type: TO_PLAIN, options: this.#options });
      if (transformed !== original) value = transformed;
    }
    const converted =
      action.type === undefined
        ? this.#value(value, undefined, false, rule ?? EMPTY_TREE)
        : this.#typed(object, key, value, action.type, rule ?? EMPTY_TREE);
    if (converted !== undefined) assign(out, action.out, converted);
  }

  /** A property with `@Type`: coerced to it, converted by its class, or discriminated. */
  #typed(object: Record<string, unknown>, key: string, value: unknown, meta: TypeMetadata, exclude: ExcludeTree) {
    const isMap = value instanceof Map || meta.reflectedType === Map;
    const discriminator = meta.options?.discriminator;
    if (discriminator) {
      if (Array.isArray(object[key])) return this.#value(value, meta, isMap, exclude);
      if (typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Set))
        return this.#discriminated(value as Record<string, unknown>, discriminator, exclude);
      return this.#value(value, undefined, isMap, exclude);
    }
    const type = meta.typeFunction
      ? meta.typeFunction({ newObject: {}, object, property: key })
      : (meta.reflectedType as Function | undefined);
    return this.#value(value, type, isMap, exclude);
  }
}

/** The keys a class gives under the options, as class-transformer's `getKeys` works them out. */
function compilePlan(target: Function | undefined, options: ClassTransformOptions): ClassPlan {
  let strategy = storage.getStrategy(target as object);
  if (strategy === "none") strategy = options.strategy ?? "exposeAll";
  const plan: ClassPlan = {
    ownKeys: strategy === "exposeAll",
    exposed: [],
    actions: new Map(),
    target,
    shapes: [],
  };
  let exposed: string[] = [];
  if (target !== undefined) {
    if (options.ignoreDecorators) {
      if (options.excludeExtraneousValues)
        exposed = [
          ...storage.getExposedProperties(target, TO_PLAIN),
          ...storage.getExcludedProperties(target, TO_PLAIN),
        ];
    } else {
      exposed = storage.getExposedProperties(target, TO_PLAIN);
    }
  }
  if (target !== undefined && options.excludeExtraneousValues) plan.ownKeys = false;
  plan.exposed = [...new Set(exposed)].filter((key) => !compileAction(plan, key, options).skip);
  return plan;
}

/**
 * A writer for objects with the own keys of `object`, in its order: the guard walks `for...in` and compares each key
 * with the expected one (interned strings: a pointer comparison); each plain key is read and written by name, so the
 * engine's inline caches see one shape; strings, booleans, null, finite numbers and dates are written inline, other
 * values and decorated properties go back to the converter. Undefined (and `plan.shapes` cleared) when an inherited
 * enumerable key shows up, which `for...in` would mix in.
 */
function compileShape(plan: ClassPlan, object: Record<string, unknown>, options: ClassTransformOptions) {
  const keys: string[] = [];
  for (const key in object) {
    if (!hasOwn.call(object, key)) {
      plan.shapes = undefined;
      return undefined;
    }
    keys.push(key);
  }
  const lines = [
    "var i = 0;",
    "for (var k in o) { if (k !== K[i]) return false; i++; }",
    `if (i !== ${keys.length}) return false;`,
    "var v;",
  ];
  keys.forEach((key, index) => {
    const action = compileAction(plan, key, options);
    if (action.skip) return;
    const at = `[${JSON.stringify(action.out)}]`;
    if (!action.plain || !action.safeOut) {
      lines.push(`b.property(o, K[${index}], P, out);`);
      return;
    }
    lines.push(
      `v = o[${JSON.stringify(key)}];`,
      `if (typeof v === "string" || typeof v === "boolean" || v === null) out${at} = v;`,
      `else if (typeof v === "number") out${at} = isFinite(v) ? v : null;`,
      `else if (v instanceof Date) out${at} = iso(v);`,
      `else if (v !== undefined) { v = b.value(o, v); if (v !== undefined) out${at} = v; }`,
    );
  });
  const own = new Set(keys);
  plan.exposed.forEach((key) => {
    if (!own.has(key)) lines.push(`b.property(o, ${JSON.stringify(key)}, P, out);`);
  });
  lines.push("return true;");
  // compiled once per class, options and key order; the keys are written as JSON string literals
  const make = new Function("K", "P", "iso", "isFinite", `return function (o, out, b) {\n${lines.join("\n")}\n};`);
  const writer = make(keys, plan, isoString, Number.isFinite) as ShapeWriter;
  plan.shapes!.push(writer);
  return writer;
}

/** Whether and how one property is written, decided once per class and options. */
function compileAction(plan: ClassPlan, key: string, options: ClassTransformOptions): KeyAction {
  const cached = plan.actions.get(key);
  if (cached) return cached;
  const target = plan.target;
  let skip = key === "__proto__" || key === "constructor";
  let out = key;
  const decorated = target !== undefined && !options.ignoreDecorators;
  if (decorated) {
    if (storage.getExcludedProperties(target, TO_PLAIN).includes(key)) skip = true;
    const expose = storage.findExposeMetadata(target, key)?.options;
    if (expose) {
      if (options.version !== undefined && !checkVersion(options.version, expose.since, expose.until)) skip = true;
      if (!checkGroups(options.groups, expose.groups)) skip = true;
      if (expose.name) out = expose.name;
    }
  }
  if (options.excludePrefixes?.some((prefix) => key.startsWith(prefix))) skip = true;
  let transforms: TransformFn[] | undefined;
  let type: TypeMetadata | undefined;
  if (target !== undefined) {
    const found = storage
      .findTransformMetadatas(target, key, TO_PLAIN)
      .filter(
        (m) =>
          !m.options ||
          ((options.version === undefined || checkVersion(options.version, m.options.since, m.options.until)) &&
            checkGroups(options.groups, m.options.groups)),
      )
      .map((m) => m.transformFn);
    if (found.length > 0) transforms = found;
    type = storage.findTypeMetadata(target, key);
    if (type === undefined && options.targetMaps) {
      for (const map of options.targetMaps as { target: Function; properties: Record<string, Function> }[]) {
        if (map.target === target && map.properties[key]) type = { reflectedType: map.properties[key] };
      }
    }
  }
  const action: KeyAction = {
    skip,
    out,
    transforms,
    type,
    plain: transforms === undefined && type === undefined,
    safeOut: out !== "__proto__",
  };
  plan.actions.set(key, action);
  return action;
}

function checkVersion(version: number, since: number | undefined, until: number | undefined): boolean {
  return !((since && version < since) || (until && version >= until));
}

/** class-transformer's group rule: with groups asked, an @Expose without groups passes; without, only those. */
function checkGroups(asked: readonly string[] | undefined, groups: readonly string[] | undefined): boolean {
  if (asked && asked.length > 0) return !groups || asked.some((g) => groups.includes(g));
  return !groups || groups.length === 0;
}

/** Classes whose instances JSON treats apart (Sets, Buffers, Promises and their subclasses), found once per class. */
const specialKinds = new Map<Function, number>();

function specialKind(ctor: Function): number {
  let kind = specialKinds.get(ctor);
  if (kind === undefined) {
    const proto = ctor.prototype as object | undefined;
    kind =
      proto === undefined
        ? 0
        : proto instanceof Set || proto === Set.prototype
          ? 1
          : proto instanceof Uint8Array || proto === Uint8Array.prototype
            ? 2
            : proto instanceof Promise || proto === Promise.prototype
              ? 3
              : 0;
    specialKinds.set(ctor, kind);
  }
  return kind;
}

/** The class an object was made by (undefined for objects without a prototype). */
function classOf(object: object): Function | undefined {
  return (Object.getPrototypeOf(object) as { constructor?: Function } | null)?.constructor;
}

/** A number as JSON has it (non-finite numbers are null). */
function json(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

function primitive(value: unknown): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return json(value);
    case "object":
      return value; // null
    default:
      return undefined;
  }
}

/** Sets a key on a plain object even when it is `__proto__` (as data, never as the prototype). */
function assign(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
