const cascading = new WeakMap<object, Set<string>>();

/**
 * Marks a one-to-many (or inverse one-to-one) relation whose children follow their parent: soft-deleting the parent
 * soft-deletes them with the same `deleted_at` instant, restoring it restores the ones deleted with it (not those
 * deleted earlier on their own), recursively through children that cascade in turn, in the parent's transaction,
 * with one set-based UPDATE per relation level (no child is loaded). Works for `softRemove`, `softDelete`,
 * `restore`, `recover` and QueryBuilder soft deletes and restores.
 *
 * @example
 * @OneToMany(() => InvoiceLine, (line) => line.invoice)
 * @SoftDeleteCascade()
 * lines?: InvoiceLine[];
 */
export function SoftDeleteCascade(): PropertyDecorator {
  return (target, propertyKey) => {
    const owner = target.constructor;
    const properties = cascading.get(owner) ?? new Set<string>();
    properties.add(String(propertyKey));
    cascading.set(owner, properties);
  };
}

/** Whether a relation property of a class (or an ancestor) was marked with {@link SoftDeleteCascade}. @internal */
export function isSoftDeleteCascade(target: unknown, propertyName: string): boolean {
  for (let t = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    if (cascading.get(t)?.has(propertyName)) return true;
  }
  return false;
}
