import { TransformationType } from "class-transformer";

interface ExposeOptions {
  readonly name?: string;
  readonly groups?: string[];
}
interface TransformMetadata {
  readonly transformFn: TransformFn;
  readonly options?: { readonly groups?: string[] };
}
/** The part of class-transformer's metadata storage the serializer reads (it is not in the package's typings). */
interface MetadataStorageLike {
  getExposedProperties(target: object, type: TransformationType): string[];
  getExcludedProperties(target: object, type: TransformationType): string[];
  getExposedMetadatas(target: object): { propertyName?: string }[];
  findExposeMetadata(target: object, key: string): { options?: ExposeOptions } | undefined;
  findTransformMetadatas(target: object, key: string, type: TransformationType): TransformMetadata[];
  getStrategy(target: object): "excludeAll" | "exposeAll" | "none";
  readonly _transformMetadatas: Map<object, Map<string, unknown>>;
}

// The application's class-transformer (a peer dependency) holds the decorators' metadata; this is its storage
// (a CommonJS module without typings, hence require).
const storageModule = // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("class-transformer/cjs/storage") as { defaultMetadataStorage: MetadataStorageLike };
const defaultMetadataStorage = storageModule.defaultMetadataStorage;

/** Options of {@link ModelSerializer.toDict}. */
export interface ToDictOptions {
  /** Property paths to leave out: `"metadata.json"`, `"audit"`, `"items.price"` (applies to every item). */
  readonly exclude?: readonly string[];
  /** class-transformer groups: properties `@Expose({ groups })`d for one of them are included. Default: none. */
  readonly groups?: readonly string[];
}

type TransformFn = (params: {
  value: unknown;
  key: string;
  obj: object;
  type: TransformationType;
  options: object;
}) => unknown;

/** What to do with one property of a class: leave it out, or write it under `out` after `transforms`. */
interface KeyAction {
  readonly skip: boolean;
  readonly out: string;
  readonly transforms: readonly TransformFn[] | undefined;
}

/** What class-transformer's metadata says about one class, worked out once per class and group set. */
interface ClassPlan {
  /** Per property, filled as properties are met. */
  readonly actions: Map<string, KeyAction>;
  readonly exposeAll: boolean;
  /** Properties @Expose adds (getters, or properties not set on the instance). */
  readonly extraKeys: readonly string[];
  /** Properties left out: @Exclude, or @Expose'd for groups not asked for. */
  readonly hidden: ReadonlySet<string>;
  /** @Expose({ name }) renames. */
  readonly renamed: ReadonlyMap<string, string>;
  /** @Transform functions, per property. */
  readonly transforms: ReadonlyMap<string, readonly TransformFn[]>;
}

/** A tree of excluded paths: `true` leaves the property out, a subtree excludes inside it. */
type ExcludeTree = ReadonlyMap<string, ExcludeTree | true>;

const EMPTY_TREE: ExcludeTree = new Map();
const hasOwn = Object.prototype.hasOwnProperty;
const plans = new WeakMap<object, Map<string, ClassPlan>>();

function planFor(target: object, groups: readonly string[], groupsKey: string): ClassPlan {
  let byGroups = plans.get(target);
  if (!byGroups) {
    byGroups = new Map();
    plans.set(target, byGroups);
  }
  const cached = byGroups.get(groupsKey);
  if (cached) return cached;
  const storage = defaultMetadataStorage;
  const toPlain = TransformationType.CLASS_TO_PLAIN;
  const exposed = storage.getExposedProperties(target, toPlain);
  const hidden = new Set<string>(storage.getExcludedProperties(target, toPlain));
  const renamed = new Map<string, string>();
  for (const key of exposed) {
    const options = storage.findExposeMetadata(target, key)?.options;
    if (options?.name) renamed.set(key, options.name);
    const keyGroups = options?.groups;
    if (keyGroups && keyGroups.length > 0 && !keyGroups.some((g) => groups.includes(g))) hidden.add(key);
  }
  const transforms = new Map<string, TransformFn[]>();
  const allKeys = new Set<string>(exposed);
  for (const metadata of storage.getExposedMetadatas(target))
    if (metadata.propertyName) allKeys.add(metadata.propertyName);
  for (const key of collectTransformKeys(target)) allKeys.add(key);
  for (const key of allKeys) {
    const found = storage
      .findTransformMetadatas(target, key, toPlain)
      .filter((m) => !m.options?.groups?.length || m.options.groups.some((g) => groups.includes(g)))
      .map((m) => m.transformFn);
    if (found.length > 0) transforms.set(key, found);
  }
  const plan: ClassPlan = {
    actions: new Map(),
    exposeAll: storage.getStrategy(target) !== "excludeAll",
    extraKeys: exposed.filter((k) => !hidden.has(k)),
    hidden,
    renamed,
    transforms,
  };
  byGroups.set(groupsKey, plan);
  return plan;
}

