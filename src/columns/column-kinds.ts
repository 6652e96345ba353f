/**
 * Marks the columns whose database type or behaviour the dialect decides (SmartJSON, instants, UUID keys).
 * Decorators record a kind per (declaring class, property); `applyDialect` reads it back from TypeORM's
 * column metadata of each DataSource.
 *
 * @internal
 */
export type ColumnKind = "smart-json" | "instant" | "uuid" | "created-by" | "updated-by" | "json-index";

const kinds = new WeakMap<object, Map<string, ColumnKind>>();

/** @internal */
export function markColumn(target: object, propertyName: string, kind: ColumnKind): void {
  let byProperty = kinds.get(target);
  if (!byProperty) {
    byProperty = new Map();
    kinds.set(target, byProperty);
  }
  byProperty.set(propertyName, kind);
}

/** @internal */
export function columnKind(target: unknown, propertyName: string): ColumnKind | undefined {
  if (typeof target !== "function") return undefined;
  return kinds.get(target)?.get(propertyName);
}

const managedEmbeddables = new WeakSet<object>();

/** Marks an embeddable class whose values the library manages (the audit columns): `updateFromDict` refuses them. @internal */
export function markManagedEmbeddable(target: object): void {
  managedEmbeddables.add(target);
}

/** @internal */
export function isManagedEmbeddable(target: unknown): boolean {
  return typeof target === "function" && managedEmbeddables.has(target);
}

const libraryModels = new WeakSet<object>();

/** Marks a base model of the library: its subclasses' tables are the library's own. @internal */
export function markLibraryModel(target: object): void {
  libraryModels.add(target);
}

/** Whether `target` is (or extends) one of the library's base models. @internal */
export function isLibraryModel(target: unknown): boolean {
  for (let t = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    if (libraryModels.has(t)) return true;
  }
  return false;
}

/**
 * Whether an entity is the library's own: it extends a base model or uses one of the library's column decorators.
 *
 * @internal
 */
export function isLibraryEntity(
  target: unknown,
  columns: readonly { target: unknown; propertyName: string }[],
): boolean {
  return (
    isLibraryModel(target) || columns.some((column) => columnKind(column.target, column.propertyName) !== undefined)
  );
}
