import { ValidationError } from "../errors";
import { PlainReader, type FromDictOptions, type UpdateFromDictOptions } from "./from-plain";
import { PlainConverter, type ToDictOptions } from "./to-plain";

export type { FromDictOptions, UpdateFromDictOptions } from "./from-plain";
export type { ToDictOptions } from "./to-plain";

/** A JSON-ready plain object made by {@link ModelSerializer.toDict}. */
export type Dict = Record<string, unknown>;

/**
 * Entities to plain, JSON-ready objects for an API, and untrusted input back to entities.
 *
 * `toDict` gives what `JSON.parse(JSON.stringify(instanceToPlain(entity)))` gives (class-transformer's `@Exclude`,
 * `@Expose` with groups and names, `@Transform` are honoured; Dates become ISO 8601 UTC strings with milliseconds;
 * embedded columns are nested objects; loaded relations are included, relations not loaded are absent), in one pass
 * over a plan compiled once per class. Cycles are cut: an entity already on the current path appears as `{ id }`.
 *
 * `fromDict` checks input against the entity's TypeORM metadata without per-field decorators, reports every problem
 * at once in one {@link ValidationError}, and never lets `__proto__`, `constructor` or `prototype` reach an object.
 *
 * @example
 * const body = ModelSerializer.toDict(order, { exclude: ["metadata.json"] });
 * const order = ModelSerializer.fromDict(Order, request.body); // throws ValidationError listing every issue
 */
export class ModelSerializer {
  private constructor() {}

  /** One entity to a plain object. */
  static toDict(entity: object, options?: ToDictOptions): Dict {
    return new PlainConverter(options).convert(entity) as Dict;
  }

  /** Many entities to plain objects (the compiled plans and options are shared across the list). */
  static bulkToDict(entities: readonly object[], options?: ToDictOptions): Dict[] {
    const converter = new PlainConverter(options);
    const out = new Array<Dict>(entities.length);
    for (let i = 0; i < entities.length; i++) out[i] = converter.convert(entities[i]) as Dict;
    return out;
  }

  /**
   * A new entity built from untrusted input: ISO strings with an offset become Dates, UUIDs are checked, numbers,
   * booleans, strings (with their lengths) and SmartJSON values are checked against their columns, embedded objects
   * and relation references (`{ id }`) are built.
   *
   * @throws ValidationError listing every problem, with `{ path, code, message }` per issue.
   */
  static fromDict<T extends object>(target: new () => T, data: unknown, options?: FromDictOptions): T {
    const reader = new PlainReader(options, "create");
    const entity = reader.entity(target, data) as T;
    if (reader.issues.length > 0) throw ValidationError.fromIssues(target.name, reader.issues);
    return entity;
  }

  /**
   * Applies untrusted input to an existing entity. `id`, `createdAt`, `updatedAt`, `deletedAt`, `isDeleted` and the
   * audit columns are never changed: an attempt is an issue (or ignored with `protectedKeys: "ignore"`). When there
   * is any issue nothing is changed. A `@VersionColumn()` value in the input is the version the client read: the
   * entity's own version is accepted (and changes nothing), another one is refused.
   *
   * @throws StaleEntityError when the input carries a version other than the entity's (nothing is changed).
   * @throws ValidationError listing every problem.
   */
  static updateFromDict<T extends object>(entity: T, data: unknown, options?: UpdateFromDictOptions): T {
    const target = entity.constructor as new () => T;
    const reader = new PlainReader(options, "update");
    const staged: Record<string, unknown> = {};
    reader.read(target, data, staged, entity as Record<string, unknown>);
    if (reader.stale) throw reader.stale;
    if (reader.issues.length > 0) throw ValidationError.fromIssues(target.name, reader.issues);
    Object.assign(entity, staged);
    return entity;
  }
}