function actionFor(plan: ClassPlan, key: string): KeyAction {
  let action = plan.actions.get(key);
  if (action === undefined) {
    action = {
      skip: plan.hidden.has(key) || key === "__proto__" || key === "constructor",
      out: plan.renamed.get(key) ?? key,
      transforms: plan.transforms.get(key),
    };
    plan.actions.set(key, action);
  }
  return action;
}

/** Property names that carry @Transform metadata on a class or its ancestors. */
function collectTransformKeys(target: object): string[] {
  const keys: string[] = [];
  const all = defaultMetadataStorage._transformMetadatas;
  for (let t: object | null = target; t && t !== Function.prototype; t = Object.getPrototypeOf(t) as object | null) {
    const map = all.get(t);
    if (map) keys.push(...map.keys());
  }
  return keys;
}

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

/** @internal */
export class PlainConverter {
  readonly #groups: readonly string[];
  readonly #groupsKey: string;
  readonly #exclude: ExcludeTree;
  readonly #path: object[] = [];
  readonly #plans = new Map<object, ClassPlan>();

  constructor(options: ToDictOptions = {}) {
    this.#groups = options.groups ?? [];
    this.#groupsKey = this.#groups.join("\u0000");
    this.#exclude = buildExcludeTree(options.exclude);
  }

  convert(value: unknown): unknown {
    this.#path.length = 0;
    return this.#value(value, this.#exclude);
  }

  #value(value: unknown, exclude: ExcludeTree): unknown {
    if (value === null) return null;
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        return Number.isFinite(value) ? value : null;
      case "object":
        break;
      default:
        return undefined; // functions, symbols and undefined do not appear in JSON
    }
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (Array.isArray(value)) {
      const out = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) {
        const item = this.#value(value[i], exclude);
        out[i] = item === undefined ? null : item;
      }
      return out;
    }
    const object = value as Record<string, unknown>;
    const path = this.#path;
    if (path.includes(object)) {
      // a cycle: an entity already on the current path appears as its id only
      return object["id"] === undefined ? undefined : { id: object["id"] };
    }
    path.push(object);
    const ctor = object.constructor;
    const out =
      ctor === Object || ctor === undefined
        ? this.#plainObject(object, exclude)
        : this.#instance(object, ctor, exclude);
    path.pop();
    return out;
  }

  #plainObject(object: Record<string, unknown>, exclude: ExcludeTree): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(object);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const rule = exclude === EMPTY_TREE ? undefined : exclude.get(key);
      if (rule === true) continue;
      const converted = this.#value(object[key], rule ?? EMPTY_TREE);
      if (converted !== undefined) assign(out, key, converted);
    }
    return out;
  }

  #planOf(ctor: object): ClassPlan {
    let plan = this.#plans.get(ctor);
    if (plan === undefined) {
      plan = planFor(ctor, this.#groups, this.#groupsKey);
      this.#plans.set(ctor, plan);
    }
    return plan;
  }

  #instance(object: Record<string, unknown>, ctor: object, exclude: ExcludeTree): Record<string, unknown> {
    const plan = this.#planOf(ctor);
    const out: Record<string, unknown> = {};
    if (plan.exposeAll) {
      for (const key in object) if (hasOwn.call(object, key)) this.#property(object, key, plan, exclude, out);
    }
    for (const key of plan.extraKeys) {
      if (!plan.exposeAll || !hasOwn.call(object, key)) this.#property(object, key, plan, exclude, out);
    }
    return out;
  }

  #property(
    object: Record<string, unknown>,
    key: string,
    plan: ClassPlan,
    exclude: ExcludeTree,
    out: Record<string, unknown>,
  ): void {
    const action = plan.actions.get(key) ?? actionFor(plan, key);
    if (action.skip) return;
    const rule = exclude === EMPTY_TREE ? undefined : exclude.get(key);
    if (rule === true) return;
    let raw = object[key];
    if (typeof raw === "function") raw = (raw as () => unknown).call(object);
    if (action.transforms !== undefined) {
      for (const fn of action.transforms)
        raw = fn({ value: raw, key, obj: object, type: TransformationType.CLASS_TO_PLAIN, options: {} });
    }
    let converted: unknown;
    if (raw === null || typeof raw === "string" || typeof raw === "boolean") converted = raw;
    else if (raw === undefined) return;
    else converted = this.#value(raw, rule ?? EMPTY_TREE);
    if (converted !== undefined) assign(out, action.out, converted);
  }
}

/** Sets a key on a plain object even when it is `__proto__` (as data, never as the prototype). */
function assign(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
